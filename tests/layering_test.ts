/**
 * The shape of the code, checked: features depend on the engine, never the reverse; pictures
 * depend on nothing above them; the engine stays free of Deno-only calls so it can run in a
 * browser's WebGPU.
 */
import assert from "node:assert/strict";

async function localImports(entry: string): Promise<string[]> {
  const r = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", entry], stdout: "piped" })
    .output();
  const info = JSON.parse(new TextDecoder().decode(r.stdout)) as { modules: { specifier: string }[] };
  const root = new URL("../", import.meta.url).href;
  return info.modules.map((m) => m.specifier).filter((s) => s.startsWith(root)).map((s) =>
    s.slice(root.length)
  );
}

const allowed: Record<string, string[]> = {
  "src/viz/mod.ts": ["src/viz/"],
  "src/gpu/mod.ts": ["src/gpu/"],
  "src/tensor/mod.ts": ["src/gpu/", "src/tensor/"],
  "src/nn/mod.ts": ["src/gpu/", "src/tensor/", "src/nn/"],
  "src/optim/mod.ts": ["src/gpu/", "src/tensor/", "src/optim/"],
  "src/diagnose/mod.ts": ["src/gpu/", "src/tensor/", "src/nn/", "src/diagnose/"],
  // models and their persistence work on bytes: of io they use only the safetensors format
  "src/models/mod.ts": ["src/gpu/", "src/tensor/", "src/nn/", "src/models/", "src/io/safetensors.ts"],
};

for (const [entry, dirs] of Object.entries(allowed)) {
  Deno.test(`${entry} imports only from ${dirs.join(", ")}`, async () => {
    const bad = (await localImports(entry)).filter((f) => !dirs.some((d) => f.startsWith(d)));
    assert.deepEqual(bad, [], `${entry} reaches ${bad.join(", ")}`);
  });
}

