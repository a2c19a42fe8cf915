/**
 * Drives the browser IG benchmark's page: opens URL in headless Chromium (Debian's, through
 * playwright-core) on SwiftShader's WebGPU, waits for the page's `igResult` and prints it as JSON.
 * Playwright needs permissions the benchmark should not have (it probes /proc), so
 * bench/browser_ig.ts runs this as a subprocess: deno run -A bench/browser/drive.ts URL.
 */
// deno-lint-ignore no-import-prefix
import { chromium } from "npm:playwright-core@1.65.1";

const [url] = Deno.args;
if (!url) {
  console.error("usage: deno run -A bench/browser/drive.ts URL");
  Deno.exit(2);
}
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader"],
});
try {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForFunction("window.igResult !== undefined", null, { timeout: 20 * 60_000, polling: 250 });
  const r = await page.evaluate("window.igResult") as { error?: string };
  if (errors.length && !r.error) r.error = errors.join("; ");
  console.log(JSON.stringify(r));
} finally {
  await browser.close();
}
