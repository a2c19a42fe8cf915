/**
 * @internal Elementwise fusion: chains of elementwise launches compiled into one generated kernel.
 *
 * With fusion on (`gpuSettings().fusion`, the default), the elementwise launchers in kernels.ts
 * do not dispatch at once: each allocates its output tensor as before and appends a node to the
 * pending chain here. The chain becomes ONE kernel (`materialize`) as soon as anything else must
 * run — any other dispatch, a buffer copy, a flush or a readback (queue.ts calls back before
 * each) — or when the next node cannot join it. Each invocation computes the whole chain for its
 * element (four elements, as vec4f, when the length is a multiple of 4), keeps intermediates in
 * registers and writes only the outputs whose storage is still alive at that point: a tensor
 * disposed before the chain ran was never observed, so it is not written.
 *
 * Why it is correct (the rules `fits` enforces):
 * - A node joins only when its length equals the chain's and every operand made by the chain is
 *   read at the node's own index (same number of elements: no broadcast of a pending value).
 *   Operands not made by the chain are read from memory, broadcast as the unfused kernels do.
 * - Commands run in the order recorded, and any other command first materialises the chain, so
 *   the chain's inputs hold the values they had when the nodes were appended: a buffer can only
 *   change through a recorded command (or an upload, which never targets a buffer released since
 *   the last submit: pool.ts).
 * - A node's output buffer may be one the pool took back from a tensor the chain reads (disposed
 *   meanwhile): then the chain is materialised first, so no invocation writes a buffer another
 *   invocation of the same kernel still reads. Two nodes may share an output buffer only when the
 *   first is dead (its storage was released), and dead outputs are not written.
 * - A chain of one node runs the unfused launch it would have made (the same kernel as with
 *   fusion off).
 */
import { device } from "../gpu/device.ts";
import { type Dispatch, dispatch, grid, setPendingWork } from "../gpu/queue.ts";
import { defineShader, shaderSource } from "../gpu/shaders.ts";
import type { Storage, Tensor } from "./tensor.ts";

/** One elementwise launch offered for fusion. */
export interface FusedOp {
  /** A name for the kernel's comment, e.g. "add" or "relu'". */
  label: string;
  /** The operands' names in `expr`, in order (e.g. ["a", "b"] or ["x", "y", "g"]). */
  names: string[];
  /** The operands: each has `out`'s size (read at the same index) or broadcasts to `shape`. */
  operands: Tensor[];
  /** For each operand, its strides over `shape` (0 along broadcast dims), or null when flat. */
  strides: (number[] | null)[];
  /**
   * Operands read as int32 (converted to f32 in registers), as where's condition; the others are
   * read as f32 whatever their dtype, as the unfused unary and binary kernels do.
   */
  intOperands?: boolean[];
  /** The uniform scalars' names in `expr` and their values (e.g. ["a", "b"], [2, 0]). */
  scalarNames: string[];
  scalars: number[];
  /** A WGSL f32 expression in the operands and scalars (it may call lib/math.wgsl). */
  expr: string;
  /** The output (float32), of shape `shape`. */
  out: Tensor;
  shape: readonly number[];
  /** The unfused launch (run when this op ends up alone). */
  alone: Dispatch;
}

/** A value a node reads: an input loaded from memory, a node's register, or a uniform scalar. */
type Arg =
  | { kind: "input"; i: number }
  | { kind: "node"; j: number }
  | { kind: "scalar"; k: number }
  | { kind: "zero" };

interface Input {
  buffer: GPUBuffer;
  dtype: "float32" | "int32";
  /** Elements of the input tensor (for the cost). */
  size: number;
  /** Coalesced shape and strides over the output, or null when read at the output's index. */
  sh: number[] | null;
  st: number[] | null;
  binding: number;
}

interface Binding {
  buffer: GPUBuffer;
  /** WGSL element type of the binding. */
  type: string;
  /** Whether every read of it is at the invocation's own index (no broadcast). */
  flat: boolean;
}

interface Node {
  label: string;
  params: string[];
  expr: string;
  args: Arg[];
  out: Storage;
  buffer: GPUBuffer;
  alone: Dispatch;
}

