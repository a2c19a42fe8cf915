/**
 * `deno task gan`: trains a small GAN on MNIST (an MLP generator and discriminator by default: on
 * lavapipe they train in minutes; `--arch dcgan` is the DCGAN-style pair with ConvTranspose2d,
 * 2.5 to 6 times slower per step; see src/models/gan.ts). A thin
 * CLI around `trainGan` and `ganPictures` (src/apps/gan.ts).
 *
 * Writes to the output directory: generator.safetensors and discriminator.safetensors (after
 * every epoch, atomically, with history.json and metrics.json), each network's gradient tracking
 * under generator/ and discriminator/ (tracker.jsonl, alarms, TensorBoard files), the GAN's
 * alarms in alarms.txt/.jsonl, its losses in tensorboard/, and pictures/.
 */
import * as gb from "../mod.ts";

const HELP = `deno task gan [options]
  --epochs N        epochs (default 5)
  --batch-size N    real images per batch (default 64)
  --lr X            Adam learning rate of both networks (default 0.0002)
  --beta1 X         Adam's β1 (default 0.5)
  --latent N        length of the latent vector z (default 64)
  --arch A          "mlp" (default: the fast one here) or "dcgan" (ConvTranspose2d generator,
                    strided-conv discriminator: 2.5 to 6 times slower per step on lavapipe)
  --channels N      dcgan: base channels (default 32; --quick 8)
  --seed N          seed for init, shuffling and noise (default 0)
  --out DIR         output directory (default out/gan)
  --track-every N   record gradient statistics every N steps (default 1; 0 turns tracking off)
  --quick           smoke run: 1,000 training images, 1 epoch (unless --epochs), small networks
  --help            this text

Writes to the output directory: generator.safetensors, discriminator.safetensors,
history.json, metrics.json, alarms.txt/.jsonl (the GAN's alarms: vanishing discriminator
gradient, mode collapse), generator/ and discriminator/ (each network's tracker.jsonl, alarms
and TensorBoard files), tensorboard/ (losses, D outputs, samples; tensorboard --logdir <out>)
and pictures/ (samples per epoch, losses, interpolation, D's Saliency, channel ablation).

Ctrl-C stops at once and keeps the last complete epoch (both checkpoints, history.json and
metrics.json, written together after each epoch); the pictures are drawn when a run completes.`;

const FLAGS = {
  epochs: { type: "int", min: 1 },
  "batch-size": { type: "int", min: 1, default: 64 },
  lr: { type: "number", positive: true, default: 0.0002 },
  beta1: { type: "number", default: 0.5 },
  latent: { type: "int", min: 1, default: 64 },
  arch: { type: "choice", choices: ["mlp", "dcgan"], default: "mlp" },
  channels: { type: "int", min: 1 },
  seed: { type: "int", min: 0, default: 0 },
  out: { type: "string", default: "out/gan" },
  "track-every": { type: "int", min: 0, default: 1 },
  quick: { type: "boolean" },
  help: { type: "boolean" },
} as const;

