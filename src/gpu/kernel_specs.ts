/**
 * Every kernel's interface, declared once: the fields of its uniform `Params` struct (names and
 * types, in order) and the workgroup size of each entry point. The WGSL files write
 * `@workgroup_size({{WG}})` and `{{WG}}u` and keep their `struct Params` for reading; the loader
 * fills WG from here and checks, when a shader is first compiled, that its struct has exactly
 * these fields (tests/kernel_specs_test.ts checks every shader up front). Launchers pass
 * parameters by name, so TypeScript and WGSL cannot disagree about order, type or group size.
 *
 * Loop budget: on llvmpipe (lavapipe, and its GL path) one invocation may run 65,535 loop steps
 * in total, over all its loops (outer and inner steps alike; constant-count loops are unrolled
 * and free); past that every loop exits early and silently (see src/gpu/loops.ts for the
 * measurements). A kernel whose loop count grows with the data must bound it per invocation on
 * the host (more invocations, blocks, or a composed fallback), or its launcher must call
 * `checkLoopSteps` so the shape is refused there instead of giving wrong numbers.
 */

/** A uniform field's type: a scalar, or 8 u32 packed as `array<vec4u, 2>` (shapes and strides). */
export type ParamType = "u32" | "i32" | "f32" | "u32x8";

/** One kernel family (one .wgsl file). */
export interface KernelSpec {
  /** The fields of `struct Params`, in order. */
  params: readonly (readonly [string, ParamType])[];
  /** Workgroup size of each entry point. */
  workgroup: Readonly<Record<string, number>>;
}

const u = (...names: string[]) => names.map((n) => [n, "u32"] as const);
const f = (...names: string[]) => names.map((n) => [n, "f32"] as const);
const x8 = (...names: string[]) => names.map((n) => [n, "u32x8"] as const);

/** The kernels in shaders/, by file name. */
export const KERNEL_SPECS: Readonly<Record<string, KernelSpec>> = {
  unary: { params: [...u("n"), ...f("a", "b")], workgroup: { main: 256 } },
  unary_backward: { params: [...u("n"), ...f("a", "b")], workgroup: { main: 256 } },
  binary: { params: [...u("n", "rank", "_p0", "_p1"), ...x8("shape", "sa", "sb")], workgroup: { main: 256 } },
  where: {
    params: [...u("n", "rank", "_p0", "_p1"), ...x8("shape", "sc", "sa", "sb")],
    workgroup: { main: 256 },
  },
  copy: {
    params: [...u("n", "rank", "src_off", "dst_off"), ...x8("shape", "ss", "ds")],
    workgroup: { main: 256 },
  },
  fill: { params: u("n", "value"), workgroup: { main: 256 } },
  reduce: { params: [...u("O", "R", "I"), ...f("scale")], workgroup: { main: 64, rows: 256 } },
  reduce_backward: { params: u("O", "R", "I"), workgroup: { main: 256 } },
  softmax: {
    params: u("O", "R", "I"),
    workgroup: { softmax: 64, log_softmax: 64, softmax_bwd: 64, log_softmax_bwd: 64 },
  },
  cross_entropy: { params: [...u("N", "C"), ...f("eps")], workgroup: { forward: 64, backward: 64 } },
  attention: {
    params: [...u("N", "L", "S", "causal", "mask_rows"), ...f("scale")],
    workgroup: { forward: 64, weights: 64, bwd_q: 64, bwd_kv: 64 },
  },
  attention_rows: {
    params: [...u("N", "L", "S", "mask_rows"), ...f("scale")],
    workgroup: { forward: 16, bwd_q: 16, bwd_kv: 16 },
  },
  layer_norm: {
    params: [...u("R", "C", "flags"), ...f("eps")],
    workgroup: { forward: 64, bwd_x: 64, bwd_wb: 64 },
  },
  embedding: { params: u("N", "V", "E"), workgroup: { lookup: 256, scatter: 256 } },
  recurrent: {
    params: u("B", "H"),
    workgroup: { lstm_fwd: 64, lstm_bwd: 64, gru_fwd: 64, gru_bwd: 64 },
  },
  // one workgroup per batch element; its invocations own hidden units (see the shader headers)
  lstm_sequence: { params: u("B", "T", "t0", "t1", "flags"), workgroup: { forward: 64 } },
  lstm_sequence_bwd: { params: u("B", "T", "t0", "t1", "flags"), workgroup: { backward: 64 } },
  gru_sequence: { params: u("B", "T", "t0", "t1", "flags"), workgroup: { forward: 64 } },
  gru_sequence_bwd: { params: u("B", "T", "t0", "t1", "flags"), workgroup: { backward: 64 } },
  int8: {
    params: [...u("M", "N", "K", "K4", "has_bias"), ...f("sx", "inv_sx"), ...u("label", "per_sample")],
    workgroup: { quantize: 256 },
  },
  int8_gemm: {
    params: [
      ...u("M", "N", "K", "K4", "ldw4", "tiles_n", "has_bias", "write_acc", "pos"),
      ...f("sx", "inv_sx"),
      ...u("label", "C", "H", "W", "KH", "KW", "OW", "stride", "pad", "dil", "total", "Hp", "Wp", "C4"),
      ...u("slide", "LA", "LB", "LC", "SA", "SB", "SC", "s_img", "s_oy", "s_ox"),
      ...u("relu", "PH", "PW", "out_q", "q_Hp", "q_Wp", "q_pad", "q_C4"),
    ],
    workgroup: { quantize: 256, weights: 64, gemm: 64 },
  },
  gather: { params: u("O", "D", "J", "I"), workgroup: { gather: 256, backward: 256 } },
  matmul: {
    params: u("M", "N", "K", "lda4", "ldb4", "a_batch4", "b_batch4", "tiles_m", "tiles_n", "batch"),
    // measured on llvmpipe: 8 to 128 performed alike; 64 suits GPUs too. small: for products of
    // few tiles, spread over more workgroups (llvmpipe runs a workgroup on one thread)
    workgroup: { main: 64, small: 8 },
  },
  matmul_pack: { params: u("K", "X", "xq", "sb", "sk", "sx", "total"), workgroup: { main: 256 } },
  matmul_tiled: {
    params: u("M", "N", "K", "sab", "sak", "sam", "sbb", "sbk", "sbn"),
    workgroup: { main: 256 }, // 16×16 invocations, 4×4 outputs each: a 64×64 tile of C
  },
  conv: {
    params: u("N", "C", "H", "W", "KH", "KW", "OH", "OW", "stride", "pad", "dil", "total", "sN", "sK", "sP"),
    workgroup: {
      im2col: 256,
      col2im: 256,
      col2im_bias: 256,
      pixel_rows: 256,
      pixel_rows4: 256,
      pad_rows: 256,
    },
  },
  conv_gemm: {
    params: [...u("tiles_m", "tiles_n", "_p0"), ...f("slope")],
    workgroup: { forward: 64, pack: 256 },
  },
  conv_act_pool: {
    params: [...u("OH", "OW", "PH", "PW", "total"), ...f("slope")],
    workgroup: { act_pool: 256, act_pool_bwd: 256 },
  },
  resize: {
    params: u("H", "W", "OH", "OW", "total", "col_t", "row_r", "col_r", "linear"),
    workgroup: { forward: 256, backward: 256 },
  },
  pool: {
    params: u("N", "C", "H", "W", "KH", "KW", "OH", "OW", "SH", "SW", "PH", "PW", "total"),
    workgroup: {
      max_fwd: 256,
      max_bwd: 256,
      max_bwd_cells: 256,
      avg_fwd: 256,
      avg_bwd: 256,
      avg_bwd_cells: 256,
    },
  },
  dropout: { params: [...u("n", "seed"), ...f("p", "scale")], workgroup: { main: 256 } },
  optim: {
    params: [...u("n"), ...f("lr", "wd", "a", "b", "c", "d", "e"), ...u("flags"), ...f("f", "g")],
    workgroup: { sgd: 256, adam: 256 },
  },
  stats: {
    params: u("nseg", "ngroups", "bins", "out_base", "hist_base"),
    workgroup: { partial: 64, finalize: 64, histogram: 64 },
  },
  topk: { params: u("R", "C", "L", "nchunks", "k", "has_idx"), workgroup: { partial: 64 } },
  track: {
    params: u("n", "dst_off", "src_off", "N", "U", "S", "unit_off"),
    workgroup: { delta: 256, mark_active: 64 },
  },
};

