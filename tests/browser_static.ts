/**
 * Drives the static dashboard (deno task serve --static) in headless Chromium on SwiftShader's
 * WebGPU: records every request the page makes, draws a "1" on the canvas with the mouse as
 * tests/browser_dashboard.ts does, keeps the methods named on the command line, chooses the
 * language, explains, and prints as JSON what the page shows and what its in-browser api saw
 * (the input it sent and the result, with the values of every map; or, when the explanation fails,
 * what the page says of it, at once rather than at the timeout). With METHODS "-" the page
 * is opened as a browser without WebGPU would (navigator.gpu removed before it runs) and what it
 * says is printed. Several views, separated by "+", share one browser (each in a fresh context, as
 * a new browser would be) and run at once; one JSON line each, in the order given.
 *   deno run -A tests/browser_static.ts URL METHODS(comma-separated, or -) LANG [PNG] [+ URL METHODS LANG [PNG]]...
 */
// deno-lint-ignore no-import-prefix
import { chromium } from "npm:playwright-core@1.65.1";
import { drawOne } from "./browser_draw.ts";

const views: string[][] = [[]];
for (const a of Deno.args) a === "+" ? views.push([]) : views.at(-1)!.push(a);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"],
});
/** What the page at `url` shows (see the header), as an object to print. */
async function view(url: string, methods: string, lang: string, screenshot?: string): Promise<object> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [], requests: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("request", (r) => requests.push(r.url()));
  if (methods === "-") {
    await page.addInitScript("delete Navigator.prototype.gpu");
    await page.goto(url);
    await page.waitForSelector("#runtime-note.error");
    await page.waitForSelector("#progress .error");
    const said = await page.evaluate(`({
      runtime: document.getElementById("runtime-note").textContent,
      progress: document.getElementById("progress").textContent,
    })`);
    if (screenshot) await page.screenshot({ path: screenshot });
    return { ...(said as object), requests, errors };
  }
  const t0 = Date.now();
  await page.goto(url);
  await page.waitForSelector("#methods input", { timeout: 60000 });
  const loadedMs = Date.now() - t0;
  for (const box of await page.$$("#methods input:checked")) await box.uncheck();
  for (const m of methods.split(",")) await page.check(`#methods input[value="${m}"]`);
  await page.selectOption("#lang", lang);
  await drawOne(page);
  const t1 = Date.now();
  await page.click("#explain");
  await page.waitForFunction(
    `(document.querySelectorAll("#heatmaps img").length >= ${
      methods.split(",").length
    } || document.querySelector("#progress .error")) && !document.getElementById("explain").disabled`,
    undefined,
    { timeout: 120000 },
  );
  const explainMs = Date.now() - t1;
  const seen = await page.evaluate(`({
    runtime: document.getElementById("runtime-note").textContent,
    prediction: document.getElementById("prediction").textContent,
    bars: [...document.querySelectorAll("#probabilities .bar")].map((b) => b.textContent),
    heatmaps: [...document.querySelectorAll("#heatmaps figure")].map((f) => ({ label: f.querySelector("figcaption").textContent, src: f.querySelector("img").src, ok: f.querySelector("img").complete && f.querySelector("img").naturalWidth > 0 })),
    features: document.querySelector("#features img")?.src ?? null,
    explanation: document.getElementById("explanation").textContent,
    progress: document.getElementById("progress").textContent,
    api: globalThis.glassboxApi.seen,
  })`);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  return { ...(seen as object), requests, errors, loadedMs, explainMs };
}

try {
  const seen = await Promise.all(views.map(([url, methods, lang, png]) => view(url, methods, lang, png)));
  for (const s of seen) console.log(JSON.stringify(s));
} finally {
  await browser.close();
}
