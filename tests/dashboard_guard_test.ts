/**
 * The dashboard guards itself as a local server, checked on the handler without a socket: a Host
 * other than the addresses it listens on gets 421 (DNS rebinding), a body that is not
 * application/json gets 415 (form posts need no CORS preflight), the queue is bounded (503 with
 * Retry-After), a queued request whose client went away is dropped and never runs, a stalled body
 * gets 408, HEAD answers GET routes and a 405 carries Allow; and on the command line `--host`
 * takes only loopback addresses and a busy port is one line that names it.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { runScript } from "./run_script.ts";

function testImages(n: number): gb.Dataset {
  const x = new Float32Array(n * 784);
  for (let i = 0; i < n; i++) for (let y = 4; y < 24; y++) x[i * 784 + y * 28 + 10 + (i % 8)] = 1;
  return { x, y: Int32Array.from({ length: n }, (_, i) => i % 10), sampleShape: [1, 28, 28] };
}

function setup(options: Partial<gb.HandlerOptions> = {}) {
  gb.manualSeed(3);
  const explainer = new gb.Explainer(gb.createModel("seed-cnn"), gb.mnistProfile());
  const files: Record<string, string> = { "index.html": "<!DOCTYPE html><p>hi</p>", "app.js": "1;" };
  const handle = gb.createHandler(explainer, {
    examples: testImages(5),
    readStatic: (name) => Promise.resolve(name in files ? new TextEncoder().encode(files[name]) : null),
    ...options,
  });
  return { explainer, handle };
}

const good = JSON.stringify({ pixels: Array.from({ length: 784 }, (_, i) => (i % 28 === 14 ? 1 : 0)) });
const explainRequest = (init: RequestInit = {}, host = "127.0.0.1:8000") =>
  new Request("http://127.0.0.1:8000/api/explain", {
    method: "POST",
    body: good,
    ...init,
    headers: { host, "content-type": "application/json", ...init.headers as Record<string, string> },
  });

/** `p`, or a failure after `ms` (a guard that hangs fails the test instead of stalling it). */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

Deno.test("dashboard: a Host other than the listening addresses is refused with 421 and a reason (DNS rebinding)", async () => {
  const { handle } = setup({ allowedHosts: ["127.0.0.1:8000", "localhost:8000"] });
  const get = (host: string, path = "/api/info") =>
    handle(new Request(`http://127.0.0.1:8000${path}`, { headers: { host } }));
  for (const host of ["127.0.0.1:8000", "localhost:8000", "LocalHost:8000"]) {
    assert.equal((await get(host)).status, 200, host);
  }
  for (
    const host of [
      "evil.example:8000", // the rebinding page's own name, now resolving to 127.0.0.1
      "evil.example",
      "127.0.0.1.nip.io:8000",
      "localhost.evil.example:8000",
      "127.0.0.1:8001", // another port: another server
      "[::1]:8000", // not listened on
      "127.0.0.1", // port 80
      "127.0.0.1:8000@evil.example",
      "127.0.0.1:8000, evil.example",
      "",
    ]
  ) {
    for (const path of ["/api/info", "/", "/api/test/1", "/api/stats"]) {
      const r = await get(host, path);
      assert.equal(r.status, 421, `Host ${JSON.stringify(host)} ${path}`);
      assert.match(
        (await r.json()).error,
        /answers only to 127\.0\.0\.1:8000, localhost:8000, not Host .*DNS rebinding/,
      );
    }
  }
  const post = await handle(explainRequest({}, "evil.example:8000"));
  assert.equal(post.status, 421);
  await post.body?.cancel();
  // the default, for a handler that does not know its port: loopback names only, any port
  const loose = setup().handle;
  for (const host of ["127.0.0.1:1234", "localhost", "[::1]:5"]) {
    const r = await loose(new Request("http://127.0.0.1/api/info", { headers: { host } }));
    assert.equal(r.status, 200, host);
  }
  for (const host of ["evil.example", "127.0.0.2:80", "[::2]:5", "localhost.:80"]) {
    const r = await loose(new Request("http://127.0.0.1/api/info", { headers: { host } }));
    assert.equal(r.status, 421, host);
  }
});

