import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { runScript } from "./run_script.ts";
import { device } from "../src/gpu/device.ts";

Deno.test("mismatched shapes name the op and both shapes", () => {
  assert.throws(
    () => gb.add(gb.zeros([2, 3]), gb.zeros([4])),
    /add: shapes \[2, 3\] and \[4\] cannot be broadcast/,
  );
  assert.throws(
    () => gb.matmul(gb.zeros([2, 3]), gb.zeros([4, 5])),
    /matmul: shapes \[2, 3\] and \[4, 5\] do not align/,
  );
  assert.throws(() => gb.reshape(gb.zeros([2, 3]), [4, 2]), /reshape: cannot reshape \[2, 3\]/);
  assert.throws(
    () => gb.linear(gb.zeros([2, 3]), gb.zeros([4, 5])),
    /linear: input \[2, 3\] does not match weight \[4, 5\]/,
  );
  assert.throws(() => gb.concat([gb.zeros([2, 3]), gb.zeros([2, 4])], 0), /concat: shapes/);
  assert.throws(() => gb.tensor([1, 2, 3], [2, 2]), /3 values do not fill shape \[2, 2\]/);
  assert.throws(() => gb.sum(gb.zeros([2]), 3), /sum: axis 3 is out of range/);
});

Deno.test("wrong dtypes are errors", () => {
  const labels = gb.tensor([0, 1], undefined, { dtype: "int32" });
  assert.throws(() => gb.exp(labels), /exp needs a float32 tensor, got tensor\[2\] int32/);
  assert.throws(
    () => gb.crossEntropy(gb.zeros([2, 3]), gb.zeros([2])),
    /targets must be int32 class indices/,
  );
  assert.throws(() => gb.tensor([0.5], undefined, { dtype: "int32" }), /int32 data must be integers/);
});

Deno.test("an out-of-range target index is an error at the next readback, not garbage", async () => {
  const bad = gb.tensor([0, 7], undefined, { dtype: "int32" });
  const loss = gb.crossEntropy(gb.zeros([2, 3]), bad);
  await assert.rejects(() => loss.item(), /crossEntropy: target class index 7 is out of range \[0, 3\)/);
  // the flag is cleared afterwards
  const ok = gb.crossEntropy(gb.zeros([2, 3]), gb.tensor([0, 2], undefined, { dtype: "int32" }));
  assert.ok(Math.abs((await ok.item()) - Math.log(3)) < 1e-6);
});

Deno.test("using a disposed tensor says so", async () => {
  const t = gb.tensor([1, 2]);
  t.name = "weights";
  t.dispose();
  assert.throws(() => gb.add(t, 1), /weights\[2\] float32 was disposed/);
  await assert.rejects(() => t.toArray(), /was disposed/);
});

Deno.test("backward on a non-scalar without a gradient is an error", async () => {
  const x = gb.tensor([1, 2], undefined, { requiresGrad: true });
  await assert.rejects(() => x.mul(2).backward(), /is not a scalar; pass a gradient/);
});

Deno.test("a shader that fails to compile is reported with its name at the next readback", async () => {
  gb.defineShader("broken_test", "@compute @workgroup_size(1) fn main() { let x: f32 = ; }");
  const t = gb.zeros([4]);
  gb.dispatch({ shader: "broken_test", buffers: [], workgroups: [1] });
  await assert.rejects(() => t.toArray(), /shader broken_test\.wgsl \(entry main\) failed to compile/);
  // reported once: the next readback is not failed by the same batch's validation error
  assert.deepEqual([...await gb.tensor([1, 2]).toArray()], [1, 2]);
});

Deno.test("int32 values out of range are errors, not silent wrap-around", () => {
  assert.throws(
    () => gb.tensor([3e9], undefined, { dtype: "int32" }),
    /3000000000 at index 0 does not fit in int32/,
  );
  assert.throws(() => gb.full([2], 2 ** 31, { dtype: "int32" }), /full: 2147483648 is not an int32 value/);
  gb.tensor([2147483647, -2147483648], undefined, { dtype: "int32" }).dispose();
});

const run = (script: string, ...args: string[]) => runScript(script, args);

