/**
 * Command-line flags for glassbox's scripts: every flag declared with its type, checked before
 * any work starts, and a mistake answered with one plain line and exit code 2 (never a stack
 * trace). Deno-only (process exit), so it lives at the edge with the other I/O.
 */
import { envIfGranted } from "./env.ts";
import { settingError } from "../gpu/settings.ts";

/** A mistake on the command line: reported as one line, exit code 2. */
export class UsageError extends Error {}

/**
 * Reads the file a flag names. A path that cannot be read (missing, a directory, not
 * permitted) is a mistake on the command line: a `UsageError` naming the flag and the path.
 *
 * @example
 * ```ts
 * import { readFlagFile, UsageError } from "glassbox";
 * let message = "";
 * try {
 *   await readFlagFile("data", "no/such/file.safetensors");
 * } catch (e) {
 *   if (e instanceof UsageError) message = e.message;
 * }
 * if (message !== "--data: no file at no/such/file.safetensors") throw new Error(message);
 * ```
 */
export async function readFlagFile(flag: string, path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new UsageError(`--${flag}: no file at ${path}`);
    throw new UsageError(`--${flag} ${path}: ${(e as Error).message}`);
  }
}

/** One flag: its type and default. */
export type FlagSpec =
  | { type: "int"; default?: number; min?: number; max?: number }
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
      if (spec.max !== undefined && v > spec.max) {
        throw new UsageError(`--${name} must be at most ${spec.max}, got ${v}`);
      }
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

/** A value that reads as a number (so `--lr -0.1` or `-5` as a value is never taken for a flag). */
const NUMBER_LIKE = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/**
 * Parses `args` against `spec`: unknown flags, missing values and values of the wrong type are
 * `UsageError`s that name the flag. Returns the values (defaults filled in) and the positionals.
 *
 * A flag's value is `--name value` or `--name=value`; a value may be negative (`--shift -0.5`).
 * `-h` means `--help`, and when the spec has a `help` flag, `--help` or `-h` anywhere (before `--`)
 * wins over every other mistake: the flags come back as their defaults with `help` true, so the
 * script prints its usage and exits 0. After `--` every argument is a positional.
 *
 * @example
 * ```ts
 * import { parseFlags } from "glassbox";
 * const spec = { epochs: { type: "int", min: 1, default: 3 }, shift: { type: "number" } } as const;
 * const { flags } = parseFlags(["--epochs", "2", "--shift", "-0.5"], spec);
 * if (flags.epochs !== 2 || flags.shift !== -0.5) throw new Error("parseFlags");
 * ```
 */
