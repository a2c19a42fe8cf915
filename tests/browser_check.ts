/**
 * Opens a page in headless Chromium (Debian's, driven by playwright-core) and prints what a test
 * needs as JSON: console and page errors, failed requests, each image's load state, the
 * navigation links without a target, the page's `<html lang>`, its visible text and headings,
 * and whether Chinese glyphs render (`glyphs`). Playwright needs permissions a test should not
 * have (it probes /proc), so tests run this as a subprocess:
 * deno run -A tests/browser_check.ts URL [PNG]. FONTCONFIG_FILE, when set, is handed to
 * Chromium (a test hides the CJK fonts with it to see the glyph check fail).
 *
 * The glyph check draws, in the page's own font (the body's font-family, as the page's text
 * and its SVG text fall back through the same fontconfig), eight distinct Chinese characters
 * and a code point no font has (U+10FFFD, the "tofu" box) on a canvas: with a CJK font the
 * eight bitmaps all differ and none is the tofu box; without one every character draws the
 * same box, so all eight bitmaps are identical (and equal to the tofu's when the fallback box
 * is the same).
 */
// deno-lint-ignore no-import-prefix
import { chromium } from "npm:playwright-core@1.65.1";

const [url, screenshot] = Deno.args;
const fc = Deno.env.get("FONTCONFIG_FILE");
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox"],
  ...(fc ? { env: { ...Deno.env.toObject(), FONTCONFIG_FILE: fc } } : {}),
});
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
  const lang = await page.evaluate("document.documentElement.lang");
  const headings = await page.evaluate(
    '[...document.querySelectorAll("h1, h2, h3, th, nav a")].map((h) => h.textContent)',
  );
  const text = await page.evaluate("document.body.innerText");
  const glyphs = await page.evaluate(`(() => {
    const chars = ["模", "型", "错", "误", "校", "准", "梯", "度"];
    const family = getComputedStyle(document.body).fontFamily;
    const canvas = document.createElement("canvas");
    canvas.width = 40; canvas.height = 40;
    const ctx = canvas.getContext("2d", { willReadFrequently: true });
    const draw = (ch) => {
      ctx.fillStyle = "white"; ctx.fillRect(0, 0, 40, 40);
      ctx.fillStyle = "black"; ctx.font = "28px " + family; ctx.textBaseline = "top";
      ctx.fillText(ch, 4, 4);
      const d = ctx.getImageData(0, 0, 40, 40).data;
      let key = "", ink = 0;
      for (let i = 0; i < d.length; i += 4) { key += d[i] < 128 ? "1" : "0"; if (d[i] < 128) ink++; }
      return { key, ink, width: ctx.measureText(ch).width };
    };
    const tofu = draw(String.fromCodePoint(0x10fffd));
    const drawn = chars.map(draw);
    return {
      chars: chars.join(""),
      distinct: new Set(drawn.map((g) => g.key)).size,
      sameAsTofu: drawn.filter((g) => g.key === tofu.key).length,
      ink: drawn.map((g) => g.ink),
      widths: drawn.map((g) => g.width),
      tofuInk: tofu.ink,
    };
  })()`);
  const title = await page.title();
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
  console.log(JSON.stringify({ title, lang, errors, images, missingSections, headings, text, glyphs }));
} finally {
  await browser.close();
}
