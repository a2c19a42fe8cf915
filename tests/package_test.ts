/**
 * glassbox as a package: deno.json's name, version, licence and exports are there, `deno publish
 * --dry-run` passes without `--allow-slow-types` and ships only what the publish list says, and
 * `deno doc --lint` finds nothing on any entry point, and each entry point has a module doc. The entry
 * points are read from deno.json, so a new export is checked without touching this file.
 */
import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url);

interface PackageConfig {
  name?: string;
  version?: string;
  license?: string;
  exports?: string | Record<string, string>;
  publish?: { include?: string[]; exclude?: string[] };
}

const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as PackageConfig;
const exports: Record<string, string> = typeof config.exports === "string"
  ? { ".": config.exports }
  : config.exports ?? {};

/** Runs `deno <args>` in the repository root; its exit code, everything it printed, and its stdout alone. */
async function deno(args: string[]): Promise<{ code: number; output: string; stdout: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder();
  const out = text.decode(stdout);
  return { code, output: out + text.decode(stderr), stdout: out };
}

Deno.test("deno.json names the package: scoped name, semver version, licence file, exports that exist", async () => {
  assert.match(config.name ?? "", /^@[a-z0-9-]+\/[a-z0-9-]+$/, "name must be @scope/name");
  assert.match(config.version ?? "", /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, "version must be semver");
  assert.equal(config.license, "MIT");
  const licence = await Deno.readTextFile(new URL("LICENSE", ROOT));
  assert.match(licence, /^MIT License\n/);
  assert.match(licence, /Copyright \(c\) \d{4} /);
  assert.ok(exports["."], 'deno.json exports needs the root entry "."');
  for (const [key, path] of Object.entries(exports)) {
    assert.ok(key === "." || key.startsWith("./"), `export ${key} must be "." or start with "./"`);
    const stat = await Deno.stat(new URL(path, ROOT)).catch(() => null);
    assert.ok(stat?.isFile, `export ${key} points at ${path}, which is not a file`);
  }
});

Deno.test("deno publish --dry-run passes without --allow-slow-types and ships only the publish list", async () => {
  const { code, output } = await deno(["publish", "--dry-run", "--allow-dirty"]);
  assert.equal(code, 0, `deno publish --dry-run failed:\n${output}`);
  // the dry run lists the files it would upload, one file: URL a line
  const root = ROOT.href;
  const files = [...output.matchAll(/file:\/\/\S+/g)].map((m) => m[0].slice(root.length)).filter((f) =>
    !f.startsWith("/")
  );
  assert.ok(files.length > 0, `no file list in the dry run's output:\n${output}`);
  for (const must of ["mod.ts", "LICENSE", "README.md", ...Object.values(exports).map((p) => p.slice(2))]) {
    assert.ok(files.includes(must), `the package would not ship ${must}; it ships:\n${files.join("\n")}`);
  }
  assert.ok(files.some((f) => f.startsWith("shaders/")), "the package would not ship shaders/");
  const stray = files.filter((f) => /^(tests|bench|examples|out|dist|deploy|\.ci)\//.test(f));
  assert.deepEqual(stray, [], `the package would ship files it should not: ${stray.join(", ")}`);
});

for (const [key, path] of Object.entries(exports)) {
  Deno.test(`deno doc --lint finds nothing on export ${key} (${path}), which has a module doc`, async () => {
    const { code, output, stdout } = await deno(["doc", "--lint", "--json", path]);
    assert.equal(code, 0, `deno doc --lint ${path} reports:\n${output}`);
    // the module doc is the page a package registry shows for the entry point
    const nodes = (JSON.parse(stdout) as { nodes: Record<string, { module_doc?: { doc?: string } }> }).nodes;
    const doc = Object.values(nodes)[0]?.module_doc?.doc ?? "";
    assert.ok(doc.length > 40, `${path} has no module doc: its first JSDoc needs an @module tag`);
  });
}