export function parseFlags<S extends Record<string, FlagSpec>>(
  args: string[],
  spec: S,
  options: { positionals?: [number, number] } = {},
): { flags: Flags<S>; positionals: string[] } {
  const has = (k: string) => Object.hasOwn(spec, k);
  const end = args.indexOf("--");
  const before = end < 0 ? args : args.slice(0, end);
  const flags: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(spec)) flags[k] = s.type === "boolean" ? false : s.default;
  if (has("help") && spec.help.type === "boolean" && before.some((a) => a === "-h" || a === "--help")) {
    flags.help = true;
    return { flags: flags as Flags<S>, positionals: [] };
  }
  const pos: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < before.length; i++) {
    const a = before[i];
    if (!a.startsWith("-") || a === "-" || NUMBER_LIKE.test(a)) {
      pos.push(a);
      continue;
    }
    if (!a.startsWith("--")) throw new UsageError(`unknown flag ${a}`);
    const eq = a.indexOf("=");
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (!has(name)) throw new UsageError(`unknown flag --${name}`);
    if (seen.has(name)) throw new UsageError(`--${name} is given twice`);
    seen.add(name);
    const s = spec[name];
    if (s.type === "boolean") {
      if (eq >= 0) throw new UsageError(`--${name} takes no value, got "${a.slice(eq + 1)}"`);
      flags[name] = true;
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = a.slice(eq + 1);
    else {
      const next = before[i + 1];
      if (next === undefined || (next.startsWith("-") && next !== "-" && !NUMBER_LIKE.test(next))) {
        throw new UsageError(`--${name} needs a value`);
      }
      raw = next;
      i++;
    }
    flags[name] = convert(name, s, raw);
  }
  if (end >= 0) pos.push(...args.slice(end + 1));
  const [lo, hi] = options.positionals ?? [0, 0];
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

/** GLASSBOX_DEBUG is set, read only when env access to it is granted (asking would prompt). */
function debugWanted(): boolean {
  return !!envIfGranted("GLASSBOX_DEBUG");
}

let writesInProgress = 0;
let interrupted = false;
let interruptNote: (() => string) | null = null;

function exitInterrupted(): never {
  const note = interruptNote?.();
  if (note) console.log(`${Deno.stdout.isTerminal() ? "\n" : ""}${note}`);
  Deno.exit(130);
}

/**
 * Runs `write` so that a Ctrl-C under `runMain` takes effect only once it is done: the process
 * then exits at once (code 130), so no file is left half-written and nothing is written after
 * the shell has the terminal back. `writeAtomic` runs every save this way; a script groups saves
 * that belong together (a checkpoint and the history of the same epoch) in one call. Outside
 * `runMain` it only runs `write`.
 *
 * @example
 * ```ts
 * import { uninterrupted, writeTextAtomic } from "glassbox";
 * const n = await uninterrupted(async () => {
 *   await writeTextAtomic("out/a.json", "{}");
 *   await writeTextAtomic("out/b.json", "{}"); // a Ctrl-C between the two waits for this one
 *   return 2;
 * });
 * if (n !== 2 || (await Deno.readTextFile("out/b.json")) !== "{}") throw new Error("uninterrupted");
 * ```
 */
export async function uninterrupted<T>(write: () => Promise<T>): Promise<T> {
  writesInProgress++;
  try {
    return await write();
  } finally {
    if (--writesInProgress === 0 && interrupted) exitInterrupted();
  }
}

/**
 * Shows a training step: in a terminal a bar redrawn in place (a new line after the last step),
 * elsewhere (a log, CI) the line of every 100th step and of the last.
 *
 * @example
 * ```ts
 * import { showStep } from "glassbox";
 * showStep({ step: 100, steps: 200, line: "step 100/200 loss 0.1" }, false); // prints the line
 * ```
 */
export function showStep(p: { step: number; steps: number; line: string }, tty: boolean): void {
  if (tty) {
    const w = 24, f = Math.round((w * p.step) / p.steps);
    Deno.stdout.writeSync(new TextEncoder().encode(`\r[${"#".repeat(f)}${".".repeat(w - f)}] ${p.line}  `));
    if (p.step === p.steps) console.log();
  } else if (p.step % 100 === 0 || p.step === p.steps) console.log(p.line);
}

/**
 * What a script under `runMain` prints when Ctrl-C stops it (called at that moment, so it can
 * say what was kept), in place of nothing.
 *
 * @example
 * ```ts
 * import { onInterrupt } from "glassbox";
 * let epochs = 0;
 * onInterrupt(() => `interrupted: keeping ${epochs} complete epochs`);
 * epochs = 2; // a Ctrl-C from now on prints "interrupted: keeping 2 complete epochs"
 * ```
 */
export function onInterrupt(note: () => string): void {
  interruptNote = note;
}

/**
 * Runs a script's main function: a `UsageError` prints `error: …` and a hint, exit 2; any other
 * error prints its message on one line, exit 1. A GLASSBOX_* environment variable with a bad
 * value (src/io/env.ts) prints `error: …`, exit 2, before `main` starts. No stack traces for people at a terminal
 * (set GLASSBOX_DEBUG=1 to see them). `name` is the task (`"train"`: the hint says
 * `deno task train --help`) or, when it has a space, the whole command (`"deno run x.ts"`).
 *
 * Ctrl-C (SIGINT) exits with code 130 at once, or, when a save is in progress (see
 * `uninterrupted`), as soon as it is complete; `onInterrupt` sets what it prints.
 */
export async function runMain(name: string, main: () => Promise<void>): Promise<void> {
  const onSignal = () => {
    interrupted = true;
    if (writesInProgress === 0) exitInterrupted();
  };
  const badEnv = settingError();
  if (badEnv) {
    // a bad GLASSBOX_* variable (src/io/env.ts): a mistake on the command line, before any work
    console.error(`error: ${badEnv}`);
    Deno.exit(2);
  }
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    await main();
    Deno.removeSignalListener("SIGINT", onSignal);
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    if (debugWanted()) console.error(err.stack);
    if (err instanceof UsageError) {
      const command = name.includes(" ") ? name : `deno task ${name}`;
      console.error(`error: ${err.message} (${command} --help lists the options)`);
      Deno.exit(2);
    }
    console.error(`error: ${err.message.split("\n")[0]}`);
    Deno.exit(1);
  }
}
