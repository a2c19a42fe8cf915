/**
 * The engine reads its WGSL from src/gpu/wgsl.gen.ts (no file access, so it works from a URL, in
 * a bundle and in a browser); shaders/*.wgsl stay the files people read and edit. This test
 * fails while the generated module is stale: run `deno task shaders`.
 */
import assert from "node:assert/strict";
import { GENERATED, generateShaderModule } from "../.ci/shaders.ts";
import { WGSL } from "../src/gpu/wgsl.gen.ts";
import { KERNEL_SPECS } from "../mod.ts";

Deno.test("src/gpu/wgsl.gen.ts is what deno task shaders writes from shaders/ now (else: run deno task shaders)", async () => {
  const want = await generateShaderModule();
  const have = await Deno.readTextFile(GENERATED);
  assert.ok(have === want, "src/gpu/wgsl.gen.ts is stale: run `deno task shaders`");
});

Deno.test("the generated module holds every .wgsl file byte for byte, and every kernel spec names one of them", async () => {
  const names: string[] = [];
  const walk = async (dir: string, prefix: string) => {
    for await (const e of Deno.readDir(dir)) {
      if (e.isDirectory) await walk(`${dir}/${e.name}`, `${prefix}${e.name}/`);
      else if (e.name.endsWith(".wgsl")) {
        const name = `${prefix}${e.name.slice(0, -5)}`;
        names.push(name);
        assert.equal(WGSL[name], await Deno.readTextFile(`${dir}/${e.name}`), name);
      }
    }
  };
  await walk("shaders", "");
  assert.deepEqual(Object.keys(WGSL).sort(), names.sort());
  for (const name of Object.keys(KERNEL_SPECS)) assert.ok(name in WGSL, `kernel spec ${name} has no shader`);
});

/** The literal NaN/Inf constants in a WGSL text (`bitcast<f32>(0x7fc00000u)` and the like). */
function nonFiniteConstants(text: string): string[] {
  return [...text.matchAll(/bitcast<f32>\(\s*(0x[0-9a-fA-F]+)u?\s*\)/g)]
    .filter(([, hex]) => ((parseInt(hex, 16) >>> 23) & 0xff) === 0xff)
    .map(([m]) => m);
}

Deno.test("no shader writes NaN or Inf as a constant expression (Chromium's Tint refuses it; lib/math.wgsl's nan_f32()/inf_f32() make them at run time)", () => {
  assert.deepEqual(
    nonFiniteConstants("let a = bitcast<f32>(0x7fc00000u); let b = bitcast<f32>(0x3f800000u);"),
    [
      "bitcast<f32>(0x7fc00000u)",
    ],
  );
  assert.deepEqual(nonFiniteConstants("let c = bitcast<f32>(0xff800000u);"), ["bitcast<f32>(0xff800000u)"]);
  const offenders = Object.entries(WGSL).flatMap(([name, text]) =>
    nonFiniteConstants(text).map((c) => `${name}.wgsl: ${c}`)
  );
  assert.deepEqual(offenders, []);
});
