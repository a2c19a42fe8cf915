/**
 * A value that follows the code that set it: the innermost `scope()` and the grad mode.
 *
 * Where the host offers AsyncLocalStorage (Deno, Node, Bun: found at run time through
 * `process.getBuiltinModule`, never imported, so the engine loads in a browser too), the value
 * follows `await`s exactly, and concurrent tasks never see each other's.
 *
 * Where it does not (a browser page), the value lives on a stack: a synchronous `run` sets it
 * for its duration; an asynchronous one keeps it set until the promise settles, which is
 * exact for code that runs one task at a time (awaits nested inside awaits). Two asynchronous
 * runs overlapping in time would see each other's values; glassbox notices when one settles
 * while another it did not start is still inside it, and throws an error naming it. Run
 * explanations one after another there (the serverless dashboard queues them).
 */

/** The slot: what `scope()` and `noGrad()` read and set. */
export interface ContextSlot<T> {
  /** The value set by the innermost enclosing `run`, if any. */
  get(): T | undefined;
  /** Runs `fn` with the value set (for its whole duration, awaits included). */
  run<R>(value: T, fn: () => R): R;
}

interface AsyncLocalStorageLike<T> {
  getStore(): T | undefined;
  run<R>(value: T, fn: () => R): R;
}
type AlsClass = new <T>() => AsyncLocalStorageLike<T>;

/** The host's AsyncLocalStorage, if it has one (feature detection, no import). */
function hostAsyncLocalStorage(): AlsClass | null {
  try {
    const proc = (globalThis as {
      process?: { getBuiltinModule?: (id: string) => { AsyncLocalStorage?: AlsClass } | undefined };
    }).process;
    return proc?.getBuiltinModule?.("node:async_hooks")?.AsyncLocalStorage ?? null;
  } catch {
    return null;
  }
}

/** @internal A stack-based slot for hosts without AsyncLocalStorage (see the module's comment). */
export class StackSlot<T> implements ContextSlot<T> {
  #stack: { value: T }[] = [];
  constructor(readonly name: string) {}

  get(): T | undefined {
    return this.#stack.at(-1)?.value;
  }

  run<R>(value: T, fn: () => R): R {
    const entry = { value };
    this.#stack.push(entry);
    let out: R;
    try {
      out = fn();
    } catch (e) {
      this.#pop(entry);
      throw e;
    }
    if (!(out instanceof Promise)) {
      this.#pop(entry);
      return out;
    }
    return out.then(
      (v) => {
        this.#pop(entry);
        return v;
      },
      (e) => {
        this.#pop(entry);
        throw e;
      },
    ) as R;
  }

  #pop(entry: { value: T }): void {
    const i = this.#stack.lastIndexOf(entry);
    if (i === this.#stack.length - 1) {
      this.#stack.pop();
      return;
    }
    // settled while a later run (started inside it, by someone else) is still open
    if (i >= 0) this.#stack.splice(i, 1);
    throw new Error(
      `two asynchronous ${this.name} blocks overlapped in time: this host has no AsyncLocalStorage, ` +
        `so ${this.name} follows a stack and cannot tell concurrent tasks apart; run them one after another`,
    );
  }
}

/**
 * Which implementation this host gets: "async-local-storage" (exact across awaits and
 * concurrent tasks) or "stack" (browsers; see the module's comment).
 *
 * @example
 * ```ts
 * import { contextKind } from "glassbox";
 * contextKind(); // "async-local-storage" under Deno, "stack" in a browser page
 * ```
 */
export function contextKind(): "async-local-storage" | "stack" {
  return hostAsyncLocalStorage() === null ? "stack" : "async-local-storage";
}

/** @internal a new slot named for its error messages ("scope", "noGrad"). */
export function contextSlot<T>(name: string): ContextSlot<T> {
  const Als = hostAsyncLocalStorage();
  if (Als === null) return new StackSlot<T>(name);
  const als = new Als<T>();
  return { get: () => als.getStore(), run: (value, fn) => als.run(value, fn) };
}
