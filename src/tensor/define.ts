/**
 * Defining ops outside the engine: an elementwise op from WGSL expressions (its forward, and
 * its derivative for autograd), run by the engine's own generic kernels (shaders/unary.wgsl,
 * unary_backward.wgsl and binary.wgsl, whose headers say what an expression may use), and a
 * custom gradient for a tensor already computed (a modified backward rule: DeepLIFT's
 * multipliers, Guided Backpropagation's ReLU). Features build their ops here instead of
 * calling the kernel launchers or the graph recorder.
 */
import { record } from "./graph.ts";
import { launchBinary, launchUnary, launchUnaryBackward } from "./kernels.ts";
import { broadcastShapes } from "./ops/elementwise.ts";
import { sumToShape } from "./ops/reduce_raw.ts";
import { assertFloat, assertLive, type Tensor } from "./tensor.ts";

/** An elementwise op y = f(x; a, b) for `defineUnary`. */
export interface UnaryDefinition {
  /** The op's name, shown in errors, graphs and summaries. */
  name: string;
  /**
   * f as a WGSL f32 expression in `x` and the op's two scalar parameters `a` and `b`; it may
   * call the functions of shaders/lib/math.wgsl (sigmoid1, tanh1, gelu1, erf1, powf), e.g.
   * `clamp(round(x * a), -127.0, 127.0) * b`.
   */
  forward: string;
  /**
   * f′ as a WGSL expression in `x`, `y` (= f(x)), `a` and `b`; the gradient passed back is
   * g · f′. Omitted: the op has no gradient, and a backward pass through it throws naming it.
   */
  derivative?: string;
}

/** A binary elementwise op z = f(a, b) with broadcasting, for `defineBinary`. */
export interface BinaryDefinition {
  /** The op's name, shown in errors, graphs and summaries. */
  name: string;
  /** f as a WGSL f32 expression in `a` and `b` (and the functions of shaders/lib/math.wgsl). */
  forward: string;
  /**
   * ∂f/∂a and ∂f/∂b as WGSL expressions in `a` and `b` (null: that input gets no gradient);
   * the gradients passed back are g · ∂f/∂a and g · ∂f/∂b, summed over broadcast dimensions.
   * Omitted: the op has no gradient, and a backward pass through it throws naming it.
   */
  derivatives?: readonly [string | null, string | null];
}

/** Throws unless `expr` is one WGSL expression (no statements, no braces). */
function checkExpression(op: string, what: string, expr: unknown): string {
  if (typeof expr !== "string" || expr.trim() === "") {
    throw new Error(`${op}: the ${what} must be a WGSL expression, got ${JSON.stringify(expr)}`);
  }
  if (/[;{}]|\n/.test(expr)) {
    throw new Error(`${op}: the ${what} must be one WGSL expression (no ';', braces or newlines): ${expr}`);
  }
  return expr;
}

function checkName(kind: string, name: unknown): string {
  if (typeof name !== "string" || name.trim() === "") {
    throw new Error(`${kind}: an op needs a name, got ${JSON.stringify(name)}`);
  }
  return name;
}

function noGradient(name: string): Tensor[] {
  throw new Error(
    `${name} has no gradient: it was defined without a derivative, so autograd cannot pass through it`,
  );
}

const mentions = (expr: string, v: string) => new RegExp(`\\b${v}\\b`).test(expr);

/**
 * Defines an elementwise op from WGSL expressions: returns `op(x, a = 0, b = 0)`, which runs
 * `forward` on every element of a float32 tensor (on the GPU, through the engine's generic
 * unary kernel) and records `derivative` for autograd. The expressions are checked by the
 * WGSL compiler when the op first runs; a mistake is reported with the shader's name.
 *
 * @example
 * ```ts
 * import { defineUnary, tensor } from "glassbox";
 * // softplus: log(1 + e^x), whose derivative is the logistic sigmoid
 * const softplus = defineUnary({ name: "softplus", forward: "log(1.0 + exp(x))", derivative: "sigmoid1(x)" });
 * const x = tensor([0, 2], undefined, { requiresGrad: true });
 * const y = softplus(x);
 * await y.sum().backward();
 * const [y0] = await y.toArray(), [g1] = (await x.grad!.toArray()).slice(1);
 * if (Math.abs(y0 - Math.log(2)) > 1e-6 || Math.abs(g1 - 1 / (1 + Math.exp(-2))) > 1e-6) {
 *   throw new Error(`softplus: ${y0}, ${g1}`);
 * }
 * ```
 */
export function defineUnary(def: UnaryDefinition): (x: Tensor, a?: number, b?: number) => Tensor {
  const name = checkName("defineUnary", def?.name);
  const forward = checkExpression(name, "forward", def.forward);
  const derivative = def.derivative === undefined
    ? undefined
    : checkExpression(name, "derivative", def.derivative);
  return (x: Tensor, a = 0, b = 0): Tensor => {
    assertFloat(name, x);
    for (const [k, v] of [["a", a], ["b", b]] as const) {
      if (typeof v !== "number" || Number.isNaN(v)) {
        throw new Error(`${name}: parameter ${k} must be a number, got ${v}`);
      }
    }
    const y = launchUnary(x, forward, a, b);
    if (derivative === undefined) return record(y, name, [x], () => noGradient(name), []);
    const reads = [...(mentions(derivative, "x") ? [x] : []), ...(mentions(derivative, "y") ? [y] : [])];
    return record(y, name, [x], (g) => [launchUnaryBackward(x, y, g, derivative, a, b)], reads);
  };
}

