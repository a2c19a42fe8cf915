/** The dashboards' Chromium drivers (browser_dashboard.ts, browser_static.ts) draw the same digit. */
// deno-lint-ignore no-import-prefix
import type { Page } from "npm:playwright-core@1.65.1";

/** Draws a "1" (a slightly slanted vertical stroke) on the page's #canvas with the mouse. */
export async function drawOne(page: Page): Promise<void> {
  const box = (await (await page.$("#canvas"))!.boundingBox())!;
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.15);
  await page.mouse.down();
  for (let k = 1; k <= 20; k++) {
    await page.mouse.move(
      box.x + box.width * (0.5 - 0.04 * k / 20),
      box.y + box.height * (0.15 + 0.7 * k / 20),
    );
  }
  await page.mouse.up();
}
