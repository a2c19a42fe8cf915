/**
 * TensorBoard's Embedding Projector files: `projector_config.pbtxt` naming, for each embedding,
 * a tensor TSV (one point a line, values separated by tabs), a metadata TSV (one line a point;
 * a header line only when there are several columns) and a sprite (every thumbnail in one
 * square grid, row by row, at most 8192 × 8192 pixels). Written next to a run's event files,
 * `tensorboard --logdir` shows them in its Projector tab. Every file is written atomically.
 */
import { encodePng, type Image } from "../viz/png.ts";
import { writeAtomic, writeTextAtomic } from "./file.ts";

/** One embedding for the projector. */
export interface ProjectorEmbedding {
  /** Its name in TensorBoard (`tensor_name`), e.g. "conv penultimate (fc1)". */
  name: string;
  /** N × dim numbers, row-major. */
  vectors: Float32Array;
  /** Numbers per point. */
  dim: number;
  /** Per-point metadata: the column names and one row of values per point. */
  metadata?: { columns: string[]; rows: (string | number)[][] };
  /** Per-point thumbnails, all the same size (one per point), packed into the sprite. */
  images?: Image[];
}

/** The largest sprite TensorBoard accepts, per side, in pixels. */
export const MAX_SPRITE_SIDE = 8192;

/** A file-name-safe form of a name ("conv penultimate (fc1)" → "conv_penultimate_fc1"). */
function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]+/g, "_").replace(/^_+|_+$/g, "") || "embedding";
}

/** A value as one TSV cell: tabs and line breaks become spaces, so a cell never splits. */
function cell(v: string | number): string {
  return String(v).replace(/[\t\r\n]+/g, " ");
}

/** A string literal in protobuf text format. */
function quote(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** The tensor TSV: one point a line, its values separated by tabs. */
export function tensorTsv(vectors: Float32Array, dim: number): string {
  if (!Number.isInteger(dim) || dim < 1 || vectors.length % dim !== 0) {
    throw new Error(`projector: ${vectors.length} numbers are not a whole number of ${dim}-vectors`);
  }
  const lines: string[] = [];
  for (let i = 0; i < vectors.length; i += dim) {
    const row = vectors.subarray(i, i + dim);
    const bad = row.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`projector: point ${i / dim} holds a non-finite value (${row[bad]})`);
    lines.push(Array.from(row, (v) => String(v)).join("\t"));
  }
  return lines.join("\n") + "\n";
}

/**
 * The metadata TSV: one line a point; with one column there is no header line (TensorBoard's
 * rule), with several the first line names them.
 */
export function metadataTsv(columns: string[], rows: (string | number)[][]): string {
  if (columns.length === 0) throw new Error("projector: metadata needs at least one column");
  rows.forEach((r, i) => {
    if (r.length !== columns.length) {
      throw new Error(`projector: metadata row ${i} has ${r.length} values for ${columns.length} columns`);
    }
  });
  const lines = rows.map((r) => r.map(cell).join("\t"));
  if (columns.length > 1) lines.unshift(columns.map(cell).join("\t"));
  return lines.join("\n") + "\n";
}

/**
 * The sprite: every thumbnail in a square grid of ⌈√N⌉ columns, row by row from the top left,
 * the cells past the last image transparent. An error if the images differ in size or the sprite
 * would pass 8192 pixels a side.
 */
export function spriteImage(images: Image[]): Image {
  if (images.length === 0) throw new Error("projector: a sprite needs at least one image");
  const { width: w, height: h } = images[0];
  images.forEach((im, i) => {
    if (im.width !== w || im.height !== h) {
      throw new Error(`projector: sprite image ${i} is ${im.width}×${im.height}, the first is ${w}×${h}`);
    }
  });
  const side = Math.ceil(Math.sqrt(images.length));
  if (side * Math.max(w, h) > MAX_SPRITE_SIDE) {
    throw new Error(
      `projector: ${images.length} thumbnails of ${w}×${h} make a sprite of ${side * w}×${
        side * h
      } pixels, over TensorBoard's ${MAX_SPRITE_SIDE}×${MAX_SPRITE_SIDE}; use fewer points or smaller thumbnails`,
    );
  }
  const W = side * w, H = side * h, data = new Uint8Array(W * H * 4);
  images.forEach((im, k) => {
    const x0 = (k % side) * w, y0 = Math.floor(k / side) * h;
    for (let y = 0; y < h; y++) {
      data.set(im.data.subarray(y * w * 4, (y + 1) * w * 4), ((y0 + y) * W + x0) * 4);
    }
  });
  return { width: W, height: H, data };
}

