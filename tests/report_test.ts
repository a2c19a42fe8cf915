/**
 * The HTML report: its page builder escapes and checks what it is given, and the report of a
 * real (short) training run opens in headless Chromium with no console errors, every image
 * loaded and every navigation link landing on its section.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { runScript } from "./run_script.ts";

Deno.test("htmlPage: sections in the navigation, text escaped, bad ids refused; embedImage round-trips its bytes", () => {
  const html = gb.htmlPage("R <1>", [{
    id: "a-1",
    title: "A & B",
    html: gb.htmlTable(["x"], [["<b>"], [3]]),
  }]);
  assert.match(html, /<title>R &lt;1&gt;<\/title>/);
  assert.match(html, /<a href="#a-1">A &amp; B<\/a>/);
  assert.match(html, /<td>&lt;b&gt;<\/td>/);
  assert.match(html, /<td class="num">3<\/td>/);
  assert.throws(
    () => gb.htmlPage("x", [{ id: "a", title: "", html: "" }, { id: "a", title: "", html: "" }]),
    /repeated section id "a"/,
  );
  assert.throws(() => gb.htmlPage("x", [{ id: "no spaces", title: "", html: "" }]), /bad or repeated/);
  const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="3" height="2"><text>é</text></svg>';
  const img = gb.embedImage(svg, 'a "quoted" picture');
  assert.match(img, /alt="a &quot;quoted&quot; picture"/);
  const b64 = /base64,([^"]+)"/.exec(img)![1];
  assert.equal(new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))), svg);
});

const run = (script: string, ...args: string[]) => runScript(script, args);

Deno.test("deno task report on a short training run: one page that opens in headless Chromium with no console errors and every image loaded", async () => {
  const dir = await Deno.makeTempDir();
  const train = await run("examples/train_mnist.ts", "--quick", "--out", dir, "--track-every", "5");
  assert.equal(train.code, 0, train.err);
  const bad = await run("examples/report.ts", dir, "--lang", "fr");
  assert.equal(bad.code, 2);
  assert.equal(bad.err.trim().split("\n").length, 1, bad.err);
  const none = await run("examples/report.ts", `${dir}/nothing-here`);
  assert.match(
    none.err,
    /^error: no checkpoint at .*nothing-here\/checkpoint\.safetensors: run `deno task train` first/,
  );
  const r = await run(
    "examples/report.ts",
    dir,
    "--mistakes",
    "2",
    "--gallery",
    "2",
    "--lang",
    "zh",
    "--compress",
    `${dir}/no-compress`,
    "--attention",
    `${dir}/no-attention`,
  );
  assert.equal(r.code, 0, r.err);
  const html = await Deno.readTextFile(`${dir}/report.html`);
  assert.doesNotMatch(html, /<script|src="(?!data:)/, "self-contained: no scripts, no external sources");
  for (
    const id of [
      "model",
      "training",
      "gradients",
      "distributions",
      "errors",
      "calibration",
      "mistakes",
      "gallery",
      "words",
    ]
  ) {
    assert.match(html, new RegExp(`<section id="${id}">`), id);
  }
  assert.match(html, /模型预测为/, "the explanations are in Chinese");

  const check = await runScript(
    "tests/browser_check.ts",
    [`file://${dir}/report.html`, `${dir}/report.png`],
    ["-A"],
  );
  assert.equal(check.code, 0, check.err);
  const seen = JSON.parse(check.out) as {
    title: string;
    errors: string[];
    images: { ok: boolean; alt: string }[];
    missingSections: string[];
  };
  assert.equal(seen.title, "glassbox report");
  assert.ok(seen.images.length >= 15, `${seen.images.length} images`);
  assert.deepEqual(seen.images.filter((i) => !i.ok).map((i) => i.alt), [], "every image loads");
  assert.deepEqual(seen.missingSections, [], "every navigation link has its section");
  assert.deepEqual(seen.errors, [], "no console errors");
});