Deno.test("dashboard: a POST body is accepted only as application/json (415 for form posts), checked before the body is read", async () => {
  const { handle } = setup();
  for (
    const type of [
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonx",
      "application/json; charset=latin1",
      "",
    ]
  ) {
    const r = await handle(explainRequest({ headers: { "content-type": type } }));
    assert.equal(r.status, 415, JSON.stringify(type));
    assert.match((await r.json()).error, /must be sent as Content-Type: application\/json \(UTF-8\), got/);
  }
  const none = new Request("http://127.0.0.1/api/explain", { method: "POST", body: good });
  none.headers.delete("content-type");
  const r = await handle(none);
  assert.equal(r.status, 415);
  assert.match((await r.json()).error, /got no Content-Type/);
  // a form post whose body never ends is answered at once: the type is checked first
  const endless = new ReadableStream({ pull: () => new Promise(() => {}) });
  const t0 = performance.now();
  const form = await within(
    1000,
    handle(
      explainRequest({
        body: endless,
        headers: { "content-type": "application/x-www-form-urlencoded" },
        duplex: "half",
      } as RequestInit),
    ),
    "a form post with an endless body",
  );
  assert.equal(form.status, 415);
  assert.ok(performance.now() - t0 < 1000);
  // JSON in any letter case, with charset utf-8, passes on to the body's own checks
  for (
    const type of ["application/json", "Application/JSON; charset=UTF-8", 'application/json;charset="utf-8"']
  ) {
    const bad = await handle(explainRequest({ body: "{", headers: { "content-type": type } }));
    assert.equal(bad.status, 400, type);
    assert.match((await bad.json()).error, /not valid JSON/);
  }
});

Deno.test("dashboard: the queue is bounded (503 with Retry-After), and a waiting request whose client went away is dropped unrun", async () => {
  const { handle, explainer } = setup({ maxQueued: 2 });
  let release = () => {};
  const gate = explainer.enqueue(() => new Promise<void>((r) => release = r));
  await new Promise((r) => setTimeout(r, 0));
  const before = explainer.counts;
  // five at once for two places: each is checked again once its body is read, so two get in
  const clients = Array.from({ length: 5 }, () => new AbortController());
  const answers = await Promise.all(clients.map((c) => handle(explainRequest({ signal: c.signal }))));
  assert.deepEqual(answers.map((r) => r.status).sort(), [200, 200, 503, 503, 503]);
  assert.equal(explainer.queued, 2);
  const [ia, ib] = answers.flatMap((r, i) => r.status === 200 ? [i] : []);
  const [a, rb] = [clients[ia], answers[ib]];
  // full: the next ones are refused with a reason and a whole number of seconds to wait
  for (const full of [...answers.filter((r) => r.status === 503), await handle(explainRequest())]) {
    assert.equal(full.status, 503);
    assert.match(full.headers.get("retry-after")!, /^[1-9]\d*$/);
    assert.match((await full.json()).error, /busy: 2 explanations are waiting \(at most 2\); retry in \d+ s/);
  }
  // client a goes away (its signal aborts); client b cancels the response it was reading
  a.abort();
  await rb.body!.cancel();
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(explainer.queued, 0, "the places of clients that went away are free at once");
  assert.equal(explainer.counts.dropped - before.dropped, 2);
  const rc = await handle(explainRequest());
  assert.equal(rc.status, 200, "a freed place is taken");
  release();
  await gate;
  const lines = (await rc.text()).trim().split("\n").map((l) => JSON.parse(l));
  assert.ok("result" in lines.at(-1)!, "the request that stayed gets its result");
  assert.equal(explainer.counts.ran - before.ran, 1, "only the request that stayed ran");
  assert.equal(explainer.queued, 0);
  // maxQueued 0: one at a time, nothing waits
  const solo = setup({ maxQueued: 0 });
  let free = () => {};
  const held = solo.explainer.enqueue(() => new Promise<void>((r) => free = r));
  await new Promise((r) => setTimeout(r, 0));
  assert.equal((await solo.handle(explainRequest())).status, 503);
  free();
  await held;
});

Deno.test("dashboard: a body that stalls is cut off with 408; a body that arrives in time is read", async () => {
  const { handle } = setup({ bodyTimeout: 300 });
  const half = good.slice(0, good.length / 2);
  const stalled = (rest: string | null) =>
    new ReadableStream<Uint8Array>({
      async start(c) {
        c.enqueue(new TextEncoder().encode(half));
        if (rest === null) return; // the other half never comes
        await new Promise((r) => setTimeout(r, 50));
        c.enqueue(new TextEncoder().encode(rest));
        c.close();
      },
    });
  const t0 = performance.now();
  const r = await within(
    3000,
    handle(explainRequest({ body: stalled(null), duplex: "half" } as RequestInit)),
    "a stalled body",
  );
  const took = performance.now() - t0;
  assert.equal(r.status, 408);
  assert.match((await r.json()).error, /did not arrive within 0\.3 s \(\d+ bytes came\)/);
  assert.ok(took >= 290 && took < 2000, `408 after ${took.toFixed(0)} ms`);
  const ok = await handle(
    explainRequest({ body: stalled(good.slice(half.length)), duplex: "half" } as RequestInit),
  );
  assert.equal(ok.status, 200);
  await ok.text();
});