async function main(): Promise<void> {
  const { flags: values } = gb.parseFlags(Deno.args, FLAGS);
  if (values.help) {
    console.log(HELP);
    return;
  }
  const beta1 = values.beta1!;
  if (!(beta1 >= 0 && beta1 < 1)) throw new gb.UsageError(`--beta1 must be in [0, 1), got ${beta1}`);
  const quick = values.quick;
  const kind = values.arch as gb.GanKind, channels = values.channels ?? (quick ? 8 : 32);
  if (kind === "mlp" && values.channels !== undefined) {
    throw new gb.UsageError("--channels is for --arch dcgan (the MLP pair has layer widths, not channels)");
  }
  const epochs = values.epochs ?? (quick ? 1 : 5);
  const seed = values.seed!;
  console.log(`adapter: ${gb.adapterInfo().description}`);
  const split = await gb.loadMnist("train");
  const shape = [1, split.rows, split.cols], per = split.rows * split.cols;
  const n = quick ? 1000 : split.labels.length;
  const x = gb.unitToTanhRange(split.images.subarray(0, n * per));
  const out = values.out!;
  await Deno.mkdir(`${out}/pictures`, { recursive: true });
  gb.manualSeed(seed);
  // both remember their architecture (registered as gan-generator, gan-discriminator) for loadModel
  const G = kind === "mlp"
    ? new gb.GanGenerator({
      latent: values.latent!,
      hidden: quick ? [64, 128] : [256, 512],
      imageShape: shape,
    })
    : new gb.GanGenerator({ kind, latent: values.latent!, channels, imageShape: shape });
  const D = kind === "mlp"
    ? new gb.GanDiscriminator({ imageShape: shape, hidden: quick ? [128, 64] : [512, 256] })
    : new gb.GanDiscriminator({ kind, imageShape: shape, channels });
  const tty = Deno.stdout.isTerminal();
  const log = await gb.RunLog.create(out);
  // the trackers' records go to generator/ and discriminator/; the top level keeps the GAN's alarms
  await Deno.remove(`${out}/${gb.RUN_FILES.tracker}`);
  const logs = {
    generator: await gb.RunLog.create(`${out}/${gb.GAN_FILES.generatorLog}`),
    discriminator: await gb.RunLog.create(`${out}/${gb.GAN_FILES.discriminatorLog}`),
  };
  let kept = 0;
  gb.onInterrupt(() =>
    `interrupted: ${
      kept
        ? `keeping epoch ${kept} (the last complete one) in ${out}: both checkpoints, history.json and metrics.json`
        : `no epoch was complete, so there is no checkpoint (the logs so far are in ${out})`
    }`
  );
  const r = await gb.trainGan(G, D, { x, sampleShape: shape }, {
    epochs,
    batchSize: values["batch-size"]!,
    lr: values.lr!,
    beta1,
    seed,
    trackEvery: values["track-every"]!,
  }, {
    onAlarm: (a, net) => {
      console.log(`${tty ? "\n" : ""}ALARM (${net}) ${a.message}`);
      if (net === "gan") log.alarms([a]);
    },
    onStep: (p) => {
      log.scalar("loss/discriminator", p.lossD, p.globalStep);
      log.scalar("loss/generator", p.lossG, p.globalStep);
      log.scalar("D/real", p.dReal, p.globalStep);
      log.scalar("D/generated", p.dFake, p.globalStep);
      gb.showStep(p, tty);
    },
    onEpoch: async (e) => {
      await gb.writeFilesTogether(out, e.files);
      kept = e.epoch;
      log.image("samples/fixed_noise", gb.samplesImage(e.samples, shape), e.epoch);
      log.scalar("samples/diversity", e.diversity, e.epoch);
      console.log(e.line);
    },
    onTrack: (net, records, alarms) =>
      gb.uninterrupted(async () => {
        logs[net].alarms(alarms);
        logs[net].records(records);
        await logs[net].flush();
        await log.flush();
      }),
  });
  const m = r.metrics;
  console.log(
    `${r.seconds.toFixed(0)} s in all; final loss D ${(m.finalLossD as number).toFixed(3)}, G ${
      (m.finalLossG as number).toFixed(3)
    } (mean of the last 100 steps); wrote ${out}/${gb.GAN_FILES.generator}, ${gb.GAN_FILES.discriminator}, history.json, metrics.json`,
  );
  const pics = await gb.ganPictures({
    G,
    D,
    history: r.history,
    samplesPerEpoch: r.samplesPerEpoch,
    fixed: gb.fixedNoise(m.fixedSamples as number, G.latent, seed),
    real: x.subarray(0, 8 * per),
    stepsPerEpoch: Math.floor(n / values["batch-size"]!),
  });
  await gb.uninterrupted(async () => {
    for (const f of pics) await gb.writeTextAtomic(`${out}/${f.name}`, f.data as string);
    await log.flush();
  });
  // each network's tracking pictures (gradient flow, norms, histograms, graph, summary) in its folder
  const z = gb.tensor(gb.fixedNoise(1, G.latent, seed), [1, G.latent]);
  const image = gb.tensor(x.subarray(0, per), [1, ...shape]);
  const tracked = [
    ...await gb.renderRunPictures(`${out}/${gb.GAN_FILES.generatorLog}`, { model: G, sample: z }),
    ...await gb.renderRunPictures(`${out}/${gb.GAN_FILES.discriminatorLog}`, { model: D, sample: image }),
  ];
  z.dispose();
  image.dispose();
  const nAlarms = r.alarms.length;
  console.log(
    `${
      pics.length + r.samplesPerEpoch.length
    } pictures in ${out}/pictures, ${tracked.length} in ${out}/generator/pictures and ${out}/discriminator/pictures; ${nAlarms} alarm${
      nAlarms === 1 ? "" : "s"
    } (${out}/alarms.txt, ${out}/generator/alarms.txt, ${out}/discriminator/alarms.txt)`,
  );
  console.log(`TensorBoard: tensorboard --logdir ${out}`);
}

if (import.meta.main) await gb.runMain("gan", main);
