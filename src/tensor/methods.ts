/**
 * The PyTorch-style method forms of the ops (`x.add(y)`, `x.sum(1)`, `loss.backward()`), each a
 * one-line call of the function of the same name.
 */
import { backward } from "./autograd.ts";
import { isGradEnabled } from "./graph.ts";
import { launchCopy, stridesOf } from "./kernels.ts";
import * as ew from "./ops/elementwise.ts";
import { crossEntropy, type CrossEntropyOptions } from "./ops/loss.ts";
import { linear, matmul } from "./ops/matmul.ts";
import { argmax, type Axes, max, mean, sum } from "./ops/reduce.ts";
import { concat, expand, flatten, narrow, permute, reshape, slice, transpose } from "./ops/shape.ts";
import { gather } from "./ops/select.ts";
import { logSoftmax, softmax } from "./ops/softmax.ts";
import { assertLive, Tensor } from "./tensor.ts";

declare module "./tensor.ts" {
  interface Tensor {
    add(b: ew.Operand): Tensor;
    sub(b: ew.Operand): Tensor;
    mul(b: ew.Operand): Tensor;
    div(b: ew.Operand): Tensor;
    pow(b: ew.Operand): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    abs(): Tensor;
    relu(): Tensor;
    sigmoid(): Tensor;
    tanh(): Tensor;
    gelu(): Tensor;
    sum(axes?: Axes, keepdim?: boolean): Tensor;
    mean(axes?: Axes, keepdim?: boolean): Tensor;
    max(axis?: number, keepdim?: boolean): Tensor;
    argmax(axis?: number, keepdim?: boolean): Tensor;
    matmul(b: Tensor): Tensor;
    linear(w: Tensor, b?: Tensor | null): Tensor;
    softmax(axis?: number): Tensor;
    logSoftmax(axis?: number): Tensor;
    reshape(shape: readonly number[]): Tensor;
    view(shape: readonly number[]): Tensor;
    flatten(start?: number, end?: number): Tensor;
    permute(dims: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    expand(shape: readonly number[]): Tensor;
    slice(start: number, end?: number, axis?: number): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    gather(dim: number, index: Tensor): Tensor;
    concat(others: Tensor[], axis?: number): Tensor;
    crossEntropy(targets: Tensor, options?: CrossEntropyOptions): Tensor;
    /**
     * Copies `src`'s values into this tensor's storage, in place (PyTorch's `copy_`; same shape
     * and dtype, no broadcasting), and returns this tensor. Views sharing the storage
     * (`detach`, `reshape`) see the new values; a graph recorded from the old values refuses
     * to backpropagate. Not recorded by autograd: where either tensor requires grad it must run
     * inside `noGrad`.
     *
     * @example
     * ```ts
     * import { tensor } from "glassbox";
     * const a = tensor([1, 2, 3]);
     * const view = a.detach();
     * a.copy_(tensor([4, 5, 6]));
     * if ((await view.toArray()).join() !== "4,5,6") throw new Error("copy_");
     * ```
     */
    copy_(src: Tensor): this;
    /** Backpropagates from this tensor; accumulates into `.grad` of the leaves. */
    backward(gradient?: Tensor): Promise<void>;
  }
}

const P = Tensor.prototype;
P.add = function (b) {
  return ew.add(this, b);
};
P.sub = function (b) {
  return ew.sub(this, b);
};
P.mul = function (b) {
  return ew.mul(this, b);
};
P.div = function (b) {
  return ew.div(this, b);
};
P.pow = function (b) {
  return ew.pow(this, b);
};
P.neg = function () {
  return ew.neg(this);
};
P.exp = function () {
  return ew.exp(this);
};
P.log = function () {
  return ew.log(this);
};
P.sqrt = function () {
  return ew.sqrt(this);
};
P.abs = function () {
  return ew.abs(this);
};
P.relu = function () {
  return ew.relu(this);
};
P.sigmoid = function () {
  return ew.sigmoid(this);
};
P.tanh = function () {
  return ew.tanh(this);
};
P.gelu = function () {
  return ew.gelu(this);
};
P.sum = function (axes, keepdim) {
  return sum(this, axes, keepdim);
};
P.mean = function (axes, keepdim) {
  return mean(this, axes, keepdim);
};
P.max = function (axis, keepdim) {
  return max(this, axis, keepdim);
};
P.argmax = function (axis, keepdim) {
  return argmax(this, axis, keepdim);
};
P.matmul = function (b) {
  return matmul(this, b);
};
P.linear = function (w, b) {
  return linear(this, w, b);
};
P.softmax = function (axis) {
  return softmax(this, axis);
};
P.logSoftmax = function (axis) {
  return logSoftmax(this, axis);
};
P.reshape = function (shape) {
  return reshape(this, shape);
};
P.view = function (shape) {
  return reshape(this, shape);
};
P.flatten = function (start, end) {
  return flatten(this, start, end);
};
P.permute = function (dims) {
  return permute(this, dims);
};
P.transpose = function (d0, d1) {
  return transpose(this, d0, d1);
};
P.expand = function (shape) {
  return expand(this, shape);
};
P.slice = function (start, end, axis) {
  return slice(this, start, end, axis);
};
P.narrow = function (dim, start, length) {
  return narrow(this, dim, start, length);
};
P.gather = function (dim, index) {
  return gather(this, dim, index);
};
P.concat = function (others, axis) {
  return concat([this, ...others], axis);
};
P.crossEntropy = function (targets, options) {
  return crossEntropy(this, targets, options);
};
P.copy_ = function (src) {
  assertLive("copy_", this);
  assertLive("copy_", src);
  if (src.dtype !== this.dtype || src.shape.join() !== this.shape.join()) {
    throw new Error(
      `copy_: cannot copy ${src.describe()} into ${this.describe()} (shape and dtype must match)`,
    );
  }
  if (isGradEnabled() && (this.requiresGrad || src.requiresGrad)) {
    throw new Error(
      `copy_: ${(this.requiresGrad ? this : src).describe()} requires grad and copy_ is not recorded by ` +
        `autograd; run it inside noGrad`,
    );
  }
  launchCopy(src, this, this.dtype, [this.size], stridesOf([this.size]), stridesOf([this.size]));
  this._markModified();
  return this;
};
P.backward = function (gradient) {
  return backward(this, gradient);
};
