/**
 * The HTML report: its page builder escapes and checks what it is given, and the report of a
 * real (short) training run opens in headless Chromium with no console errors, every image
 * loaded and every navigation link landing on its section.
 */
import assert from "node:assert/strict";
import * as gb from "../mod.ts";
import { createHash } from "node:crypto";
import { DEV_LOCK, runScript } from "./run_script.ts";

Deno.test("htmlPage: sections in the navigation, text escaped, bad ids refused; embedImage round-trips its bytes", () => {
  const html = gb.htmlPage("R <1>", [{
    id: "a-1",
    title: "A & B",
    html: gb.htmlTable(["x"], [["<b>"], [3]]),
  }]);
  assert.match(html, /<title>R &lt;1&gt;<\/title>/);
  assert.match(html, /<html lang="en">/);
  assert.match(gb.htmlPage("x", [], "", "zh"), /<html lang="zh">/);
  assert.throws(() => gb.htmlPage("x", [], "", 'zh"><script>'), /bad language tag/);
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

/** What browser_check.ts prints. */
interface Seen {
  title: string;
  lang: string;
  errors: string[];
  images: { ok: boolean; alt: string }[];
  missingSections: string[];
  headings: string[];
  text: string;
  glyphs: { distinct: number; sameAsTofu: number; ink: number[] };
}

async function browse(url: string, png: string, env: Record<string, string> = {}): Promise<Seen> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", DEV_LOCK, "-A", "tests/browser_check.ts", url, png],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
  return JSON.parse(new TextDecoder().decode(r.stdout)) as Seen;
}

/** The text nodes of every SVG embedded in the page. */
function svgTexts(html: string): string[] {
  return [...html.matchAll(/data:image\/svg\+xml;base64,([^"]+)"/g)].flatMap((m) => {
    const svg = new TextDecoder().decode(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)));
    return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((t) => t[1].trim()).filter(Boolean);
  });
}

const unescape = (s: string) =>
  s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&");

/** Method names that stay as they are in every language (proper names). */
const PROPER = new Set(["IG ρ", "Grad-CAM ρ"]);

/** Every English string of the report's table (headings, headers, labels, legends, keys, intros) but the proper names. */
function englishOnly(): string[] {
  const out: string[] = [];
  const walk = (a: unknown) => {
    if (typeof a === "string") {
      if (/[A-Za-z]{2}/.test(a) && !PROPER.has(a)) out.push(a);
    } else if (Array.isArray(a)) a.forEach(walk);
    else if (a && typeof a === "object") Object.values(a).forEach(walk);
  };
  walk(gb.reportStrings("en"));
  return out;
}

Deno.test("deno task report on a short training run: the whole page in the language asked for, borrowed sections matched to the checkpoint, words that match the pictures, and it opens in Chromium with every image loaded and Chinese glyphs drawn", async () => {
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
  // a borrowed run named on the command line that is not there: one plain line, exit 2
  for (const flag of ["--compress", "--attention"]) {
    const r = await run("examples/report.ts", dir, flag, `${dir}/no-such-run`);
    assert.equal(r.code, 2, `${flag}: ${r.err}`);
    assert.equal(r.err.trim().split("\n").length, 1, r.err);
    assert.match(r.err, new RegExp(`^error: ${flag} .*no-such-run: no `), r.err);
  }
  // two compression studies: one of this checkpoint, one of another (their hashes planted)
  const sha = createHash("sha256").update(await Deno.readFile(`${dir}/checkpoint.safetensors`)).digest("hex");
  const variant = {
    name: "original",
    params: 225034,
    nonzero: 225034,
    file: "original.safetensors",
    bytes: 900000,
    gzipBytes: 800000,
    accuracy: 0.989,
    msPerBatch: 12,
    igDrift: 1,
    camDrift: 1,
  };
  for (const [name, hash] of [["same", sha], ["other", "ab".repeat(32)]]) {
    await Deno.mkdir(`${dir}/cmp-${name}`);
    await Deno.writeTextFile(
      `${dir}/cmp-${name}/summary.json`,
      JSON.stringify({
        checkpoint: `elsewhere/${name}.safetensors`,
        checkpointSha256: hash,
        variants: [variant],
      }),
    );
  }

  // Chinese, with the study of another checkpoint
  const zhRun = await run(
    "examples/report.ts",
    dir,
    ...["--mistakes", "2", "--gallery", "2", "--lang", "zh", "--out", `${dir}/zh.html`],
    ...["--compress", `${dir}/cmp-other`, "--attention", `${dir}/no-attention-default`],
  );
  // (--attention pointing at nothing is an error: this run must fail, and the next one leave it out)
  assert.equal(zhRun.code, 2, zhRun.err);
  const zr = await run(
    "examples/report.ts",
    dir,
    ...["--mistakes", "2", "--gallery", "2", "--lang", "zh", "--out", `${dir}/zh.html`],
    ...["--compress", `${dir}/cmp-other`],
    // the nearest training examples take one forward pass over MNIST's 60,000 (minutes on lavapipe):
    // report_any_test checks them on a small training set
    ...["--neighbours", "0"],
  );
  assert.equal(zr.code, 0, zr.err);
  const zh = await Deno.readTextFile(`${dir}/zh.html`);
  assert.doesNotMatch(zh, /<script|src="(?!data:)/, "self-contained: no scripts, no external sources");
  assert.match(zh, /<html lang="zh">/);
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
      "compression",
    ]
  ) {
    assert.match(zh, new RegExp(`<section id="${id}">`), id);
  }
  assert.match(zh, /模型预测为/, "the explanations are in Chinese");
  assert.match(
    zh,
    new RegExp(
      `由另一个检查点生成：.*cmp-other 压缩的是 elsewhere/other\\.safetensors（SHA-256 abababababab…），而不是本页的 .*（SHA-256 ${
        sha.slice(0, 12)
      }…）`,
    ),
  );
  const english = englishOnly();
  assert.ok(english.length > 80, `${english.length} English strings`);
  const seenZh = await browse(`file://${dir}/zh.html`, `${dir}/zh.png`);
  assert.equal(seenZh.lang, "zh");
  assert.equal(seenZh.title, "glassbox 报告");
  const leftHeadings = seenZh.headings.map((h) => h.trim()).filter((h) => english.includes(h));
  assert.deepEqual(
    leftHeadings,
    [],
    "no English heading, table header or navigation link in the Chinese page",
  );
  const leftInCharts = svgTexts(zh).map(unescape).filter((t) => english.includes(t));
  assert.deepEqual(leftInCharts, [], "no English title, axis, legend or key in the Chinese page's charts");
  const leftInText = english.filter((e) => e.includes(" ") && seenZh.text.includes(e));
  assert.deepEqual(leftInText, [], "no English sentence in the Chinese page");
  // Chinese glyphs drawn, not tofu: eight distinct characters give eight distinct bitmaps, none the missing-glyph box
  assert.equal(seenZh.glyphs.distinct, 8, JSON.stringify(seenZh.glyphs));
  assert.equal(seenZh.glyphs.sameAsTofu, 0, JSON.stringify(seenZh.glyphs));
  // and the check sees tofu when Chromium has no CJK font (fontconfig limited to DejaVu)
  await Deno.writeTextFile(
    `${dir}/fonts.conf`,
    `<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig><dir>/usr/share/fonts/truetype/dejavu</dir><cachedir>${dir}/fc-cache</cachedir></fontconfig>`,
  );
  const tofu = await browse(`file://${dir}/zh.html`, `${dir}/tofu.png`, {
    FONTCONFIG_FILE: `${dir}/fonts.conf`,
  });
  assert.equal(
    tofu.glyphs.distinct,
    1,
    `without a CJK font every character is the same box: ${JSON.stringify(tofu.glyphs)}`,
  );

  // English, with the study of this checkpoint
  const er = await run(
    "examples/report.ts",
    dir,
    ...["--mistakes", "2", "--gallery", "2", "--compress", `${dir}/cmp-same`, "--neighbours", "0"],
  );
  assert.equal(er.code, 0, er.err);
  const en = await Deno.readTextFile(`${dir}/report.html`);
  assert.match(en, /<html lang="en">/);
  assert.match(
    en,
    new RegExp(
      `made from elsewhere/same\\.safetensors: the same checkpoint as this page \\(SHA-256 ${
        sha.slice(0, 12)
      }…\\)`,
    ),
  );
  assert.doesNotMatch(en, /different checkpoint/);
  // every section says what it shows and how to read it
  const sections = [...en.matchAll(/<section id="([^"]+)"><h2>[^<]*<\/h2>(.{0,40})/g)];
  assert.ok(sections.length >= 10);
  for (const [, id, next] of sections) {
    assert.match(next, /^<p class="intro">/, `section ${id} opens with its reading guide`);
  }
  // the model in words states the gradient-flow chart's own numbers
  const flowSvg = [...en.matchAll(/data:image\/svg\+xml;base64,([^"]+)"/g)].map((m) =>
    new TextDecoder().decode(Uint8Array.from(atob(m[1]), (c) => c.charCodeAt(0)))
  ).find((s) => s.includes("Gradient flow:"))!;
  const bars = new Map(
    [...flowSvg.matchAll(/<title>(\S+) \S+ mean \|grad\|: ([^<]+)<\/title>/g)].map((
      m,
    ) => [m[1], Number(m[2])]),
  );
  const words = /runs from ([\d.e-]+) \((\d+)\.weight\) to ([\d.e-]+) \((\d+)\.weight\)/.exec(unescape(en));
  assert.ok(words, "the gradient sentence");
  for (const [v, layer] of [[words[1], words[2]], [words[3], words[4]]]) {
    const bar = [...bars].find(([k]) => k === layer)?.[1];
    assert.ok(bar !== undefined, `a bar for layer ${layer} in ${[...bars.keys()]}`);
    assert.ok(Math.abs(Number(v) - bar) <= 0.006 * bar, `layer ${layer}: words ${v}, chart ${bar}`);
  }
  assert.match(
    unescape(en),
    /Averaged over gradient tracking's records of steps \d+–\d+ \(the gradient-flow chart's window\)/,
  );
  // each mistake's text cites only methods shown beside it
  const cards = [
    ...en.matchAll(
      /<div class="card"><img src="data:image\/svg\+xml;base64,([^"]+)"[^>]*><pre>([^<]*)<\/pre>/g,
    ),
  ];
  assert.equal(cards.length, 2);
  for (const [, b64, text] of cards) {
    const svg = new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
    const columns = [...svg.matchAll(/font-weight="bold">([^<]+)<\/text>/g)].map((m) => unescape(m[1]));
    const cited = /\n(.+) agree (?:weakly|moderately|strongly)/.exec(unescape(text))![1].split(", ");
    const main = /in the order of the (.+?) attribution/.exec(unescape(text))![1];
    // a long heading wraps onto two lines: the headings joined by spaces read as the columns' names
    const headings = " " + columns.slice(1).join(" ") + " ";
    for (const m of [...cited, main]) {
      assert.ok(headings.includes(` ${m} `), `"${m}" cited but the columns are ${columns.slice(1)}`);
    }
  }
  const seen = await browse(`file://${dir}/report.html`, `${dir}/report.png`);
  for (const s of [seen, seenZh]) {
    assert.ok(s.images.length >= 15, `${s.images.length} images`);
    assert.deepEqual(s.images.filter((i) => !i.ok).map((i) => i.alt), [], "every image loads");
    assert.deepEqual(s.missingSections, [], "every navigation link has its section");
    assert.deepEqual(s.errors, [], "no console errors");
  }
  await Deno.remove(dir, { recursive: true });
});
