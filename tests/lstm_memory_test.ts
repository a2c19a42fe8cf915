/** Delayed recall over 20 steps: the gated cells learn it, a plain RNN does not, and the gradient through time says why. */
import assert from "node:assert/strict";
import { runMemory, throughTimeChart } from "../examples/lstm_memory.ts";
import { DEFAULT_THRESHOLDS, makeDelayTask, throughTimeAlarm } from "../mod.ts";

Deno.test("delayed recall: the task's one target is the symbol seen `delay` steps earlier", () => {
  const t = makeDelayTask(50, { delay: 7, symbols: 3, distractors: 2, seed: 4 });
  assert.equal(t.length, 8);
  for (let s = 0; s < 50; s++) {
    const row = Array.from(t.inputs.subarray(s * 8, s * 8 + 8));
    assert.ok(row[0] < 3 && row.slice(1).every((v) => v >= 3 && v < 5), `sequence ${s}: ${row}`);
    assert.deepEqual(Array.from(t.targets.subarray(s * 8, s * 8 + 8)), [-1, -1, -1, -1, -1, -1, -1, row[0]]);
  }
  assert.throws(() => makeDelayTask(1, { delay: 0 }), /delay must be a positive integer/);
});

Deno.test("the through-time alarm fires exactly when the first step gets under 1e-3 of the last step's gradient", () => {
  assert.equal(throughTimeAlarm([2e-3, 0.5, 1], "rnn LSTM", 3, DEFAULT_THRESHOLDS), null);
  const a = throughTimeAlarm([5e-4, 0.5, 1], "rnn RNN", 3, DEFAULT_THRESHOLDS)!;
  assert.equal(a.kind, "vanishing-through-time");
  assert.equal(a.value, 5e-4);
  assert.match(a.message, /vanishing gradient through time at rnn RNN.*5\.00e-4.*2 steps back/);
});

Deno.test("over 20 steps an LSTM and a GRU learn to recall, a plain RNN does not, and its gradient through time vanishes", async () => {
  const delay = 20;
  const results = await runMemory({ delay, steps: 400 });
  const by = Object.fromEntries(results.map((r) => [r.cell, r]));
  const summary = results.map((r) => `${r.cell} ${r.accuracy}`).join(", ");
  assert.ok(by.lstm.accuracy >= 0.95, `LSTM recalls: ${summary}`);
  assert.ok(by.gru.accuracy >= 0.95, `GRU recalls: ${summary}`);
  // chance is 25%; the RNN may latch a bit of it, but not the symbol
  assert.ok(by.rnn.accuracy <= 0.7, `the plain RNN does not: ${summary}`);
  const ratio = (r: (typeof results)[number]) => {
    const n = r.throughTime.at(-1)!.norms;
    assert.equal(n.length, delay + 1);
    return n[0] / n[delay];
  };
  assert.ok(ratio(by.rnn) < 1e-3, `RNN: step 0 gets ${ratio(by.rnn)} of the last step's gradient`);
  assert.ok(
    ratio(by.gru) > 100 * ratio(by.rnn),
    `GRU keeps its gradient: ${ratio(by.gru)} vs RNN ${ratio(by.rnn)}`,
  );
  assert.ok(
    ratio(by.lstm) > 100 * ratio(by.rnn),
    `LSTM keeps its gradient: ${ratio(by.lstm)} vs RNN ${ratio(by.rnn)}`,
  );
  assert.ok(
    by.rnn.alarms.some((a) => a.step === 400),
    "the alarm names the RNN's vanishing gradient at the end",
  );
  assert.ok(!by.gru.alarms.some((a) => a.step === 400), "and not the GRU's");
  const svg = throughTimeChart(results, delay);
  assert.ok(svg.includes("plain RNN (tanh)") && svg.includes("LSTM") && svg.includes("GRU"));
});
