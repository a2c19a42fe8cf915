/**
 * A whole data set beyond one machine: the attributions of N examples computed as n independent
 * shards (shard i holds rows [⌊iN/n⌋, ⌊(i+1)N/n⌋)), each written to its own safetensors file with a
 * manifest, then merged into one file identical byte for byte to what a single run writes.
 *
 * Shards are separate processes, so the same command runs on one machine, as a Kubernetes Indexed
 * Job (`JOB_COMPLETION_INDEX`) or a Slurm array (`SLURM_ARRAY_TASK_ID`). A shard records what it
 * was made from (method, options, the model checkpoint's and the data's sha256, N, n, its rows)
 * and the sha256 of its file, so `mergeShards` refuses a missing, unfinished, foreign or damaged
 * shard and names it; a shard re-run alone replaces only its own two files.
 *
 * No Deno API here: files are reached through a `ShardStore` (`memoryStore` below, or
 * `directoryStore` in io for a folder on disk).
 */
import { encodeSafetensors, type HostTensor, validateSafetensors } from "../io/safetensors.ts";
import { UsageError } from "../io/cli.ts";
import { sha256Hex } from "../report/provenance.ts";

/** Shard `index` of `count` (counting from 0). */
export interface ShardSpec {
  /** i: which shard, from 0 to count − 1. */
  index: number;
  /** n: how many shards the data set is split into. */
  count: number;
}

/** The environment variables that can give a shard's index, in the order they are read. */
export const SHARD_INDEX_VARIABLES = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"] as const;

/** A whole number written plainly (no sign, no exponent), or NaN. */
function wholeNumber(text: string): number {
  return /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
}

/**
 * Parses "i/n" (shard i of n, counting from 0). Anything else — "3/x", "0/0", "4/4" — is a
 * `UsageError` naming the value.
 *
 * @example
 * ```ts
 * import { parseShard } from "glassbox";
 * const s = parseShard("2/8");
 * if (s.index !== 2 || s.count !== 8) throw new Error("parseShard");
 * try {
 *   parseShard("8/8");
 *   throw new Error("accepted 8/8");
 * } catch (e) {
 *   if (!/numbered 0 to 7/.test((e as Error).message)) throw e;
 * }
 * ```
 */
export function parseShard(text: string, what = "--shard"): ShardSpec {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`${what} takes i/n (shard i of n, counting from 0), got "${text}"`);
  const index = Number(m[1]), count = Number(m[2]);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count)) {
    throw new UsageError(`${what} ${text}: the numbers are too large`);
  }
  if (count < 1) throw new UsageError(`${what} ${text}: there must be at least one shard`);
  if (index >= count) {
    throw new UsageError(`${what} ${text}: ${count} shards are numbered 0 to ${count - 1}`);
  }
  return { index, count };
}

/**
 * Which shard this process is, from `--shard i/n`, or from `--shards n` with the index in the
 * environment (`JOB_COMPLETION_INDEX` of a Kubernetes Indexed Job, else `SLURM_ARRAY_TASK_ID` of a
 * Slurm array). Returns null when neither flag is given (one unsharded run; the environment is
 * then not read). A bad or missing value is a `UsageError` naming it.
 *
 * @example
 * ```ts
 * import { resolveShard } from "glassbox";
 * const env = (name: string) => (name === "SLURM_ARRAY_TASK_ID" ? "3" : undefined);
 * const s = resolveShard({ shards: 4, env });
 * if (s?.index !== 3 || s.count !== 4) throw new Error("resolveShard");
 * if (resolveShard({ env }) !== null) throw new Error("no flag, no shard");
 * ```
 */
