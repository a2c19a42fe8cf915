/**
 * Elementwise ops: unary math and activations, and broadcasting binary arithmetic.
 */
import { record } from "../graph.ts";
import { launchBinary, launchUnary, launchUnaryBackward } from "../kernels.ts";
import { assertFloat, type Tensor } from "../tensor.ts";
import { sumToShape } from "./reduce_raw.ts";

/** A tensor or a plain number (a scalar that broadcasts). */
export type Operand = Tensor | number;

/**
 * The shape two shapes broadcast to (NumPy rules), or an error naming the op and both shapes.
 */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes [${a.join(", ")}] and [${b.join(", ")}] cannot be broadcast together`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

interface UnarySpec {
  op: string;
  deriv: string;
  /** whether the derivative reads x or y (it reads neither for neg and affine) */
  reads?: false;
}

const UNARY: Record<string, UnarySpec> = {
  neg: { op: "-x", deriv: "-1.0", reads: false },
  exp: { op: "exp(x)", deriv: "y" },
  log: { op: "log(x)", deriv: "1.0 / x" },
  sqrt: { op: "sqrt(x)", deriv: "0.5 / y" },
  abs: { op: "abs(x)", deriv: "sign(x)" },
  relu: { op: "max(x, 0.0)", deriv: "select(0.0, 1.0, x > 0.0)" },
  sigmoid: { op: "sigmoid1(x)", deriv: "y * (1.0 - y)" },
  tanh: { op: "tanh1(x)", deriv: "1.0 - y * y" },
  gelu: { op: "gelu1(x)", deriv: "gelu_deriv(x)" },
  affine: { op: "x * a + b", deriv: "a", reads: false },
  pow: { op: "powf(x, a)", deriv: "powf_deriv(x, a)" },
  leakyRelu: { op: "select(x * a, x, x > 0.0)", deriv: "select(a, 1.0, x > 0.0)" },
  erf: { op: "erf1(x)", deriv: "1.1283791670955126 * exp(-x * x)" },
};

function unary(name: string, x: Tensor, a = 0, b = 0): Tensor {
  assertFloat(name, x);
  const spec = UNARY[name];
  const y = launchUnary(x, spec.op, a, b, name);
  return record(
    y,
    name,
    [x],
    (g) => [launchUnaryBackward(x, y, g, spec.deriv, a, b, `${name}'`)],
    spec.reads === false ? [] : [x, y],
  );
}

/** -x */
export function neg(x: Tensor): Tensor {
  return unary("neg", x);
}
/** e^x */
export function exp(x: Tensor): Tensor {
  return unary("exp", x);
}
/** Natural logarithm. */
export function log(x: Tensor): Tensor {
  return unary("log", x);
}
/** Square root. */
export function sqrt(x: Tensor): Tensor {
  return unary("sqrt", x);
}
/** |x| (gradient sign(x), 0 at 0). */
export function abs(x: Tensor): Tensor {
  return unary("abs", x);
}
/**
 * max(x, 0).
 * @example
 * ```ts
 * import { relu, tensor } from "glassbox";
 * relu(tensor([-1, 2])); // [0, 2]
 * ```
 */
export function relu(x: Tensor): Tensor {
  return unary("relu", x);
}
/** x for x > 0, slope·x otherwise. */
export function leakyRelu(x: Tensor, slope = 0.01): Tensor {
  return unary("leakyRelu", x, slope);
}
/** 1 / (1 + e^-x), computed stably for large |x|. */
export function sigmoid(x: Tensor): Tensor {
  return unary("sigmoid", x);
}
/** Hyperbolic tangent. */
export function tanh(x: Tensor): Tensor {
  return unary("tanh", x);
}
/** GELU with the exact erf form, as PyTorch's default: x·Φ(x). */
export function gelu(x: Tensor): Tensor {
  return unary("gelu", x);
}

/**
 * The error function erf(x) = 2/√π ∫₀ˣ e^(−t²) dt (absolute error below 2e-7), with gradient
 * 2/√π · e^(−x²).
 *
 * @example
 * ```ts
 * import { erf, tensor } from "glassbox";
 * const y = await erf(tensor([0, 1])).toArray();
 * if (Math.abs(y[1] - 0.8427008) > 1e-6) throw new Error("erf(1)");
 * ```
 */
