import assert from "node:assert/strict";
import * as gb from "../mod.ts";

Deno.test("CRC-32C matches the standard check value; TFRecord framing masks it", () => {
  assert.equal(gb.crc32c(new TextEncoder().encode("123456789")), 0xe3069283);
  assert.equal(gb.crc32c(new Uint8Array(32)), 0x8a9136aa); // RFC 3720 test vector: 32 zero bytes
  const rec = gb.tfRecord(new Uint8Array([1, 2, 3]));
  assert.equal(rec.length, 8 + 4 + 3 + 4);
  const c = gb.crc32c(new Uint8Array([1, 2, 3]));
  assert.equal(
    new DataView(rec.buffer).getUint32(15, true),
    ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0,
  );
});

Deno.test("event files: every record's CRCs check and the decoded events hold the logged values", async () => {
  const dir = await Deno.makeTempDir();
  const w = await gb.SummaryWriter.create(dir);
  w.addScalar("loss/train", 0.25, 10);
  w.addScalar("loss/train", 0.125, 20);
  w.addHistogram("grad/0.weight", { lo: -1, hi: 1, counts: [1, 5, 3, 1], sum: 0.5, sumSquares: 2.5 }, 20);
  const png = new Uint8Array([137, 80, 78, 71, 1, 2, 3]);
  w.addImage("filters", png, 3, 2, 20);
  await w.flush();
  const files = [...Deno.readDirSync(dir)].map((e) => e.name);
  assert.equal(files.length, 1);
  assert.match(files[0], /^events\.out\.tfevents\.\d{10}\./);
  const bytes = await Deno.readFile(`${dir}/${files[0]}`);
  const events = gb.readEventFile(bytes);
  assert.equal(events[0].fileVersion, "brain.Event:2");
  assert.deepEqual(events.slice(1, 3).map((e) => [e.step, e.values![0].tag, e.values![0].simpleValue]), [[
    10,
    "loss/train",
    0.25,
  ], [20, "loss/train", 0.125]]);
  const h = events[3].values![0].histo!;
  assert.deepEqual([h.min, h.max, h.num, h.sum, h.sumSquares], [-1, 1, 10, 0.5, 2.5]);
  assert.deepEqual(h.bucketLimit, [-0.5, 0, 0.5, 1]);
  assert.deepEqual(h.bucket, [1, 5, 3, 1]);
  const img = events[4].values![0].image!;
  assert.deepEqual([img.width, img.height, Array.from(img.png)], [3, 2, Array.from(png)]);
  // corruption is caught and named
  const bad = bytes.slice();
  bad[bad.length - 6] ^= 0xff;
  assert.throws(() => gb.readEventFile(bad, "f"), /f: record 4 has a bad data CRC/);
  assert.throws(() => gb.readEventFile(bytes.subarray(0, bytes.length - 3), "f"), /record 4 is truncated/);
  await Deno.remove(dir, { recursive: true });
});
