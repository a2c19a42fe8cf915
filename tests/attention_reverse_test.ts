/** The reversal transformer: a known right answer for attention, and 2,000 steps in flat memory. */
import assert from "node:assert/strict";
import { drawReversal, runReversal } from "../examples/attention_reverse.ts";

Deno.test("the reversal transformer reverses held-out sequences, one head attends to n−1−i, and 2,000 steps leave the pool flat", async () => {
  const r = await runReversal({ steps: 2000 });
  try {
    assert.ok(
      r.exactAccuracy >= 0.99,
      `exact-sequence accuracy ${r.exactAccuracy} on 1,000 held-out sequences`,
    );
    // the known answer: query i must read key n−1−i
    assert.ok(
      r.bestHead.mass >= 0.9,
      `best head puts ${r.bestHead.mass} of its attention on n−1−i (all: ${
        JSON.stringify(r.antiDiagonalMass)
      })`,
    );
    // every other position gets what is left: the anti-diagonal is a real peak, not a uniform 1/n
    assert.ok(r.bestHead.mass > 5 / r.test.length);
    // memory: from the 100th step to the 2,000th the pool's live buffers and bytes do not move
    assert.deepEqual(r.pool.end, r.pool.early, "live buffers and bytes after step 100 and after step 2000");
    assert.ok(r.losses.at(-1)!.loss < r.losses[0].loss, "the loss went down");
    const dir = await Deno.makeTempDir();
    const files = await drawReversal(r, dir);
    for (const f of files) {
      const svg = await Deno.readTextFile(f);
      assert.ok(svg.startsWith("<svg") && svg.endsWith("</svg>"), `${f} is a whole SVG`);
    }
    const grid = await Deno.readTextFile(`${dir}/attention.svg`);
    assert.match(grid, /layer 0 · head \d \(\d+% on n−1−i\)/);
    await Deno.remove(dir, { recursive: true });
  } finally {
    r.model.parameters().forEach((p) => p.dispose());
  }
});
