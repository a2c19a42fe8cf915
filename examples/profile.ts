/**
 * `deno task profile <workload>`: which GPU kernels a workload launches, how often, for how long
 * and how fast (GB/s, GFLOP/s), as a table sorted by time and as a Chrome trace. The work is
 * src/apps/profile.ts; this file parses flags and writes the trace.
 */
import * as gb from "../mod.ts";

const HELP = `deno task profile <workload> [options]
  workload          \${WORKLOADS}
  --batch N         train-step, inference: the batch size (default 64; inference 256)
  --steps N         ig: integration steps (default 50)
  --rows N          print only the N slowest kernels (default: all)
  --roofline        also measure the adapter's ceilings (a copy kernel's GB/s, the best matmul's GFLOP/s;
                    a few seconds) and draw <workload>.roofline.svg
  --out DIR         where to write <workload>.trace.json (default out/profile)
  --help            this text

Runs the workload once to warm up, then once with every kernel launch timed (GPU timestamp
queries when the adapter offers them, else host time around a submit per launch), prints the
kernels sorted by time and writes the Chrome trace, which ui.perfetto.dev and chrome://tracing open.`;

const FLAGS = {
  batch: { type: "int", min: 1 },
  steps: { type: "int", min: 1 },
  rows: { type: "int", min: 1 },
  roofline: { type: "boolean" },
  out: { type: "string", default: "out/profile" },
  help: { type: "boolean" },
} as const;

async function main(): Promise<void> {
  const { flags, positionals } = gb.parseFlags(Deno.args, FLAGS, { positionals: [0, 1] });
  const known = Object.keys(gb.PROFILE_WORKLOADS);
  if (flags.help) {
    console.log(
      HELP.replace(
        "${WORKLOADS}",
        known.map((k) => `${k}: ${gb.PROFILE_WORKLOADS[k]}`).join("\n                    "),
      ),
    );
    return;
  }
  const workload = positionals[0];
  if (workload === undefined) throw new gb.UsageError(`name a workload: ${known.join(", ")}`);
  if (!known.includes(workload)) {
    throw new gb.UsageError(`unknown workload "${workload}"; choose from ${known.join(", ")}`);
  }
  // an option the workload does not take is an error, not silently ignored
  const takes = { batch: ["train-step", "inference"], steps: ["ig"] } as const;
  for (const [flag, workloads] of Object.entries(takes)) {
    if (
      flags[flag as keyof typeof takes] !== undefined && !(workloads as readonly string[]).includes(workload)
    ) {
      throw new gb.UsageError(`--${flag} applies to ${workloads.join(" and ")}, not ${workload}`);
    }
  }
  const ceilings = flags.roofline ? await gb.measureCeilings() : undefined;
  if (ceilings) {
    console.log(
      `ceilings: ${ceilings.gbPerS.toFixed(2)} GB/s, ${
        ceilings.gflopPerS.toFixed(2)
      } GFLOP/s (${ceilings.how})`,
    );
  }
  const run = await gb.profileWorkload(workload, {
    batch: flags.batch,
    steps: flags.steps,
    rows: flags.rows,
    ceilings,
  });
  console.log(`${workload}: ${run.description}\n${run.table}`);
  for (const f of run.files) {
    const path = `${flags.out}/${f.name}`;
    if (typeof f.data === "string") await gb.writeTextAtomic(path, f.data);
    else await gb.writeAtomic(path, f.data);
    console.log(
      `wrote ${path}${f.name.endsWith(".json") ? " (open it in ui.perfetto.dev or chrome://tracing)" : ""}`,
    );
  }
}

if (import.meta.main) await gb.runMain("profile", main);
