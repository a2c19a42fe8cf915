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

/** CRC-32C bit by bit, straight from the polynomial (independent of the table-driven one). */
function crc32cBitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return (c ^ 0xffffffff) >>> 0;
}

Deno.test("CRC-32C: the RFC 3720 (iSCSI) test vectors", () => {
  const asc = Uint8Array.from({ length: 32 }, (_, i) => i);
  const vectors: [Uint8Array, number][] = [
    [new Uint8Array(32), 0x8a9136aa],
    [new Uint8Array(32).fill(0xff), 0x62a8ab43],
    [asc, 0x46dd794e],
    [asc.slice().reverse(), 0x113fdb5c],
  ];
  for (const [bytes, want] of vectors) {
    assert.equal(gb.crc32c(bytes), want);
    assert.equal(crc32cBitwise(bytes), want);
  }
});

Deno.test("a TFRecord event built by hand from the protobuf and TFRecord specs decodes to its values", () => {
  // Event { wall_time (1, double) = 1.5, step (2, varint) = 7,
  //         summary (5) = Summary { value (1) = Value { tag (1) = "loss", simple_value (2, float) = 0.25 } } }
  const event = new Uint8Array([
    0x09,
    0,
    0,
    0,
    0,
    0,
    0,
    0xf8,
    0x3f, // wall_time 1.5
    0x10,
    0x07, // step 7
    0x2a,
    0x0d, // summary, 13 bytes
    0x0a,
    0x0b, // value, 11 bytes
    0x0a,
    0x04,
    0x6c,
    0x6f,
    0x73,
    0x73, // tag "loss"
    0x15,
    0x00,
    0x00,
    0x80,
    0x3e, // simple_value 0.25f
  ]);
  const mask = (c: number) => ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
  const len = new Uint8Array(8);
  new DataView(len.buffer).setUint32(0, event.length, true);
  const file = new Uint8Array(8 + 4 + event.length + 4);
  const dv = new DataView(file.buffer);
  file.set(len, 0);
  dv.setUint32(8, mask(crc32cBitwise(len)), true);
  file.set(event, 12);
  dv.setUint32(12 + event.length, mask(crc32cBitwise(event)), true);
  const [e] = gb.readEventFile(file, "fixture");
  assert.equal(e.wallTime, 1.5);
  assert.equal(e.step, 7);
  assert.deepEqual(e.values!.map((v) => [v.tag, v.simpleValue]), [["loss", 0.25]]);
  // and glassbox writes exactly these bytes for the same event
  assert.deepEqual(Array.from(gb.encodeEvent(e)), Array.from(event));
  assert.deepEqual(Array.from(gb.tfRecord(event)), Array.from(file));
});
