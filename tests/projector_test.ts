/**
 * The embedding projector's numbers against independent truths: PCA and exact t-SNE against
 * scikit-learn 1.9.1 on 500 of its bundled digits (tests/fixtures/projector/make_fixture.py),
 * t-SNE's gradient against finite differences of its KL, the perplexity search against the
 * entropy of the rows it sets, trustworthiness and kNN accuracy against scikit-learn and planted
 * answers, and UMAP's repeatability.
 */
import assert from "node:assert/strict";
import {
  bhKlGradient,
  knnAccuracy,
  project,
  separation,
  trustworthiness,
  tsneAffinities,
  tsneKlGradient,
  tsneSparseAffinities,
} from "../mod.ts";

interface Fixture {
  x: number[];
  labels: number[];
  n: number;
  dim: number;
  pca: { components: number[]; explained_variance_ratio: number[]; coords: number[] };
  pca20: { components: number[]; explained_variance_ratio: number[]; coords: number[] };
  tsne: {
    init: string;
    kl: number;
    iterations: number;
    embedding: number[];
    trustworthiness: number;
    knn_projected: number;
  }[];
  knn_full: number;
  tsne_bh: { kl: number; knn_projected: number };
  trust_no_ties: Record<string, number>;
}
const F: Fixture = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/projector/digits500.json", import.meta.url)),
);
const X = Float32Array.from(F.x);

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string) {
  assert.equal(a.length, b.length, `${what}: lengths`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  assert.ok(worst <= tol, `${what}: worst difference ${worst} > ${tol}`);
}

Deno.test("PCA on the GPU equals scikit-learn's (float64, svd_flip signs) on 500 digits: axes, variance ratios, coordinates", async () => {
  const { coords, info } = await project(X, F.dim, { method: "pca", dims: 3 });
  close(info.explainedVarianceRatio!, F.pca.explained_variance_ratio, 1e-6, "explained variance ratio");
  close(info.components!, F.pca.components, 1e-4, "components");
  // coordinates reach ±30: float32 covariance on the GPU, so a relative 1e-5
  close(coords, F.pca.coords, 3e-4, "coordinates");
});

Deno.test("PCA of fewer vectors than numbers goes through the Gram matrix and still equals scikit-learn's", async () => {
  const { coords, info } = await project(X.slice(0, 20 * F.dim), F.dim, { method: "pca", dims: 3 });
  close(info.explainedVarianceRatio!, F.pca20.explained_variance_ratio, 1e-6, "explained variance ratio");
  close(info.components!, F.pca20.components, 1e-4, "components");
  close(coords, F.pca20.coords, 3e-4, "coordinates");
});

Deno.test("t-SNE's perplexity search: each row's conditional distribution has the perplexity asked for (2^H, H in bits)", () => {
  const x = X.slice(0, 120 * F.dim), n = 120;
  for (const perplexity of [5, 30]) {
    const { betas } = tsneAffinities(x, F.dim, perplexity);
    for (let i = 0; i < n; i++) {
      // p(j|i) ∝ exp(−β‖xᵢ − xⱼ‖²), recomputed here in float64, its entropy in bits
      const d = Array.from({ length: n }, (_, j) => {
        let s = 0;
        for (let c = 0; c < F.dim; c++) s += (x[i * F.dim + c] - x[j * F.dim + c]) ** 2;
        return s;
      });
      const dmin = Math.min(...d.filter((_, j) => j !== i));
      const w = d.map((v, j) => (j === i ? 0 : Math.exp(-betas[i] * (v - dmin))));
      const z = w.reduce((a, b) => a + b, 0);
      const bits = -w.reduce((h, v) => (v > 0 ? h + (v / z) * Math.log2(v / z) : h), 0);
      assert.ok(
        Math.abs(2 ** bits - perplexity) < 1e-3 * perplexity,
        `row ${i}: perplexity ${2 ** bits}, asked ${perplexity}`,
      );
    }
  }
});

Deno.test("t-SNE's gradient equals central finite differences of its KL divergence", () => {
  const n = 7;
  const x = X.slice(0, n * F.dim);
  const { P } = tsneAffinities(x, F.dim, 3);
  for (const dims of [2, 3]) {
    const Y = Float64Array.from({ length: n * dims }, (_, i) => Math.sin(1.7 * i + 0.3) * 2);
    // (with early exaggeration the step uses the same formula with P scaled, as scikit-learn; that
    // is not the derivative of a KL, so only the plain objective is checked)
    for (const exaggeration of [1]) {
      const { grad } = tsneKlGradient(P, Y, dims, exaggeration);
      const h = 1e-6;
      for (let k = 0; k < n * dims; k++) {
        const yp = Y.slice(), ym = Y.slice();
        yp[k] += h;
        ym[k] -= h;
        const fd =
          (tsneKlGradient(P, yp, dims, exaggeration).kl - tsneKlGradient(P, ym, dims, exaggeration).kl) /
          (2 * h);
        assert.ok(
          Math.abs(fd - grad[k]) < 1e-6 + 1e-5 * Math.abs(fd),
          `coordinate ${k}: ${grad[k]} vs ${fd}`,
        );
      }
    }
  }
});

Deno.test("exact t-SNE on 500 digits reaches scikit-learn's KL (method='exact', perplexity 30, 1000 iterations) within 2%", async () => {
  for (const init of ["pca"] as const) {
    const ref = F.tsne.find((t) => t.init === init)!;
    const { coords, info } = await project(X, F.dim, { method: "tsne", dims: 2, perplexity: 30, init });
    assert.ok(
      Math.abs(info.kl! - ref.kl) <= 0.02 * ref.kl,
      `${init}: KL ${info.kl} vs scikit-learn ${ref.kl}`,
    );
    // and the layout keeps the digits apart as well as scikit-learn's
    assert.ok(knnAccuracy(coords, 2, F.labels) >= ref.knn_projected - 0.02);
  }
});

Deno.test("trustworthiness equals scikit-learn's on the same points; kNN accuracy equals scikit-learn's vote", () => {
  const pca3 = Float64Array.from(F.pca.coords), emb = F.tsne[0].embedding;
  for (const k of [5, 12]) {
    const t = trustworthiness(pca3, 3, emb, 2, k);
    assert.ok(
      Math.abs(t - F.trust_no_ties[String(k)]) < 1e-12,
      `k=${k}: ${t} vs ${F.trust_no_ties[String(k)]}`,
    );
  }
  assert.equal(knnAccuracy(X, F.dim, F.labels), F.knn_full);
  assert.equal(knnAccuracy(emb, 2, F.labels), F.tsne[0].knn_projected);
  // separation puts each measure in its place: the full space's kNN from the vectors, not the picture
  const sep = separation(X, F.dim, emb, 2, F.labels, 5);
  assert.deepEqual([sep.knnFull, sep.knnProjected], [F.knn_full, F.tsne[0].knn_projected]);
});

Deno.test("kNN accuracy breaks a tied vote towards the smallest label, as scikit-learn's KNeighborsClassifier", () => {
  // leave-one-out with k = 2 on a line; every point's two neighbours disagree, so every vote is a tie.
  // scikit-learn 1.9.1 (KNeighborsClassifier(n_neighbors=2) fitted on the other four) predicts
  // 0, 1, 0, 0, 1: accuracy 0. Ties broken towards the larger label would score 2/5.
  const x = [0, 1, 2.1, 5, 6.2], y = [1, 0, 1, 2, 0];
  assert.equal(knnAccuracy(x, 1, y, 2), 0);
});

Deno.test("separation: a perfectly separated set scores 1, a random projection scores lower", () => {
  // planted: 3 tight clusters far apart in 10-D, projected by keeping 2 of the coordinates that carry them
  const n = 90, dim = 10, labels = Array.from({ length: n }, (_, i) => i % 3);
  let s = 7;
  const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5;
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < dim; c++) x[i * dim + c] = 0.01 * rnd();
    x[i * dim + labels[i]] += 100;
  }
  const sep = separation(x, dim, x, dim, labels);
  assert.deepEqual([sep.knnFull, sep.knnProjected, sep.trustworthiness], [1, 1, 1]);
  const random = Float32Array.from({ length: n * 2 }, rnd);
  const r = separation(x, dim, random, 2, labels);
  assert.ok(r.knnProjected < 0.6 && r.trustworthiness < 0.8, JSON.stringify(r));
});

