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

Deno.test("the engine (tensor, nn, optim), models and their persistence, explanations, compression, diagnosis and words, and viz make no Deno-only calls", async () => {
  const offenders: string[] = [];
  for (
    const dir of [
      "src/tensor",
      "src/nn",
      "src/optim",
      "src/viz",
      "src/explain",
      "src/compress",
      "src/diagnose",
      "src/report",
      "src/models",
    ]
  ) {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) {
        for await (const f of Deno.readDir(`${dir}/${e.name}`)) {
          const text = await Deno.readTextFile(`${dir}/${e.name}/${f.name}`);
          if (/\bDeno\./.test(text)) offenders.push(`${dir}/${e.name}/${f.name}`);
        }
      } else if (/\bDeno\./.test(await Deno.readTextFile(`${dir}/${e.name}`))) {
        offenders.push(`${dir}/${e.name}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
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
