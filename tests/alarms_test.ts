/** The alarm rules are pure functions of records and thresholds: tested here without a GPU. */
import assert from "node:assert/strict";
import {
  checkAlarms,
  deadUnitAlarms,
  DEFAULT_THRESHOLDS,
  type ParamRecord,
  stepAlarms,
  type StepRecord,
  type TensorStats,
} from "../mod.ts";

function stats(over: Partial<TensorStats> = {}): TensorStats {
  return {
    key: "",
    count: 100,
    mean: 0,
    std: 1,
    norm: 10,
    min: -3,
    max: 3,
    maxAbs: 3,
    meanAbs: 0.8,
    nonFinite: 0,
    zeroFraction: 0,
    saturatedFraction: 0,
    histogram: [],
    ...over,
  };
}

function param(
  name: string,
  layer: string,
  grad: Partial<TensorStats> = {},
  weight: Partial<TensorStats> = {},
): ParamRecord {
  return { name, layer, grad: stats(grad), weight: stats(weight) };
}

function step(n: number, norm: number, params: ParamRecord[] = []): StepRecord {
  return { step: n, params, layers: [], totalGradNorm: norm };
}

Deno.test("exploding: a norm over the limit, or a sustained streak ending 10x above the usual level; not noise", () => {
  const t = DEFAULT_THRESHOLDS;
  assert.equal(stepAlarms(step(1, 2e4), [], t)[0].kind, "exploding");
  // noisy but flat norms: nothing
  const noisy = [1, 3, 0.5, 2, 4, 1, 8, 2];
  assert.deepEqual(checkAlarms(noisy.map((v, i) => step(i + 1, v)), [], t), []);
  // three doublings ending 16x above the median of what came before: exploding at the last
  const growing = [1, 1.2, 0.9, 1, 2, 4, 16];
  const alarms = checkAlarms(growing.map((v, i) => step(i + 1, v)), [], t);
  assert.deepEqual(alarms.map((a) => [a.kind, a.step]), [["exploding", 7]]);
  // the same streak with a smaller jump above the usual level is not (the factor is a named threshold)
  assert.deepEqual(
    checkAlarms(growing.map((v, i) => step(i + 1, v)), [], { ...t, explodingAboveUsual: 20 }),
    [],
  );
});

Deno.test("vanishing: a layer's mean |grad| below 1e-3 of the last layer's; biases are not judged", () => {
  const rec = step(3, 1, [
    param("0.weight", "0 Linear", { meanAbs: 1e-7 }),
    param("0.bias", "0 Linear", { meanAbs: 1e-12 }),
    param("2.weight", "2 Linear", { meanAbs: 1e-3 }),
    param("4.weight", "4 Linear", { meanAbs: 1 }),
  ]);
  const a = stepAlarms(rec, [], DEFAULT_THRESHOLDS);
  assert.deepEqual(a.map((x) => [x.kind, x.layer]), [["vanishing", "0 Linear"]]);
  assert.equal(a[0].threshold, 1e-3);
});

Deno.test("NaN/Inf: a layer's output names the layer and op; a weight names the parameter; gradients alone say only that", () => {
  const t = DEFAULT_THRESHOLDS;
  const withLayer: StepRecord = {
    ...step(1, 1, [param("2.weight", "2 Linear", { nonFinite: 5 })]),
    layers: [
      { label: "0 Linear", name: "0", type: "Linear", op: "linear", activation: stats() },
      { label: "1 Log", name: "1", type: "Log", op: "log", activation: stats({ nonFinite: 3 }) },
    ],
    layerSamples: 16,
  };
  const [a] = stepAlarms(withLayer, [], t);
  assert.deepEqual([a.source, a.layer, a.value], ["activation", "1 Log (op log)", 3]);
  const w = stepAlarms(step(1, 1, [param("0.weight", "0 Linear", {}, { nonFinite: 2 })]), [], t)[0];
  assert.deepEqual([w.source, w.layer], ["weight", "0.weight"]);
  const g = stepAlarms(
    step(1, 1, [
      param("0.weight", "0 Linear", { nonFinite: 1 }),
      param("2.weight", "2 Linear", { nonFinite: 4 }),
    ]),
    [],
    t,
  )[0];
  assert.deepEqual([g.source, g.layer, g.value], ["gradient", "2.weight (and 1 more parameters)", 4]);
  assert.match(g.detail!, /layer outputs were not inspected at this step/);
});

Deno.test("dead units and saturation against their thresholds", () => {
  const dead = deadUnitAlarms([
    { layer: "1 ReLU", fromStep: 1, toStep: 10, units: 8, deadFraction: 0.75 },
    { layer: "3 ReLU", fromStep: 1, toStep: 10, units: 8, deadFraction: 0.5 },
  ], DEFAULT_THRESHOLDS);
  assert.deepEqual(dead.map((a) => [a.layer, a.value]), [["1 ReLU", 0.75]]);
  const rec: StepRecord = {
    ...step(2, 1),
    layers: [{
      label: "1 Sigmoid",
      name: "1",
      type: "Sigmoid",
      activation: stats({ saturatedFraction: 0.6 }),
    }],
  };
  assert.deepEqual(stepAlarms(rec, [], DEFAULT_THRESHOLDS).map((a) => a.kind), ["saturated"]);
});
