/**
 * Alarms: the tracker's verdicts on a step's statistics. Each is a structured event and a
 * readable line.
 */

/** What an alarm is about. */
export type AlarmKind = "vanishing" | "exploding" | "nonfinite" | "dead-relu" | "saturated";

/** One alarm event. */
export interface Alarm {
  kind: AlarmKind;
  /** Layer (module name and type, e.g. "3 Conv2d") or parameter name. */
  layer: string;
  step: number;
  value: number;
  threshold: number;
  /** A sentence for people. */
  message: string;
}

/** Thresholds (all configurable through `trackGradients(model, { thresholds })`). */
export interface AlarmThresholds {
  /** A layer's mean |grad| below this is vanishing. */
  vanishingAbs: number;
  /** A layer's mean |grad| below this fraction of the last layer's is vanishing. */
  vanishingRatio: number;
  /** Total gradient L2 norm above this is exploding. */
  explodingNorm: number;
  /** Total gradient norm growing by at least this factor per record ... */
  explodingGrowth: number;
  /** ... for this many consecutive records, ending 10x above the median before, is exploding. */
  explodingGrowthSteps: number;
  /** Fraction of a ReLU layer's units never active over a window above this. */
  deadFraction: number;
  /** Fraction of a sigmoid/tanh layer's outputs saturated above this. */
  saturatedFraction: number;
}

export const DEFAULT_THRESHOLDS: AlarmThresholds = {
  vanishingAbs: 1e-10,
  vanishingRatio: 1e-3,
  explodingNorm: 1e4,
  explodingGrowth: 2,
  explodingGrowthSteps: 3,
  deadFraction: 0.5,
  saturatedFraction: 0.5,
};

const fmt = (v: number) => (Math.abs(v) >= 1e-3 && Math.abs(v) < 1e4 ? v.toPrecision(3) : v.toExponential(2));

/** Formats an alarm as one line. */
export function describeAlarm(a: Omit<Alarm, "message">): string {
  switch (a.kind) {
    case "vanishing":
      return `[step ${a.step}] vanishing gradient at ${a.layer}: mean |grad| ${fmt(a.value)} (threshold ${
        fmt(a.threshold)
      })`;
    case "exploding":
      return `[step ${a.step}] exploding gradient: total norm ${fmt(a.value)} (threshold ${
        fmt(a.threshold)
      })`;
    case "nonfinite":
      return `[step ${a.step}] NaN/Inf first produced at ${a.layer}: ${a.value} non-finite values`;
    case "dead-relu":
      return `[step ${a.step}] dead ReLUs at ${a.layer}: ${
        (a.value * 100).toFixed(1)
      }% of units never active in the window (threshold ${(a.threshold * 100).toFixed(0)}%)`;
    case "saturated":
      return `[step ${a.step}] saturated units at ${a.layer}: ${
        (a.value * 100).toFixed(1)
      }% of outputs saturated (threshold ${(a.threshold * 100).toFixed(0)}%)`;
  }
}

/** Makes an alarm with its message. */
export function alarm(a: Omit<Alarm, "message">): Alarm {
  return { ...a, message: describeAlarm(a) };
}
