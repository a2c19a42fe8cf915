/**
 * Scopes and no-grad where AsyncLocalStorage does not exist (a browser page): they follow a
 * stack, exact for one task at a time, and overlapping asynchronous blocks are an error, not a
 * silent mix-up. Run in a subprocess with `process` removed before glassbox loads, as a page has it.
 */
import assert from "node:assert/strict";
import { contextKind } from "../mod.ts";
import { StackSlot } from "../src/tensor/context.ts";

Deno.test("under Deno, scopes ride on AsyncLocalStorage", () => {
  assert.equal(contextKind(), "async-local-storage");
});

Deno.test("a stack slot: sync and async runs set the value for their whole duration and restore the outer one", async () => {
  const slot = new StackSlot<string>("scope");
  assert.equal(slot.get(), undefined);
  assert.equal(slot.run("a", () => slot.run("b", () => slot.get())), "b");
  const seen = await slot.run("outer", async () => {
    const before = slot.get();
    await new Promise((r) => setTimeout(r, 5));
    const inner = await slot.run("inner", async () => {
      await Promise.resolve();
      return slot.get();
    });
    return [before, inner, slot.get()];
  });
  assert.deepEqual(seen, ["outer", "inner", "outer"]);
  assert.equal(slot.get(), undefined);
  assert.throws(() =>
    slot.run("x", () => {
      throw new Error("boom");
    }), /boom/);
  assert.equal(slot.get(), undefined);
});

Deno.test("a stack slot refuses two asynchronous runs that overlap in time, naming the problem", async () => {
  const slot = new StackSlot<number>("scope");
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const first = slot.run(1, async () => {
    await gate;
  });
  const second = slot.run(2, async () => {
    await new Promise((r) => setTimeout(r, 20));
  });
  release(); // the first settles while the second, started after it, is still open
  await assert.rejects(first, /two asynchronous scope blocks overlapped in time/);
  await second;
  assert.equal(slot.get(), undefined);
});

Deno.test("without AsyncLocalStorage (process removed before glassbox loads), scope frees what it should across awaits and noGrad holds across awaits; a returned tensor outlives its scopes", async () => {
  const mod = new URL("../mod.ts", import.meta.url).href;
  const code = `
    delete globalThis.process;
    const gb = await import(${JSON.stringify(mod)});
    const base = gb.poolStats().liveBuffers;
    const w = gb.tensor([1, 2, 3], undefined, { requiresGrad: true });
    const total = await gb.scope(async () => {
      const a = w.mul(2);
      await new Promise((r) => setTimeout(r, 5));
      const b = a.add(1).sum();
      return await b.item();
    });
    const afterScope = gb.poolStats().liveBuffers - base;
    // a tensor returned from nested asynchronous scopes outlives them; what they made besides it does not
    const kept = await gb.scope(async () => {
      const a = w.mul(2);
      await new Promise((r) => setTimeout(r, 5));
      return await gb.scope(async () => {
        await Promise.resolve();
        return a.add(1);
      });
    });
    const keptValues = Array.from(await kept.toArray());
    const afterKept = gb.poolStats().liveBuffers - base;
    kept.dispose();
    const tracked = await gb.noGrad(async () => {
      await new Promise((r) => setTimeout(r, 5));
      const y = w.mul(3);
      const r = y.requiresGrad;
      y.dispose();
      return r;
    });
    console.log(JSON.stringify({ kind: gb.contextKind(), total, afterScope, keptValues, afterKept, tracked, grad: gb.isGradEnabled() }));
  `;
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-prompt", code],
    stdout: "piped",
    stderr: "piped",
    env: { XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp" },
  }).output();
  const out = new TextDecoder().decode(r.stdout).trim().split("\n").at(-1) ?? "";
  assert.ok(out.startsWith("{"), new TextDecoder().decode(r.stderr));
  const got = JSON.parse(out);
  // (1+2+3)·2 + 3 = 15; the scope's three tensors freed (w, made outside, lives on); 2w + 1 = [3, 5, 7]
  // kept past both scopes (w and it live, w·2 freed)
  assert.deepEqual(got, {
    kind: "stack",
    total: 15,
    afterScope: 1,
    keptValues: [3, 5, 7],
    afterKept: 2,
    tracked: false,
    grad: true,
  });
});
