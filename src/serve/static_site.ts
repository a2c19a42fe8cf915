/**
 * The dashboard without a server (`deno task serve --static DIR`): a folder of three files any
 * static file host can serve — index.html (the live dashboard's page with its style and scripts
 * inlined), glassbox.js (glassbox bundled for the browser from src/web.ts) and the checkpoint.
 * The page loads the bundle and the checkpoint and computes the prediction, the heatmaps, the
 * feature maps and the words in the visitor's browser on WebGPU, with the live dashboard's own
 * code: its page script (src/serve/static/app.js) talks to the same `Explainer`
 * (src/serve/explainer.ts) through a local `api` (src/serve/site/in_browser.js) instead of HTTP.
 */
import { loadModel } from "../io/checkpoint.ts";
import { UsageError } from "../io/cli.ts";
import { bundleWeb } from "../io/bundle.ts";
import { mnistProfile } from "../data/mnist.ts";
import type { ExplanationProfile } from "../models/profile.ts";
import { dashboardNovelty } from "./server.ts";

/** The three parts of the page and what it is told about the model. */
export interface StaticPageParts {
  /** The live dashboard's index.html. */
  html: string;
  /** Its style.css. */
  css: string;
  /** Its app.js. */
  app: string;
  /** The script that answers app.js's calls in the browser (src/serve/site/in_browser.js). */
  local: string;
  /** What the page reads before it starts: the checkpoint's file name and, for a checkpoint without one, the profile. */
  config: {
    checkpoint: string;
    bundle: string;
    profile?: ExplanationProfile;
    /** The novelty reference of the live dashboard's words (MNIST's model), as numbers. */
    novelty?: { classMeans: number[][]; threshold: number; percentile: number };
  };
}

/** Replaces the one occurrence of `from` in `text`, or says that the page has changed. */
function replaceOnce(text: string, from: string, to: string): string {
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) {
    throw new Error(
      `the live dashboard's page has ${at < 0 ? "no" : "more than one"} ${
        JSON.stringify(from)
      }; update src/serve/static_site.ts`,
    );
  }
  return text.slice(0, at) + to + text.slice(at + from.length);
}

/** Text that can stand inside an inline <script> or <style> element (it must not close it). */
function inlinable(text: string, tag: "script" | "style"): string {
  if (new RegExp(`</${tag}`, "i").test(text)) throw new Error(`inline ${tag} text contains </${tag}`);
  return text;
}

const EXTRA_CSS = `
#runtime-note {
  max-width: 1320px;
  margin: 10px auto 0;
  padding: 6px 18px;
  box-sizing: border-box;
}
#runtime-note.error {
  color: #a40000;
  font-weight: 600;
}
`;

/**
 * The static dashboard's index.html: the live page with its CSS and scripts inlined, a line under
 * the header saying where the computing happens (filled in by the page with the WebGPU adapter,
 * or with the reason it cannot run), and the page's configuration as JSON.
 *
 * @example
 * ```ts
 * import { staticDashboardPage } from "glassbox";
 * const html = staticDashboardPage({
 *   html: "<title>glassbox dashboard</title>" + '<link rel="stylesheet" href="/static/style.css">' +
 *     "<header>glassbox live dashboard: see why</header>" + '<script src="/static/app.js"></script>',
 *   css: "b{}",
 *   app: "app();",
 *   local: "local();",
 *   config: { checkpoint: "m.safetensors", bundle: "glassbox.js" },
 * });
 * if (!html.includes("<style>\nb{}") || html.indexOf("local();") > html.indexOf("app();")) throw new Error(html);
 * if (!html.includes('"checkpoint":"m.safetensors"')) throw new Error("no configuration");
 * if (!html.includes("dashboard, computed in your browser: see why")) throw new Error("says where it runs");
 * ```
 */
export function staticDashboardPage(parts: StaticPageParts): string {
  let html = parts.html;
  html = replaceOnce(
    html,
    '<link rel="stylesheet" href="/static/style.css">',
    `<style>\n${inlinable(parts.css + EXTRA_CSS, "style")}</style>`,
  );
  html = replaceOnce(
    html,
    "</header>",
    '</header>\n    <p id="runtime-note" class="hint" aria-live="polite">Loading glassbox and the model into this browser…</p>',
  );
  html = replaceOnce(html, "live dashboard:", "dashboard, computed in your browser:");
  html = replaceOnce(
    html,
    "<title>glassbox dashboard</title>",
    "<title>glassbox dashboard (in your browser)</title>",
  );
  // the configuration is JSON in a non-script element type: "<" is escaped so no text can close it
  const config = JSON.stringify(parts.config).replace(/</g, "\\u003c");
  html = replaceOnce(
    html,
    '<script src="/static/app.js"></script>',
    `<script type="application/json" id="glassbox-config">${config}</script>\n` +
      `    <script>\n${inlinable(parts.local, "script")}</script>\n` +
      `    <script>\n${inlinable(parts.app, "script")}</script>`,
  );
  return html;
}

