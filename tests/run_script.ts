/**
 * The lockfile of the test and bench dependencies (playwright-core, onnxruntime-web, TensorFlow.js):
 * scripts under tests/ and bench/ run with it so that deno.lock keeps only what the library uses.
 */
export const DEV_LOCK = "--lock=deno.dev.lock";

/** Runs a script of this repository in a subprocess and returns its exit code and text output. */
export async function runScript(
  script: string,
  args: string[] = [],
  permissions: string[] = ["--allow-read", "--allow-write", "--allow-env"],
): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...(/^(tests|bench)\//.test(script) ? [DEV_LOCK] : []), ...permissions, script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: r.code, out: new TextDecoder().decode(r.stdout), err: new TextDecoder().decode(r.stderr) };
}