Deno.test("deno task train and inspect: a flag mistake is one plain line and exit code 2", async () => {
  const cases: [string[], RegExp][] = [
    [["--epochs", "two"], /^error: --epochs takes a whole number, got "two"/],
    [["--epochs", "1.5"], /^error: --epochs takes a whole number, got "1\.5"/],
    [["--epochs", "0"], /^error: --epochs must be at least 1, got 0/],
    [["--batch-size=-4"], /^error: --batch-size must be at least 1, got -4/],
    [["--lr", "fast"], /^error: --lr takes a number, got "fast"/],
    [["--lr=-0.1"], /^error: --lr must be positive, got -0\.1/],
    [["--schedule", "linear"], /^error: --schedule must be one of cosine, none; got "linear"/],
    [["--seed", "abc"], /^error: --seed takes a whole number, got "abc"/],
    [["--track-every", "x"], /^error: --track-every takes a whole number/],
    [["--epoch", "2"], /^error: unknown flag --epoch/],
    [["--out"], /^error: --out needs a value/],
    [["extra"], /^error: unexpected argument "extra"/],
  ];
  for (const [args, re] of cases) {
    const r = await run("examples/train_mnist.ts", ...args);
    assert.equal(r.code, 2, `${args.join(" ")}: exit code (${r.err})`);
    assert.match(r.err, re, args.join(" "));
    assert.equal(r.err.trim().split("\n").length, 1, `one line: ${r.err}`);
    assert.doesNotMatch(r.err, /\bat .*\.ts:\d+/, "no stack trace");
  }
  const i = await run("examples/inspect_run.ts", "--bogus");
  assert.equal(i.code, 2);
  assert.match(i.err, /^error: unknown flag --bogus/);
  const missing = await run("examples/inspect_run.ts", "/nonexistent/run");
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^error: \/nonexistent\/run has no tracker\.jsonl/);
  assert.equal(missing.err.trim().split("\n").length, 1);
});

Deno.test("a malformed tracker.jsonl names the file and the line", async () => {
  const dir = await Deno.makeTempDir();
  const good = JSON.stringify({ step: 1, params: [], layers: [], totalGradNorm: 1 });
  await Deno.writeTextFile(`${dir}/tracker.jsonl`, `${good}\n\n${good}\n{"step": 3}\n`);
  await assert.rejects(() => gb.readRunLog(dir), /tracker\.jsonl: line 4 is not a tracker record/);
  await Deno.writeTextFile(`${dir}/tracker.jsonl`, `${good}\n{oops\n`);
  await assert.rejects(() => gb.readRunLog(dir), /tracker\.jsonl: line 2 is not valid JSON/);
  const r = await run("examples/inspect_run.ts", dir);
  assert.equal(r.code, 1);
  assert.match(r.err, /^error: .*tracker\.jsonl: line 2 is not valid JSON/);
  assert.equal(r.err.trim().split("\n").length, 1);
});

Deno.test("a readback after a validating kernel maps once: the error flags ride in the data's staging buffer", async () => {
  const x = gb.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  const idx = gb.tensor(new Int32Array([2, 0]), [2, 1]);
  await gb.gather(x, 1, idx).toArray(); // warm-up: the kernel's first compile
  const proto = GPUBuffer.prototype as unknown as { mapAsync: (...a: unknown[]) => Promise<undefined> };
  const original = proto.mapAsync;
  let maps = 0;
  proto.mapAsync = function (this: unknown, ...a: unknown[]) {
    maps++;
    return original.apply(this, a);
  };
  try {
    const ok = await gb.gather(x, 1, idx).toArray(); // gather checks its indices on the GPU
    assert.deepEqual([...ok], [3, 4]);
    assert.equal(maps, 1, "one mapAsync for the data and the flags");
    maps = 0;
    const bad = gb.tensor(new Int32Array([3, 0]), [2, 1]);
    await assert.rejects(() => gb.gather(x, 1, bad).toArray(), /index 3/);
    assert.equal(maps, 1, "one mapAsync, and the out-of-range index still reported");
  } finally {
    proto.mapAsync = original;
  }
});

Deno.test("randn and rand past the adapter's largest storage binding: a clear error at once, no host array drawn", () => {
  const limit = device().limits.maxStorageBufferBindingSize;
  const before = gb.poolStats().liveBuffers;
  for (const [name, f] of [["randn", gb.randn], ["rand", gb.rand]] as const) {
    const t0 = performance.now();
    // 25 billion elements: a host array that large fails to allocate ("Array buffer allocation failed")
    assert.throws(
      () => f([99_999_999, 1, 16, 16]),
      new RegExp(
        `^Error: ${name}: a tensor of 102399998976 bytes exceeds this adapter's largest storage binding \\(${limit} bytes\\); use smaller batches$`,
      ),
    );
    assert.ok(performance.now() - t0 < 1000, `${name} refused at once`);
    // one element past the limit is refused too; the limit itself is not
    assert.throws(() => f([limit / 4 + 1]), /exceeds this adapter's largest storage binding/);
  }
  assert.equal(gb.poolStats().liveBuffers, before);
});