interface Chain {
  n: number;
  vec4: boolean;
  inputs: Input[];
  bindings: Binding[];
  nodes: Node[];
  scalars: number[];
  /** Pending outputs by storage: the node that makes each. */
  made: Map<Storage, number>;
}

/** Longest chain, and most uniform scalars (the 256-byte parameter slot holds 4 + 60 words). */
const MAX_NODES = 32;
const MAX_SCALARS = 60;
const WG = 256;

let chain: Chain | null = null;
let shaderDefined = false;

/** Counters a test can read: kernels generated (launched) and nodes they covered. */
export const fusionStats = { fusedKernels: 0, fusedNodes: 0, deadOutputsSkipped: 0 };

function storageOf(t: Tensor): Storage {
  const s = t._storage;
  if (!s) throw new Error(`tensor ${t.describe()} was disposed and cannot be used any more`);
  return s;
}

const usesCache = new Map<string, boolean>();
/** Whether a WGSL expression mentions an identifier. */
function uses(expr: string, name: string): boolean {
  const key = `${name}\n${expr}`;
  let u = usesCache.get(key);
  if (u === undefined) {
    u = new RegExp(`\\b${name}\\b`).test(expr);
    if (usesCache.size > 4096) usesCache.clear();
    usesCache.set(key, u);
  }
  return u;
}

let libFunctions: RegExp | null = null;
/** Whether an expression calls a function of lib/math.wgsl (then the kernel includes it). */
function callsLib(expr: string): boolean {
  libFunctions ??= new RegExp(
    `\\b(${[...shaderSource("lib/math").matchAll(/\bfn\s+(\w+)/g)].map((m) => m[1]).join("|")})\\s*\\(`,
  );
  return libFunctions.test(expr);
}

/**
 * The input binding `buf` may be written through, when an output is given the buffer of an input
 * the chain reads (its tensor was disposed meanwhile): only when every read of it is at the
 * invocation's own index, as the chain's element type. Then each invocation loads its elements
 * before it stores any, and no other invocation touches them. Else -1 (or -2: not an input).
 */
function aliasOf(c: Chain, buf: GPUBuffer): number {
  const T = c.vec4 ? "vec4f" : "f32";
  const same = c.bindings.flatMap((b, k) => (b.buffer === buf ? [k] : []));
  if (same.length === 0) return -2;
  const b = c.bindings[same[0]];
  return same.length === 1 && b.flat && b.type === T ? same[0] : -1;
}

/** Storage bindings the chain holds if `op` joins it, counting only outputs alive now. */
function bindingsAfter(c: Chain, op: FusedOp): number {
  let extra = aliasOf(c, op.out.buffer) >= 0 ? 0 : 1; // op's output
  for (let k = 0; k < op.operands.length; k++) {
    if (!uses(op.expr, op.names[k])) continue;
    const t = op.operands[k];
    if (c.made.has(storageOf(t))) continue;
    if (
      !c.bindings.some((b) =>
        b.buffer === t.buffer &&
        b.type === bindingType(c, op.intOperands?.[k] ?? false, op.shape, op.strides[k])
      )
    ) {
      extra++;
    }
  }
  const liveOuts = c.nodes.filter((nd) => nd.out.refs > 0 && aliasOf(c, nd.buffer) < 0).length;
  return c.bindings.length + liveOuts + extra;
}

/** Whether `op` may join the chain `c` (see the rules in the module comment). */
function fits(c: Chain, op: FusedOp): boolean {
  if (op.out.size !== c.n || c.nodes.length >= MAX_NODES) return false;
  if (c.scalars.length + op.scalarNames.filter((s) => uses(op.expr, s)).length > MAX_SCALARS) return false;
  const outBuf = op.out.buffer;
  if (aliasOf(c, outBuf) === -1) return false; // a buffer still read broadcast: materialise first
  for (let k = 0; k < op.operands.length; k++) {
    if (!uses(op.expr, op.names[k])) continue;
    const t = op.operands[k];
    if (c.made.has(storageOf(t))) {
      if (t.size !== c.n) return false; // a pending value read broadcast: materialise first
    } else if (c.nodes.some((nd) => nd.buffer === t.buffer)) return false;
  }
  return bindingsAfter(c, op) <= device().limits.maxStorageBuffersPerShaderStage;
}

