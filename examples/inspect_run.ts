/**
 * `deno task inspect <run dir>`: renders the pictures of a saved `deno task train` run again,
 * from its tracker.jsonl and history.json, and (when the checkpoint is there) the model graph,
 * summary, first-layer filters and feature maps of the first MNIST test image.
 */
import * as gb from "../mod.ts";

const HELP = "deno task inspect <run dir>   (the --out directory of deno task train, default out/mnist)";

async function main(): Promise<void> {
  const { flags, positionals } = gb.parseFlags(Deno.args, { help: { type: "boolean" } }, {
    positionals: [0, 1],
  });
  if (flags.help) {
    console.log(HELP);
    return;
  }
  if (positionals.length !== 1) throw new gb.UsageError("name the run directory to inspect, e.g. out/mnist");
  const dir = positionals[0];
  if (!(await gb.fileExists(`${dir}/${gb.RUN_FILES.tracker}`))) {
    throw new Error(`${dir} has no tracker.jsonl: is it the output directory of deno task train?`);
  }
  let model: gb.Module | undefined;
  let sample: gb.Tensor | undefined;
  try {
    await Deno.stat(`${dir}/${gb.RUN_FILES.checkpoint}`);
    model = (await gb.loadModel(`${dir}/${gb.RUN_FILES.checkpoint}`)).model;
    const test = gb.mnistDataset(await gb.loadMnist("test"));
    sample = gb.tensor(test.x.subarray(0, 784), [1, 1, 28, 28]);
  } catch (e) {
    console.log(`no usable checkpoint (${(e as Error).message}): charts only`);
    model = undefined;
  }
  const pics = await gb.renderRunPictures(dir, { model, sample });
  const { alarms } = await gb.readRunLog(dir);
  for (const p of pics) console.log(p);
  console.log(
    `${pics.length} pictures; ${alarms.length} alarm${alarms.length === 1 ? "" : "s"}${
      alarms.length ? ":" : ""
    }`,
  );
  for (const a of alarms) console.log(`  ${a.message}`);
}

await gb.runMain("inspect", main);
