/**
 * `deno task report [DIR]`: one self-contained HTML page about a model (src/apps/report.ts
 * builds it): by default the MNIST run of `deno task train` in out/mnist, or any checkpoint with
 * its explanation profile and a test set (`--checkpoint`, `--data`). This file reads the files,
 * hands them to `buildReport` and writes the page atomically.
 */
import * as gb from "../mod.ts";

const HELP = `deno task report [DIR] [options]
  DIR               a run directory of deno task train (default out/mnist unless --checkpoint is
                    given): its training history and gradient logs make the training sections
  --checkpoint F    the model (default DIR/checkpoint.safetensors); its explanation profile names
                    the input, the classes and the features or vocabulary
  --data F          the test set: a safetensors file with "x" [N, ...input shape] in the model's
                    input units (F32, or I32 token ids) and "y" [N] labels, as deno task explain
                    --data reads (default: the MNIST test set, for an MNIST model only)
  --out FILE        where the page goes (default DIR/report.html, else beside the checkpoint)
  --lang en|zh      language of the whole page: headings, charts, tables and words (default en)
  --mistakes N      confident mistakes shown (default 6)
  --gallery N       test examples in the comparison of attribution methods (default 4)
  --train FILE      training examples (.safetensors with x and y, as --data): each mistake's
                    nearest training examples of its true and predicted class (default: MNIST's
                    60,000 training images for an MNIST model; without it they are left out)
  --neighbours N    nearest training examples per class under each mistake (default 5, 0: none)
  --compress DIR    a deno task compress output to include (default out/compress for an MNIST
                    model, if it exists; a DIR given here that holds no summary.json is an error)
  --attention DIR   a deno task reverse output to include (default out/reverse for an MNIST
                    model, if it exists; a DIR given here that holds no attention.svg is an error)
Borrowed sections name their run and checkpoint; one made from another checkpoint says so.
  --help            this text`;

const FLAGS = {
  checkpoint: { type: "string" },
  data: { type: "string" },
  out: { type: "string" },
  lang: { type: "choice", choices: ["en", "zh"], default: "en" },
  mistakes: { type: "int", min: 1, default: 6 },
  gallery: { type: "int", min: 1, default: 4 },
  train: { type: "string" },
  neighbours: { type: "int", min: 0, default: 5 },
  compress: { type: "string" },
  attention: { type: "string" },
  help: { type: "boolean" },
} as const;