Deno.test("UMAP (umap-js) is repeatable with a seed, differs with another, and keeps the digits' neighbourhoods", async () => {
  const x = X.slice(0, 300 * F.dim), labels = F.labels.slice(0, 300);
  const a = await project(x, F.dim, { method: "umap", dims: 2, seed: 3, iterations: 200 });
  const b = await project(x, F.dim, { method: "umap", dims: 2, seed: 3, iterations: 200 });
  const c = await project(x, F.dim, { method: "umap", dims: 2, seed: 4, iterations: 200 });
  assert.deepEqual(a.coords, b.coords);
  assert.notDeepEqual(a.coords, c.coords);
  assert.ok(trustworthiness(x, F.dim, a.coords, 2) > 0.95);
  assert.ok(knnAccuracy(a.coords, 2, labels) > 0.9);
});

Deno.test("project refuses bad input, naming the problem", async () => {
  await assert.rejects(
    project(new Float32Array(10), 3, { method: "pca", dims: 2 }),
    /not a whole number of 3-vectors/,
  );
  await assert.rejects(project(X, F.dim, { method: "pca", dims: 4 as 2 }), /dims must be 2 or 3/);
  await assert.rejects(
    project(X, F.dim, { method: "lda" as "pca", dims: 2 }),
    /method must be one of pca, tsne, umap/,
  );
  await assert.rejects(
    project(new Float32Array([0, NaN, 1, 2, 3, 4, 5, 6]), 2, { method: "pca", dims: 2 }),
    /vector 0 holds a non-finite/,
  );
  await assert.rejects(
    project(X.slice(0, 10 * F.dim), F.dim, { method: "tsne", dims: 2 }),
    /perplexity must be above 0 and below the number of points \(10\)/,
  );
});

