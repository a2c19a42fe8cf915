/**
 * The same numbers in Chromium as under Deno. The test bundles src/web.ts afresh (deno bundle, as
 * `deno task bundle` does, into a temporary folder), serves the bundle, a page, the shared script
 * tests/fixtures/browser/same_numbers.js, a trained seed-CNN checkpoint and four MNIST digits
 * over HTTP on 127.0.0.1, and opens the page in headless Chromium with WebGPU on. The page fetches
 * the checkpoint and runs the script: a tabular MLP trained five Adam steps from a fixed seed (its
 * losses and weights), then Saliency, Integrated Gradients and Grad-CAM from the method registry on
 * the decoded CNN (full maps). The test runs the same script under Deno with mod.ts and compares
 * every number. Then both run tests/fixtures/browser/shader_tour.js, which compiles every kernel
 * in shaders/ (a page refused one that Deno took: a NaN constant in cross_entropy.wgsl), and
 * Chromium must compile what Deno compiled.
 *
 * Tolerance: |browser − deno| ≤ 1e-4 · |deno| + 1e-5 · max|deno of that quantity|. Both runs use
 * the same WGSL, but Deno's adapter (Mesa's lavapipe) and Chromium's (SwiftShader) compile it
 * differently (fused multiply-adds, the order a reduction's partial sums are added, exp and log's
 * last bits), so float32 results differ in their last few bits; the absolute part, scaled by the
 * quantity's largest value, lets values near zero (a gradient that nearly cancels) differ by the
 * rounding of the sums that made them. Seen on lavapipe against SwiftShader: the CNN's logits and
 * maps bit for bit identical; the MLP's losses and weights within 1.2e-7 (exp and log in the
 * cross-entropy round differently, and five Adam steps carry it on), 1e-7 relative at most.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { sameNumbers } from "./fixtures/browser/same_numbers.js";
import { shaderTour } from "./fixtures/browser/shader_tour.js";
import { DEV_LOCK } from "./run_script.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
if (!haveChromium) {
  console.log(`browser_engine_test skipped: ${CHROMIUM} is missing (apt-get install chromium)`);
}

const here = new URL("./fixtures/browser/", import.meta.url);
const root = new URL("../", import.meta.url);
const REL = 1e-4, ABS = 1e-5;

const adapter = (a: gb.AdapterInfo) =>
  [a.description, a.vendor, a.architecture].filter(Boolean).join(" / ") +
  (a.isFallbackAdapter ? " (fallback)" : "");

async function gzipSize(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

/**
 * The shared script computes what it says, so that agreeing with it means something: Integrated
 * Gradients with 32 steps from a black image, Grad-CAM at the seed CNN's last convolution after its
 * ReLU (found here by walking the model, not read from the profile), each for the image's label.
 */
async function checkScriptAsks(
  checkpoint: Uint8Array,
  inputs: { labels: number[]; pixels: number[][] },
  expected: Record<string, number[]>,
): Promise<void> {
  const { model, profile } = gb.decodeModel(checkpoint, "seed_cnn.safetensors");
  const layers = (model as gb.Sequential).layers;
  // Grad-CAM's layer: the last convolution's rectified output (its ReLU), as pytorch-grad-cam takes it
  const lastConv = layers.findLastIndex((m) => m instanceof gb.Conv2d);
  assert.ok(layers[lastConv + 1] instanceof gb.ReLU, "the seed CNN's last convolution is followed by a ReLU");
  const [mean, std] = [profile!.mean![0], profile!.std![0]];
  const black = Math.fround((0 - mean) / std);
  const x = inputs.pixels.flatMap((img) => img.map((v) => (v / 255 - mean) / std));
  const direct = await gb.scope(async () => {
    const xt = gb.tensor(x, [inputs.pixels.length, ...profile!.inputShape]);
    const ig = new gb.IntegratedGradients(model).attribute(xt, {
      target: inputs.labels,
      baselines: black,
      nSteps: 32,
    });
    const cam = new gb.GradCAM(model, layers[lastConv + 1]).attribute(xt, { target: inputs.labels });
    return { ig: Array.from(await (await ig).toArray()), gradcam: Array.from(await (await cam).toArray()) };
  });
  for (const name of ["ig", "gradcam"] as const) {
    const want = direct[name], have = expected[name];
    const scale = Math.max(...want.map(Math.abs));
    const worst = Math.max(...want.map((v, i) => Math.abs(v - have[i])));
    assert.ok(worst <= 1e-6 * scale, `same_numbers.js's ${name} is not what it says it is (off by ${worst})`);
  }
}

