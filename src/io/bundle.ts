/**
 * glassbox for a browser page: `deno bundle` of src/web.ts (the engine, explanations, pictures
 * and words; nothing that touches files, processes or the environment) into one ES module.
 * Used by `deno task bundle` and by `deno task serve --static`.
 */

/** What `bundleWeb` wrote. */
export interface BundleResult {
  /** The file written. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** How long bundling took, in seconds. */
  seconds: number;
}

/**
 * Bundles this checkout's src/web.ts for the browser (`deno bundle --platform browser --format
 * esm`) into `out`, written whole or not at all (to `out.tmp` first, then renamed). Runs this
 * Deno when the permission names its path, else the `deno` on PATH (`--allow-run=deno`):
 * `Deno.execPath()` is the resolved binary, which a symlinked `deno` on PATH does not match.
 *
 * @example
 * ```ts ignore
 * import { bundleWeb } from "glassbox";
 * const { bytes } = await bundleWeb("dist/glassbox.js");
 * console.log(`${bytes} bytes`);
 * ```
 */
export async function bundleWeb(
  out: string,
  progress: (line: string) => void = () => {},
): Promise<BundleResult> {
  const here = new URL(".", import.meta.url);
  if (here.protocol !== "file:") {
    throw new Error(`glassbox is bundled from a local checkout, not from ${here.href}`);
  }
  const entry = new URL("../web.ts", here), config = new URL("../../deno.json", here);
  progress(`bundling glassbox for the browser: deno bundle ${entry.pathname}`);
  const t0 = performance.now();
  const own = Deno.permissions.querySync({ name: "run", command: Deno.execPath() }).state === "granted";
  const tmp = `${out}.tmp`;
  const run = await new Deno.Command(own ? Deno.execPath() : "deno", {
    args: [
      "bundle",
      "--quiet",
      "--config",
      config.pathname,
      "--platform",
      "browser",
      "--format",
      "esm",
      "--output",
      tmp,
      entry.pathname,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!run.success) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`deno bundle failed (exit ${run.code}): ${new TextDecoder().decode(run.stderr).trim()}`);
  }
  try {
    await Deno.rename(tmp, out);
  } catch (e) {
    await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  progress(`bundled in ${seconds.toFixed(1)} s`);
  return { path: out, bytes: (await Deno.stat(out)).size, seconds };
}