/** The spec of a kernel family; a clear error for an unknown one. */
export function kernelSpec(shader: string): KernelSpec | undefined {
  return KERNEL_SPECS[shader];
}

/**
 * The fields of `struct Params` in WGSL source, as [name, type] with types normalised
 * ("array<vec4u, 2>" → "u32x8"); null when the shader has no such struct.
 */
export function parseParamsStruct(src: string): [string, string][] | null {
  const m = /struct\s+Params\s*\{([^}]*)\}/.exec(src);
  if (!m) return null;
  return m[1].split(/,(?![^<]*>)/).map((s) => s.trim()).filter(Boolean).map((field) => {
    const [name, type] = field.split(":").map((p) => p.trim());
    return [name, type.replace(/\s+/g, "") === "array<vec4u,2>" ? "u32x8" : type];
  });
}

/** The entry points of WGSL source (the functions marked @compute). */
export function entryPoints(src: string): string[] {
  return [...src.matchAll(/@compute\s+@workgroup_size\([^)]*\)\s*fn\s+(\w+)/g)].map((m) => m[1]);
}

/**
 * Throws unless the WGSL matches the spec: the same `struct Params` fields, the same entry
 * points, each sized `@workgroup_size({{WG}})` (names the shader and what differs).
 */
export function checkSpec(shader: string, src: string, spec: KernelSpec): void {
  const entries = entryPoints(src).sort().join(", ");
  const declared = Object.keys(spec.workgroup).sort().join(", ");
  if (entries !== declared) {
    throw new Error(
      `shaders/${shader}.wgsl: entry points [${entries}] but its kernel spec says [${declared}]`,
    );
  }
  const literal = /@workgroup_size\((?!\{\{WG\}\})[^)]*\)/.exec(src);
  if (literal) throw new Error(`shaders/${shader}.wgsl: ${literal[0]} should be @workgroup_size({{WG}})`);
  const got = parseParamsStruct(src);
  const want = spec.params.map(([n, t]) => `${n}: ${t}`).join(", ");
  const have = got ? got.map(([n, t]) => `${n}: ${t}`).join(", ") : "(no struct Params)";
  if (have !== want) {
    throw new Error(
      `shaders/${shader}.wgsl: struct Params is { ${have} } but its kernel spec says { ${want} }`,
    );
  }
}
