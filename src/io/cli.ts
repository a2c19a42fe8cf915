/**
 * Command-line flags for glassbox's scripts: every flag declared with its type, checked before
 * any work starts, and a mistake answered with one plain line and exit code 2 (never a stack
 * trace). Deno-only (process exit), so it lives at the edge with the other I/O.
 */
import { parseArgs } from "node:util";

/** A mistake on the command line: reported as one line, exit code 2. */
export class UsageError extends Error {}

/** One flag: its type and default. */
export type FlagSpec =
  | { type: "int"; default?: number; min?: number }
  | { type: "number"; default?: number; positive?: boolean }
  | { type: "string"; default?: string }
  | { type: "choice"; default?: string; choices: readonly string[] }
  | { type: "boolean" };

/** The parsed value of each kind of flag. */
export type ValueOf<F extends FlagSpec> = F extends { type: "boolean" } ? boolean
  : F extends { type: "int" | "number" } ? number
  : string;

/** Parsed flags: present ones, and defaults. */
export type Flags<S extends Record<string, FlagSpec>> = { [K in keyof S]: ValueOf<S[K]> | undefined };

function convert(name: string, spec: FlagSpec, raw: string): number | string {
  switch (spec.type) {
    case "int": {
      if (!/^[+-]?\d+$/.test(raw.trim())) {
        throw new UsageError(`--${name} takes a whole number, got "${raw}"`);
      }
      const v = Number(raw);
      const min = spec.min ?? -Infinity;
      if (v < min) throw new UsageError(`--${name} must be at least ${min}, got ${v}`);
      if (!Number.isSafeInteger(v)) throw new UsageError(`--${name} is too large: ${raw}`);
      return v;
    }
    case "number": {
      const v = raw.trim() === "" ? NaN : Number(raw);
      if (!Number.isFinite(v)) throw new UsageError(`--${name} takes a number, got "${raw}"`);
      if (spec.positive && !(v > 0)) throw new UsageError(`--${name} must be positive, got ${v}`);
      return v;
    }
    case "choice":
      if (!spec.choices.includes(raw)) {
        throw new UsageError(`--${name} must be one of ${spec.choices.join(", ")}; got "${raw}"`);
      }
      return raw;
    default:
      return raw;
  }
}

/**
 * Parses `args` against `spec`: unknown flags, missing values and values of the wrong type are
 * `UsageError`s that name the flag. Returns the values (defaults filled in) and the positionals.
 *
 * @example
 * ```ts
 * import { parseFlags } from "glassbox";
 * const { flags } = parseFlags(["--epochs", "2"], { epochs: { type: "int", min: 1, default: 3 } });
 * flags.epochs; // 2
 * ```
 */
export function parseFlags<S extends Record<string, FlagSpec>>(
  args: string[],
  spec: S,
  options: { positionals?: [number, number] } = {},
): { flags: Flags<S>; positionals: string[] } {
  const opts: Record<string, { type: "string" | "boolean" }> = {};
  for (const [k, s] of Object.entries(spec)) opts[k] = { type: s.type === "boolean" ? "boolean" : "string" };
  let parsed;
  try {
    parsed = parseArgs({ args, options: opts, allowPositionals: true, strict: true });
  } catch (e) {
    // node's messages name the flag; keep the first sentence
    const msg = (e as Error).message.split(". ")[0].replace(/^Unknown option '(.*)'$/, "unknown flag $1");
    throw new UsageError(msg.replace(/\.$/, ""));
  }
  const flags: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) {
    const raw = (parsed.values as Record<string, string | boolean | undefined>)[k];
    if (s.type === "boolean") flags[k] = raw === true;
    else if (raw === undefined) flags[k] = s.default;
    else flags[k] = convert(k, s, raw as string);
  }
  const [lo, hi] = options.positionals ?? [0, 0];
  const pos = parsed.positionals;
  if (pos.length < lo || pos.length > hi) {
    throw new UsageError(
      pos.length > hi
        ? `unexpected argument${pos.length - hi > 1 ? "s" : ""} ${
          pos.slice(hi).map((p) => `"${p}"`).join(" ")
        }`
        : `missing argument (expected ${lo}${hi > lo ? ` to ${hi}` : ""})`,
    );
  }
  return { flags: flags as Flags<S>, positionals: pos };
}

/**
 * Runs a script's main function: a `UsageError` prints `error: …` and a hint, exit 2; any other
 * error prints its message on one line, exit 1. No stack traces for people at a terminal
 * (set GLASSBOX_DEBUG=1 to see them).
 */
export async function runMain(name: string, main: () => Promise<void>): Promise<void> {
  try {
    await main();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    if (Deno.env.get("GLASSBOX_DEBUG")) console.error(err.stack);
    if (err instanceof UsageError) {
      console.error(`error: ${err.message} (deno task ${name} --help lists the options)`);
      Deno.exit(2);
    }
    console.error(`error: ${err.message.split("\n")[0]}`);
    Deno.exit(1);
  }
}
