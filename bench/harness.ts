/** Timing helpers shared by the benchmarks: medians over repeated runs, and the table. */

export interface Row {
  name: string;
  ours: number;
  peer: number;
  unit?: string;
}

/** Median wall time (ms) of `run` after `warmup` untimed runs. `run` must include its readback. */
export async function time(run: () => Promise<unknown>, reps = 7, warmup = 2): Promise<number> {
  for (let i = 0; i < warmup; i++) await run();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

/** Prints a table with the peer's time, ours, and the speed-up (peer / ours). */
export function printTable(title: string, peerName: string, rows: Row[]): void {
  console.log(`\n${title}`);
  const w = Math.max(...rows.map((r) => r.name.length), 10);
  console.log(
    `| ${"workload".padEnd(w)} | ${peerName.padStart(14)} | ${"glassbox".padStart(10)} | speed-up |`,
  );
  console.log(`| ${"-".repeat(w)} | ${"-".repeat(14)}:| ${"-".repeat(10)}:| --------:|`);
  for (const r of rows) {
    console.log(
      `| ${r.name.padEnd(w)} | ${(r.peer.toFixed(1) + " ms").padStart(14)} | ${
        (r.ours.toFixed(1) + " ms").padStart(10)
      } | ${(r.peer / r.ours).toFixed(2).padStart(7)}× |`,
    );
  }
}