export function resolveShard(
  options: { shard?: string; shards?: number; env: (name: string) => string | undefined },
): ShardSpec | null {
  const { shard, shards } = options;
  if (shards !== undefined && (!Number.isSafeInteger(shards) || shards < 1)) {
    throw new UsageError(`--shards must be a whole number of at least 1, got ${shards}`);
  }
  if (shard !== undefined) {
    const s = parseShard(shard);
    if (shards !== undefined && shards !== s.count) {
      throw new UsageError(`--shard ${shard} says ${s.count} shards but --shards says ${shards}`);
    }
    return s;
  }
  if (shards === undefined) return null;
  for (const name of SHARD_INDEX_VARIABLES) {
    const raw = options.env(name);
    if (raw === undefined || raw === "") continue;
    const index = wholeNumber(raw);
    if (!Number.isSafeInteger(index)) {
      throw new UsageError(`${name} is "${raw}", not a shard index (a whole number from 0)`);
    }
    if (index >= shards) {
      const hint = name === "SLURM_ARRAY_TASK_ID" ? ` (run the array as sbatch --array=0-${shards - 1})` : "";
      throw new UsageError(
        `${name}=${index} but --shards ${shards} numbers shards 0 to ${shards - 1}${hint}`,
      );
    }
    return { index, count: shards };
  }
  throw new UsageError(
    `--shards ${shards} needs this process's shard index: --shard i/${shards}, or ${
      SHARD_INDEX_VARIABLES.join(" or ")
    } in the environment`,
  );
}

/**
 * The rows of shard i of n over `total` examples: [⌊i·total/n⌋, ⌊(i+1)·total/n⌋). The shards tile
 * [0, total) in order, and their sizes differ by at most one.
 *
 * @example
 * ```ts
 * import { shardRange } from "glassbox";
 * const r = [0, 1, 2].map((index) => shardRange(11, { index, count: 3 }));
 * if (JSON.stringify(r) !== JSON.stringify([{ start: 0, end: 3 }, { start: 3, end: 7 }, { start: 7, end: 11 }])) {
 *   throw new Error("shardRange");
 * }
 * ```
 */
export function shardRange(total: number, spec: ShardSpec): { start: number; end: number } {
  const { index, count } = spec;
  if (!Number.isSafeInteger(total) || total < 0) throw new Error(`shardRange: ${total} is not a row count`);
  if (
    !Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(index) || index < 0 || index >= count
  ) {
    throw new Error(`shardRange: shard ${index}/${count} does not exist`);
  }
  // exact in integers: total · index stays below 2^53 for any data set that fits in memory
  return { start: Math.floor((index * total) / count), end: Math.floor(((index + 1) * total) / count) };
}

/**
 * Where a shard's files go: `<prefix>.shard-<i>-of-<n>.safetensors` and `.json` (its manifest).
 *
 * @example
 * ```ts
 * import { shardFileNames } from "glassbox";
 * const f = shardFileNames({ index: 11, count: 12 });
 * if (f.manifest !== "attributions.shard-11-of-12.json") throw new Error(f.manifest);
 * ```
 */
export function shardFileNames(
  spec: ShardSpec,
  prefix = "attributions",
): { tensors: string; manifest: string } {
  const base = `${prefix}.shard-${spec.index}-of-${spec.count}`;
  return { tensors: `${base}.safetensors`, manifest: `${base}.json` };
}

/**
 * Files by name, as shards and their merge see them: a folder on disk (`directoryStore` in io) or
 * memory (`memoryStore`). `write` must be atomic: the file appears complete or not at all.
 */
export interface ShardStore {
  /** The file's bytes, or null when there is no such file. */
  read(name: string): Promise<Uint8Array | null>;
  /** Writes the file whole (replacing any previous one). */
  write(name: string, bytes: Uint8Array): Promise<void>;
  /** The names of the files present. */
  list(): Promise<string[]>;
  /** The file's full name, for messages (e.g. its path). */
  where(name: string): string;
}

/**
 * A `ShardStore` in memory (for tests, and for a program that keeps the bytes itself).
 *
 * @example
 * ```ts
 * import { memoryStore } from "glassbox";
 * const store = memoryStore();
 * await store.write("a.json", new TextEncoder().encode("{}"));
 * if ((await store.list()).join() !== "a.json" || (await store.read("b.json")) !== null) throw new Error("store");
 * ```
 */
export function memoryStore(files: Map<string, Uint8Array> = new Map()): ShardStore & {
  files: Map<string, Uint8Array>;
} {
  return {
    files,
    read: (name) => Promise.resolve(files.has(name) ? files.get(name)!.slice() : null),
    write: (name, bytes) => {
      files.set(name, bytes.slice());
      return Promise.resolve();
    },
    list: () => Promise.resolve([...files.keys()]),
    where: (name) => name,
  };
}

