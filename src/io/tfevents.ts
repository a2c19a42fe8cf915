/**
 * TensorBoard event files, written and read without TensorFlow.
 *
 * A file is a sequence of TFRecords: uint64 length (little-endian), uint32 masked CRC-32C of
 * the length bytes, the data, uint32 masked CRC-32C of the data. Each record's data is an
 * `Event` protobuf; the first holds `file_version: "brain.Event:2"`, the others a `Summary`
 * of scalar (`simple_value`), histogram (`HistogramProto`) or image (PNG) values.
 */

// ---- CRC-32C (Castagnoli) ----
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C of bytes. */
export function crc32c(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8. */
export function maskedCrc32c(bytes: Uint8Array): number {
  const c = crc32c(bytes);
  return ((((c >>> 15) | (c << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

// ---- protobuf encoding (the few wire types Event needs) ----
class Proto {
  parts: number[] = [];
  varint(v: number | bigint): this {
    let b = BigInt.asUintN(64, BigInt(v));
    do {
      let byte = Number(b & 0x7fn);
      b >>= 7n;
      if (b) byte |= 0x80;
      this.parts.push(byte);
    } while (b);
    return this;
  }
  key(field: number, wire: number): this {
    return this.varint((field << 3) | wire);
  }
  double(field: number, v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, true);
    this.key(field, 1).parts.push(...b);
    return this;
  }
  float(field: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.key(field, 5).parts.push(...b);
    return this;
  }
  int(field: number, v: number): this {
    return this.key(field, 0).varint(v);
  }
  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2).varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  packedDoubles(field: number, vs: number[]): this {
    const b = new Uint8Array(vs.length * 8);
    const dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat64(i * 8, v, true));
    return this.bytes(field, b);
  }
  done(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** A histogram in TensorBoard's legacy `HistogramProto` form. */
export interface Histogram {
  /** Smallest value seen. */
  min: number;
  /** Largest value seen. */
  max: number;
  /** Number of values. */
  num: number;
  /** Sum of the values. */
  sum: number;
  /** Sum of the squared values. */
  sumSquares: number;
  /** Right edge of each bucket. */
  bucketLimit: number[];
  /** Count in each bucket. */
  bucket: number[];
}

/** One summary value. */
export interface SummaryValue {
  /** The series name TensorBoard groups by, e.g. "loss/train". */
  tag: string;
  /** A scalar (TensorBoard's Scalars tab; `add_scalar` in PyTorch's SummaryWriter). */
  simpleValue?: number;
  /** A histogram (the Histograms and Distributions tabs; `add_histogram`). */
  histo?: Histogram;
  /**
   * A PNG image of `height`×`width` pixels with `colorspace` channels (1 grey, 3 RGB, 4 RGBA; 0 when read
   * back unset) (the Images tab; `add_image`).
   */
  image?: { height: number; width: number; colorspace: number; png: Uint8Array };
}

/** One event. */
export interface TfEvent {
  /** When the event was written, in seconds since the Unix epoch. */
  wallTime: number;
  /** The training step the values belong to (the x axis in TensorBoard). */
  step: number;
  /** Set only on a file's first event: the format version, "brain.Event:2". */
  fileVersion?: string;
  /** The summary values recorded at this step. */
  values?: SummaryValue[];
}

function encodeValue(v: SummaryValue): Uint8Array {
  const p = new Proto().string(1, v.tag);
  if (v.simpleValue !== undefined) p.float(2, v.simpleValue);
  if (v.image) {
    const img = new Proto().int(1, v.image.height).int(2, v.image.width).int(3, v.image.colorspace).bytes(
      4,
      v.image.png,
    ).done();
    p.bytes(4, img);
  }
  if (v.histo) {
    const h = v.histo;
    const hp = new Proto().double(1, h.min).double(2, h.max).double(3, h.num).double(4, h.sum).double(
      5,
      h.sumSquares,
    )
      .packedDoubles(6, h.bucketLimit).packedDoubles(7, h.bucket).done();
    p.bytes(5, hp);
  }
  return p.done();
}

/** Encodes an Event protobuf. */
export function encodeEvent(e: TfEvent): Uint8Array {
  const p = new Proto().double(1, e.wallTime).int(2, e.step);
  if (e.fileVersion) p.string(3, e.fileVersion);
  if (e.values) {
    const s = new Proto();
    for (const v of e.values) s.bytes(1, encodeValue(v));
    p.bytes(5, s.done());
  }
  return p.done();
}

/** Frames data as one TFRecord. */
export function tfRecord(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length + 4);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(data.length), true);
  dv.setUint32(8, maskedCrc32c(out.subarray(0, 8)), true);
  out.set(data, 12);
  dv.setUint32(12 + data.length, maskedCrc32c(data), true);
  return out;
}

// ---- decoding (for tests and `deno task inspect`) ----
class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array) {}
  get done(): boolean {
    return this.pos >= this.b.length;
  }
  varint(): bigint {
    let r = 0n, shift = 0n;
    for (;;) {
      if (this.pos >= this.b.length) throw new Error("protobuf: truncated varint");
      const x = this.b[this.pos++];
      r |= BigInt(x & 0x7f) << shift;
      if (!(x & 0x80)) return r;
      shift += 7n;
    }
  }
  take(n: number): Uint8Array {
    if (this.pos + n > this.b.length) throw new Error("protobuf: field runs past the end");
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  /** Iterates fields as [number, wire, value]. */
  *fields(): Generator<[number, number, bigint | Uint8Array]> {
    while (!this.done) {
      const k = Number(this.varint());
      const f = k >> 3, w = k & 7;
      if (w === 0) yield [f, w, this.varint()];
      else if (w === 1) yield [f, w, this.take(8)];
      else if (w === 2) yield [f, w, this.take(Number(this.varint()))];
      else if (w === 5) yield [f, w, this.take(4)];
      else throw new Error(`protobuf: unsupported wire type ${w}`);
    }
  }
}

const f64 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, true);
const f32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getFloat32(0, true);
const doubles = (b: Uint8Array) => Array.from({ length: b.length / 8 }, (_, i) => f64(b.subarray(i * 8)));

function decodeValue(b: Uint8Array): SummaryValue {
  const v: SummaryValue = { tag: "" };
  for (const [f, , x] of new Reader(b).fields()) {
    if (f === 1) v.tag = new TextDecoder().decode(x as Uint8Array);
    else if (f === 2) v.simpleValue = f32(x as Uint8Array);
    else if (f === 4) {
      const img: { height: number; width: number; colorspace: number; png: Uint8Array } = {
        height: 0,
        width: 0,
        colorspace: 0,
        png: new Uint8Array(),
      };
      for (const [g, , y] of new Reader(x as Uint8Array).fields()) {
        if (g === 1) img.height = Number(y);
        else if (g === 2) img.width = Number(y);
        else if (g === 3) img.colorspace = Number(y);
        else if (g === 4) img.png = y as Uint8Array;
      }
      v.image = img;
    } else if (f === 5) {
      const h: Histogram = { min: 0, max: 0, num: 0, sum: 0, sumSquares: 0, bucketLimit: [], bucket: [] };
      for (const [g, w, y] of new Reader(x as Uint8Array).fields()) {
        const u = y as Uint8Array;
        if (g === 1) h.min = f64(u);
        else if (g === 2) h.max = f64(u);
        else if (g === 3) h.num = f64(u);
        else if (g === 4) h.sum = f64(u);
        else if (g === 5) h.sumSquares = f64(u);
        else if (g === 6) h.bucketLimit.push(...(w === 2 ? doubles(u) : [f64(u)]));
        else if (g === 7) h.bucket.push(...(w === 2 ? doubles(u) : [f64(u)]));
      }
      v.histo = h;
    }
  }
  return v;
}

/** Decodes an Event protobuf. */
export function decodeEvent(b: Uint8Array): TfEvent {
  const e: TfEvent = { wallTime: 0, step: 0 };
  for (const [f, , x] of new Reader(b).fields()) {
    if (f === 1) e.wallTime = f64(x as Uint8Array);
    else if (f === 2) e.step = Number(BigInt.asIntN(64, x as bigint));
    else if (f === 3) e.fileVersion = new TextDecoder().decode(x as Uint8Array);
    else if (f === 5) {
      e.values = [];
      for (const [g, , y] of new Reader(x as Uint8Array).fields()) {
        if (g === 1) e.values.push(decodeValue(y as Uint8Array));
      }
    }
  }
  return e;
}

/**
 * Reads an event file, checking every record's length and data CRCs; throws naming the record
 * and the problem.
 */
export function readEventFile(bytes: Uint8Array, name = "event file"): TfEvent[] {
  const out: TfEvent[] = [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0, i = 0;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) throw new Error(`${name}: record ${i} is truncated in its header`);
    const len = Number(dv.getBigUint64(pos, true));
    if (dv.getUint32(pos + 8, true) !== maskedCrc32c(bytes.subarray(pos, pos + 8))) {
      throw new Error(`${name}: record ${i} has a bad length CRC`);
    }
    if (pos + 12 + len + 4 > bytes.length) {
      throw new Error(`${name}: record ${i} is truncated (needs ${len} data bytes)`);
    }
    const data = bytes.subarray(pos + 12, pos + 12 + len);
    if (dv.getUint32(pos + 12 + len, true) !== maskedCrc32c(data)) {
      throw new Error(`${name}: record ${i} has a bad data CRC`);
    }
    out.push(decodeEvent(data));
    pos += 12 + len + 4;
    i++;
  }
  return out;
}