/** The WGSL element type an input is bound as. */
function bindingType(c: Chain, int: boolean, shape: readonly number[], strides: number[] | null): string {
  if (!c.vec4) return int ? "i32" : "f32";
  if (strides === null) return int ? "vec4i" : "vec4f";
  const m = coalesceOne(shape, strides);
  return vecInner(m.sh, m.st) ? (int ? "vec4i" : "vec4f") : int ? "i32" : "f32";
}

/** Whether a broadcast read walks its innermost dimension contiguously in whole vec4s. */
function vecInner(sh: number[], st: number[]): boolean {
  const last = sh.length - 1;
  return last >= 0 && sh[last] % 4 === 0 && st[last] === 1;
}

/** Merges dims walked contiguously and drops size-1 ones (kernels.ts `coalesce`, one operand). */
function coalesceOne(shape: readonly number[], strides: readonly number[]): { sh: number[]; st: number[] } {
  const sh: number[] = [], st: number[] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const last = sh.length - 1;
    if (last >= 0 && st[last] === strides[i] * d) {
      sh[last] *= d;
      st[last] = strides[i];
    } else {
      sh.push(d);
      st.push(strides[i]);
    }
  });
  return { sh, st };
}

/**
 * Offers an elementwise launch for fusion: appends it to the pending chain (materialising the
 * chain first when it cannot join).
 */
export function enqueue(op: FusedOp): void {
  if (chain && !fits(chain, op)) materialize();
  if (!chain) {
    const n = op.out.size;
    chain = { n, vec4: n % 4 === 0, inputs: [], bindings: [], nodes: [], scalars: [], made: new Map() };
  }
  const c = chain;
  const args: Arg[] = [];
  const params: string[] = [];
  for (let k = 0; k < op.operands.length; k++) {
    if (!uses(op.expr, op.names[k])) continue;
    const t = op.operands[k];
    params.push(op.names[k]);
    const j = c.made.get(storageOf(t));
    if (j !== undefined) {
      args.push({ kind: "node", j });
      continue;
    }
    const type = bindingType(c, op.intOperands?.[k] ?? false, op.shape, op.strides[k]);
    let b = c.bindings.findIndex((x) => x.buffer === t.buffer && x.type === type);
    if (b < 0) {
      b = c.bindings.length;
      c.bindings.push({ buffer: t.buffer, type, flat: true });
    }
    if (op.strides[k] !== null) c.bindings[b].flat = false;
    const m = op.strides[k] === null ? null : coalesceOne(op.shape, op.strides[k]!);
    const key = (x: Input) =>
      x.binding === b && JSON.stringify([x.sh, x.st]) === JSON.stringify([m?.sh ?? null, m?.st ?? null]);
    let i = c.inputs.findIndex(key);
    if (i < 0) {
      i = c.inputs.length;
      c.inputs.push({
        buffer: t.buffer,
        dtype: op.intOperands?.[k] ? "int32" : "float32",
        size: t.size,
        sh: m?.sh ?? null,
        st: m?.st ?? null,
        binding: b,
      });
    }
    args.push({ kind: "input", i });
  }
  op.scalarNames.forEach((name, k) => {
    params.push(name);
    if (!uses(op.expr, name)) {
      args.push({ kind: "zero" }); // an unused parameter (relu's a, b): no uniform slot
      return;
    }
    args.push({ kind: "scalar", k: c.scalars.length });
    c.scalars.push(op.scalars[k]);
  });
  const out = storageOf(op.out);
  c.made.set(out, c.nodes.length);
  c.nodes.push({ label: op.label, params, expr: op.expr, args, out, buffer: op.out.buffer, alone: op.alone });
}

