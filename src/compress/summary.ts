/**
 * The schema of `summary.json`, the file `deno task compress` writes and the report reads: one
 * place for both, so the writer and the reader cannot drift apart.
 */

/** One variant of the compression study as summary.json holds it. */
export interface VariantSummary {
  /** The variant's name, e.g. "int8 post-training, min-max". */
  name: string;
  /** Parameters in the variant's model. */
  params: number;
  /** Parameters that are not zero. */
  nonzero: number;
  /** The variant's file, relative to the study's directory. */
  file: string;
  /** That file's size in bytes. */
  bytes: number;
  /** Its gzip-compressed size in bytes. */
  gzipBytes: number;
  /** Accuracy on the study's test examples, 0..1. */
  accuracy: number;
  /** Milliseconds per inference batch. */
  msPerBatch: number;
  /** Spearman ρ of Integrated Gradients against the original model (NaN when not computed; JSON null in the file). */
  igDrift: number;
  /** Spearman ρ of the CAM against the original model (NaN when not computed; JSON null in the file). */
  camDrift: number;
  /** A note on how the variant was made. */
  note: string;
}

/** One point of the accuracy-against-sparsity curve. */
export interface SparsityPoint {
  /** Fraction of weights pruned, 0..1. */
  sparsity: number;
  /** Accuracy after one-shot pruning. */
  oneShot: number;
  /** Accuracy after gradual pruning with fine-tuning, where measured. */
  tuned?: number;
}

/** The whole of summary.json. */
export interface CompressSummary {
  /** The checkpoint the study started from (its path when the study ran). */
  checkpoint?: string;
  /** That checkpoint's sha256, so a report can tell whether the study is about its model. */
  checkpointSha256?: string;
  /** Test examples the accuracies are measured on. */
  testImages?: number;
  /** Examples whose explanations were compared. */
  explainedImages?: number;
  /** Fine-tuning steps per stage. */
  steps?: number;
  /** The study's seed. */
  seed?: number;
  /** The distillation settings. */
  distillation?: { images: number; epochs: number; temperature: number; alpha: number };
  /** Accuracy against sparsity. */
  curve?: SparsityPoint[];
  /** Every variant. */
  variants: VariantSummary[];
}

/**
 * Reads summary.json's text, checking the fields a reader relies on; a file that is not a
 * compression summary is an error naming what is missing.
 *
 * @example
 * ```ts
 * import { parseCompressSummary } from "./summary.ts";
 * const s = parseCompressSummary('{"variants":[{"name":"a","params":3,"nonzero":2,"file":"a.safetensors","bytes":1,"gzipBytes":1,"accuracy":0.5,"msPerBatch":1,"igDrift":1,"camDrift":1,"note":""}]}');
 * if (s.variants[0].nonzero !== 2) throw new Error("not read");
 * const t = parseCompressSummary('{"variants":[{"name":"a","params":3,"nonzero":2,"file":"a.safetensors","bytes":1,"gzipBytes":1,"accuracy":0.5,"msPerBatch":1,"igDrift":1,"camDrift":null,"note":""}]}');
 * if (!Number.isNaN(t.variants[0].camDrift)) throw new Error("a drift not measured (null) must read as NaN");
 * let refused = false;
 * try { parseCompressSummary('{"variants":[{"name":"a"}]}'); } catch { refused = true; }
 * if (!refused) throw new Error("a variant without params was accepted");
 * ```
 */
export function parseCompressSummary(text: string, source = "summary.json"): CompressSummary {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${(e as Error).message})`);
  }
  if (typeof value !== "object" || value === null || !Array.isArray((value as CompressSummary).variants)) {
    throw new Error(`${source}: no "variants" list (not a compression summary)`);
  }
  const numbers = ["params", "nonzero", "bytes", "gzipBytes", "accuracy", "msPerBatch"] as const;
  (value as CompressSummary).variants.forEach((v, i) => {
    if (typeof v?.name !== "string") throw new Error(`${source}: variant ${i} has no name`);
    // a drift that was not measured is NaN, which JSON writes as null
    for (const k of ["igDrift", "camDrift"] as const) {
      if (v[k] === null || v[k] === undefined) v[k] = NaN;
      else if (typeof v[k] !== "number") {
        throw new Error(`${source}: variant ${i} ("${v.name}") has a non-number "${k}"`);
      }
    }
    for (const k of numbers) {
      if (typeof v[k] !== "number") {
        throw new Error(`${source}: variant ${i} ("${v.name}") has no number "${k}"`);
      }
    }
  });
  return value as CompressSummary;
}
