import assert from "node:assert/strict";
import { loadMnist, parseIdxImages, parseIdxLabels, parseMnist } from "../src/data/mnist.ts";

Deno.test("real MNIST loads from the pinned package: 60,000 + 10,000 images, labels 0-9, pixels in [0, 1]", async () => {
  const test = await loadMnist("test");
  assert.equal(test.count, 10000);
  assert.equal(test.rows, 28);
  assert.equal(test.images.length, 10000 * 784);
  const counts = new Array(10).fill(0);
  for (const l of test.labels) counts[l]++;
  assert.deepEqual(
    counts,
    [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    "the known test-set class counts",
  );
  assert.ok(test.images.every((v) => v >= 0 && v <= 1));
  const train = await loadMnist("train");
  assert.equal(train.count, 60000);
});

function header(magic: number, ...dims: number[]): Uint8Array {
  const b = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(b.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  return b;
}
function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

Deno.test("truncated or corrupt IDX files give clear errors", () => {
  const good = join(header(0x803, 2, 2, 2), new Uint8Array([0, 64, 128, 255, 1, 2, 3, 4]));
  assert.equal(parseIdxImages(good).count, 2);
  assert.throws(
    () => parseIdxImages(good.subarray(0, 20)),
    /header says 2 images of 2×2 \(24 bytes\) but the file has 20 bytes \(truncated\)/,
  );
  assert.throws(
    () => parseIdxImages(join(header(0x801, 2, 2, 2), new Uint8Array(8))),
    /magic number 0x00000801 is not an IDX image file/,
  );
  assert.throws(() => parseIdxImages(new Uint8Array(3)), /too short/);
  assert.throws(
    () => parseIdxLabels(join(header(0x801, 3), new Uint8Array([1, 2]))),
    /header says 3 labels but the file has 2 \(truncated\)/,
  );
  assert.throws(
    () => parseIdxLabels(join(header(0x801, 2), new Uint8Array([1, 12]))),
    /label 12 at index 1 is not a digit/,
  );
  assert.throws(
    () => parseMnist(good, join(header(0x801, 3), new Uint8Array([1, 2, 3]))),
    /2 images but 3 labels/,
  );
});
