/**
 * MultiheadAttention, TransformerEncoderLayer and the stacked recurrent layers against PyTorch 1.13's
 * own numbers (tests/fixtures/torch/*.safetensors, made by make_attention_fixtures.py there): outputs,
 * attention weights and the gradients of a fixed scalar loss for the input, the initial states and every
 * parameter, under every mask kind, through the fused attention kernel with grad enabled.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { decodeSafetensors, type SafetensorsFile } from "../src/io/safetensors.ts";

// these fixtures check the fused attention and recurrent kernels against PyTorch at sizes "auto"
// would compose (too little work to compile a kernel for the shape: src/gpu/specialise.ts), so the
// kernels are forced here (this file's own isolate); the composed side runs where a test asks for it
gb.configureGpu({ specialise: "always" });

const fixture = async (name: string): Promise<SafetensorsFile> =>
  decodeSafetensors(await Deno.readFile(new URL(`./fixtures/torch/${name}`, import.meta.url)), name);

/** A fixture tensor as a glassbox tensor (I32 masks as int32, the rest float32). */
function loader(file: SafetensorsFile) {
  const host = (name: string) => {
    const h = file.tensors.get(name);
    if (!h) throw new Error(`fixture has no "${name}"`);
    return h;
  };
  return {
    has: (name: string) => file.tensors.has(name),
    data: (name: string) => host(name).data,
    tensor: (name: string, requiresGrad = false) => {
      const h = host(name);
      return gb.tensor(h.data as Float32Array | Int32Array, h.shape, {
        dtype: h.dtype === "I32" ? "int32" : "float32",
        requiresGrad,
      });
    },
    state: (prefix: string) =>
      Object.fromEntries(
        [...file.tensors.entries()].filter(([n]) => n.startsWith(prefix)).map((
          [n, h],
        ) => [n.slice(prefix.length), gb.tensor(h.data as Float32Array, h.shape)]),
      ),
  };
}

const worst: Record<string, number> = {};

/**
 * max |got − want| ≤ rel · max |want| (NaN exactly where PyTorch has NaN); records the measured ratio
 * under `kind`.
 */
function close(got: ArrayLike<number>, want: ArrayLike<number>, rel: number, msg: string, kind: string) {
  assert.equal(got.length, want.length, `${msg}: length`);
  let scale = 0, err = 0;
  for (let i = 0; i < want.length; i++) {
    if (Number.isNaN(want[i])) {
      assert.ok(Number.isNaN(got[i]), `${msg}: [${i}] is ${got[i]}, PyTorch has NaN`);
      continue;
    }
    scale = Math.max(scale, Math.abs(want[i]));
    const e = Math.abs(got[i] - want[i]);
    err = Number.isNaN(e) ? Infinity : Math.max(err, e);
  }
  assert.ok(scale > 0, `${msg}: PyTorch's values are all zero`);
  assert.ok(err <= rel * scale, `${msg}: max error ${err.toExponential(2)} > ${rel} × ${scale.toFixed(3)}`);
  worst[kind] = Math.max(worst[kind] ?? 0, err / scale);
}

/** Every op in the autograd graph behind `t`. */
function opsBehind(t: gb.Tensor): Set<string> {
  const seen = new Set<gb.Tensor>(), ops = new Set<string>();
  const walk = (x: gb.Tensor) => {
    if (seen.has(x) || !x._node) return;
    seen.add(x);
    ops.add(x._node.op);
    x._node.inputs.forEach(walk);
  };
  walk(t);
  return ops;
}

/** PyTorch's mask arguments (fixture names) as glassbox's. */
function masksOf(f: ReturnType<typeof loader>, prefix: string, names: Record<string, string>) {
  const masks: gb.AttentionMasks = {};
  for (const [torchName, ours] of Object.entries(names)) {
    if (f.has(`${prefix}/${torchName}`)) {
      (masks as Record<string, gb.Tensor>)[ours] = f.tensor(`${prefix}/${torchName}`);
    }
  }
  return masks;
}

