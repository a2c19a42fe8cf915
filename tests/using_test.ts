// @types/node (loaded by the other test files' node: imports; deno test checks them as one
// program) declares Symbol.dispose a second time, and TypeScript then rejects `using` on any
// class. The runtime behaviour is what this test checks; the type error is upstream's.
import * as gb from "../mod.ts";

Deno.test("a `using` declaration disposes the tensor at the end of its block", () => {
  const before = gb.poolStats().liveBuffers;
  let inside = 0;
  {
    // @ts-ignore: see the note at the top of this file
    using t = gb.zeros([8]);
    inside = gb.poolStats().liveBuffers;
    if (t.size !== 8) throw new Error("wrong size");
  }
  if (inside !== before + 1) {
    throw new Error(`expected one live buffer inside the block, got ${inside - before}`);
  }
  const after = gb.poolStats().liveBuffers;
  if (after !== before) {
    throw new Error(`expected the buffer freed after the block, live ${after} vs ${before}`);
  }
});
