/**
 * Drives the dashboard in headless Chromium for a model that is not MNIST's: gives the input its
 * modality asks for (image: loads example 0, then uploads the picture UPLOAD when given, and asks
 * for the words in Chinese; tabular: types a value per feature; tokens: types a text), keeps the
 * preselected methods, waits for the answer and prints what the page shows as JSON. Run as a
 * subprocess (deno run -A): playwright probes /proc. Several dashboards, separated by "+", share
 * one browser (each in a fresh context, as a new browser would be) and are driven at once; one
 * JSON line each, in the order given.
 *   deno run -A tests/browser_models.ts URL [SCREENSHOT.png] [UPLOAD.png] [+ URL [SCREENSHOT.png] [UPLOAD.png]]...
 */
// deno-lint-ignore no-import-prefix
import { chromium } from "npm:playwright-core@1.65.1";

const views: string[][] = [[]];
for (const a of Deno.args) a === "+" ? views.push([]) : views.at(-1)!.push(a);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });

/** What the dashboard at `url` shows once its input is given and explained (see the header). */
async function view(url: string, screenshot?: string, upload?: string): Promise<object> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector("#methods input");
  const firstNote = await page.evaluate(`document.getElementById("input-note").textContent`);
  const info = await (await page.request.get(`${url}api/info`)).json();
  if (info.modality === "image") {
    await page.click("#load-test");
    await page.waitForFunction('/^Example 0/.test(document.getElementById("input-note").textContent)');
    if (upload) {
      await page.setInputFiles("#upload", upload);
      await page.waitForFunction('/resized to/.test(document.getElementById("input-note").textContent)');
    }
    if (info.words) await page.selectOption("#lang", "zh");
  } else if (info.modality === "tabular") {
    const fields = await page.$$("#features input");
    for (const [i, f] of fields.entries()) await f.fill(String((i % 3) - 0.5));
  } else {
    await page.fill("#text", "The very good day, indeed!");
  }
  await page.click("#explain");
  await page.waitForFunction(
    '(document.querySelectorAll("#heatmaps figure, #heatmaps .map").length >= 1 || document.querySelector("#progress .error")) && !document.getElementById("explain").disabled',
    undefined,
    { timeout: 120000 },
  );
  const seen = await page.evaluate(`({
    model: document.getElementById("model-note").textContent,
    note: document.getElementById("input-note").textContent,
    prediction: document.getElementById("prediction").textContent,
    bars: [...document.querySelectorAll("#probabilities .bar span:first-child")].map((s) => s.textContent),
    maps: [...document.querySelectorAll("#heatmaps figcaption, #heatmaps .map h3")].map((e) => e.textContent),
    features: [...document.querySelectorAll("#heatmaps .map:first-child .fbar .name")].map((e) => e.textContent),
    tokens: [...document.querySelectorAll("#heatmaps .map:first-child .tok")].map((e) => e.textContent),
    keys: document.querySelectorAll("#heatmaps .key").length,
    words: !document.getElementById("words-section").hidden,
    progress: document.getElementById("progress").textContent,
    explanation: document.getElementById("explanation").textContent,
    input: typeof current === "object" && current !== null ? current : null,
    mapsNote: document.getElementById("maps-note").textContent,
  })`);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  return { ...(seen as object), firstNote, errors };
}

try {
  const seen = await Promise.all(views.map(([url, screenshot, upload]) => view(url, screenshot, upload)));
  for (const s of seen) console.log(JSON.stringify(s));
} finally {
  await browser.close();
}
