/**
 * The memory model: a tensor owns its GPU storage until `dispose()`; `scope()` disposes
 * everything created inside a block except what the block returns or `keep()`s.
 *
 * Scopes follow async calls (on AsyncLocalStorage where the host has it), so `await` inside a
 * scope is safe: tensors made by code awaited inside belong to the scope, and a concurrent
 * task outside does not leak into it. In a browser, scopes follow a stack: exact for one task
 * at a time (see context.ts).
 */
import { contextSlot } from "./context.ts";

/** Anything the scope can dispose. */
export interface Disposable_ {
  dispose(): void;
  /** @internal the scope that will dispose it, if any */
  _scope: ScopeFrame | null;
}

/** @internal */
export class ScopeFrame {
  items: Set<Disposable_> = new Set<Disposable_>();
  constructor(readonly parent: ScopeFrame | null) {}
}

const als = contextSlot<ScopeFrame>("scope");

/** @internal registers a new tensor with the innermost scope, if any. */
export function track(t: Disposable_): void {
  const frame = als.get();
  if (frame) {
    frame.items.add(t);
    t._scope = frame;
  }
}

/** @internal takes one tensor out of its scope (it becomes its owner's to dispose). */
export function untrack(t: Disposable_): void {
  t._scope?.items.delete(t);
  t._scope = null;
}

/**
 * Keeps a tensor (or every tensor in an array/object) alive past the scope it was made in.
 * It becomes yours to `dispose()`.
 */
export function keep<T>(value: T): T {
  visit(value, untrack);
  return value;
}

function isTracked(v: unknown): v is Disposable_ {
  return typeof v === "object" && v !== null && "_scope" in v &&
    typeof (v as Disposable_).dispose === "function";
}

function visit(value: unknown, f: (t: Disposable_) => void, depth = 0): void {
  if (depth > 4 || value === null || typeof value !== "object") return;
  if (isTracked(value)) return f(value);
  if (Array.isArray(value)) { for (const v of value) visit(v, f, depth + 1); }
  else if (value instanceof Map) { for (const v of value.values()) visit(v, f, depth + 1); }
  else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) visit(v, f, depth + 1);
  }
}

function close(frame: ScopeFrame, result: unknown): void {
  const keepSet = new Set<Disposable_>();
  visit(result, (t) => keepSet.add(t));
  for (const t of frame.items) {
    if (keepSet.has(t)) continue;
    t._scope = null;
    t.dispose();
  }
  frame.items.clear();
  // what the block returns now belongs to the enclosing scope
  for (const t of keepSet) {
    if (t._scope !== frame) continue;
    t._scope = frame.parent;
    frame.parent?.items.add(t);
  }
}

/**
 * Runs `fn` and disposes every tensor created inside it, except the ones it returns
 * (directly, or in an array or plain object) and the ones passed to `keep()`.
 * Works with sync and async functions; nested scopes hand their results outward.
 *
 * @example
 * ```ts
 * import { scope, tensor } from "glassbox";
 * const total = await scope(async () => {
 *   const x = tensor([1, 2, 3]);
 *   return await x.mul(2).sum().item(); // x, x*2 and the sum are freed here
 * });
 * ```
 */
export function scope<T>(fn: () => T): T {
  const frame = new ScopeFrame(als.get() ?? null);
  const out = als.run(frame, fn);
  if (out instanceof Promise) {
    return out.then(
      (v) => {
        close(frame, v);
        return v;
      },
      (e) => {
        close(frame, undefined);
        throw e;
      },
    ) as T;
  }
  close(frame, out);
  return out;
}