/**
 * Defines a binary elementwise op from WGSL expressions: returns `op(a, b)`, which broadcasts
 * a and b (NumPy rules), runs `forward` on every element through the engine's generic binary
 * kernel and records `derivatives` for autograd.
 *
 * @example
 * ```ts
 * import { defineBinary, tensor } from "glassbox";
 * // a / b where |b| ≥ 1e-6, and 0 elsewhere (no gradient)
 * const safeDiv = defineBinary({ name: "safeDiv", forward: "select(0.0, a / b, abs(b) >= 1e-6)" });
 * const z = await safeDiv(tensor([[1, 2], [3, 4]]), tensor([2, 0])).toArray();
 * if (z.join() !== "0.5,0,1.5,0") throw new Error(`safeDiv: ${z}`);
 * ```
 */
export function defineBinary(def: BinaryDefinition): (a: Tensor, b: Tensor) => Tensor {
  const name = checkName("defineBinary", def?.name);
  const forward = checkExpression(name, "forward", def.forward);
  const ds = def.derivatives;
  if (ds !== undefined && (!Array.isArray(ds) || ds.length !== 2)) {
    throw new Error(`${name}: derivatives must be [∂f/∂a, ∂f/∂b] (each a WGSL expression or null)`);
  }
  const [da, db] = (ds ?? [null, null]).map((d, i) =>
    d === null ? null : checkExpression(name, `derivative for ${"ab"[i]}`, d)
  );
  return (a: Tensor, b: Tensor): Tensor => {
    assertFloat(name, a);
    assertFloat(name, b);
    const shape = broadcastShapes(name, a.shape, b.shape);
    const z = launchBinary(a, b, forward, shape);
    if (ds === undefined) return record(z, name, [a, b], () => noGradient(name), []);
    return record(z, name, [a, b], (g) => {
      const part = (d: string | null, t: Tensor) => {
        if (d === null || !t.requiresGrad) return null;
        const local = launchBinary(a, b, d, shape);
        const full = launchBinary(g, local, "a * b", shape);
        local.dispose();
        const r = sumToShape(full, t.shape);
        if (r !== full) full.dispose();
        return r;
      };
      return [part(da, a), part(db, b)];
    }, [a, b]);
  };
}

/** What a custom backward gets besides the output's gradient. */
export interface CustomGradientContext {
  /** The gradient accumulated so far for `t` in this backward pass, if any. */
  gradOf(t: Tensor): Tensor | undefined;
  /** Replaces the gradient in flight for `t` (the old one is disposed). */
  setGrad(t: Tensor, g: Tensor): void;
  /**
   * The output's own recorded backward applied to `g`: one gradient (or null) per input of the
   * op that made it (its local derivative, for rules that modify it). Throws if the output had
   * no recorded op.
   */
  original(g: Tensor): (Tensor | null)[];
}

/** Options for `customGradient`. */
export interface CustomGradientOptions {
  /** The op's name, shown in errors and graphs (default "customGradient"). */
  name?: string;
  /**
   * Tensors whose values the backward reads (default: `inputs`): backward refuses to run if
   * one of them is modified in place after this call.
   */
  reads?: Tensor[];
}

/**
 * Gives a computed tensor another backward rule: returns a tensor with `output`'s values (the
 * same storage, as `output.detach()`) whose gradient with respect to `inputs` is
 * `backward(g, ctx)`, one tensor (or null) per input. Use it for modified gradients (DeepLIFT's
 * multipliers, straight-through estimators): `ctx.original(g)` applies the output's own
 * backward. Nothing is recorded under `noGrad` or when no input requires a gradient.
 *
 * @example
 * ```ts
 * import { customGradient, tensor } from "glassbox";
 * const x = tensor([-1, 2], undefined, { requiresGrad: true });
 * // ReLU in the forward pass, the identity in the backward pass (straight through)
 * const y = customGradient(x.relu(), [x], (g) => [g.mul(1)], { name: "straightThroughRelu" });
 * await y.sum().backward();
 * const grad = await x.grad!.toArray();
 * if (grad.join() !== "1,1") throw new Error(`straight through: ${grad}`);
 * ```
 */
export function customGradient(
  output: Tensor,
  inputs: Tensor[],
  backward: (g: Tensor, ctx: CustomGradientContext) => (Tensor | null)[],
  options: CustomGradientOptions = {},
): Tensor {
  const name = options.name ?? "customGradient";
  if (typeof backward !== "function") throw new Error(`${name}: backward must be a function`);
  if (!Array.isArray(inputs)) throw new Error(`${name}: inputs must be an array of tensors`);
  assertLive(name, output);
  inputs.forEach((t) => assertLive(name, t));
  const node = output._node;
  return record(output.detach(), name, inputs, (g, ctx) => {
    const own: CustomGradientContext = {
      gradOf: (t) => ctx.gradOf(t),
      setGrad: (t, v) => ctx.setGrad(t, v),
      original: (h) => {
        if (!node) {
          throw new Error(`${name}: the output was not made by a recorded op, it has no own backward`);
        }
        return node.backward(h, ctx);
      },
    };
    const gs = backward(g, own);
    if (!Array.isArray(gs) || gs.length !== inputs.length) {
      throw new Error(
        `${name}: backward returned ${
          Array.isArray(gs) ? gs.length : typeof gs
        } gradients for ${inputs.length} inputs`,
      );
    }
    return gs;
  }, options.reads ?? inputs);
}