/** The engine's internals: the kernel launchers, the graph recorder, the GPU runtime. */
const ENGINE_INTERNALS = [/^src\/tensor\/kernels\.ts$/, /^src\/tensor\/graph\.ts$/, /^src\/gpu\//];
/** Members of Tensor marked @internal that features must not touch (public: detach, copy_, customGradient). */
const INTERNAL_MEMBERS = /\.(_view|_node|_storage|_markModified)\b/;
const FEATURES = ["src/explain", "src/compress", "src/report", "src/serve", "src/apps", "src/diagnose"];

/** Every .ts file under `dir`, recursively. */
async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...await tsFiles(path));
    else if (path.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** The repository-relative paths a file imports (static and `export … from`), resolved. */
function importsOf(path: string, code: string): string[] {
  const base = new URL(path, "file:///r/");
  return [
    ...code.matchAll(
      /^\s*(?:import|export)\b[^'"]*?\bfrom\s+["']([^"']+)["']|^\s*import\s+["']([^"']+)["']/gm,
    ),
  ]
    .map((m) => m[1] ?? m[2])
    .filter((s) => s.startsWith("."))
    .map((s) => new URL(s, base).pathname.slice("/r/".length));
}

Deno.test("features (explain, compress, report, serve, apps, diagnose) use the engine's public surface: no kernel launchers, graph internals, src/gpu or @internal tensor members", async () => {
  const violations: string[] = [];
  for (const dir of FEATURES) {
    for (const file of await tsFiles(dir)) {
      const code = await Deno.readTextFile(file);
      for (const dep of importsOf(file, code)) {
        if (ENGINE_INTERNALS.some((r) => r.test(dep))) violations.push(`${file} imports ${dep}`);
      }
      const uncommented = code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/\/\/.*$/gm, "");
      const member = uncommented.match(INTERNAL_MEMBERS);
      if (member) violations.push(`${file} uses ${member[0]}`);
    }
  }
  assert.deepEqual(violations, []);
});

Deno.test("the import scanner of the layering test sees static imports, re-exports and side-effect imports", () => {
  const code = `import { a } from "../tensor/kernels.ts";\nimport type { B } from "../gpu/pool.ts";\n` +
    `export { c } from "./x.ts";\nimport "../tensor/graph.ts";\nimport {\n  d,\n} from "../nn/module.ts";\n`;
  assert.deepEqual(importsOf("src/explain/y.ts", code), [
    "src/tensor/kernels.ts",
    "src/gpu/pool.ts",
    "src/explain/x.ts",
    "src/tensor/graph.ts",
    "src/nn/module.ts",
  ]);
});

/** Code with its comments removed (block and line comments; good enough for this repository's style). */
function uncommented(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'])\/\/.*$/gm, "$1");
}

/** Why a file cannot run in a browser, if it cannot: a Deno API or a `node:` module. */
function hostOnly(code: string): string | null {
  const text = uncommented(code);
  const deno = text.match(/\bDeno\b/);
  if (deno) return "uses Deno";
  const node = text.match(/(?:from\s+|import\s*\(?\s*)["'](node:[\w/]+)["']/);
  if (node) return `imports ${node[1]}`;
  return null;
}

const PORTABLE_DIRS = [
  "src/gpu",
  "src/tensor",
  "src/nn",
  "src/optim",
  "src/models",
  "src/explain",
  "src/compress",
  "src/diagnose",
  "src/report",
  "src/viz",
];

Deno.test("the engine and the portable features (gpu, tensor, nn, optim, models, explain, compress, diagnose, report, viz) use no Deno API and no node: module, and neither does anything src/web.ts (the bundle's entry) reaches", async () => {
  const offenders: string[] = [];
  const files = new Set<string>();
  for (const dir of PORTABLE_DIRS) {
    for (const f of await tsFiles(dir)) {
      // the two folders' file-bound modules, which src/web.ts leaves out
      if (f === "src/compress/save.ts") continue;
      files.add(f);
    }
  }
  for (const f of await localImports("src/web.ts")) files.add(f);
  for (const f of [...files].sort()) {
    const why = hostOnly(await Deno.readTextFile(f));
    if (why) offenders.push(`${f} ${why}`);
  }
  assert.deepEqual(offenders, []);
});

Deno.test("the host-only scanner sees Deno calls and node: imports, and ignores them in comments", () => {
  assert.equal(hostOnly(`const x = Deno.readTextFileSync("a");`), "uses Deno");
  assert.equal(hostOnly(`const d = (globalThis as any).Deno?.env;`), "uses Deno");
  assert.equal(hostOnly(`import { AsyncLocalStorage } from "node:async_hooks";`), "imports node:async_hooks");
  assert.equal(hostOnly(`const m = await import("node:fs");`), "imports node:fs");
  assert.equal(
    hostOnly(`// Deno.readFile would be wrong here\n/** node:fs */\nconst url = "https://x";`),
    null,
  );
});

Deno.test("encoding a PNG and drawing a chart do not initialise WebGPU", async () => {
  const code = `
    let touched = false;
    Object.defineProperty(navigator, "gpu", { get() { touched = true; return undefined; } });
    const viz = await import(${JSON.stringify(new URL("../src/viz/mod.ts", import.meta.url).href)});
    const png = viz.encodePng(viz.imageGrid([new Float32Array(4)], 2, 2));
    const svg = viz.lineChart([{ name: "a", points: [[0, 1], [1, 2]] }], { title: "t", xLabel: "x", yLabel: "y" });
    console.log(touched ? "WebGPU was touched" : png[1] === 0x50 && svg.startsWith("<svg") ? "ok" : "bad");
  `;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  assert.equal(new TextDecoder().decode(r.stdout).trim(), "ok", new TextDecoder().decode(r.stderr));
});

Deno.test("architectures are registered explicitly: the registry alone knows the zoo's, nothing registers itself on import", async () => {
  // registry.ts imported on its own (no mod.ts, no zoo import for its side effect) builds every built-in
  const code = `
    const r = await import(${JSON.stringify(new URL("../src/models/registry.ts", import.meta.url).href)});
    const z = await import(${JSON.stringify(new URL("../src/models/zoo.ts", import.meta.url).href)});
    const names = r.architectures().map((a) => a.name);
    const built = r.modelSpec(r.createModel("seed-cnn"))?.architecture;
    console.log(JSON.stringify({ names, zoo: z.ZOO.map((a) => a.name), built }));
  `;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const got = JSON.parse(new TextDecoder().decode(r.stdout) || "{}");
  assert.ok(got.names?.length >= 7, new TextDecoder().decode(r.stderr));
  assert.deepEqual(got.names, got.zoo);
  assert.equal(got.built, "seed-cnn");
  // and no module calls registerArchitecture at load time, nor is imported only for its side effects
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) await walk(path);
      else if (path.endsWith(".ts") && path !== "src/models/registry.ts") {
        const code = (await Deno.readTextFile(path)).replace(/\/\*[\s\S]*?\*\//g, "");
        if (/^registerArchitecture\(/m.test(code) || /^import "[^"]*models\//m.test(code)) {
          offenders.push(path);
        }
      }
    }
  };
  await walk("src");
  assert.deepEqual(offenders, []);
});
