/**
 * Opens a page in headless Chromium (Debian's, driven by playwright-core) and prints what a test
 * needs as JSON: console and page errors, failed requests, each image's load state, and the
 * navigation links without a target. Playwright needs permissions a test should not have (it
 * probes /proc), so tests run this as a subprocess: deno run -A tests/browser_check.ts URL [PNG].
 */
import { chromium } from "playwright-core";

const [url, screenshot] = Deno.args;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
  const errors: string[] = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("requestfailed", (q) => errors.push(`failed: ${q.url().slice(0, 80)}`));
  await page.goto(url);
  await page.waitForLoadState("load");
  const images = await page.evaluate(
    "[...document.images].map((i) => ({ ok: i.complete && i.naturalWidth > 0, alt: i.alt }))",
  );
  const missingSections = await page.evaluate(
    '[...document.querySelectorAll("nav a")].map((a) => a.hash.slice(1)).filter((id) => !document.getElementById(id))',
  );
  const title = await page.title();
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
  console.log(JSON.stringify({ title, errors, images, missingSections }));
} finally {
  await browser.close();
}