/** What `writeStaticDashboard` takes. */
export interface StaticDashboardOptions {
  /** The checkpoint (as `serveDashboard` takes it: saved with its profile, or an old MNIST one). */
  checkpoint: string;
  /** The folder to write; it must not exist, or hold a static dashboard written before (replaced). */
  dir: string;
  /** Hears what is being done. */
  progress?: (line: string) => void;
}

/** What was written. */
export interface StaticDashboardFiles {
  /** The folder. */
  dir: string;
  /** Each file's name and size in bytes. */
  files: { name: string; bytes: number }[];
}

const BUNDLE = "glassbox.js";
const MARK = 'id="glassbox-config"';

/** The checkpoint's name in the folder: its own, unless it would clash with the page or the bundle. */
function checkpointName(path: string): string {
  const base = path.split(/[\\/]/).pop() ?? "";
  return /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(base) && base !== "index.html" && base !== BUNDLE
    ? base
    : "model.safetensors";
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Whether `dir` is a folder this function wrote before (its index.html carries the page's configuration). */
async function isStaticDashboard(dir: string): Promise<boolean> {
  try {
    return (await Deno.readTextFile(`${dir}/index.html`)).includes(MARK);
  } catch {
    return false;
  }
}

/**
 * Writes the static dashboard for a checkpoint into `dir`: index.html, glassbox.js (bundled now
 * from this checkout's src/web.ts by `deno bundle`, run through `Deno.execPath()`) and the
 * checkpoint. Everything is written into `dir.tmp` first and renamed to `dir` only when complete,
 * so a failure leaves no half folder; a folder written before is replaced. The checkpoint is
 * loaded once here, so one that does not load fails now rather than in a visitor's browser.
 *
 * @example
 * ```ts ignore
 * import { writeStaticDashboard } from "glassbox";
 * await writeStaticDashboard({ checkpoint: "out/mnist/checkpoint.safetensors", dir: "out/site" });
 * // serve out/site with any static file server and open index.html
 * ```
 */
export async function writeStaticDashboard(options: StaticDashboardOptions): Promise<StaticDashboardFiles> {
  const { checkpoint, progress = () => {} } = options;
  const dir = options.dir.replace(/[\\/]+$/, "");
  if (dir === "") throw new UsageError("--static needs a folder name");
  if ((await exists(dir)) && !(await isStaticDashboard(dir))) {
    throw new UsageError(
      `--static ${dir} exists and is not a static dashboard written before; give a new folder (it is replaced only when it holds one)`,
    );
  }
  const here = new URL(".", import.meta.url);
  if (here.protocol !== "file:") {
    throw new Error(`the static dashboard is built from a local checkout of glassbox, not from ${here.href}`);
  }
  progress(`loading ${checkpoint}`);
  const { profile: saved } = await loadModel(checkpoint);
  // a checkpoint from before profiles travelled with the model is the MNIST model
  const profile = saved ?? mnistProfile();
  // the live dashboard's words judge novelty against training data; the page gets the same reference
  const novelty = await dashboardNovelty(profile);
  if (novelty) progress("the words' novelty reference: class means of 10,000 MNIST training images");
  const read = (path: string) => Deno.readTextFile(new URL(path, here));
  const name = checkpointName(checkpoint);
  const html = staticDashboardPage({
    html: await read("static/index.html"),
    css: await read("static/style.css"),
    app: await read("static/app.js"),
    local: await read("site/in_browser.js"),
    config: {
      checkpoint: name,
      bundle: BUNDLE,
      profile: saved ? undefined : profile,
      novelty: novelty && {
        classMeans: novelty.classMeans!.map((m) => Array.from(m)),
        threshold: novelty.threshold,
        percentile: novelty.percentile,
      },
    },
  });
  const tmp = `${dir}.tmp`;
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
  await Deno.mkdir(tmp, { recursive: true });
  try {
    await bundleWeb(`${tmp}/${BUNDLE}`, progress);
    await Deno.copyFile(checkpoint, `${tmp}/${name}`);
    await Deno.writeTextFile(`${tmp}/index.html`, html);
    const files = [];
    for (const f of ["index.html", BUNDLE, name]) {
      files.push({ name: f, bytes: (await Deno.stat(`${tmp}/${f}`)).size });
    }
    // swap the finished folder in: a folder written before is moved aside first, then removed
    const old = `${dir}.old`;
    await Deno.remove(old, { recursive: true }).catch(() => {});
    const replacing = await exists(dir);
    if (replacing) await Deno.rename(dir, old);
    await Deno.rename(tmp, dir);
    if (replacing) await Deno.remove(old, { recursive: true });
    return { dir, files };
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  }
}
