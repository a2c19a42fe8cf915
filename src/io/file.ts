/**
 * Writing files so that a failed or interrupted write never leaves a half-written file:
 * everything is written to a temporary name beside the target and renamed over it when complete.
 * (Deno file APIs: this is the edge where bytes made by the pure modules reach the disk.)
 */
import { encodePng, type Image } from "../viz/png.ts";
import { uninterrupted } from "./cli.ts";

/** Options for `writeAtomic`. */
export interface WriteOptions {
  /** Bytes per write call (default 4 MiB). */
  chunkSize?: number;
  /** Called after each chunk with the bytes written so far; throwing aborts the save. */
  onProgress?: (written: number, total: number) => void;
}

/**
 * Writes bytes to a temporary file beside `path` (creating its folder), then renames it over `path`.
 * A Ctrl-C under `runMain` waits for it (see `uninterrupted`).
 */
export function writeAtomic(path: string, bytes: Uint8Array, options: WriteOptions = {}): Promise<void> {
  return uninterrupted(() => write(path, bytes, options));
}

async function write(path: string, bytes: Uint8Array, options: WriteOptions): Promise<void> {
  const tmp = `${path}.tmp-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  const chunk = options.chunkSize ?? 4 << 20;
  const slash = path.lastIndexOf("/");
  if (slash > 0) await Deno.mkdir(path.slice(0, slash), { recursive: true }); // the folder, as needed
  try {
    const f = await Deno.open(tmp, { write: true, create: true, truncate: true });
    try {
      let off = 0;
      while (off < bytes.length) {
        off += await f.write(bytes.subarray(off, Math.min(bytes.length, off + chunk)));
        options.onProgress?.(off, bytes.length);
      }
      await f.sync();
    } finally {
      f.close();
    }
    await Deno.rename(tmp, path);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`saving ${path} failed, the previous file is untouched: ${(e as Error).message}`);
  }
}

/**
 * Whether something exists at `path` (false, not an error, when it does not).
 *
 * @example
 * ```ts
 * import { fileExists } from "glassbox";
 * await fileExists("/nonexistent/checkpoint.safetensors"); // false
 * ```
 */
export async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes text atomically (UTF-8). */
export function writeTextAtomic(path: string, text: string): Promise<void> {
  return writeAtomic(path, new TextEncoder().encode(text));
}

/**
 * Writes an image as a PNG file, atomically.
 *
 * @example
 * ```ts
 * import { writePng } from "glassbox";
 * await writePng("out/pixel.png", { width: 1, height: 1, data: new Uint8Array([255, 0, 0, 255]) });
 * ```
 */
export async function writePng(path: string, img: Image): Promise<void> {
  await writeAtomic(path, encodePng(img));
}

/**
 * Writes one epoch's files (a checkpoint and the files that describe it) atomically and
 * together: a Ctrl-C during the writes waits for all of them, so a run directory never holds a
 * checkpoint of one epoch beside the history of another.
 *
 * @example
 * ```ts
 * import { writeFilesTogether } from "glassbox";
 * await Deno.mkdir("out", { recursive: true });
 * await writeFilesTogether("out", [{ name: "a.json", data: "{}" }, { name: "b.bin", data: new Uint8Array([1]) }]);
 * if ((await Deno.readTextFile("out/a.json")) !== "{}" || (await Deno.readFile("out/b.bin"))[0] !== 1) {
 *   throw new Error("both files");
 * }
 * ```
 */
export async function writeFilesTogether(
  dir: string,
  files: readonly { name: string; data: string | Uint8Array }[],
): Promise<void> {
  await uninterrupted(async () => {
    for (const f of files) {
      await writeAtomic(
        `${dir}/${f.name}`,
        typeof f.data === "string" ? new TextEncoder().encode(f.data) : f.data,
      );
    }
  });
}
