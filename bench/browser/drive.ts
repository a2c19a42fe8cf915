/**
 * Drives the browser IG benchmark's page: opens URL in headless Chromium (Debian's, through
 * playwright-core) on SwiftShader's WebGPU, waits for the page's `igResult` and prints it as JSON.
 * Playwright needs permissions the benchmark should not have (it probes /proc), so
 * bench/browser_ig.ts runs this as a subprocess: deno run --lock=deno.dev.lock -A bench/browser/drive.ts URL.
 */
// deno-lint-ignore no-import-prefix
import { chromium } from "npm:playwright-core@1.65.1";

const [url] = Deno.args;
if (!url) {
  console.error("usage: deno run --lock=deno.dev.lock -A bench/browser/drive.ts URL");
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
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("requestfailed", (q) => errors.push(`failed: ${q.url()}`));
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()}: ${r.url()}`));
  await page.goto(url);
  // the result, or the first error (a module that did not load never sets igResult)
  const deadline = Date.now() + 20 * 60_000;
  let r: { error?: string } | undefined;
  while (!r && !errors.length && Date.now() < deadline) {
    r = await page.evaluate("window.igResult") as { error?: string } | undefined;
    if (!r) await new Promise((ok) => setTimeout(ok, 250));
  }
  r ??= { error: errors.length ? errors.join("; ") : "no result after 20 minutes" };
  if (errors.length && !r.error) r.error = errors.join("; ");
  console.log(JSON.stringify(r));
} finally {
  await browser.close();
}
