/**
 * `deno task serve`: the live dashboard on http://127.0.0.1:8000/ for a checkpoint of
 * `deno task train`. Pick a test image or draw a digit; see the prediction, attribution
 * heatmaps, a layer's feature maps and the explanation in words, computed live.
 */
import * as gb from "../mod.ts";

const HELP = `deno task serve [options]
  --checkpoint F   a checkpoint from deno task train (default out/mnist/checkpoint.safetensors)
  --host H         address to listen on (default 127.0.0.1, this machine only)
  --port N         port (default 8000; 0 picks a free one)
  --help           this text`;

const FLAGS = {
  checkpoint: { type: "string", default: "out/mnist/checkpoint.safetensors" },
  host: { type: "string", default: "127.0.0.1" },
  port: { type: "int", min: 0, default: 8000 },
  help: { type: "boolean" },
} as const;

async function main(): Promise<void> {
  const { flags } = gb.parseFlags(Deno.args, FLAGS);
  if (flags.help) return console.log(HELP);
  if (flags.port! > 65535) throw new gb.UsageError(`--port must be at most 65535, got ${flags.port}`);
  if (!(await gb.fileExists(flags.checkpoint!))) {
    throw new Error(`no checkpoint at ${flags.checkpoint}: make one with \`deno task train\` (or --quick)`);
  }
  await gb.serveDashboard({
    checkpoint: flags.checkpoint!,
    host: flags.host,
    port: flags.port,
    onListen: (url) => console.log(`glassbox dashboard on ${url} (Ctrl-C stops it)`),
  });
}

if (import.meta.main) await gb.runMain("serve", main);