/**
 * A data set's identity for `AttributionJob.data`: a name for people and the sha256 of the bytes
 * of its arrays (e.g. the inputs and the targets of the N examples), in order.
 *
 * @example
 * ```ts
 * import { dataIdentity } from "glassbox";
 * const a = await dataIdentity("toy", Float32Array.from([1, 2]), Int32Array.from([0]));
 * const b = await dataIdentity("toy", Float32Array.from([1, 3]), Int32Array.from([0]));
 * if (a.sha256.length !== 64 || a.sha256 === b.sha256) throw new Error("dataIdentity");
 * ```
 */
export async function dataIdentity(
  name: string,
  ...arrays: ArrayBufferView[]
): Promise<{ name: string; sha256: string }> {
  const all = new Uint8Array(arrays.reduce((a, v) => a + v.byteLength, 0));
  let pos = 0;
  for (const v of arrays) {
    all.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength), pos);
    pos += v.byteLength;
  }
  return { name, sha256: await sha256Hex(all) };
}

/**
 * What a sharded attribution run computes, the same in every shard and in the merge: shards made
 * from another method, options, model, data, N or file layout are refused by `mergeShards`.
 */
export interface AttributionJob {
  /** The method's name; also the name of the attribution tensor in the file. */
  method: string;
  /** Everything that changes the numbers (steps, internal batch size, ...), as JSON values. */
  options: Record<string, unknown>;
  /** The model checkpoint's sha256. */
  model: string;
  /** The data set: a name for people and the sha256 of its inputs and targets. */
  data: { name: string; sha256: string };
  /** N: the number of examples. */
  total: number;
  /** One example's attribution shape (the file's tensor is [N, ...shape]). */
  shape: number[];
  /** The written file's metadata (string pairs), as a single run writes it. */
  metadata: Record<string, string>;
}

/** JSON with object keys sorted, so equal jobs compare equal as text. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    return `{${
      Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined)
        .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")
    }}`;
  }
  return JSON.stringify(v);
}

/** Checks a job's fields; an error names the first bad one. */
function checkJob(job: AttributionJob): void {
  if (!job.method || job.method === "__metadata__") throw new Error(`shard: bad method name "${job.method}"`);
  if (!Number.isSafeInteger(job.total) || job.total < 1) {
    throw new Error(`shard: the data set must have at least one example, got ${job.total}`);
  }
  if (!job.shape.length || !job.shape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new Error(`shard: bad example shape [${job.shape}]`);
  }
  if (!/^[0-9a-f]{64}$/.test(job.model) || !/^[0-9a-f]{64}$/.test(job.data.sha256)) {
    throw new Error("shard: the model and the data are identified by their sha256 (64 hex digits)");
  }
}

/** Values per example. */
function perExample(job: AttributionJob): number {
  return job.shape.reduce((a, b) => a * b, 1);
}

/**
 * Attributions for rows [start, end) of the data set, row-major ([end − start, ...shape]), and
 * optionally per-row numbers (e.g. IG's |completeness error|) by name.
 */
export type RowAttribution = (
  start: number,
  end: number,
) => Promise<{ attributions: Float32Array; perRow?: Record<string, Float32Array> }>;

/** Options for `attributeRows` and `runShard`. */
export interface AttributeRowsOptions {
  /** Rows per call of the attribution function (default 250). */
  chunk?: number;
  /** Called after each chunk with the rows done so far and the rows to do. */
  onProgress?: (done: number, total: number) => void;
  /** The clock, in milliseconds (default `performance.now`). */
  now?: () => number;
}

/** What `attributeRows` returns: the rows' attributions, per-row numbers and the seconds it took. */
export interface RowsResult {
  /** The rows' attributions, row-major. */
  attributions: Float32Array;
  /** Per-row numbers by name, one per row. */
  perRow: Record<string, Float32Array>;
  /** Wall time of the whole range. */
  seconds: number;
}