const MHA_CASES = [
  "none",
  "bool",
  "float",
  "causal",
  "kpm_bool",
  "kpm_float",
  "bool_kpm",
  "float_kpm",
  "bool3_kpm",
  "float3",
];

Deno.test("MultiheadAttention.forward equals PyTorch 1.13 under bool, float additive, causal, key-padding and 3-D masks, through the fused kernel forward and backward", async () => {
  const f = loader(await fixture("attention.safetensors"));
  const mha = new gb.MultiheadAttention(8, 2);
  mha.loadStateDict(f.state("mha/state/"));
  const params = mha.namedParameters();
  const run = async (label: string, masks: gb.AttentionMasks, want: string) => {
    await gb.scope(async () => {
      const x = f.tensor("mha/x", true);
      const out = mha.forward(x, x, x, masks);
      const ops = opsBehind(out);
      assert.ok(ops.has("attention") && !ops.has("softmax"), `${label}: the fused kernel ran (${[...ops]})`);
      const loss = gb.sum(gb.mul(out, f.tensor("mha/R")));
      const grads = gb.grad(loss, [x, ...params.map(([, p]) => p)]);
      close(await out.toArray(), f.data(`mha/${want}/output`), 1e-5, `${label}: output`, "MHA output");
      close(await grads[0].toArray(), f.data(`mha/${want}/grad.x`), 1e-4, `${label}: ∂/∂x`, "MHA gradient");
      for (const [i, [n]] of params.entries()) {
        close(
          await grads[i + 1].toArray(),
          f.data(`mha/${want}/grad.${n}`),
          1e-4,
          `${label}: ∂/∂${n}`,
          "MHA gradient",
        );
      }
    });
  };
  for (const c of MHA_CASES) {
    await run(c, masksOf(f, `mha/${c}`, { attn_mask: "attnMask", key_padding_mask: "keyPaddingMask" }), c);
  }
  // is_causal (torch 1.13 has none): equal to PyTorch's result with generate_square_subsequent_mask
  await run("isCausal", { isCausal: true }, "causal");
  const causal = gb.generateSquareSubsequentMask(5);
  assert.deepEqual(Array.from(await causal.toArray()), Array.from(f.data("mha/causal/attn_mask")));
  await run("generateSquareSubsequentMask", { attnMask: causal }, "causal");
  console.log(`worst relative errors: ${JSON.stringify(worst)}`);
});

Deno.test("MultiheadAttention's weights equal PyTorch's per head under every mask, from the composed path (grad) and the fused kernel (noGrad); a fully masked query is NaN as in PyTorch", async () => {
  const f = loader(await fixture("attention.safetensors"));
  const mha = new gb.MultiheadAttention(8, 2);
  mha.loadStateDict(f.state("mha/state/"));
  for (const c of MHA_CASES) {
    await gb.scope(async () => {
      const masks = masksOf(f, `mha/${c}`, { attn_mask: "attnMask", key_padding_mask: "keyPaddingMask" });
      const x = f.tensor("mha/x");
      const graphed = mha.forwardWithWeights(x, x, x, masks);
      const fused = gb.noGrad(() => mha.forwardWithWeights(x, x, x, masks));
      for (const [how, r] of [["composed", graphed], ["fused", fused]] as const) {
        close(
          await r.weights.toArray(),
          f.data(`mha/${c}/weights`),
          1e-5,
          `${c} (${how}): weights`,
          "weights",
        );
        close(
          await r.output.toArray(),
          f.data(`mha/${c}/output`),
          1e-5,
          `${c} (${how}): output`,
          "MHA output",
        );
      }
    });
  }
  // query 2 may attend to nothing: PyTorch's row is NaN (output and weights), the other rows are numbers
  for (const grad of [true, false]) {
    await gb.scope(async () => {
      const x = f.tensor("mha/x"), attnMask = f.tensor("mha/full_row/attn_mask");
      const r = grad
        ? mha.forwardWithWeights(x, x, x, { attnMask })
        : gb.noGrad(() => mha.forwardWithWeights(x, x, x, { attnMask }));
      const out = await r.output.toArray(), w = await r.weights.toArray();
      close(out, f.data("mha/full_row/output"), 1e-5, `fully masked row, grad ${grad}: output`, "MHA output");
      close(w, f.data("mha/full_row/weights"), 1e-5, `fully masked row, grad ${grad}: weights`, "weights");
      assert.ok(Number.isNaN(out[2 * 8]) && !Number.isNaN(out[0]), "row 2 is NaN, row 0 is not");
    });
  }
});

