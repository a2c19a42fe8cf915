/**
 * The training log of a run directory: tracker records as JSON lines, alarms as JSON lines and
 * text, and TensorBoard event files (scalars, histograms, images) under `tensorboard/`.
 */
import { SummaryWriter } from "../io/tfevents.ts";
import type { Alarm } from "./alarms.ts";
import type { TensorStats } from "./gpu_stats.ts";
import type { StepRecord } from "./tracker.ts";
import { encodePng, type Image } from "../viz/png.ts";
import type { History } from "../viz/training.ts";

/**
 * The files of a run directory (what `deno task train` writes and `deno task report` and
 * `deno task inspect` read), by what they hold. Every program names them from here.
 */
export const RUN_FILES = {
  /** The model with its explanation profile (written after each epoch). */
  checkpoint: "checkpoint.safetensors",
  /** Loss per step and per-epoch losses and accuracies (`History`). */
  history: "history.json",
  /** The last epoch's test numbers (accuracy, loss, per-class accuracy, confusion, timing). */
  metrics: "metrics.json",
  /** Tracker records, one JSON line each (`StepRecord`). */
  tracker: "tracker.jsonl",
  /** Alarms, one JSON line each (`Alarm`). */
  alarms: "alarms.jsonl",
  /** Alarms as readable lines. */
  alarmsText: "alarms.txt",
  /** TensorBoard event files (a folder). */
  tensorboard: "tensorboard",
  /** The report's page (`deno task report`'s default output). */
  report: "report.html",
} as const;

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
  /** The TensorBoard writer behind `<dir>/tensorboard/` (for extra scalars, histograms or images). */
  readonly tb: SummaryWriter;
  /** Histograms are kept every this many steps (from `RunLogOptions.histogramEvery`, default 100). */
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
    for (const f of [RUN_FILES.tracker, RUN_FILES.alarms, RUN_FILES.alarmsText]) {
      await Deno.writeTextFile(`${dir}/${f}`, "");
    }
    await Deno.remove(`${dir}/${RUN_FILES.tensorboard}`, { recursive: true }).catch(() => {});
    return new RunLog(dir, await SummaryWriter.create(`${dir}/${RUN_FILES.tensorboard}`), options);
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
    await append(RUN_FILES.tracker, this.#lines);
    await append(RUN_FILES.alarms, this.#alarmLines);
    await append(RUN_FILES.alarmsText, this.#alarmText);
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
      RUN_FILES.tracker,
      "a tracker record (step, params, layers, totalGradNorm)",
      isStepRecord,
    ),
    alarms: await read(RUN_FILES.alarms, "an alarm (kind, message)", isAlarm),
  };
}

/** Everything a run directory holds that the programs read (see `RUN_FILES`). */
export interface RunDirectory {
  /** The directory. */
  dir: string;
  /** history.json, or undefined when the run has none. */
  history?: History;
  /** metrics.json as written (a JSON object), or undefined when the run has none. */
  metrics?: Record<string, unknown>;
  /** tracker.jsonl's records (none when the file is missing). */
  records: StepRecord[];
  /** alarms.jsonl's alarms (none when the file is missing). */
  alarms: Alarm[];
  /** The `RUN_FILES` keys of the files that are not there. */
  missing: (keyof typeof RUN_FILES)[];
}

const finiteList = (v: unknown) => Array.isArray(v) && v.every((n) => typeof n === "number");

/** Whether a parsed history.json has `History`'s shape (what the charts rely on). */
function isHistory(v: unknown): v is History {
  const h = v as History;
  return typeof h === "object" && h !== null && finiteList(h.steps) && Array.isArray(h.epochs) &&
    h.epochs.every((e) =>
      typeof e === "object" && e !== null && typeof e.epoch === "number" && typeof e.trainLoss === "number" &&
      typeof e.testLoss === "number" &&
      (e.testAccuracy === undefined || typeof e.testAccuracy === "number")
    );
}

/**
 * Reads a run directory: history.json, metrics.json, tracker.jsonl and alarms.jsonl (file names
 * from `RUN_FILES`). A file that is not there is listed in `missing` (a run without tracking has
 * no tracker records); one that is there but malformed is an error naming the file and what is
 * wrong. `require` names files whose absence is an error too.
 *
 * @example
 * ```ts
 * import { readRunDirectory, RUN_FILES } from "glassbox";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/${RUN_FILES.history}`, JSON.stringify({ steps: [2.3, 1.1], epochs: [] }));
 * const run = await readRunDirectory(dir);
 * if (run.history?.steps[1] !== 1.1 || !run.missing.includes("metrics")) throw new Error("misread");
 * await Deno.writeTextFile(`${dir}/${RUN_FILES.history}`, JSON.stringify({ steps: "no" }));
 * let message = "";
 * try { await readRunDirectory(dir); } catch (e) { message = (e as Error).message; }
 * if (!message.includes("history.json")) throw new Error(message);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function readRunDirectory(
  dir: string,
  options: { require?: (keyof typeof RUN_FILES)[] } = {},
): Promise<RunDirectory> {
  const missing: (keyof typeof RUN_FILES)[] = [];
  const exists = async (key: keyof typeof RUN_FILES) => {
    try {
      await Deno.stat(`${dir}/${RUN_FILES[key]}`);
      return true;
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
      missing.push(key);
      return false;
    }
  };
  const json = async (key: "history" | "metrics"): Promise<unknown> => {
    if (!(await exists(key))) return undefined;
    const path = `${dir}/${RUN_FILES[key]}`;
    try {
      return JSON.parse(await Deno.readTextFile(path));
    } catch (e) {
      throw new Error(`${path} is not valid JSON (${(e as Error).message})`);
    }
  };
  const history = await json("history");
  if (history !== undefined && !isHistory(history)) {
    throw new Error(
      `${dir}/${RUN_FILES.history} is not a training history: it needs "steps" (numbers) and "epochs" (each with epoch, trainLoss, testLoss and, for a classifier, testAccuracy)`,
    );
  }
  const metrics = await json("metrics");
  if (metrics !== undefined && (typeof metrics !== "object" || metrics === null || Array.isArray(metrics))) {
    throw new Error(`${dir}/${RUN_FILES.metrics} is not a JSON object`);
  }
  await exists("tracker");
  await exists("alarms");
  await exists("checkpoint");
  const absent = (options.require ?? []).filter((k) => missing.includes(k));
  if (absent.length) {
    throw new Error(
      `${dir}: no ${absent.map((k) => RUN_FILES[k]).join(", ")} (not the output of deno task train?)`,
    );
  }
  const { records, alarms } = await readRunLog(dir);
  return {
    dir,
    history: history as History | undefined,
    metrics: metrics as Record<string, unknown> | undefined,
    records,
    alarms,
    missing,
  };
}