/**
 * Runs `attribute` over rows [start, end) in chunks, calling `onProgress` after each, and
 * returns the attributions in row order. The chunking never changes a row's numbers as long as
 * the attribution of a row does not depend on the other rows in its call (true of glassbox's
 * methods, which explain each example on its own).
 *
 * @example
 * ```ts
 * import { attributeRows } from "glassbox";
 * const seen: number[] = [];
 * const r = await attributeRows({ start: 2, end: 7 }, 1, async (s, e) => ({
 *   attributions: Float32Array.from({ length: e - s }, (_, k) => 100 * (s + k)),
 * }), { chunk: 2, onProgress: (done) => seen.push(done) });
 * if (r.attributions.join() !== "200,300,400,500,600" || seen.join() !== "2,4,5") throw new Error("attributeRows");
 * ```
 */
export async function attributeRows(
  range: { start: number; end: number },
  valuesPerRow: number,
  attribute: RowAttribution,
  options: AttributeRowsOptions = {},
): Promise<RowsResult> {
  const { start, end } = range;
  const chunk = options.chunk ?? 250;
  if (!Number.isSafeInteger(chunk) || chunk < 1) throw new Error(`attributeRows: chunk ${chunk} is not ≥ 1`);
  const now = options.now ?? (() => performance.now());
  const rows = end - start, t0 = now();
  const attributions = new Float32Array(rows * valuesPerRow);
  const perRow: Record<string, Float32Array> = {};
  for (let s = start; s < end; s += chunk) {
    const e = Math.min(end, s + chunk);
    const r = await attribute(s, e);
    if (r.attributions.length !== (e - s) * valuesPerRow) {
      throw new Error(
        `attributeRows: rows ${s}-${e - 1} gave ${r.attributions.length} values, expected ${
          (e - s) * valuesPerRow
        } (${e - s} rows of ${valuesPerRow})`,
      );
    }
    attributions.set(r.attributions, (s - start) * valuesPerRow);
    for (const [k, v] of Object.entries(r.perRow ?? {})) {
      if (v.length !== e - s) {
        throw new Error(`attributeRows: "${k}" has ${v.length} values for ${e - s} rows`);
      }
      (perRow[k] ??= new Float32Array(rows)).set(v, s - start);
    }
    options.onProgress?.(e - start, rows);
  }
  return { attributions, perRow, seconds: (now() - t0) / 1000 };
}

/**
 * The file a single (unsharded) run writes: one F32 tensor named after the method, [N, ...shape],
 * with the job's metadata. `mergeShards` returns exactly these bytes.
 *
 * @example
 * ```ts
 * import { attributionsFile, decodeSafetensors } from "glassbox";
 * const job = {
 *   method: "saliency", options: {}, model: "0".repeat(64), data: { name: "d", sha256: "1".repeat(64) },
 *   total: 2, shape: [3], metadata: { producer: "glassbox" },
 * };
 * const f = decodeSafetensors(attributionsFile(job, new Float32Array(6)));
 * if (f.tensors.get("saliency")!.shape.join() !== "2,3") throw new Error("attributionsFile");
 * ```
 */
export function attributionsFile(job: AttributionJob, attributions: Float32Array): Uint8Array {
  checkJob(job);
  if (attributions.length !== job.total * perExample(job)) {
    throw new Error(
      `attributionsFile: ${attributions.length} values for ${job.total} examples of [${job.shape}]`,
    );
  }
  return encodeSafetensors(
    [[job.method, { dtype: "F32", shape: [job.total, ...job.shape], data: attributions }]],
    job.metadata,
  );
}

/** What a shard's manifest (`<prefix>.shard-i-of-n.json`) records. */
export interface ShardManifest {
  /** The manifest's format and version. */
  format: "glassbox.shard/1";
  /** The job's method (`AttributionJob.method`). */
  method: string;
  /** The job's options. */
  options: Record<string, unknown>;
  /** The model checkpoint's sha256. */
  model: string;
  /** The data set's name and sha256. */
  data: { name: string; sha256: string };
  /** N: examples in the whole data set. */
  total: number;
  /** One example's attribution shape. */
  shape: number[];
  /** The merged file's metadata. */
  metadata: Record<string, string>;
  /** i: this shard. */
  index: number;
  /** n: the number of shards. */
  count: number;
  /** Its rows [start, end). */
  rows: [number, number];
  /** False while the shard runs (or after it failed); true once its file is written. */
  done: boolean;
  /** Its safetensors file (set once done). */
  file?: string;
  /** That file's sha256 (set once done). */
  sha256?: string;
  /** That file's size in bytes (set once done). */
  bytes?: number;
  /** Seconds the attributions took (set once done). */
  seconds?: number;
}

