/** Every kernel's WGSL agrees with its spec (parameters, entry points, workgroup sizes). */
import assert from "node:assert/strict";
import { checkSpec, KERNEL_SPECS, parseParamsStruct } from "../src/gpu/kernel_specs.ts";
import { shaderSource } from "../src/gpu/shaders.ts";

Deno.test("every shader in shaders/ has a spec, and its struct Params, entry points and workgroup sizes match it", () => {
  const files = [...Deno.readDirSync(new URL("../shaders", import.meta.url))]
    .filter((e) => e.isFile && e.name.endsWith(".wgsl")).map((e) => e.name.slice(0, -5)).sort();
  assert.deepEqual(files, Object.keys(KERNEL_SPECS).sort(), "one spec per shader file");
  for (const name of files) checkSpec(name, shaderSource(name), KERNEL_SPECS[name]);
});

Deno.test("a struct that disagrees with its spec is refused, naming the shader and both field lists", () => {
  const src = "struct Params { n: u32, a: f32 }\n@compute @workgroup_size({{WG}}) fn main() {}";
  assert.deepEqual(parseParamsStruct(src), [["n", "u32"], ["a", "f32"]]);
  assert.throws(
    () =>
      checkSpec("x", src, { params: [["n", "u32"], ["a", "f32"], ["b", "f32"]], workgroup: { main: 64 } }),
    /shaders\/x\.wgsl: struct Params is \{ n: u32, a: f32 \} but its kernel spec says \{ n: u32, a: f32, b: f32 \}/,
  );
  assert.throws(
    () =>
      checkSpec("x", src.replace("{{WG}}", "256"), {
        params: [["n", "u32"], ["a", "f32"]],
        workgroup: { main: 64 },
      }),
    /@workgroup_size\(256\) should be @workgroup_size\(\{\{WG\}\}\)/,
  );
  assert.throws(
    () => checkSpec("x", src, { params: [["n", "u32"], ["a", "f32"]], workgroup: { other: 64 } }),
    /entry points \[main\] but its kernel spec says \[other\]/,
  );
});
