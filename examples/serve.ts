/**
 * `deno task serve`: the live dashboard on http://127.0.0.1:8000/ for any checkpoint saved with
 * its explanation profile (image, tabular or text model; an old `deno task train` checkpoint is
 * the MNIST model). Give an input (draw, pick an example, fill in the features, type a text);
 * see the prediction, one attribution map per method, a layer's feature maps and, for images,
 * the explanation in words, computed live. With --static DIR it serves nothing: it writes a
 * dashboard that needs no server (the page, glassbox bundled for the browser and the checkpoint;
 * the visitor's browser computes everything on WebGPU). The logic is in src/serve.
 */
import * as gb from "../mod.ts";

const HELP = `deno task serve [options]
  --checkpoint F   a checkpoint saved with its explanation profile, or one from deno task train
                   (default out/mnist/checkpoint.safetensors; without a profile it is the MNIST model)
  --examples F     a safetensors file of examples to offer on the page: "x" [N, ...input shape] in
                   the model's input units and optional "y" [N] labels (as deno task explain --data);
                   without it the MNIST model offers MNIST's test images, other models none
  --train F        training examples ("x" in the model's input units, "y" labels): the page shows
                   the nearest ones under each prediction (default: MNIST's 60,000 training images
                   for the MNIST model, searched from the first request on; other models none)
  --host H         loopback address to listen on: 127.0.0.1 (default) or ::1; this machine only,
                   since the dashboard runs models for whoever asks and has no login
  --port N         port (default 8000; 0 picks a free one)
  --max-queued N   explanations that may wait behind the running one (default 8; more get 503)
  --body-timeout S seconds a request body may take to arrive (default 10; slower gets 408)
  --header-timeout S  seconds a request's headers may take to arrive (default 10; slower gets 408)
  --static DIR     serve nothing: write DIR/index.html, DIR/glassbox.js (glassbox bundled now by
                   deno bundle) and the checkpoint, a dashboard any static file host can serve; the
                   visitor's browser computes everything on WebGPU (no examples or neighbours; the
                   folder must be new or one written before, which is replaced)
  --help           this text
It answers only requests addressed to 127.0.0.1:PORT, [::1]:PORT or localhost:PORT (Host header),
and POST bodies only as application/json.`;

const FLAGS = {
  checkpoint: { type: "string", default: "out/mnist/checkpoint.safetensors" },
  examples: { type: "string" },
  train: { type: "string" },
  host: { type: "string", default: "127.0.0.1" },
  port: { type: "int", min: 0, default: 8000 },
  "max-queued": { type: "int", min: 0, default: 8 },
  "body-timeout": { type: "number", positive: true, default: 10 },
  "header-timeout": { type: "number", positive: true, default: 10 },
  static: { type: "string" },
  help: { type: "boolean" },
} as const;

/** The static dashboard: the flags that only a server uses are mistakes with --static. */
async function writeStatic(flags: gb.Flags<typeof FLAGS>, given: string[]): Promise<void> {
  const serverOnly = ["examples", "train", "host", "port", "max-queued", "body-timeout", "header-timeout"]
    .filter((f) => given.includes(`--${f}`) || given.some((a) => a.startsWith(`--${f}=`)));
  if (serverOnly.length) {
    throw new gb.UsageError(
      `--static writes files and serves nothing: --${serverOnly[0]} has no use with it`,
    );
  }
  const written = await gb.writeStaticDashboard({
    checkpoint: flags.checkpoint!,
    dir: flags.static!,
    progress: (line) => console.log(line),
  });
  const size = (n: number) => n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${(n / 1e3).toFixed(1)} kB`;
  console.log(
    `wrote ${written.dir}/: ${written.files.map((f) => `${f.name} (${size(f.bytes)})`).join(", ")}. ` +
      `Serve the folder with any static file server and open index.html in a browser with WebGPU.`,
  );
}

async function main(): Promise<void> {
  const { flags } = gb.parseFlags(Deno.args, FLAGS);
  if (flags.help) return console.log(HELP);
  if (flags.static !== undefined) {
    if (!(await gb.fileExists(flags.checkpoint!))) {
      throw new gb.UsageError(`--checkpoint: no file at ${flags.checkpoint}`);
    }
    return await writeStatic(flags, Deno.args);
  }
  if (flags.port! > 65535) throw new gb.UsageError(`--port must be at most 65535, got ${flags.port}`);
  for (const flag of ["body-timeout", "header-timeout"] as const) {
    if (flags[flag]! > 3600) {
      throw new gb.UsageError(`--${flag} must be at most 3600 seconds, got ${flags[flag]}`);
    }
  }
  let host: string;
  try {
    host = gb.dashboardHost(flags.host!);
  } catch {
    throw new gb.UsageError(
      `--host must be 127.0.0.1 or ::1 (loopback: the dashboard has no login, and the task may open only these), got "${flags.host}"`,
    );
  }
  if (!(await gb.fileExists(flags.checkpoint!))) {
    throw new Error(`no checkpoint at ${flags.checkpoint}: make one with \`deno task train\` (or --quick)`);
  }
  if (flags.examples !== undefined && !(await gb.fileExists(flags.examples))) {
    throw new gb.UsageError(`--examples: no file at ${flags.examples}`);
  }
  if (flags.train !== undefined && !(await gb.fileExists(flags.train))) {
    throw new gb.UsageError(`--train: no file at ${flags.train}`);
  }
  try {
    await gb.serveDashboard({
      checkpoint: flags.checkpoint!,
      examples: flags.examples,
      train: flags.train,
      host,
      port: flags.port,
      maxQueued: flags["max-queued"],
      bodyTimeout: Math.round(flags["body-timeout"]! * 1000),
      headerTimeout: Math.round(flags["header-timeout"]! * 1000),
      onListen: (url) => console.log(`glassbox dashboard on ${url} (Ctrl-C stops it)`),
    });
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) throw new gb.UsageError((e as Error).message);
    throw e;
  }
}

if (import.meta.main) await gb.runMain("serve", main);