Deno.test("TransformerEncoderLayer equals PyTorch 1.13, post-norm ReLU (PyTorch's default) and pre-norm GELU, with src_mask, src_key_padding_mask and is_causal, output and every gradient", async () => {
  const f = loader(await fixture("attention.safetensors"));
  for (const tag of ["post_relu", "pre_gelu"]) {
    const layer = new gb.TransformerEncoderLayer(
      8,
      2,
      tag === "post_relu"
        ? { dimFeedforward: 16, dropout: 0 }
        : { dimFeedforward: 16, dropout: 0, normFirst: true, activation: "gelu" },
    );
    layer.loadStateDict(f.state(`enc_${tag}/state/`));
    const params = layer.namedParameters();
    const run = async (label: string, masks: gb.AttentionMasks, want: string) => {
      await gb.scope(async () => {
        const x = f.tensor(`enc_${tag}/x`, true);
        const out = layer.forward(x, masks);
        assert.ok(opsBehind(out).has("attention"), `${label}: the fused kernel ran`);
        const loss = gb.sum(gb.mul(out, f.tensor(`enc_${tag}/R`)));
        const grads = gb.grad(loss, [x, ...params.map(([, p]) => p)]);
        const p = `enc_${tag}/${want}`;
        close(await out.toArray(), f.data(`${p}/output`), 1e-5, `${tag} ${label}: output`, "encoder output");
        close(
          await grads[0].toArray(),
          f.data(`${p}/grad.x`),
          1e-4,
          `${tag} ${label}: ∂/∂x`,
          "encoder gradient",
        );
        for (const [i, [n]] of params.entries()) {
          close(
            await grads[i + 1].toArray(),
            f.data(`${p}/grad.${n}`),
            1e-4,
            `${tag} ${label}: ∂/∂${n}`,
            "encoder gradient",
          );
        }
      });
    };
    for (const c of ["none", "bool", "causal", "kpm_bool", "float_kpm"]) {
      await run(
        c,
        masksOf(f, `enc_${tag}/${c}`, { src_mask: "attnMask", src_key_padding_mask: "keyPaddingMask" }),
        c,
      );
    }
    await run("isCausal", { isCausal: true }, "causal");
  }
  console.log(`worst relative errors: ${JSON.stringify(worst)}`);
});

