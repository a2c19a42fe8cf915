/**
 * A folder on disk as a `ShardStore`: where sharded runs write their files and the merge reads
 * them (a shared volume when the shards run on several machines). Writes are atomic.
 */
import type { ShardStore } from "../apps/shard.ts";
import { writeAtomic } from "./file.ts";

/**
 * The files of folder `dir` (created on the first write) as a `ShardStore`: `read` gives null for
 * a missing file, `write` is `writeAtomic`, `list` names the files (none when the folder does not
 * exist), `where` gives the path.
 *
 * @example
 * ```ts
 * import { directoryStore } from "glassbox";
 * const store = directoryStore("out/store-demo");
 * await store.write("a.txt", new TextEncoder().encode("hi"));
 * if ((await store.read("missing.txt")) !== null || store.where("a.txt") !== "out/store-demo/a.txt") {
 *   throw new Error("directoryStore");
 * }
 * ```
 */
export function directoryStore(dir: string): ShardStore {
  const where = (name: string) => `${dir.replace(/\/+$/, "")}/${name}`;
  return {
    where,
    async read(name) {
      try {
        return await Deno.readFile(where(name));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return null;
        throw new Error(`cannot read ${where(name)}: ${(e as Error).message}`);
      }
    },
    write: (name, bytes) => writeAtomic(where(name), bytes),
    async list() {
      const names: string[] = [];
      try {
        for await (const e of Deno.readDir(dir)) if (e.isFile) names.push(e.name);
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return [];
        throw new Error(`cannot list ${dir}: ${(e as Error).message}`);
      }
      return names.sort();
    },
  };
}