Deno.test("Barnes–Hut t-SNE: with angle 0 its KL and gradient are the exact ones on the same sparse P; with 0.5 close", () => {
  const n = 150, x = X.slice(0, n * F.dim);
  const Ps = tsneSparseAffinities(x, F.dim, 10);
  const dense = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let e = Ps.rows[i]; e < Ps.rows[i + 1]; e++) dense[i * n + Ps.cols[e]] = Ps.vals[e];
  }
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) assert.equal(dense[i * n + j], dense[j * n + i], "P is symmetric");
  }
  for (const dims of [2, 3]) {
    const Y = Float64Array.from({ length: n * dims }, (_, k) => 5 * Math.sin(0.9 * k + 0.1) + Math.cos(k));
    const exact = tsneKlGradient(dense, Y, dims, 4);
    const bh0 = bhKlGradient(Ps, Y, dims, 0, 4);
    assert.ok(
      Math.abs(bh0.kl - exact.kl) < 1e-9 * Math.abs(exact.kl),
      `${dims}-D KL ${bh0.kl} vs ${exact.kl}`,
    );
    close(
      bh0.grad,
      exact.grad,
      1e-12 + 1e-9 * Math.max(...exact.grad.map(Math.abs)),
      `${dims}-D gradient, angle 0`,
    );
    const bh = bhKlGradient(Ps, Y, dims, 0.5, 4);
    let err = 0, norm = 0;
    bh.grad.forEach((g: number, k: number) => (err += (g - exact.grad[k]) ** 2, norm += exact.grad[k] ** 2));
    assert.ok(Math.sqrt(err / norm) < 0.05, `${dims}-D angle 0.5: relative error ${Math.sqrt(err / norm)}`);
  }
});

Deno.test("Barnes–Hut t-SNE on 500 digits reaches scikit-learn's Barnes–Hut KL (angle 0.5) within 5%", async () => {
  const { coords, info } = await project(X, F.dim, { method: "tsne", dims: 2, tsneMethod: "barnes-hut" });
  assert.ok(
    Math.abs(info.kl! - F.tsne_bh.kl) <= 0.05 * F.tsne_bh.kl,
    `KL ${info.kl} vs scikit-learn ${F.tsne_bh.kl}`,
  );
  assert.ok(knnAccuracy(coords, 2, F.labels) >= F.tsne_bh.knn_projected - 0.02);
});

Deno.test("t-SNE's learning rate is scikit-learn's 'auto', max(N / 12 / 4, 50); Barnes–Hut keeps ⌊3·perplexity + 1⌋ neighbours", async () => {
  // 700 points: N / 48 = 14.6, so 50 (N / 12 would give 58.3)
  const pts = Float32Array.from({ length: 700 * 2 }, (_, k) => Math.sin(1.7 * k) + Math.cos(0.37 * k * k));
  const r = await project(pts, 2, { method: "tsne", dims: 2, iterations: 250 });
  assert.equal(r.info.learningRate, 50);
  // points at 2^i: each point's nearest are the smaller ones, so the largest is chosen by no
  // other point and its symmetrised row holds exactly its own k neighbours
  const n = 20, x = Float32Array.from({ length: n }, (_, i) => 2 ** i);
  for (const perplexity of [2, 3.5]) {
    const P = tsneSparseAffinities(x, 1, perplexity);
    assert.equal(P.rows[n] - P.rows[n - 1], Math.floor(3 * perplexity + 1), `perplexity ${perplexity}`);
  }
});