/**
 * Writes TensorBoard event files, with PyTorch's `SummaryWriter` method names.
 *
 * @example
 * ```ts
 * import { SummaryWriter } from "glassbox";
 * const w = await SummaryWriter.create("out/runs/demo");
 * w.addScalar("loss/train", 0.42, 100);
 * await w.flush(); // then: tensorboard --logdir out/runs
 * ```
 */
export class SummaryWriter {
  #queue: Uint8Array[] = [];
  private constructor(readonly path: string) {}

  /**
   * Creates the log directory and a new event file in it, named as TensorBoard's writers name
   * theirs (`events.out.tfevents.<time>.<host>.<pid>.0`). The host is the machine's name when
   * `--allow-sys=hostname` is granted and "glassbox" otherwise: it never asks for the permission.
   */
  static async create(logdir: string): Promise<SummaryWriter> {
    await Deno.mkdir(logdir, { recursive: true });
    // the host name when sys access to it is granted; asking would prompt at a terminal and wait
    const host = Deno.permissions.querySync({ name: "sys", kind: "hostname" }).state === "granted"
      ? Deno.hostname()
      : "glassbox";
    const name = `events.out.tfevents.${
      String(Math.floor(Date.now() / 1000)).padStart(10, "0")
    }.${host}.${Deno.pid}.0`;
    const w = new SummaryWriter(`${logdir}/${name}`);
    await Deno.writeFile(
      w.path,
      tfRecord(encodeEvent({ wallTime: Date.now() / 1000, step: 0, fileVersion: "brain.Event:2" })),
    );
    return w;
  }

