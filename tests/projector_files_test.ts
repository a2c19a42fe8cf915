/**
 * TensorBoard's projector files against the documented format (projector_config.pbtxt, tensor and
 * metadata TSVs, sprite). tests/fixtures/projector/check_tensorboard.py reads the same files
 * through TensorBoard 2.21's own projector plugin (run by hand: tests need no Python).
 */
import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import { decode } from "npm:fast-png@8.0.0";
import { MAX_SPRITE_SIDE, writeProjector } from "../mod.ts";
import { spriteImage } from "../src/io/projector.ts";

const square = (v: number, s = 3) => ({ width: s, height: s, data: new Uint8Array(s * s * 4).fill(v) });

Deno.test("writeProjector writes the config, a tensor TSV a point a line, metadata with a header only for several columns, and a square sprite", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const n = 7, dim = 3;
    // thirds: every float32 digit must survive the TSV (TensorBoard reads them as they are written)
    const vectors = Float32Array.from({ length: n * dim }, (_, i) => (i - 10) / 3);
    await writeProjector(dir, [
      {
        name: "conv penultimate (4)",
        vectors,
        dim,
        metadata: {
          columns: ["label", "prediction"],
          rows: Array.from({ length: n }, (_, i) => [`d${i}`, i % 2]),
        },
        images: Array.from({ length: n }, (_, i) => square(10 * i)),
      },
      {
        name: "words",
        vectors: vectors.slice(0, 4 * dim),
        dim,
        metadata: { columns: ["word"], rows: [["a"], ["b\tc"], ["d"], ["e"]] },
      },
    ]);
    const config = await Deno.readTextFile(`${dir}/projector_config.pbtxt`);
    assert.equal(
      config,
      `embeddings {
  tensor_name: "conv penultimate (4)"
  tensor_path: "conv_penultimate_4_tensors.tsv"
  metadata_path: "conv_penultimate_4_metadata.tsv"
  sprite {
    image_path: "conv_penultimate_4_sprite.png"
    single_image_dim: 3
    single_image_dim: 3
  }
}
embeddings {
  tensor_name: "words"
  tensor_path: "words_tensors.tsv"
  metadata_path: "words_metadata.tsv"
}
`,
    );
    const tensors = (await Deno.readTextFile(`${dir}/conv_penultimate_4_tensors.tsv`)).split("\n");
    assert.equal(tensors.pop(), "");
    assert.equal(tensors.length, n);
    tensors.forEach((line, i) =>
      assert.deepEqual(line.split("\t").map(Number), Array.from(vectors.subarray(i * dim, i * dim + dim)))
    );
    const meta = (await Deno.readTextFile(`${dir}/conv_penultimate_4_metadata.tsv`)).split("\n");
    assert.equal(meta.pop(), "");
    assert.deepEqual(meta.slice(0, 2), ["label\tprediction", "d0\t0"]);
    assert.equal(meta.length, n + 1, "several columns: a header line, then one a point");
    const words = await Deno.readTextFile(`${dir}/words_metadata.tsv`);
    assert.equal(words, "a\nb c\nd\ne\n", "one column: no header line; a tab inside a value never splits it");
    const png = decode(await Deno.readFile(`${dir}/conv_penultimate_4_sprite.png`));
    assert.deepEqual([png.width, png.height], [9, 9], "7 thumbnails: a 3 × 3 grid of 3-pixel cells");
    // thumbnail 4 sits in row 1, column 1 (row by row from the top left)
    assert.equal(png.data[((1 * 3 + 1) * 9 + 1 * 3 + 1) * png.channels], 40);
    assert.equal(
      png.data[((2 * 3 + 1) * 9 + 2 * 3 + 1) * png.channels + 3],
      0,
      "the cells past the last image are empty",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeProjector refuses what TensorBoard could not show, before writing anything", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const v = new Float32Array(6);
    await assert.rejects(
      writeProjector(dir, [{
        name: "x",
        vectors: v,
        dim: 2,
        metadata: { columns: ["l"], rows: [["a"], ["b"]] },
      }]),
      /"x" has 3 points but 2 metadata rows/,
    );
    await assert.rejects(
      writeProjector(dir, [{ name: "x", vectors: Float32Array.of(1, NaN), dim: 2 }]),
      /point 0 holds a non-finite/,
    );
    assert.deepEqual([...Deno.readDirSync(dir)], [], "nothing half-written");
    // 10,001 thumbnails of 82 pixels would need a 101 × 82 = 8282-pixel sprite; so does one 8193 wide
    const wide = { width: MAX_SPRITE_SIDE + 1, height: 1, data: new Uint8Array((MAX_SPRITE_SIDE + 1) * 4) };
    assert.throws(() => spriteImage([wide]), new RegExp(`over TensorBoard's ${MAX_SPRITE_SIDE}`));
    assert.throws(
      () =>
        spriteImage(
          Array.from({ length: 10_001 }, () => ({ width: 82, height: 82, data: new Uint8Array(0) })),
        ),
      /8282×8282/,
    );
    assert.throws(() => spriteImage([square(0), square(0, 4)]), /sprite image 1 is 4×4, the first is 3×3/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("embeddings that share one images array share one sprite file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const images = [square(1), square(2)];
    await writeProjector(dir, [
      { name: "layer", vectors: new Float32Array(6), dim: 3, images },
      { name: "layer PCA", vectors: new Float32Array(4), dim: 2, images },
    ]);
    const config = await Deno.readTextFile(`${dir}/projector_config.pbtxt`);
    assert.equal(config.match(/image_path: "layer_sprite.png"/g)?.length, 2);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).filter((n) => n.endsWith(".png")), [
      "layer_sprite.png",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