/** The flat index (u32 expression) into an input of coalesced shape `sh`, strides `st` for element `e`. */
function indexExpr(e: string, sh: number[], st: number[]): string {
  const terms: string[] = [];
  let inner = 1;
  for (let d = sh.length - 1; d >= 0; d--) {
    if (st[d] !== 0) {
      let q = inner === 1 ? e : `(${e} / ${inner}u)`;
      if (d > 0) q = `(${q} % ${sh[d]}u)`;
      terms.push(st[d] === 1 ? q : `${q} * ${st[d]}u`);
    }
    inner *= sh[d];
  }
  return terms.length ? terms.join(" + ") : "0u";
}

/** The WGSL that loads input `x` as the chain's element type (f32, or vec4f of four elements). */
function loadExpr(c: Chain, x: Input, name: string, type: string): string {
  const int = x.dtype === "int32";
  const f = (v: string) => (int ? `f32(${v})` : v);
  if (x.sh === null) return int ? `${c.vec4 ? "vec4f" : "f32"}(${name}[i])` : `${name}[i]`;
  const st = x.st!, sh = x.sh;
  if (!c.vec4) return f(`${name}[${indexExpr("i", sh, st)}]`);
  if (type.startsWith("vec4")) {
    const load = `${name}[(${indexExpr("e", sh, st)}) / 4u]`;
    return int ? `vec4f(${load})` : load;
  }
  const last = sh.length - 1;
  if (last < 0 || (sh[last] % 4 === 0 && st[last] === 0)) {
    return `vec4f(${f(`${name}[${indexExpr("e", sh, st)}]`)})`; // four elements share one value
  }
  const lanes = ["e", "e + 1u", "e + 2u", "e + 3u"].map((e) => f(`${name}[${indexExpr(`(${e})`, sh, st)}]`));
  return `vec4f(${lanes.join(", ")})`;
}

function scalarRef(k: number): string {
  return `P.s[${k >> 2}].${"xyzw"[k & 3]}`;
}

/** The generated kernel's WGSL for a chain, writing the nodes in `live`. */
function generate(c: Chain, live: number[]): string {
  const T = c.vec4 ? "vec4f" : "f32";
  const ops = c.nodes.map((nd) => nd.label).join(" -> ");
  const lines: string[] = [];
  lines.push(
    `// ${c.nodes.length > 1 ? "fused" : "generated"}: ${ops} (${c.nodes.length} op${
      c.nodes.length > 1 ? "s" : ""
    }, ${c.vec4 ? "4 elements" : "1 element"} per invocation, ${
      live.length === c.nodes.length
        ? "every result written"
        : `${live.length} of ${c.nodes.length} results written`
    })`,
  );
  lines.push(
    `// generated by src/tensor/fusion.ts from the unfused ops' expressions; results no live tensor`,
  );
  lines.push(`// holds stay in registers. Inputs X (read), outputs Y, uniform P { n (in units of the`);
  lines.push(`// element type), s: the ops' scalar parameters }.`);
  lines.push("");
  const nvec = Math.ceil(c.scalars.length / 4);
  lines.push(
    `struct Params { n: u32, _p0: u32, _p1: u32, _p2: u32${nvec ? `, s: array<vec4f, ${nvec}>` : ""} }`,
  );
  lines.push("");
  const aliased = new Map(live.map((j) => [j, aliasOf(c, c.nodes[j].buffer)]));
  c.bindings.forEach((b, k) => {
    const j = live.find((j) => aliased.get(j) === k);
    lines.push(
      j === undefined
        ? `@group(0) @binding(${k}) var<storage, read> X${k}: array<${b.type}>;`
        : `@group(0) @binding(${k}) var<storage, read_write> X${k}: array<${b.type}>; // also ${
          c.nodes[j].label
        } (t${j}), stored over the input it was read from`,
    );
  });
  const outs = live.filter((j) => aliased.get(j)! < 0);
  outs.forEach((j, k) => {
    lines.push(
      `@group(0) @binding(${c.bindings.length + k}) var<storage, read_write> Y${k}: array<${T}>; // ${
        c.nodes[j].label
      } (t${j})`,
    );
  });
  lines.push(`@group(0) @binding(${c.bindings.length + outs.length}) var<uniform> P: Params;`);
  lines.push("");
  if (c.nodes.some((nd) => callsLib(nd.expr))) {
    lines.push(shaderSource("lib/math").trimEnd());
    lines.push("");
  }
  c.nodes.forEach((nd, j) => {
    lines.push(
      `fn op${j}(${
        nd.params.map((p) => `${p}: f32`).join(", ")
      }) -> f32 { return ${nd.expr}; } // ${nd.label}`,
    );
  });
  lines.push("");
  lines.push(`@compute @workgroup_size(${WG})`);
  lines.push(`fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nw: vec3u) {`);
  lines.push(`  let i = gid.x + gid.y * nw.x * ${WG}u;`);
  lines.push(`  if (i >= P.n) { return; }`);
  if (c.vec4 && c.inputs.some((x) => x.sh !== null)) lines.push(`  let e = 4u * i; // first element`);
  c.inputs.forEach((x, k) => {
    lines.push(`  let x${k} = ${loadExpr(c, x, `X${x.binding}`, c.bindings[x.binding].type)};`);
  });
  c.nodes.forEach((nd, j) => {
    const arg = (a: Arg, lane: string) =>
      a.kind === "zero"
        ? "0.0"
        : a.kind === "scalar"
        ? scalarRef(a.k)
        : a.kind === "input"
        ? `x${a.i}${lane}`
        : `t${a.j}${lane}`;
    const call = (lane: string) => `op${j}(${nd.args.map((a) => arg(a, lane)).join(", ")})`;
    const value = c.vec4 ? `vec4f(${[".x", ".y", ".z", ".w"].map(call).join(", ")})` : call("");
    lines.push(`  let t${j} = ${value}; // ${nd.label}`);
  });
  live.forEach((j) => {
    const b = aliased.get(j)!;
    lines.push(b >= 0 ? `  X${b}[i] = t${j};` : `  Y${outs.indexOf(j)}[i] = t${j};`);
  });
  lines.push(`}`);
  return lines.join("\n") + "\n";
}

