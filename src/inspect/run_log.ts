/**
 * The training log of a run directory: tracker records as JSON lines, alarms as JSON lines and
 * text, and TensorBoard event files (scalars, histograms, images) under `tensorboard/`.
 */
import { SummaryWriter } from "../io/tfevents.ts";
import type { Alarm } from "./alarms.ts";
import type { TensorStats } from "./gpu_stats.ts";
import type { StepRecord } from "./tracker.ts";
import { encodePng, type Image } from "../viz/png.ts";

/** Options for `RunLog`. */
export interface RunLogOptions {
  /** Keep histograms (in the JSON lines and as TensorBoard histograms) every N steps (default 100). */
  histogramEvery?: number;
}

function slim(s: TensorStats | undefined, keepHist: boolean): TensorStats | undefined {
  if (!s) return s;
  return keepHist ? s : { ...s, histogram: [] };
}

/**
 * Appends a run's statistics to `<dir>/tracker.jsonl`, `<dir>/alarms.jsonl`, `<dir>/alarms.txt`
 * and TensorBoard event files in `<dir>/tensorboard/`.
 *
 * @example
 * ```ts
 * import { RunLog } from "glassbox";
 * const log = await RunLog.create("out/run1");
 * log.scalar("loss/train", 0.3, 1);
 * await log.flush();
 * ```
 */
export class RunLog {
  readonly tb: SummaryWriter;
  readonly histogramEvery: number;
  #lines: string[] = [];
  #alarmLines: string[] = [];
  #alarmText: string[] = [];
  #lastHist = -Infinity;

  private constructor(readonly dir: string, tb: SummaryWriter, options: RunLogOptions) {
    this.tb = tb;
    this.histogramEvery = options.histogramEvery ?? 100;
  }

  /** Creates the directory and empty log files (an existing log is replaced). */
  static async create(dir: string, options: RunLogOptions = {}): Promise<RunLog> {
    await Deno.mkdir(dir, { recursive: true });
    for (const f of ["tracker.jsonl", "alarms.jsonl", "alarms.txt"]) {
      await Deno.writeTextFile(`${dir}/${f}`, "");
    }
    await Deno.remove(`${dir}/tensorboard`, { recursive: true }).catch(() => {});
    return new RunLog(dir, await SummaryWriter.create(`${dir}/tensorboard`), options);
  }

  /** Queues tracker records: a JSON line each, TensorBoard scalars, histograms now and then. */
  records(records: StepRecord[]): void {
    for (const r of records) {
      const has = r.params.some((p) => p.weight.histogram.length > 0);
      const hist = has && r.step - this.#lastHist >= this.histogramEvery;
      if (hist) this.#lastHist = r.step;
      const out: StepRecord = {
        step: r.step,
        totalGradNorm: r.totalGradNorm,
        params: r.params.map((p) => ({
          ...p,
          grad: slim(p.grad, hist)!,
          weight: slim(p.weight, hist)!,
          update: slim(p.update, false),
        })),
        layers: r.layers.map((l) => ({
          ...l,
          activation: slim(l.activation, hist),
          gradOutput: slim(l.gradOutput, hist),
        })),
      };
      this.#lines.push(JSON.stringify(out));
      this.tb.addScalar("gradients/total_norm", r.totalGradNorm, r.step);
      for (const p of r.params) {
        this.tb.addScalar(`gradient_norm/${p.name}`, p.grad.norm, r.step);
        if (p.updateRatio !== undefined) this.tb.addScalar(`update_ratio/${p.name}`, p.updateRatio, r.step);
        if (hist) {
          for (const [kind, s] of [["weights", p.weight], ["gradients", p.grad]] as const) {
            this.#histogram(`${kind}/${p.name}`, s, r.step);
          }
        }
      }
      for (const l of r.layers) {
        const a = l.activation;
        if (!a) continue;
        this.tb.addScalar(`activation_sparsity/${l.label}`, a.zeroFraction, r.step);
        if (hist) {
          this.#histogram(`activations/${l.label}`, a, r.step);
        }
      }
    }
  }

  #histogram(tag: string, s: TensorStats, step: number): void {
    this.tb.addHistogram(tag, {
      lo: s.min,
      hi: s.max,
      counts: s.histogram,
      sum: s.mean * s.count,
      sumSquares: s.norm ** 2,
    }, step);
  }

  /** Queues alarms (JSON lines and readable lines). */
  alarms(alarms: Alarm[]): void {
    for (const a of alarms) {
      this.#alarmLines.push(JSON.stringify(a));
      this.#alarmText.push(a.message);
    }
  }

  /** A scalar for TensorBoard (loss, accuracy, learning rate...). */
  scalar(tag: string, value: number, step: number): void {
    this.tb.addScalar(tag, value, step);
  }

  /** An image for TensorBoard. */
  image(tag: string, img: Image, step: number): void {
    this.tb.addImage(tag, encodePng(img), img.width, img.height, step);
  }

  /** Appends everything queued to the files. */
  async flush(): Promise<void> {
    const append = async (f: string, lines: string[]) => {
      if (lines.length) {
        await Deno.writeTextFile(`${this.dir}/${f}`, lines.splice(0).join("\n") + "\n", { append: true });
      }
    };
    await append("tracker.jsonl", this.#lines);
    await append("alarms.jsonl", this.#alarmLines);
    await append("alarms.txt", this.#alarmText);
    await this.tb.flush();
  }
}

/** Whether a parsed line has the shape of a tracker record (what the pictures rely on). */
function isStepRecord(v: unknown): v is StepRecord {
  const r = v as StepRecord;
  return typeof r === "object" && r !== null && typeof r.step === "number" && Array.isArray(r.params) &&
    Array.isArray(r.layers) && typeof r.totalGradNorm === "number" &&
    r.params.every((p) =>
      typeof p?.name === "string" && typeof p?.grad === "object" && typeof p?.weight === "object"
    );
}

function isAlarm(v: unknown): v is Alarm {
  const a = v as Alarm;
  return typeof a === "object" && a !== null && typeof a.kind === "string" && typeof a.message === "string";
}

/**
 * Reads a run directory's tracker records and alarms back. A line that is not JSON, or not a
 * record, is an error naming the file and its line number.
 */
export async function readRunLog(dir: string): Promise<{ records: StepRecord[]; alarms: Alarm[] }> {
  const read = async <T>(f: string, what: string, ok: (v: unknown) => v is T): Promise<T[]> => {
    let text: string;
    try {
      text = await Deno.readTextFile(`${dir}/${f}`);
    } catch {
      return [];
    }
    const out: T[] = [];
    text.split("\n").forEach((l, i) => {
      if (!l.trim()) return;
      let v: unknown;
      try {
        v = JSON.parse(l);
      } catch (e) {
        throw new Error(`${dir}/${f}: line ${i + 1} is not valid JSON (${(e as Error).message})`);
      }
      if (!ok(v)) throw new Error(`${dir}/${f}: line ${i + 1} is not ${what}`);
      out.push(v);
    });
    return out;
  };
  return {
    records: await read(
      "tracker.jsonl",
      "a tracker record (step, params, layers, totalGradNorm)",
      isStepRecord,
    ),
    alarms: await read("alarms.jsonl", "an alarm (kind, message)", isAlarm),
  };
}
