/**
 * The profiler in Chromium (WebGPU on SwiftShader, a fresh bundle of src/web.ts): it uses GPU
 * timestamps when the adapter offers them, computes the same numbers as without profiling, counts a
 * matmul's flops as 2·M·N·K, and its times are positive and do not overlap.
 */
import assert from "node:assert/strict";
import { DEV_LOCK } from "./run_script.ts";
import { bundleWeb } from "../src/io/bundle.ts";

const CHROMIUM = "/usr/bin/chromium";
const haveChromium = await Deno.stat(CHROMIUM).then(() => true, () => false);
const root = new URL("../", import.meta.url);

const PAGE = `<!doctype html><html lang="en"><title>profile</title><body><script type="module">
try {
  const gb = await import("./glassbox.js");
  const a = gb.randn([64, 48]), b = gb.randn([48, 32]);
  const run = () => gb.relu(gb.matmul(a, b)).toArray();
  const plain = await run();
  const p = await gb.profile(run);
  globalThis.__result = {
    features: gb.adapterInfo().features,
    clock: p.clock,
    same: p.result.length === plain.length && p.result.every((v, i) => v === plain[i]),
    events: p.events.map((e) => ({ shader: e.shader, flops: e.flops ?? null, start: e.startMs, ms: e.durationMs })),
    traceX: gb.chromeTrace(p).traceEvents.filter((e) => e.ph === "X").length,
  };
} catch (e) {
  globalThis.__error = String(e?.stack ?? e);
}
</script></body></html>`;

Deno.test({
  name:
    "profile() in Chromium: timestamp queries when offered, the same numbers, flops 2·M·N·K, ordered times",
  ignore: !haveChromium,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    let shutdown = () => Promise.resolve();
    try {
      const bundlePath = `${dir}/glassbox.js`;
      await bundleWeb(bundlePath);
      const bundle = await Deno.readFile(bundlePath);
      const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
        const path = new URL(req.url).pathname;
        if (path === "/") {
          return new Response(PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
        }
        if (path === "/glassbox.js") {
          return new Response(bundle, { headers: { "content-type": "text/javascript" } });
        }
        return new Response("not found", { status: 404 });
      });
      shutdown = () => http.shutdown();
      const url = `http://127.0.0.1:${http.addr.port}/`;
      const ran = await new Deno.Command(Deno.execPath(), {
        args: ["run", DEV_LOCK, "-A", new URL("fixtures/browser/run_page.ts", import.meta.url).pathname, url],
        cwd: root.pathname,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(ran.stdout);
      assert.ok(ran.success, `${out}\n${new TextDecoder().decode(ran.stderr)}`);
      const { result, error } = JSON.parse(out) as {
        result: {
          features: string[];
          clock: string;
          same: boolean;
          events: { shader: string; flops: number | null; start: number; ms: number }[];
          traceX: number;
        } | null;
        error: string | null;
      };
      assert.equal(error, null);
      assert.ok(result);
      assert.equal(
        result.clock,
        result.features.includes("timestamp-query") ? "timestamp-query" : "submit-wait",
      );
      assert.ok(result.same, "profiling changed the numbers");
      const mm = result.events.filter((e) => e.shader === "matmul");
      assert.deepEqual(mm.map((e) => e.flops), [2 * 64 * 32 * 48]);
      assert.ok(result.events.some((e) => e.shader === "unary"));
      assert.equal(result.traceX, result.events.length);
      const ev = result.events;
      for (const e of ev) assert.ok(e.ms > 0, `${e.shader} took ${e.ms} ms`);
      for (let i = 1; i < ev.length; i++) assert.ok(ev[i].start >= ev[i - 1].start + ev[i - 1].ms - 1e-6);
      console.log(
        `Chromium: ${result.clock}; ${ev.map((e) => `${e.shader} ${e.ms.toFixed(3)} ms`).join(", ")}`,
      );
    } finally {
      await shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