function manifestOf(job: AttributionJob, spec: ShardSpec): ShardManifest {
  const { start, end } = shardRange(job.total, spec);
  return {
    format: "glassbox.shard/1",
    method: job.method,
    options: job.options,
    model: job.model,
    data: job.data,
    total: job.total,
    shape: job.shape,
    metadata: job.metadata,
    index: spec.index,
    count: spec.count,
    rows: [start, end],
    done: false,
  };
}

const encodeJson = (v: unknown) => new TextEncoder().encode(JSON.stringify(v, null, 1) + "\n");

/**
 * Computes shard `spec` of `job` and writes its two files to `store`: first its manifest with
 * `done: false` (so a shard that dies is seen as unfinished), then its attributions
 * (`[rows, ...shape]` and any per-row numbers as `perRow.<name>`), then the manifest with
 * `done: true`, the file's sha256 and size. Only this shard's files are touched, so a failed shard
 * is re-run alone. Returns the final manifest.
 *
 * @example
 * ```ts
 * import { memoryStore, runShard } from "glassbox";
 * const job = {
 *   method: "demo", options: {}, model: "0".repeat(64), data: { name: "d", sha256: "1".repeat(64) },
 *   total: 12, shape: [1], metadata: {},
 * };
 * const store = memoryStore();
 * const m = await runShard(store, job, { index: 1, count: 3 }, async (s, e) => ({
 *   attributions: Float32Array.from({ length: e - s }, (_, k) => s + k),
 * }));
 * if (!m.done || m.rows.join() !== "4,8" || (await store.list()).length !== 2) throw new Error("runShard");
 * ```
 */
export async function runShard(
  store: ShardStore,
  job: AttributionJob,
  spec: ShardSpec,
  attribute: RowAttribution,
  options: AttributeRowsOptions & { prefix?: string } = {},
): Promise<ShardManifest> {
  checkJob(job);
  const names = shardFileNames(spec, options.prefix);
  const manifest = manifestOf(job, spec);
  await store.write(names.manifest, encodeJson(manifest));
  const [start, end] = manifest.rows;
  const r = await attributeRows({ start, end }, perExample(job), attribute, options);
  const tensors: [string, HostTensor][] = [
    [job.method, { dtype: "F32", shape: [end - start, ...job.shape], data: r.attributions }],
  ];
  for (const [k, v] of Object.entries(r.perRow).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    tensors.push([`perRow.${k}`, { dtype: "F32", shape: [end - start], data: v }]);
  }
  const bytes = encodeSafetensors(tensors, { "glassbox.shard": `${spec.index}/${spec.count}` });
  await store.write(names.tensors, bytes);
  const done: ShardManifest = {
    ...manifest,
    done: true,
    file: names.tensors,
    sha256: await sha256Hex(bytes),
    bytes: bytes.length,
    seconds: r.seconds,
  };
  await store.write(names.manifest, encodeJson(done));
  return done;
}

/** What `mergeShards` returns. */
export interface MergedShards {
  /** The merged attributions file: the bytes a single run writes (`attributionsFile`). */
  bytes: Uint8Array;
  /** Per-row numbers of all N rows, by name. */
  perRow: Record<string, Float32Array>;
  /** The shards' manifests, by index. */
  manifests: ShardManifest[];
  /** The sum of the shards' seconds. */
  seconds: number;
}

const SHARD_MANIFEST = /^(.+)\.shard-(\d+)-of-(\d+)\.json$/;

/** What differs between a shard's manifest and the job, in words, or null. */
function difference(m: ShardManifest, job: AttributionJob, count: number): string | null {
  const fields: [string, unknown, unknown][] = [
    ["another method", m.method, job.method],
    ["other options", m.options, job.options],
    ["another model checkpoint (sha256)", m.model, job.model],
    ["other data", m.data, job.data],
    ["another number of examples", m.total, job.total],
    ["another example shape", m.shape, job.shape],
    ["other file metadata", m.metadata, job.metadata],
    ["another number of shards", m.count, count],
  ];
  for (const [what, got, want] of fields) {
    if (canonical(got) !== canonical(want)) {
      return `${what}: ${canonical(got)}, but this merge is for ${canonical(want)}`;
    }
  }
  return null;
}