/** Runs the pending chain (one generated kernel; the unfused launch for a chain of one). */
export function materialize(): void {
  const c = chain;
  if (!c) return;
  chain = null;
  const live: number[] = [];
  c.nodes.forEach((nd, j) => {
    if (nd.out.refs > 0) live.push(j);
  });
  fusionStats.deadOutputsSkipped += c.nodes.length - live.length;
  if (live.length === 0) return; // nothing observable: every result was disposed unread
  // one op alone runs its own kernel (a generated one that skips operands the op does not read,
  // as y in a ReLU's backward, measured no faster on llvmpipe under load: not taken)
  if (c.nodes.length === 1) {
    dispatch(c.nodes[0].alone);
    return;
  }
  if (!shaderDefined) {
    defineShader("fused", "{{CODE}}");
    shaderDefined = true;
  }
  const code = generate(c, live);
  const units = c.vec4 ? c.n / 4 : c.n;
  // a short name for the profiler's table (which shows constants of up to 24 characters)
  const full = c.nodes.map((nd) => nd.label).join(">");
  const label = full.length <= 24 ? full : `${full.slice(0, 17)}… (${c.nodes.length})`;
  const params: (number | { f: number })[] = [units, 0, 0, 0, ...c.scalars.map((f) => ({ f }))];
  dispatch({
    shader: "fused",
    constants: { CODE: code, OPS: label },
    buffers: [
      ...c.bindings.map((b) => b.buffer),
      ...live.filter((j) => aliasOf(c, c.nodes[j].buffer) < 0).map((j) => c.nodes[j].buffer),
    ],
    params,
    workgroups: grid(units, WG),
    cost: { bytes: 4 * (c.inputs.reduce((s, x) => s + x.size, 0) + live.length * c.n) },
  });
  fusionStats.fusedKernels++;
  fusionStats.fusedNodes += c.nodes.length;
}

/** The number of launches waiting in the pending chain. */
export function pendingNodes(): number {
  return chain?.nodes.length ?? 0;
}

setPendingWork(materialize);