Deno.test("dashboard: HEAD answers every GET route with its headers and no body; 405 says which methods are allowed", async () => {
  const { handle } = setup();
  for (const path of ["/", "/static/app.js", "/api/info", "/api/stats", "/api/test/1"]) {
    const g = await handle(new Request(`http://127.0.0.1${path}`));
    const bytes = (await g.arrayBuffer()).byteLength;
    const h = await handle(new Request(`http://127.0.0.1${path}`, { method: "HEAD" }));
    assert.equal(h.status, 200, path);
    assert.equal(h.body, null, path);
    assert.equal(h.headers.get("content-type"), g.headers.get("content-type"), path);
    if (path !== "/api/stats") assert.equal(h.headers.get("content-length"), String(bytes), path);
  }
  const missing = await handle(new Request("http://127.0.0.1/api/test/9", { method: "HEAD" }));
  assert.equal(missing.status, 404);
  assert.equal(missing.body, null);
  const cases: [string, string, string][] = [
    ["/api/explain", "GET", "POST"],
    ["/api/explain", "HEAD", "POST"],
    ["/api/explain", "PUT", "POST"],
    ["/", "POST", "GET, HEAD"],
    ["/api/info", "DELETE", "GET, HEAD"],
    ["/api/test/1", "PUT", "GET, HEAD"],
    ["/static/app.js", "OPTIONS", "GET, HEAD"],
  ];
  for (const [path, method, allow] of cases) {
    const r = await handle(new Request(`http://127.0.0.1${path}`, { method }));
    assert.equal(r.status, 405, `${method} ${path}`);
    assert.equal(r.headers.get("allow"), allow, `${method} ${path}`);
    if (method !== "HEAD") assert.match((await r.json()).error, /takes (POST|GET or HEAD), not/);
  }
  assert.equal((await handle(new Request("http://127.0.0.1/nowhere", { method: "DELETE" }))).status, 404);
});

Deno.test("serve's command line: --host takes only a loopback address, a busy port is one line naming it (exit 2), and the task may listen on ::1", async () => {
  const task = JSON.parse(await Deno.readTextFile("deno.json")).tasks.serve as string;
  const permissions = task.split(" ").filter((a) => a.startsWith("--allow-"));
  assert.ok(permissions.includes("--allow-net=127.0.0.1,[::1]"), task);
  const dir = await Deno.makeTempDir();
  gb.manualSeed(1);
  await gb.saveModel(gb.createModel("seed-cnn"), `${dir}/c.safetensors`);
  for (const host of ["0.0.0.0", "192.168.1.2", "localhost", "example.com", "::"]) {
    const r = await runScript(
      "examples/serve.ts",
      ["--host", host, "--checkpoint", `${dir}/c.safetensors`],
      permissions,
    );
    assert.equal(r.code, 2, host);
    const lines = r.err.trim().split("\n");
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0], new RegExp(`^error: --host must be 127\\.0\\.0\\.1 or ::1 .*got "${host}"`));
  }
  for (
    const [flags, reason] of [
      [["--body-timeout", "1e9"], /^error: --body-timeout must be at most 3600 seconds, got 1000000000/],
      [["--body-timeout", "0"], /^error: --body-timeout must be positive/],
      [["--header-timeout", "7200"], /^error: --header-timeout must be at most 3600 seconds, got 7200/],
      [["--max-queued=-1"], /^error: --max-queued must be at least 0/],
    ] as const
  ) {
    const r = await runScript(
      "examples/serve.ts",
      [...flags, "--checkpoint", `${dir}/c.safetensors`],
      permissions,
    );
    assert.equal(r.code, 2, flags.join(" "));
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
    assert.match(r.err, reason);
  }
  assert.throws(
    () => setup({ bodyTimeout: 2 ** 31 }),
    /bodyTimeout must be at most 2147483647 ms, got 2147483648/,
  );
  const holder = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (holder.addr as Deno.NetAddr).port;
    const t0 = performance.now();
    const r = await runScript("examples/serve.ts", [
      "--port",
      String(port),
      "--checkpoint",
      `${dir}/c.safetensors`,
    ], permissions);
    assert.equal(r.code, 2);
    const lines = r.err.trim().split("\n");
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0], new RegExp(`^error: port ${port} on 127\\.0\\.0\\.1 is in use`));
    assert.ok(performance.now() - t0 < 10000, "the busy port is found before the model loads");
  } finally {
    holder.close();
  }
  // ::1 works under the task's own permission: the server starts and says where
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissions,
      "examples/serve.ts",
      "--host",
      "::1",
      "--port",
      "0",
      "--checkpoint",
      `${dir}/c.safetensors`,
    ],
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!/on (http:\S+)/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.match(text, /glassbox dashboard on http:\/\/\[::1\]:\d+\//);
    reader.cancel().catch(() => {});
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stderr.cancel().catch(() => {});
  }
  await Deno.remove(dir, { recursive: true });
});