Deno.test({
  name:
    "Chromium (WebGPU, a fresh bundle) trains, loads a checkpoint over HTTP and explains with the same numbers as Deno",
  ignore: !haveChromium,
  fn: async () => {
    const t0 = performance.now();
    const dir = await Deno.makeTempDir();
    const server = { close: () => Promise.resolve() };
    try {
      const bundlePath = `${dir}/glassbox.js`;
      await gb.bundleWeb(bundlePath);
      const bundle = await Deno.readFile(bundlePath);
      const text = new TextDecoder().decode(bundle);
      assert.equal(text.match(/\bDeno\.\w+/)?.[0], undefined, "the bundle refers to Deno");
      const gz = await gzipSize(bundle);
      const tBundle = performance.now() - t0;

      const files: Record<string, [URL | string, string]> = {
        "/": [new URL("index.html", here), "text/html; charset=utf-8"],
        "/glassbox.js": [bundlePath, "text/javascript"],
        "/same_numbers.js": [new URL("same_numbers.js", here), "text/javascript"],
        "/shader_tour.js": [new URL("shader_tour.js", here), "text/javascript"],
        "/seed_cnn.safetensors": [new URL("seed_cnn.safetensors", here), "application/octet-stream"],
        "/digits.json": [new URL("digits.json", here), "application/json"],
      };
      const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
        const f = files[new URL(req.url).pathname];
        return f
          ? new Response(await Deno.readFile(f[0]), { headers: { "content-type": f[1] } })
          : new Response("not found", { status: 404 });
      });
      server.close = () => http.shutdown();
      const url = `http://127.0.0.1:${http.addr.port}/`;

      // the page in Chromium, and the same script under Deno meanwhile
      const page = new Deno.Command(Deno.execPath(), {
        args: ["run", DEV_LOCK, "-A", new URL("run_page.ts", here).pathname, url],
        cwd: root.pathname,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const tDeno = performance.now();
      const checkpoint = await Deno.readFile(new URL("seed_cnn.safetensors", here));
      const inputs = JSON.parse(await Deno.readTextFile(new URL("digits.json", here)));
      const expected = await sameNumbers(gb, checkpoint, inputs);
      const denoMs = performance.now() - tDeno;
      await checkScriptAsks(checkpoint, inputs, expected);
      const tour = await shaderTour(gb);
      assert.deepEqual(tour.failed, {}, "the tour fails under Deno");
      const ran = await page;
      const out = new TextDecoder().decode(ran.stdout);
      assert.ok(ran.success, `${out}\n${new TextDecoder().decode(ran.stderr)}`);
      const { result, error, errors } = JSON.parse(out);
      assert.equal(error, null, error);
      assert.deepEqual(errors, []);

      // it ran on WebGPU in the browser, with scopes on a stack (no AsyncLocalStorage there)
      assert.equal(result.webgpu, true);
      assert.equal(result.contextKind, "stack");
      assert.ok(result.adapter.description || result.adapter.vendor, JSON.stringify(result.adapter));
      assert.match(result.userAgent, /Chrom/);

      // every kernel the tour compiled under Deno compiled in Chromium too (Tint is stricter than naga)
      assert.deepEqual(result.tour.failed, {}, "kernels that failed in Chromium");
      assert.deepEqual(result.tour.ran, tour.ran);
      // not the same count: masked attention takes the rows kernel on llvmpipe only and composes on
      // SwiftShader (src/tensor/ops/attention.ts), so the two hosts compile different sets; a kernel
      // Chromium refuses still shows in `failed` above, since its step throws
      assert.ok(
        result.tour.pipelines > 0.8 * tour.pipelines,
        `${result.tour.pipelines} vs ${tour.pipelines} pipelines`,
      );

      const got: Record<string, number[]> = result.numbers;
      assert.deepEqual(Object.keys(got), Object.keys(expected));
      const worst: string[] = [];
      for (const [name, want] of Object.entries(expected)) {
        const have = got[name];
        assert.equal(have.length, want.length, `${name}: ${have.length} numbers, Deno has ${want.length}`);
        const scale = Math.max(...want.map(Math.abs));
        let maxDiff = 0, at = 0;
        for (let i = 0; i < want.length; i++) {
          const d = Math.abs(have[i] - want[i]);
          if (d > maxDiff) [maxDiff, at] = [d, i];
          assert.ok(
            d <= REL * Math.abs(want[i]) + ABS * scale,
            `${name}[${i}]: browser ${have[i]}, Deno ${want[i]} (differ by ${d}; largest |value| ${scale})`,
          );
        }
        const same = want.filter((w, i) => have[i] === w).length;
        worst.push(
          maxDiff === 0
            ? `${name}: all ${want.length} identical`
            : `${name}: ${maxDiff.toExponential(1)} (at ${want[at].toPrecision(3)}; largest |value| ${
              scale.toPrecision(3)
            }; ${same}/${want.length} identical)`,
        );
      }
      console.log(
        `bundle ${bundle.length} B (gzip ${gz} B, built in ${(tBundle / 1000).toFixed(1)} s); ` +
          `adapter in Chromium: ${adapter(result.adapter)}, under Deno: ${adapter(gb.adapterInfo())}; page ${
            (result.ms / 1000).toFixed(1)
          } s, ` +
          `Deno ${(denoMs / 1000).toFixed(1)} s, whole test ${
            ((performance.now() - t0) / 1000).toFixed(1)
          } s`,
      );
      console.log(
        `${result.tour.pipelines} pipelines compiled in Chromium, ${tour.pipelines} under Deno (${
          tour.ran.join(", ")
        })`,
      );
      console.log(`largest |browser − Deno| per quantity: ${worst.join("; ")}`);
    } finally {
      await server.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
