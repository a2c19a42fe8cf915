/**
 * `deno task check`: formatting, lint and type checks, in that order; stops at the first that fails
 * and exits with its code. (A script rather than a `&&` chain so that `--help` prints this usage
 * instead of being passed to the last command after the others have run.)
 */
import { parseFlags, runMain } from "../mod.ts";

const HELP = `deno task check [--help]
Runs deno fmt --check, deno lint and deno check on mod.ts, examples/, bench/ and tests/, in that
order, and stops at the first that fails (its exit code is this task's).`;

// tests/ and bench/ import playwright-core, onnxruntime-web and TensorFlow.js: they are checked with
// their own lockfile so that deno.lock (what `deno task train` installs) holds only the library's.
const STEPS = [
  ["fmt", "--check"],
  ["lint"],
  ["check", "mod.ts", "examples/"],
  ["check", "--lock=deno.dev.lock", "bench/", "tests/"],
];

async function main(): Promise<void> {
  const { flags } = parseFlags(Deno.args, { help: { type: "boolean" } });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  for (const args of STEPS) {
    const { code } = await new Deno.Command("deno", { args, stdin: "null" }).spawn().status;
    if (code !== 0) Deno.exit(code);
  }
}

if (import.meta.main) await runMain("check", main);
