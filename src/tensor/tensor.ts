/**
 * The Tensor: a shape, a dtype and GPU storage, plus what autograd needs (the op that made
 * it, `requiresGrad`, `.grad`, hooks). Storage is reference counted so that views made by
 * `reshape` share one buffer; every tensor is disposed on its own.
 */
import { acquireBuffer, releaseBuffer } from "../gpu/pool.ts";
import { readBuffer } from "../gpu/queue.ts";
import { type ScopeFrame, track, untrack } from "./scope.ts";

/** Element types: float32 for values, int32 for labels and indices. */
export type DType = "float32" | "int32";

/** @internal A refcounted GPU buffer. */
export class Storage {
  refs = 1;
  /** Bumped by every in-place write; autograd compares it with what the forward pass saw. */
  version = 0;
  /**
   * Forms derived from these values (a parameter's packed matmul panels), by key, each valid
   * only at the `version` it was made from; freed with the storage. Null unless the storage
   * holds a parameter (`Tensor._markParameter`): ops keep derived forms of parameters only.
   */
  derived: Map<string, { version: number; buffer: GPUBuffer }> | null = null;
  constructor(readonly buffer: GPUBuffer, readonly bytes: number) {}
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (--this.refs !== 0) return;
    releaseBuffer(this.buffer);
    this.derived?.forEach((d) => releaseBuffer(d.buffer));
    this.derived = null;
  }
}

/** @internal An autograd node: how to turn the output's gradient into the inputs'. */
export interface GradNode {
  op: string;
  inputs: Tensor[];
  /** Gradients for each input (null where an input needs none). */
  backward: (
    grad: Tensor,
    ctx: { gradOf(t: Tensor): Tensor | undefined; setGrad(t: Tensor, g: Tensor): void },
  ) => (Tensor | null)[];
  /** Tensors whose values the backward reads, and their storage versions at forward time. */
  reads?: Tensor[];
  versions?: number[];
}

/** A hook on a tensor's gradient: return a tensor to replace it. */
export type TensorGradHook = (grad: Tensor) => Tensor | void;

/** A handle that removes a hook. */
export interface RemovableHandle {
  /** Removes the hook. */
  remove(): void;
}

let nextId = 0;

/** @internal The id the next tensor will get (ids grow with creation order). */
export function nextTensorId(): number {
  return nextId;
}

/** An n-dimensional array on the GPU. Create one with `tensor()`, `zeros()`, `randn()`, …. */
export class Tensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  /** Creation order; autograd processes nodes in reverse of it. */
  readonly id: number = nextId++;
  /** Whether gradients flow to this tensor. */
  requiresGrad = false;
  /** The accumulated gradient, after `backward()` (leaves and `retainGrad()` tensors). */
  grad: Tensor | null = null;
  /** Optional label shown in errors, graphs and summaries. */
  name?: string;
  /** @internal */
  _node: GradNode | null = null;
  /** @internal */
  _storage: Storage | null;
  /** @internal */
  _scope: ScopeFrame | null = null;
  /** @internal */
  _hooks: TensorGradHook[] = [];
  /** @internal */
  _retainGrad = false;
  /** @internal where this tensor was made, for error messages (op name) */
  _op = "tensor";
  /** @internal tensors that live exactly as long as this one (e.g. max's winning indices for backward) */
  _owned: Tensor[] | null = null;

  /** @internal use the creation functions instead */
  constructor(shape: readonly number[], dtype: DType, storage: Storage) {
    checkShape("tensor", shape);
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = shape.reduce((a, b) => a * b, 1);
    this._storage = storage;
    track(this);
  }

  /** Number of dimensions. */
  get ndim(): number {
    return this.shape.length;
  }

  /** How many in-place writes its storage has had (optimizer steps, `loadStateDict`, …). */
  get version(): number {
    return this._storage?.version ?? -1;
  }

  /**
   * @internal marks this tensor's storage as a parameter's (`Module.addParameter`): its values
   * change only by versioned in-place writes, so ops may keep forms derived from them.
   */
  _markParameter(): void {
    if (this._storage) this._storage.derived ??= new Map();
  }

  /** @internal records an in-place write of this tensor's storage (see `version`). */
  _markModified(): void {
    if (this._storage) this._storage.version++;
  }

  /** Whether `dispose()` has been called. */
  get disposed(): boolean {
    return this._storage === null;
  }

  /** Whether this tensor was made by a recorded op (not a leaf). */
  get isLeaf(): boolean {
    return this._node === null;
  }

  /** @internal the GPU buffer; throws if the tensor was disposed. */
  get buffer(): GPUBuffer {
    if (!this._storage) {
      throw new Error(`tensor ${this.describe()} was disposed and cannot be used any more`);
    }
    return this._storage.buffer;
  }

  /** A short description for messages: name or op, shape and dtype. */
  describe(): string {
    return `${this.name ?? this._op}[${this.shape.join(", ")}] ${this.dtype}`;
  }

  /** Frees the GPU storage (once all views of it are disposed). Safe to call twice. */
  dispose(): void {
    if (!this._storage) return;
    this._storage.release();
    this._storage = null;
    this._scope?.items.delete(this);
    this._scope = null;
    this._owned?.forEach((t) => t.dispose());
    this._owned = null;
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Support for `using t = …` declarations. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Copies the data to the CPU (one GPU synchronisation).
   *
   * @example
   * ```ts
   * import { tensor } from "glassbox";
   * const a = await tensor([1, 2, 3]).toArray(); // Float32Array [1, 2, 3]
   * ```
   */
  async toArray(): Promise<Float32Array | Int32Array> {
    const buf = this.buffer;
    if (this.size === 0) return this.dtype === "int32" ? new Int32Array(0) : new Float32Array(0);
    const data = await readBuffer(buf, this.size * 4);
    return this.dtype === "int32" ? new Int32Array(data) : new Float32Array(data);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new Error(`item() needs a tensor with one element, got shape [${this.shape.join(", ")}]`);
    }
    return (await this.toArray())[0];
  }

  /** Makes `.grad` available on this non-leaf tensor after backward. */
  retainGrad(): this {
    this._retainGrad = true;
    return this;
  }

  /** Sets `requiresGrad` (in place) and returns this tensor. */
  requiresGrad_(value = true): this {
    if (value && this.dtype !== "float32") {
      throw new Error(`only float32 tensors can require gradients, got ${this.describe()}`);
    }
    this.requiresGrad = value;
    return this;
  }

  /**
   * Registers a hook called with this tensor's gradient during backward; a returned tensor
   * replaces the gradient that flows on.
   */
  registerHook(hook: TensorGradHook): RemovableHandle {
    this._hooks.push(hook);
    return {
      remove: () => {
        const i = this._hooks.indexOf(hook);
        if (i >= 0) this._hooks.splice(i, 1);
      },
    };
  }

  /**
   * A new tensor sharing this one's storage (PyTorch's `detach`): the same values, no autograd
   * history and `requiresGrad` false, so no gradient flows through it to this tensor. A write
   * to either (an optimizer step, `copy_`) is seen by both; dispose each on its own (the storage
   * is freed with the last of them).
   *
   * @example
   * ```ts
   * import { tensor } from "glassbox";
   * const w = tensor([1, 2], undefined, { requiresGrad: true });
   * const d = w.mul(3).detach(); // [3, 6], requiresGrad false, a leaf
   * if (d.requiresGrad || !d.isLeaf || (await d.toArray()).join() !== "3,6") throw new Error("detach");
   * ```
   */
  detach(): Tensor {
    return this._view(this.shape);
  }

  /** @internal a new tensor sharing this one's storage with another shape. */
  _view(shape: readonly number[]): Tensor {
    const s = this._storage;
    if (!s) throw new Error(`tensor ${this.describe()} was disposed and cannot be used any more`);
    return new Tensor(shape, this.dtype, s.retain());
  }

  /** A short description, e.g. "Tensor(weight[4, 2] float32)". */
  toString(): string {
    return `Tensor(${this.describe()})`;
  }
}