  #add(step: number, v: SummaryValue): void {
    this.#queue.push(tfRecord(encodeEvent({ wallTime: Date.now() / 1000, step, values: [v] })));
  }

  /** A scalar (TensorBoard's Scalars tab). */
  addScalar(tag: string, value: number, step: number): void {
    this.#add(step, { tag, simpleValue: value });
  }

  /**
   * A histogram from counts over equal bins between lo and hi, plus the exact moments
   * (TensorBoard's Histograms and Distributions tabs).
   */
  addHistogram(
    tag: string,
    h: { lo: number; hi: number; counts: number[]; sum: number; sumSquares: number },
    step: number,
  ): void {
    const n = h.counts.length;
    const w = (h.hi - h.lo) / n || 1e-12;
    this.#add(step, {
      tag,
      histo: {
        min: h.lo,
        max: h.hi,
        num: h.counts.reduce((a, b) => a + b, 0),
        sum: h.sum,
        sumSquares: h.sumSquares,
        bucketLimit: h.counts.map((_, i) => (i === n - 1 ? h.hi : h.lo + (i + 1) * w)),
        bucket: h.counts,
      },
    });
  }

  /** A PNG image (TensorBoard's Images tab). */
  addImage(tag: string, png: Uint8Array, width: number, height: number, step: number): void {
    this.#add(step, { tag, image: { height, width, colorspace: 4, png } });
  }

  /** Appends the queued events to the file. */
  async flush(): Promise<void> {
    if (this.#queue.length === 0) return;
    const all = this.#queue.splice(0);
    const f = await Deno.open(this.path, { append: true });
    try {
      for (const r of all) {
        let off = 0;
        while (off < r.length) off += await f.write(r.subarray(off));
      }
    } finally {
      f.close();
    }
  }
}