/**
 * Each embedding's sprite file: `<name>_sprite.png`, or the first one's when embeddings share the
 * same images array (one sprite for a layer and its projections).
 */
function spriteNames(embeddings: ProjectorEmbedding[]): (string | undefined)[] {
  return embeddings.map((e) => {
    if (!e.images?.length) return undefined;
    const first = embeddings.find((o) => o.images === e.images)!;
    return `${slug(first.name)}_sprite.png`;
  });
}

/** The `projector_config.pbtxt` text for embeddings whose files are named as `writeProjector` names them. */
export function projectorConfig(embeddings: ProjectorEmbedding[]): string {
  const sprites = spriteNames(embeddings);
  return embeddings.map((e, k) => {
    const s = slug(e.name);
    const lines = [
      "embeddings {",
      `  tensor_name: ${quote(e.name)}`,
      `  tensor_path: ${quote(`${s}_tensors.tsv`)}`,
    ];
    if (e.metadata) lines.push(`  metadata_path: ${quote(`${s}_metadata.tsv`)}`);
    if (e.images?.length) {
      lines.push(
        "  sprite {",
        `    image_path: ${quote(sprites[k]!)}`,
        `    single_image_dim: ${e.images[0].width}`,
        `    single_image_dim: ${e.images[0].height}`,
        "  }",
      );
    }
    lines.push("}");
    return lines.join("\n");
  }).join("\n") + "\n";
}

/**
 * Writes TensorBoard's projector files for some embeddings into `dir` (a run's folder, next to
 * its event files): `projector_config.pbtxt` and, per embedding, `<name>_tensors.tsv`,
 * `<name>_metadata.tsv` (if metadata) and `<name>_sprite.png` (if images; embeddings that share
 * one images array share the first one's sprite). Everything is
 * checked before the first file is written; each file is written atomically. Returns the paths
 * written.
 *
 * @example
 * ```ts
 * import { writeProjector } from "glassbox";
 * const dir = await Deno.makeTempDir();
 * await writeProjector(dir, [{
 *   name: "points", vectors: new Float32Array([0, 1, 2, 3]), dim: 2,
 *   metadata: { columns: ["label"], rows: [["a"], ["b"]] },
 * }]);
 * const meta = await Deno.readTextFile(`${dir}/points_metadata.tsv`);
 * if (meta !== "a\nb\n") throw new Error("one column: no header line");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeProjector(dir: string, embeddings: ProjectorEmbedding[]): Promise<string[]> {
  if (embeddings.length === 0) throw new Error("projector: no embeddings to write");
  const names = embeddings.map((e) => slug(e.name));
  const dup = names.find((s, i) => names.indexOf(s) !== i);
  if (dup) throw new Error(`projector: two embeddings would share the file name "${dup}"`);
  // everything is made (and checked) first, then written
  const files: [string, string | Uint8Array][] = [];
  for (const e of embeddings) {
    const n = e.vectors.length / e.dim, s = slug(e.name);
    files.push([`${s}_tensors.tsv`, tensorTsv(e.vectors, e.dim)]);
    if (e.metadata) {
      if (e.metadata.rows.length !== n) {
        throw new Error(`projector: "${e.name}" has ${n} points but ${e.metadata.rows.length} metadata rows`);
      }
      files.push([`${s}_metadata.tsv`, metadataTsv(e.metadata.columns, e.metadata.rows)]);
    }
    if (e.images?.length) {
      if (e.images.length !== n) {
        throw new Error(`projector: "${e.name}" has ${n} points but ${e.images.length} sprite images`);
      }
      if (embeddings.find((o) => o.images === e.images) === e) {
        files.push([`${s}_sprite.png`, encodePng(spriteImage(e.images))]);
      }
    }
  }
  files.push(["projector_config.pbtxt", projectorConfig(embeddings)]);
  const written: string[] = [];
  for (const [name, body] of files) {
    const path = `${dir.replace(/\/+$/, "")}/${name}`;
    await (typeof body === "string" ? writeTextAtomic(path, body) : writeAtomic(path, body));
    written.push(path);
  }
  return written;
}
