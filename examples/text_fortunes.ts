/**
 * `deno task text`: a transformer text classifier learns to tell apart collections of Debian's
 * `fortunes` quotations (sorted by people), against a bag-of-words logistic regression on the
 * same fixed held-out split, and is explained token by token. The work is `runTextApp`
 * (src/apps/text.ts); this file reads the collections and writes the files.
 */
import * as gb from "../mod.ts";

const HELP = `deno task text [options]
  --collections A,B,..  fortune collections to tell apart (default computers,politics,science,startrek)
  --dir D          where the fortune files are (default /usr/share/games/fortunes; apt-get install fortunes)
  --out D          output folder (default out/text)
  --epochs N       most training epochs (default 12; --quick 3)
  --explain N      held-out quotations explained token by token (default all; --quick 24)
  --seed N         initialisation and shuffling seed (default 0; the held-out split is fixed)
  --quick          a small run (a narrower model, 3 epochs, 24 explained quotations)
  --help           this text
Writes tokens_ig.svg, tokens_occlusion.svg, words.svg, baseline_words.svg, attention.svg,
confusion.svg, loss.svg, summary.json, README.md and model.safetensors (with its profile).`;

const FLAGS = {
  collections: { type: "string", default: "computers,politics,science,startrek" },
  dir: { type: "string", default: "/usr/share/games/fortunes" },
  out: { type: "string", default: "out/text" },
  epochs: { type: "int", min: 1 },
  explain: { type: "int", min: 1 },
  seed: { type: "int", min: 0, default: 0 },
  quick: { type: "boolean" },
  help: { type: "boolean" },
} as const;

async function main(): Promise<void> {
  const { flags } = gb.parseFlags(Deno.args, FLAGS);
  if (flags.help) return console.log(HELP);
  const names = flags.collections!.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (names.length < 2) {
    throw new gb.UsageError(`--collections needs at least two collections, got "${flags.collections}"`);
  }
  if (names.some((n) => !/^[a-z0-9-]+$/i.test(n))) {
    throw new gb.UsageError(`--collections takes names of fortune files, got "${flags.collections}"`);
  }
  const collections: gb.TextCollection[] = [];
  for (const name of names) {
    const path = `${flags.dir}/${name}`;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new Error(
          `no fortune collection at ${path}: install Debian's fortunes package (apt-get install fortunes) or pass --dir`,
        );
      }
      throw e;
    }
    collections.push({ name, texts: gb.parseFortunes(text) });
  }
  const r = await gb.runTextApp(collections, {
    quick: flags.quick,
    epochs: flags.epochs,
    explainCount: flags.explain,
    seed: flags.seed,
    log: (line) => console.log(line),
  });
  await Deno.mkdir(flags.out!, { recursive: true });
  await gb.uninterrupted(async () => {
    for (const [name, text] of r.files) await gb.writeTextAtomic(`${flags.out}/${name}`, text);
    await gb.saveModel(r.model, `${flags.out}/model.safetensors`, gb.profileMetadata(r.profile));
  });
  const a = r.summary.accuracy;
  console.log(
    `held-out accuracy: transformer ${(100 * a.transformer).toFixed(1)}%, bag of words ${
      (100 * a.bagOfWords).toFixed(1)
    }% (majority class ${(100 * a.majorityClass).toFixed(1)}%); wrote ${flags.out}/`,
  );
}

if (import.meta.main) await gb.runMain("text", main);