const t0 = performance.now();
const log = (m: string) =>
  console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(3)} s] ${m}`);

/** A --data file's examples (`reportData`); a file that cannot be read or is misshapen is a usage error. */
async function readData(
  path: string,
  profile: gb.ExplanationProfile,
  flag: "data" | "train" = "data",
): Promise<gb.ReportData> {
  const bytes = await gb.readFlagFile(flag, path);
  try {
    return gb.reportData(bytes, path, profile);
  } catch (e) {
    throw new gb.UsageError(
      `--${flag} ${(e as Error).message.startsWith(path) ? "" : `${path}: `}${(e as Error).message}`,
    );
  }
}

/** The pictures of another run that exist. */
async function pictures(dir: string, names: [string, string][]): Promise<gb.ReportPicture[]> {
  const out: gb.ReportPicture[] = [];
  for (const [file, alt] of names) {
    const path = `${dir}/${file}`;
    if (!(await gb.fileExists(path))) continue;
    out.push({
      data: file.endsWith(".svg") ? await Deno.readTextFile(path) : await Deno.readFile(path),
      alt,
    });
  }
  return out;
}

async function main(): Promise<void> {
  const { flags, positionals } = gb.parseFlags(Deno.args, FLAGS, { positionals: [0, 1] });
  if (flags.help) return console.log(HELP);
  const dir = positionals[0] ?? (flags.checkpoint === undefined ? "out/mnist" : undefined);
  const ckpt = flags.checkpoint ?? `${dir}/${gb.RUN_FILES.checkpoint}`;
  if (!(await gb.fileExists(ckpt))) {
    throw new Error(
      `no checkpoint at ${ckpt}: run \`deno task train\` first (or give the directory it wrote)`,
    );
  }
  const lang = flags.lang as gb.Language;
  const outFile = flags.out ??
    (dir ? `${dir}/${gb.RUN_FILES.report}` : ckpt.replace(/[^/]*$/, gb.RUN_FILES.report));
  const sha256 = await gb.sha256Hex(await Deno.readFile(ckpt));
  const { model, metadata } = await gb.loadModel(ckpt);
  // a checkpoint from before profiles travelled with the model is the MNIST model
  const profile = gb.profileFromMetadata(metadata) ?? gb.mnistProfile();
  const mnist = JSON.stringify([profile.inputShape, profile.classes]) ===
    JSON.stringify([gb.mnistProfile().inputShape, gb.mnistProfile().classes]);
  if (flags.data === undefined && !mnist) {
    throw new gb.UsageError(
      `${ckpt} is not an MNIST model (its profile: ${profile.modality}): give its test set with --data`,
    );
  }
  // a borrowed run named on the command line must be there; the defaults (MNIST only) are used if they are
  const compressDir = flags.compress ?? (mnist ? "out/compress" : undefined);
  const attentionDir = flags.attention ?? (mnist ? "out/reverse" : undefined);
  if (flags.compress !== undefined && !(await gb.fileExists(`${compressDir}/summary.json`))) {
    throw new gb.UsageError(
      `--compress ${compressDir}: no summary.json there (not a deno task compress output)`,
    );
  }
  if (flags.attention !== undefined && !(await gb.fileExists(`${attentionDir}/attention.svg`))) {
    throw new gb.UsageError(
      `--attention ${attentionDir}: no attention.svg there (not a deno task reverse output)`,
    );
  }

  log(`reading ${flags.data ?? "the MNIST test set"}`);
  const mnistSplit = async (split: "train" | "test") => {
    const d = gb.mnistDataset(await gb.loadMnist(split));
    return { x: d.x, y: d.y };
  };
  const test = flags.data !== undefined ? await readData(flags.data, profile) : await mnistSplit("test");
  const runDir = dir !== undefined && (await gb.fileExists(dir)) ? await gb.readRunDirectory(dir) : undefined;
  const hasLogs = runDir && !(runDir.missing.includes("history") && runDir.missing.includes("tracker"));
  let compress: gb.ReportInputs["compress"], attention: gb.ReportInputs["attention"];
  if (compressDir !== undefined && (await gb.fileExists(`${compressDir}/summary.json`))) {
    const file = `${compressDir}/summary.json`;
    compress = {
      dir: compressDir,
      summary: gb.parseCompressSummary(await Deno.readTextFile(file), file),
      pictures: await pictures(compressDir, [
        ["accuracy_vs_sparsity.svg", "accuracy vs sparsity"],
        ["drift_integrated_gradients.svg", "Integrated Gradients"],
        ["drift_gradcam.svg", "Grad-CAM"],
        ["weight_histograms.svg", "weights"],
      ]),
    };
  }
  if (attentionDir !== undefined && (await gb.fileExists(`${attentionDir}/attention.svg`))) {
    const own = `${attentionDir}/model.safetensors`;
    attention = {
      dir: attentionDir,
      checkpoint: own,
      sha256: (await gb.fileExists(own)) ? await gb.sha256Hex(await Deno.readFile(own)) : undefined,
      pictures: await pictures(attentionDir, [
        ["attention.svg", "attention"],
        ["head_view.svg", "head view"],
        ["rollout.svg", "rollout"],
      ]),
    };
  }
  const report = await gb.buildReport({
    model,
    profile,
    test,
    // how unlike the training images a mistake is, and its nearest training examples: --train,
    // else MNIST's training set for an MNIST model
    train: flags.train !== undefined
      ? await readData(flags.train, profile, "train")
      : mnist
      ? await mnistSplit("train")
      : undefined,
    checkpoint: {
      path: ckpt,
      sha256,
      architecture: String(metadata["glassbox.architecture"] ?? "?"),
      epoch: metadata.epoch === undefined ? undefined : String(metadata.epoch),
    },
    run: hasLogs ? runDir : undefined,
    compress,
    attention,
  }, { lang, mistakes: flags.mistakes, gallery: flags.gallery, neighbours: flags.neighbours, log });
  await gb.writeTextAtomic(outFile, report.html);
  log(
    `wrote ${outFile} (${
      (report.html.length / 1024 / 1024).toFixed(1)
    } MiB, ${report.sections.length} sections)`,
  );
}

if (import.meta.main) await gb.runMain("report", main);
