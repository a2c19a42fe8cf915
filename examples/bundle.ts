/**
 * `deno task bundle`: glassbox for a browser page, one ES module (src/web.ts bundled by `deno
 * bundle`: the engine, explanations, pictures and words; no file, process or environment access
 * inside). The logic is `bundleWeb` in src/io/bundle.ts.
 */
import * as gb from "../mod.ts";

const HELP = `deno task bundle [options]
  --out F    where to write the bundle (default dist/glassbox.js)
  --help     this text
Import it in a page with <script type="module">: import * as gb from "./glassbox.js"
(see README, "In a browser").`;

const FLAGS = {
  out: { type: "string", default: "dist/glassbox.js" },
  help: { type: "boolean" },
} as const;

async function main(): Promise<void> {
  const { flags } = gb.parseFlags(Deno.args, FLAGS);
  if (flags.help) {
    console.log(HELP);
    return;
  }
  const out = flags.out ?? "dist/glassbox.js";
  if (out === "" || out.endsWith("/")) {
    throw new gb.UsageError("--out needs a file name (such as dist/glassbox.js)");
  }
  if ((await Deno.stat(out).catch(() => null))?.isDirectory) {
    throw new gb.UsageError(`--out ${out} is a folder; give a file name (such as ${out}/glassbox.js)`);
  }
  const dir = out.includes("/") ? out.slice(0, out.lastIndexOf("/")) : ".";
  await Deno.mkdir(dir, { recursive: true });
  const r = await gb.bundleWeb(out, (line) => console.log(line));
  console.log(`wrote ${r.path} (${r.bytes.toLocaleString("en")} bytes)`);
}

if (import.meta.main) await gb.runMain("bundle", main);
