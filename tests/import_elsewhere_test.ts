/**
 * glassbox imported from outside the checkout: a script in a temporary directory (no deno.json, no
 * import map, cwd = that directory) imports mod.ts by file URL, then over HTTP from a local server
 * serving the checkout, and runs a matmul and a softmax on the GPU (both compile shaders), checked
 * against closed forms. It fails when src/ keeps a bare specifier that only this repository's import
 * map resolves, or a shader is looked up relative to the working directory. The child runs with
 * XDG_RUNTIME_DIR removed from its environment: glassbox sets the default itself (src/io/env.ts), so
 * Mesa must not complain. Also checks deno.lock holds no test- or bench-only package (those live in
 * deno.dev.lock), since `deno task` installs everything deno.lock lists.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

/** A plain static file server over `root` on 127.0.0.1 (TypeScript served as such). */
function serveDir(root: URL): { url: string; host: string; close: () => Promise<void> } {
  const types: Record<string, string> = {
    ts: "application/typescript",
    js: "text/javascript",
    json: "application/json",
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname).replace(/^\/+/, "");
    if (path.split("/").includes("..")) return new Response("no", { status: 403 });
    try {
      const body = await Deno.readFile(new URL(path, root));
      const type = types[path.split(".").pop() ?? ""] ?? "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  const host = `127.0.0.1:${server.addr.port}`;
  return { url: `http://${host}/`, host, close: () => server.shutdown() };
}

/** Removes what Deno cached of the modules served from `host` (a new port each run would pile up). */
async function forgetServer(host: string): Promise<void> {
  const info = await new Deno.Command(Deno.execPath(), { args: ["info", "--json"], stdout: "piped" })
    .output();
  const dirs = JSON.parse(new TextDecoder().decode(info.stdout)) as Record<string, string>;
  const name = host.replace(":", "_PORT");
  for (const cache of [dirs.modulesCache, dirs.typescriptCache]) {
    await Deno.remove(`${cache}/http/${name}`, { recursive: true }).catch(() => {});
  }
}

/** The script a user would write: matmul and softmax, printed as JSON. */
function script(modUrl: string): string {
  return `import * as gb from ${JSON.stringify(modUrl)};
const c = gb.matmul(gb.tensor([[1, 2], [3, 4]]), gb.tensor([[5, 6], [7, 8]]));
const s = gb.softmax(gb.tensor([[0, Math.log(3)], [Math.log(2), Math.log(2)], [0, 0]]), -1);
console.log(JSON.stringify({ matmul: Array.from(await c.toArray()), softmax: Array.from(await s.toArray()) }));
`;
}

async function runElsewhere(modUrl: string, extra: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "glassbox_elsewhere_" });
  try {
    await Deno.writeTextFile(`${dir}/main.ts`, script(modUrl));
    const env = Deno.env.toObject();
    delete env.XDG_RUNTIME_DIR;
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--allow-env=XDG_RUNTIME_DIR", ...extra, "main.ts"],
      cwd: dir,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const out = new TextDecoder().decode(r.stdout), err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    assert.doesNotMatch(err, /XDG_RUNTIME_DIR is invalid/);
    // the child wrote no lockfile or config of its own next to the script: it had none to find
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["main.ts"]);
    return JSON.parse(out) as { matmul: number[]; softmax: number[] };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function checkNumbers(got: { matmul: number[]; softmax: number[] }) {
  // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[19, 22], [43, 50]]
  assert.deepEqual(got.matmul, [19, 22, 43, 50]);
  // softmax([0, ln 3]) = [1/4, 3/4]; equal logits give halves
  const want = [0.25, 0.75, 0.5, 0.5, 0.5, 0.5];
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got.softmax[i] - want[i]) < 1e-6, `${i}`);
}

Deno.test("a script outside the checkout imports mod.ts by file URL and computes on the GPU", async () => {
  checkNumbers(await runElsewhere(new URL("mod.ts", ROOT).href));
});

Deno.test("a script imports mod.ts over HTTP from a local server serving the checkout", async () => {
  const server = serveDir(ROOT);
  try {
    checkNumbers(await runElsewhere(`${server.url}mod.ts`, [`--allow-import=${server.host}`]));
  } finally {
    await server.close();
    await forgetServer(server.host);
  }
});

Deno.test("deno.lock (what deno task installs) lists no test- or bench-only npm package", async () => {
  const lock = JSON.parse(await Deno.readTextFile(new URL("deno.lock", ROOT)));
  const names = Object.keys(lock.npm ?? {});
  const devOnly = names.filter((n) => /^(@tensorflow\/|playwright|onnxruntime|core-js@)/.test(n));
  assert.deepEqual(devOnly, [], "run tests and benchmarks with --lock=deno.dev.lock");
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const npmInMap = Object.values(config.imports as Record<string, string>).filter((v) =>
    v.startsWith("npm:")
  );
  assert.deepEqual(
    npmInMap,
    [],
    "deno task installs the import map's npm entries: import by full npm: specifier",
  );
});