Deno.test("two-layer LSTM, GRU and RNN equal PyTorch 1.13 with and without initial states h0 (and c0): outputs, final states, and gradients for x, h0, c0 and both layers' weights", async () => {
  const f = loader(await fixture("recurrent.safetensors"));
  for (const kind of ["lstm", "gru", "rnn"] as const) {
    const m = kind === "lstm"
      ? new gb.LSTM(3, 4, { numLayers: 2 })
      : kind === "gru"
      ? new gb.GRU(3, 4, { numLayers: 2 })
      : new gb.RNN(3, 4, { numLayers: 2 });
    m.loadStateDict(f.state(`${kind}/state/`));
    const params = m.namedParameters();
    for (const c of ["zero", "init"]) {
      await gb.scope(async () => {
        const x = f.tensor(`${kind}/x`, true);
        const h0 = f.tensor(`${kind}/h0`, true);
        const c0 = kind === "lstm" ? f.tensor(`${kind}/c0`, true) : null;
        const r = c === "zero"
          ? m.forwardWithState(x)
          : kind === "lstm"
          ? (m as gb.LSTM).forwardWithState(x, { h: h0, c: c0! })
          : (m as gb.GRU | gb.RNN).forwardWithState(x, { h: h0 });
        let loss = gb.add(
          gb.sum(gb.mul(r.output, f.tensor(`${kind}/R`))),
          gb.sum(gb.mul(r.h, f.tensor(`${kind}/Rh`))),
        );
        const cn = (r as { c?: gb.Tensor }).c;
        if (cn) loss = gb.add(loss, gb.sum(gb.mul(cn, f.tensor(`${kind}/Rc`))));
        const wrt = [x, ...(c === "init" ? [h0, ...(c0 ? [c0] : [])] : []), ...params.map(([, p]) => p)];
        const names = [
          "x",
          ...(c === "init" ? ["h0", ...(c0 ? ["c0"] : [])] : []),
          ...params.map(([n]) => n),
        ];
        const grads = gb.grad(loss, wrt);
        const p = `${kind}/${c}`;
        close(await r.output.toArray(), f.data(`${p}/output`), 1e-5, `${p}: output`, "recurrent output");
        close(await r.h.toArray(), f.data(`${p}/h_n`), 1e-5, `${p}: h_n`, "recurrent output");
        if (cn) close(await cn.toArray(), f.data(`${p}/c_n`), 1e-5, `${p}: c_n`, "recurrent output");
        for (const [i, n] of names.entries()) {
          close(
            await grads[i].toArray(),
            f.data(`${p}/grad.${n}`),
            1e-4,
            `${p}: ∂/∂${n}`,
            "recurrent gradient",
          );
        }
      });
    }
  }
  console.log(`worst relative errors: ${JSON.stringify(worst)}`);
});

Deno.test("MultiheadAttention under isCausal equals PyTorch's causal-mask numbers on the composed path too: forwardWithWeights with grad, and forward with an attention hook (weights, output, ∂/∂x)", async () => {
  const f = loader(await fixture("attention.safetensors"));
  const mha = new gb.MultiheadAttention(8, 2);
  mha.loadStateDict(f.state("mha/state/"));
  // forwardWithWeights under grad forms the weights from differentiable ops (not the fused kernel)
  await gb.scope(async () => {
    const x = f.tensor("mha/x");
    const r = mha.forwardWithWeights(x, x, x, { isCausal: true });
    close(
      await r.weights.toArray(),
      f.data("mha/causal/weights"),
      1e-5,
      "isCausal (composed): weights",
      "weights",
    );
    close(
      await r.output.toArray(),
      f.data("mha/causal/output"),
      1e-5,
      "isCausal (composed): output",
      "MHA output",
    );
  });
  // a hook that asks for the weights sends forward through the composed path as well
  const seen: gb.Tensor[] = [];
  const handle = mha.registerAttentionHook((_m, w) => seen.push(w));
  try {
    await gb.scope(async () => {
      const x = f.tensor("mha/x", true);
      const out = mha.forward(x, x, x, { isCausal: true });
      assert.equal(seen.length, 1, "the hook ran once");
      assert.ok(opsBehind(out).has("softmax"), "the composed path ran");
      const [gx] = gb.grad(gb.sum(gb.mul(out, f.tensor("mha/R"))), [x]);
      close(
        await out.toArray(),
        f.data("mha/causal/output"),
        1e-5,
        "isCausal (hooked): output",
        "MHA output",
      );
      close(await gx.toArray(), f.data("mha/causal/grad.x"), 1e-4, "isCausal (hooked): ∂/∂x", "MHA gradient");
    });
  } finally {
    handle.remove();
  }
});
