/**
 * Drives the dashboard in headless Chromium (playwright-core, Debian's chromium): draws a stroke on
 * the canvas with the mouse, asks for Saliency and Grad-CAM, waits for the answer and prints what
 * the page shows as JSON. Run as a subprocess (deno run -A): playwright probes /proc.
 *   deno run -A tests/browser_dashboard.ts URL [PNG]
 */
// deno-lint-ignore no-import-prefix
import { chromium } from "npm:playwright-core@1.65.1";
import { drawOne } from "./browser_draw.ts";

const [url, screenshot] = Deno.args;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector('#methods input[value="gradcam"]');
  // keep Saliency and Grad-CAM only
  for (const box of await page.$$("#methods input:checked")) await box.uncheck();
  await page.check('#methods input[value="saliency"]');
  await page.check('#methods input[value="gradcam"]');
  await drawOne(page);
  await page.click("#explain");
  await page.waitForFunction(
    'document.querySelectorAll("#heatmaps img").length >= 2 && !document.getElementById("explain").disabled',
    undefined,
    { timeout: 120000 },
  );
  const seen = await page.evaluate(`({
    prediction: document.getElementById("prediction").textContent,
    heatmaps: [...document.querySelectorAll("#heatmaps figure")].map((f) => ({ label: f.querySelector("figcaption").textContent, ok: f.querySelector("img").complete && f.querySelector("img").naturalWidth > 0 })),
    bars: document.querySelectorAll("#probabilities .bar").length,
    explanation: document.getElementById("explanation").textContent,
    features: !!document.querySelector("#features img"),
    progress: document.getElementById("progress").textContent,
  })`);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ ...(seen as object), errors }));
} finally {
  await browser.close();
}