/**
 * Joins the `count` shards of `job` in `store` into the file a single run writes, byte for byte.
 * `count` defaults to the one number of shards whose manifests are present. Refuses, naming the
 * shard(s) and file: a missing shard, one that did not finish, one made from another method,
 * options, model, data or number of shards, one whose rows are not ⌊iN/n⌋…⌊(i+1)N/n⌋, and one whose
 * file is missing, truncated or changed since (its sha256 differs from its manifest's).
 *
 * @example
 * ```ts
 * import { attributionsFile, memoryStore, mergeShards, runShard } from "glassbox";
 * const job = {
 *   method: "demo", options: {}, model: "0".repeat(64), data: { name: "d", sha256: "1".repeat(64) },
 *   total: 5, shape: [2], metadata: {},
 * };
 * const f = async (s: number, e: number) => ({ attributions: Float32Array.from({ length: 2 * (e - s) }, (_, k) => 2 * s + k) });
 * const store = memoryStore();
 * for (const index of [0, 1]) await runShard(store, job, { index, count: 2 }, f);
 * const merged = await mergeShards(store, job);
 * const single = attributionsFile(job, (await f(0, 5)).attributions);
 * if (merged.bytes.join() !== single.join()) throw new Error("mergeShards");
 * ```
 */
export async function mergeShards(
  store: ShardStore,
  job: AttributionJob,
  options: { count?: number; prefix?: string } = {},
): Promise<MergedShards> {
  checkJob(job);
  const prefix = options.prefix ?? "attributions";
  let count = options.count;
  if (count === undefined) {
    const counts = new Set<number>();
    for (const name of await store.list()) {
      const m = SHARD_MANIFEST.exec(name);
      if (m && m[1] === prefix) counts.add(Number(m[3]));
    }
    const where = store.where(`${prefix}.shard-*-of-*.json`);
    if (!counts.size) throw new Error(`merge: no shard manifests (${where}) to merge`);
    if (counts.size > 1) {
      throw new Error(
        `merge: manifests for ${
          [...counts].sort((a, b) => a - b).join(" and ")
        } shards are both present (${where}); say which with --shards n`,
      );
    }
    count = [...counts][0];
  }
  if (!Number.isSafeInteger(count) || count < 1) throw new Error(`merge: ${count} is not a number of shards`);
  const manifests: ShardManifest[] = [];
  const missing: string[] = [];
  for (let index = 0; index < count; index++) {
    const names = shardFileNames({ index, count }, prefix);
    const raw = await store.read(names.manifest);
    if (raw === null) {
      missing.push(`${index}/${count} (${store.where(names.manifest)})`);
      continue;
    }
    let m: ShardManifest;
    try {
      m = JSON.parse(new TextDecoder().decode(raw));
    } catch (e) {
      throw new Error(
        `merge: shard ${index}/${count}: its manifest ${store.where(names.manifest)} is not JSON (${
          (e as Error).message
        }); re-run it with --shard ${index}/${count}`,
      );
    }
    manifests.push(m);
  }
  if (missing.length) {
    throw new Error(
      `merge: ${missing.length === 1 ? "shard" : "shards"} ${missing.join(", ")} ${
        missing.length === 1 ? "is" : "are"
      } missing; run ${missing.length === 1 ? "it" : "them"} with --shard i/${count}`,
    );
  }
  const per = perExample(job);
  const attributions = new Float32Array(job.total * per);
  const perRow: Record<string, Float32Array> = {};
  let seconds = 0;
  for (const m of manifests.sort((a, b) => a.index - b.index)) {
    const { index } = m;
    const names = shardFileNames({ index, count }, prefix);
    const name = `shard ${index}/${count}`, again = `re-run it with --shard ${index}/${count}`;
    if (m.format !== "glassbox.shard/1" || m.index !== index || m.count !== count) {
      throw new Error(
        `merge: ${name}: ${store.where(names.manifest)} is not this shard's manifest; ${again}`,
      );
    }
    if (!m.done) {
      throw new Error(
        `merge: ${name} did not finish (${
          store.where(names.manifest)
        } says done: false; it is still running or failed); ${again}`,
      );
    }
    const diff = difference(m, job, count);
    if (diff) {
      throw new Error(`merge: ${name} (${store.where(names.manifest)}) was made with ${diff}; ${again}`);
    }
    const { start, end } = shardRange(job.total, { index, count });
    if (m.rows?.[0] !== start || m.rows?.[1] !== end) {
      throw new Error(
        `merge: ${name} holds rows [${m.rows}) but shard ${index} of ${count} over ${job.total} examples is [${start},${end}); ${again}`,
      );
    }
    const file = store.where(names.tensors);
    const bytes = await store.read(names.tensors);
    if (bytes === null) throw new Error(`merge: ${name}: its file ${file} is missing; ${again}`);
    const sha = await sha256Hex(bytes);
    if (bytes.length !== m.bytes || sha !== m.sha256) {
      throw new Error(
        `merge: ${name}: its file ${file} is ${
          bytes.length < (m.bytes ?? 0) ? "truncated" : "not the one its manifest describes"
        } (${bytes.length} bytes, sha256 ${sha.slice(0, 12)}…; the manifest says ${m.bytes} bytes, sha256 ${
          m.sha256?.slice(0, 12)
        }…); ${again}`,
      );
    }
    const { entries, dataStart } = validateSafetensors(bytes, file);
    const view = (key: string, values: number) => {
      const e = entries.find((x) => x.name === key);
      if (!e || e.dtype !== "F32" || e.end - e.begin !== 4 * values) {
        throw new Error(`merge: ${name}: ${file} has no F32 "${key}" of ${values} values; ${again}`);
      }
      return new Float32Array(bytes.slice(dataStart + e.begin, dataStart + e.end).buffer);
    };
    attributions.set(view(job.method, (end - start) * per), start * per);
    for (const e of entries) {
      if (!e.name.startsWith("perRow.")) continue;
      (perRow[e.name.slice(7)] ??= new Float32Array(job.total)).set(view(e.name, end - start), start);
    }
    seconds += m.seconds ?? 0;
  }
  return { bytes: attributionsFile(job, attributions), perRow, manifests, seconds };
}