/** Throws unless every dimension is a non-negative integer (names the op). */
export function checkShape(op: string, shape: readonly number[]): void {
  if (!Array.isArray(shape) || shape.some((d) => typeof d !== "number" || !Number.isInteger(d) || d < 0)) {
    throw new Error(
      `${op}: invalid shape ${JSON.stringify(shape)}: dimensions must be non-negative integers`,
    );
  }
}

/**
 * @internal Makes `owned` live exactly as long as `owner`: it leaves any scope and is disposed
 * with `owner` (state an op's backward needs, such as max's winning indices).
 */
export function own(owner: Tensor, owned: Tensor): void {
  untrack(owned);
  (owner._owned ??= []).push(owned);
}

/**
 * @internal A form an op derives from `t`'s values (a packed or transposed copy of `floats`
 * floats, written into a buffer by `make`): for a parameter, the one kept on its storage
 * (`Storage.derived`) under `key`, made again only when the storage's version has moved on since
 * (an optimizer step, `copy_`, `loadStateDict`) and freed with the storage; for any other tensor a
 * temporary (`temp`, the caller's to dispose).
 */
export function derivedForm(
  t: Tensor,
  key: string,
  floats: number,
  make: (buffer: GPUBuffer) => void,
): { buf: GPUBuffer; temp: Tensor | null } {
  const s = t._storage, kept = s?.derived;
  if (!s || !kept) {
    const temp = empty([floats]);
    make(temp.buffer);
    return { buf: temp.buffer, temp };
  }
  let d = kept.get(key);
  if (!d) {
    d = { version: -1, buffer: acquireBuffer(4 * floats) };
    kept.set(key, d);
  }
  if (d.version !== s.version) {
    make(d.buffer);
    d.version = s.version;
  }
  return { buf: d.buffer, temp: null };
}

/** @internal a tensor with fresh (uninitialised) storage; the shape is checked before any buffer is taken. */
export function empty(shape: readonly number[], dtype: DType = "float32", forUpload = false): Tensor {
  checkShape("empty", shape);
  const size = shape.reduce((a, b) => a * b, 1);
  const bytes = Math.max(4, size * 4);
  return new Tensor(shape, dtype, new Storage(acquireBuffer(bytes, forUpload), bytes));
}

/** Throws unless `t` is usable as an op input. */
export function assertLive(op: string, t: Tensor): void {
  if (!(t instanceof Tensor)) throw new Error(`${op}: expected a Tensor, got ${typeof t}`);
  if (t.disposed) throw new Error(`${op}: tensor ${t.describe()} was disposed and cannot be used any more`);
}

/** Throws unless `t` is float32. */
export function assertFloat(op: string, t: Tensor): void {
  assertLive(op, t);
  if (t.dtype !== "float32") throw new Error(`${op} needs a float32 tensor, got ${t.describe()}`);
}