export function erf(x: Tensor): Tensor {
  return unary("erf", x);
}

function needTensor(op: string, v: Operand): Tensor {
  if (typeof v === "number") throw new Error(`${op}: expected a tensor`);
  return v;
}

function binary(
  name: string,
  expr: string,
  a: Tensor,
  b: Tensor,
  back: (g: Tensor, z: Tensor) => [Tensor | null, Tensor | null],
  reads: "none" | "inputs" | "all" = "all",
): Tensor {
  assertFloat(name, a);
  assertFloat(name, b);
  const shape = broadcastShapes(name, a.shape, b.shape);
  const z = launchBinary(a, b, expr, shape, name);
  return record(z, name, [a, b], (g) => {
    const [ga, gb] = back(g, z);
    const fin = (gx: Tensor | null, shape: readonly number[]) => {
      if (!gx) return null;
      const r = sumToShape(gx, shape);
      if (r !== gx && gx !== g) gx.dispose();
      return r;
    };
    return [fin(ga, a.shape), fin(gb, b.shape)];
  }, reads === "none" ? [] : reads === "inputs" ? [a, b] : [a, b, z]);
}

/**
 * a + b with broadcasting; either side may be a number.
 *
 * @example
 * ```ts
 * import { add, tensor } from "glassbox";
 * add(tensor([[1, 2], [3, 4]]), tensor([10, 20])); // [[11, 22], [13, 24]]
 * ```
 */
export function add(a: Operand, b: Operand): Tensor {
  if (typeof b === "number") return unary("affine", needTensor("add", a), 1, b);
  if (typeof a === "number") return unary("affine", b, 1, a);
  return binary("add", "a + b", a, b, (g) => [g, g], "none");
}

/** a - b with broadcasting; either side may be a number. */
export function sub(a: Operand, b: Operand): Tensor {
  if (typeof b === "number") return unary("affine", needTensor("sub", a), 1, -b);
  if (typeof a === "number") return unary("affine", b, -1, a);
  return binary("sub", "a - b", a, b, (g) => [g, neg(g)], "none");
}

/** a · b elementwise with broadcasting; either side may be a number. */
export function mul(a: Operand, b: Operand): Tensor {
  if (typeof b === "number") return unary("affine", needTensor("mul", a), b, 0);
  if (typeof a === "number") return unary("affine", b, a, 0);
  return binary("mul", "a * b", a, b, (g) => [
    a.requiresGrad ? launchBinary(g, b, "a * b", g.shape, "mul'a") : null,
    b.requiresGrad ? launchBinary(g, a, "a * b", g.shape, "mul'b") : null,
  ], "inputs");
}

/** Applies f to a temporary and frees the temporary. */
function chain(t: Tensor, f: (t: Tensor) => Tensor): Tensor {
  const r = f(t);
  t.dispose();
  return r;
}

/** a / b elementwise with broadcasting; either side may be a number. */
export function div(a: Operand, b: Operand): Tensor {
  if (typeof b === "number") return unary("affine", needTensor("div", a), 1 / b, 0);
  if (typeof a === "number") {
    // a / b = a * b^-1
    return mul(pow(b, -1), a);
  }
  return binary("div", "a / b", a, b, (g, z) => [
    a.requiresGrad ? launchBinary(g, b, "a / b", g.shape) : null,
    b.requiresGrad
      ? chain(launchBinary(g, z, "-a * b", g.shape), (t) => launchBinary(t, b, "a / b", g.shape))
      : null,
  ]);
}

/** a^b elementwise; b may be a number (integer powers of negative bases are defined). */
export function pow(a: Tensor, b: Operand): Tensor {
  if (typeof b === "number") return unary("pow", a, b);
  return binary("pow", "powf(a, b)", a, b, (g, z) => [
    a.requiresGrad
      ? chain(
        launchBinary(a, b, "powf_deriv(a, b)", g.shape),
        (t) => launchBinary(g, t, "a * b", g.shape),
      )
      : null,
    b.requiresGrad
      ? chain(launchBinary(g, z, "a * b", g.shape), (t) => launchBinary(t, a, "a * log(b)", g.shape))
      : null,
  ]);
}
