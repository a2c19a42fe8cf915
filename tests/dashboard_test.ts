/**
 * The live dashboard: every kind of bad request gets a 4xx with a reason, a good one streams its
 * progress and ends with a result, work is queued without one failure reaching another; in
 * headless Chromium a digit drawn on the canvas comes back with a prediction and heatmaps; and a
 * bounded load of 8 clients mixing good and bad requests leaves every answer right and the GPU
 * pool flat.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { runScript } from "./run_script.ts";

function testImages(n: number): gb.Dataset {
  const x = new Float32Array(n * 784);
  for (let i = 0; i < n; i++) for (let y = 4; y < 24; y++) x[i * 784 + y * 28 + 10 + (i % 8)] = 1;
  return { x, y: Int32Array.from({ length: n }, (_, i) => i % 10), sampleShape: [1, 28, 28] };
}

function setup() {
  gb.manualSeed(3);
  const explainer = new gb.Explainer(gb.createModel("seed-cnn"), gb.mnistProfile());
  const files: Record<string, string> = { "index.html": "<!DOCTYPE html><p>hi</p>", "app.js": "1;" };
  const handle = gb.createHandler(explainer, {
    examples: testImages(5),
    readStatic: (name) => Promise.resolve(name in files ? new TextEncoder().encode(files[name]) : null),
    maxBody: 20000,
  });
  return { explainer, handle };
}

const post = (body: string, type = "application/json") =>
  new Request("http://127.0.0.1/api/explain", { method: "POST", body, headers: { "content-type": type } });
const pixels = () => Array.from({ length: 784 }, (_, i) => (i % 28 === 14 ? 1 : 0));

const JSON_TYPE = { "content-type": "application/json" };

async function lines(r: Response): Promise<Record<string, unknown>[]> {
  return (await r.text()).trim().split("\n").map((l) => JSON.parse(l));
}

Deno.test("dashboard API: each bad request is a 4xx that says what is wrong", async () => {
  const { handle } = setup();
  const cases: [Request, number, RegExp][] = [
    [post("{not json"), 400, /not valid JSON/],
    [post("[1, 2]"), 400, /must be a JSON object/],
    [post(JSON.stringify({ pixels: [1, 2, 3] })), 400, /784 numbers \(28×28\), got 3/],
    [
      post(JSON.stringify({ pixels: [...pixels().slice(1), 7] })),
      400,
      /pixels\[783\] is 7; every pixel must be a number in \[0, 1\]/,
    ],
    [
      post(JSON.stringify({ pixels: pixels(), methods: ["saliency", "magic"] })),
      400,
      /unknown method magic; choose from saliency, ig/,
    ],
    [
      post(JSON.stringify({ pixels: pixels(), layer: "9" })),
      400,
      /unknown layer "9"; layers with feature maps: 0, 1, 2, 3, 4, 5/,
    ],
    [post(JSON.stringify({ pixels: pixels(), lang: "fr" })), 400, /lang must be "en" or "zh"/],
    [post("x".repeat(30000)), 413, /at most 20000|over 20000/],
    [new Request("http://127.0.0.1/api/explain"), 405, /takes POST, not GET/],
    [
      new Request("http://127.0.0.1/api/info", { method: "POST", body: "{}" }),
      405,
      /takes GET or HEAD, not POST/,
    ],
    [new Request("http://127.0.0.1/api/nothing"), 404, /unknown path \/api\/nothing/],
    [new Request("http://127.0.0.1/api/test/5"), 404, /no test image "5"; there are 5/],
    [new Request("http://127.0.0.1/api/test/-1"), 404, /no test image/],
    [new Request("http://127.0.0.1/static/..%2f..%2fdeno.json"), 404, /no static file/],
    [new Request("http://127.0.0.1/static/secret.ts"), 404, /no static file/],
    [new Request("http://127.0.0.1/static/missing.css"), 404, /no static file "missing.css"/],
  ];
  for (const [req, status, reason] of cases) {
    const r = await handle(req);
    assert.equal(r.status, status, `${req.method} ${req.url}`);
    assert.match((await r.json()).error, reason);
  }
  const page = await handle(new Request("http://127.0.0.1/"));
  assert.equal(page.status, 200);
  assert.match(page.headers.get("content-type")!, /text\/html/);
  const img = await (await handle(new Request("http://127.0.0.1/api/test/2"))).json();
  assert.equal(img.label, 2);
  assert.equal(img.pixels.length, 784);
});

Deno.test("dashboard API: an explanation streams progress and ends with probabilities, heatmaps, feature maps and words; queued work stays separate", async () => {
  const { handle, explainer } = setup();
  const body = JSON.stringify({ pixels: pixels(), methods: ["saliency", "gradcam"], layer: "4", lang: "zh" });
  const [a, b] = await Promise.all([handle(post(body)), handle(post(body))]);
  const [la, lb] = [await lines(a), await lines(b)];
  for (const l of [la, lb]) {
    const progress = l.filter((m) => "progress" in m).map((m) => m.progress as string);
    assert.ok(
      progress.some((p) => /Saliency \(1 of 2\)/.test(p)) &&
        progress.some((p) => /Grad-CAM \(2 of 2\)/.test(p)),
    );
    const res = l.at(-1)!.result as gb.ExplainResult;
    assert.ok(Math.abs(res.probabilities.reduce((s, v) => s + v, 0) - 1) < 1e-5, "probabilities sum to 1");
    assert.equal(res.predicted, res.probabilities.indexOf(Math.max(...res.probabilities)));
    assert.deepEqual(res.heatmaps.map((h) => h.method), ["saliency", "gradcam"]);
    assert.ok(res.heatmaps.every((h) => h.png?.startsWith("data:image/png;base64,")));
    assert.equal(res.featureMaps!.layer, "4");
    assert.match(res.explanation, /模型预测为/);
  }
  // the two answers agree: the same input, computed one after the other
  assert.deepEqual(
    (la.at(-1)!.result as gb.ExplainResult).probabilities,
    (lb.at(-1)!.result as gb.ExplainResult).probabilities,
  );
  // a failing job does not reach the next one in the queue
  const failing = explainer.enqueue(() => Promise.reject(new Error("boom")));
  const after = explainer.enqueue(() => Promise.resolve(42));
  await assert.rejects(failing, /boom/);
  assert.equal(await after, 42);
});

async function startServer(checkpoint: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net=127.0.0.1",
      "examples/serve.ts",
      "--checkpoint",
      checkpoint,
      "--port",
      "0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/on (http:\S+)/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the server stopped: ${text}`);
    text += value;
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return {
    url: /on (http:\S+)/.exec(text)![1],
    stop: async () => {
      child.kill("SIGTERM");
      await child.status;
      await child.stderr.cancel().catch(() => {});
    },
  };
}

Deno.test("the dashboard in headless Chromium: a digit drawn on the canvas comes back with a prediction and heatmaps; 8 clients mixing good and bad requests get every answer right and leave the pool flat", async () => {
  const dir = await Deno.makeTempDir();
  gb.manualSeed(4);
  const model = gb.createModel("seed-cnn");
  const train = gb.mnistDataset(await gb.loadMnist("train"));
  await gb.fit(model, train, { optimizer: new gb.Adam(model.parameters(), { lr: 2e-3 }), limit: 2000 });
  await gb.saveModel(model, `${dir}/c.safetensors`);
  const server = await startServer(`${dir}/c.safetensors`);
  try {
    const run = await runScript("tests/browser_dashboard.ts", [server.url, `${dir}/dashboard.png`], ["-A"]);
    assert.equal(run.code, 0, run.err);
    const seen = JSON.parse(run.out);
    assert.match(seen.prediction, /^Prediction: \d \(\d+\.\d%\)$/);
    assert.deepEqual(seen.heatmaps, [{ label: "Saliency", ok: true }, { label: "Grad-CAM", ok: true }]);
    assert.equal(seen.bars, 10);
    assert.ok(seen.features);
    assert.match(seen.explanation, /^The model predicts \d with probability/);
    assert.deepEqual(seen.errors, []);

    // the bounded load: 8 clients for 8 seconds, every third request bad
    const stats = async () => (await (await fetch(`${server.url}api/stats`)).json()).pool as gb.PoolStats;
    const good = JSON.stringify({ pixels: pixels(), methods: ["saliency"] });
    const bad = [
      () => fetch(`${server.url}api/explain`, { method: "POST", headers: JSON_TYPE, body: "{" }),
      () =>
        fetch(`${server.url}api/explain`, {
          method: "POST",
          headers: JSON_TYPE,
          body: JSON.stringify({ pixels: [0] }),
        }),
      () => fetch(`${server.url}nowhere`),
      () =>
        fetch(`${server.url}api/explain`, { method: "POST", headers: JSON_TYPE, body: "x".repeat(70000) }),
    ];
    const once = async () => {
      const r = await fetch(`${server.url}api/explain`, { method: "POST", headers: JSON_TYPE, body: good });
      return (await r.text()).includes('"result"');
    };
    assert.ok(await once());
    const before = await stats();
    const end = performance.now() + 8000;
    const latencies: number[] = [], badLatencies: number[] = [];
    let goodCount = 0, badCount = 0;
    await Promise.all(Array.from({ length: 8 }, async (_, c) => {
      for (let k = 0; performance.now() < end; k++) {
        const t = performance.now();
        if ((k + c) % 3 === 0) {
          const r = await bad[(k + c) % bad.length]();
          await r.body?.cancel();
          assert.ok(r.status >= 400 && r.status < 500, `bad request got ${r.status}`);
          badCount++;
          badLatencies.push(performance.now() - t);
          continue;
        } else {
          assert.ok(await once(), "a good request got its result");
          goodCount++;
        }
        latencies.push(performance.now() - t);
      }
    }));
    const after = await stats();
    assert.ok(goodCount >= 8 && badCount >= 8, `${goodCount} good, ${badCount} bad`);
    assert.equal(after.liveBuffers, before.liveBuffers, "no GPU buffer left behind");
    assert.equal(after.liveBytes, before.liveBytes);
    const q = (l: number[], p: number) =>
      [...l].sort((a, b) => a - b)[Math.min(l.length - 1, Math.floor(p * l.length))].toFixed(0);
    console.log(
      `load: ${goodCount} good + ${badCount} bad in 8 s, ${
        ((goodCount + badCount) / 8).toFixed(1)
      } req/s; good p50 ${q(latencies, 0.5)} ms, p95 ${q(latencies, 0.95)} ms; bad p50 ${
        q(badLatencies, 0.5)
      } ms, p95 ${q(badLatencies, 0.95)} ms`,
    );
  } finally {
    await server.stop();
  }
});