/**
 * One progress line: rows done, rate and time left, naming the shard when there is one.
 *
 * @example
 * ```ts
 * import { progressLine } from "glassbox";
 * const line = progressLine("Saliency", 50, 100, 2, { index: 1, count: 4 });
 * if (line !== "Saliency, shard 1/4: 50/100 examples, 25 examples/s, ETA 2 s") throw new Error(line);
 * ```
 */
export function progressLine(
  label: string,
  done: number,
  total: number,
  seconds: number,
  spec?: ShardSpec | null,
): string {
  const rate = seconds > 0 ? done / seconds : 0;
  const eta = rate > 0 ? `${((total - done) / rate).toFixed(0)} s` : "?";
  return `${label}${spec ? `, shard ${spec.index}/${spec.count}` : ""}: ${done}/${total} examples, ${
    rate.toFixed(0)
  } examples/s, ETA ${eta}`;
}

/**
 * The summary of a whole-data-set run (single or merged): method, examples, seconds, shards, and
 * for each per-row number its median, 99th percentile and maximum.
 *
 * @example
 * ```ts
 * import { runSummary } from "glassbox";
 * const s = runSummary("ig", 4, { delta: Float32Array.from([4, 1, 3, 2]) }, 1.5);
 * if (JSON.stringify(s.delta) !== '{"median":3,"p99":4,"max":4}') throw new Error(JSON.stringify(s));
 * ```
 */
export function runSummary(
  method: string,
  total: number,
  perRow: Record<string, Float32Array>,
  seconds: number,
  shards?: number,
): Record<string, unknown> {
  const out: Record<string, unknown> = { method, images: total, seconds };
  if (shards !== undefined) out.shards = shards;
  for (const [k, v] of Object.entries(perRow)) {
    const sorted = Float64Array.from(v).sort();
    const n = sorted.length;
    out[k] = { median: sorted[Math.floor(n / 2)], p99: sorted[Math.floor(0.99 * n)], max: sorted[n - 1] };
  }
  return out;
}
