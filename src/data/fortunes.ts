/**
 * A real text data set: the quotations of Debian's `fortunes` package (files under
 * /usr/share/games/fortunes), which people sorted into collections (computers, science,
 * politics, …). This module parses text it is given (the caller reads the files): the fortune
 * format, words, a vocabulary from the training split only, and a fixed held-out split decided
 * by a hash of each quotation, so the numbers are the same on every machine and every run.
 */

/** The padding token (id 0): fills a sequence up to its fixed length. */
export const PAD = "<pad>";
/** The unknown-word token (id 1): a word the training split did not have often enough. */
export const UNK = "<unk>";

/** Options for `parseFortunes`. */
export interface ParseFortunesOptions {
  /**
   * Drop the attribution at the end of a quotation: from the first line (after the first) that
   * starts with "--" (after blanks) to the end (default true), so a classifier reads the
   * quotation, not its author or a Star Trek stardate.
   */
  stripAttribution?: boolean;
}

/**
 * The quotations of one fortune file: entries separated by lines holding only "%", each
 * trimmed, multi-line entries kept whole (lines joined by "\n"), empty ones dropped.
 *
 * @example
 * ```ts
 * import { parseFortunes } from "glassbox";
 * const q = parseFortunes("One.\n%\nTwo lines,\nstill one.\n\t\t-- Someone\n%\n");
 * if (q.length !== 2 || q[1] !== "Two lines,\nstill one.") throw new Error(JSON.stringify(q));
 * ```
 */
export function parseFortunes(text: string, options: ParseFortunesOptions = {}): string[] {
  const strip = options.stripAttribution ?? true;
  const out: string[] = [];
  let lines: string[] = [];
  const flush = () => {
    let keep = lines;
    if (strip) {
      const at = lines.findIndex((l, i) => i > 0 && /^\s*--(\s|$)/.test(l));
      if (at > 0) keep = lines.slice(0, at);
    }
    const entry = keep.map((l) => l.trimEnd()).join("\n").trim();
    if (entry !== "") out.push(entry);
    lines = [];
  };
  for (const line of text.replace(/\r\n?/g, "\n").split("\n")) {
    if (line.trimEnd() === "%") flush();
    else lines.push(line);
  }
  flush();
  return out;
}

/**
 * Lowercase words: runs of letters and digits, with inner apostrophes kept ("don't"); all
 * other characters separate words.
 *
 * @example
 * ```ts
 * import { tokenizeText } from "glassbox";
 * const w = tokenizeText("Don't PANIC -- it's 42!");
 * if (w.join(" ") !== "don't panic it's 42") throw new Error(w.join(" "));
 * ```
 */
export function tokenizeText(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:'[\p{L}\p{N}]+)*/gu) ?? [];
}

/**
 * FNV-1a (32-bit) of the text's UTF-16 code units, started from `seed`: a stable number in
 * [0, 2³²) for the held-out split.
 *
 * @example
 * ```ts
 * import { hashText } from "glassbox";
 * if (hashText("a") !== 0xe40c292c) throw new Error("FNV-1a of 'a'"); // the published test value
 * ```
 */
export function hashText(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** One collection: its name (the class) and its quotations. */
export interface TextCollection {
  /** The class name, e.g. "computers". */
  name: string;
  /** The quotations, e.g. from `parseFortunes`. */
  texts: string[];
}

/** Options for `makeTextDataset`. */
export interface TextDatasetOptions {
  /** The fraction of quotations held out (default 0.2), chosen by `hashText(words, seed)`. */
  heldOut?: number;
  /** Seed of the split's hash (default 0). */
  seed?: number;
  /** A word enters the vocabulary when the training split has it at least this often (default 2). */
  minCount?: number;
  /** Tokens per example: longer texts are truncated, shorter ones padded with <pad> (default 48). */
  maxLen?: number;
}

/** One split of a text data set. */
export interface TextSplit {
  /** The quotations as given (before lowercasing). */
  texts: string[];
  /** Their words (lowercase, all of them, before truncation). */
  words: string[][];
  /** Token ids [count · maxLen], row-major, padded with 0 (<pad>). */
  tokens: Int32Array;
  /** The real (unpadded) length of each row, at most maxLen. */
  lengths: Int32Array;
  /** The class of each row (an index into `classes`). */
  labels: Int32Array;
  /** Rows. */
  count: number;
}

/** A text classification data set with a fixed held-out split. */
export interface TextDataset {
  /** Class names, in the order the collections were given. */
  classes: string[];
  /** Token id → word: 0 is <pad>, 1 is <unk>, then the training split's words by count (ties alphabetical). */
  vocabulary: string[];
  /** Tokens per row. */
  maxLen: number;
  /** The training split. */
  train: TextSplit;
  /** The held-out split. */
  test: TextSplit;
  /** What was left out: repeats of a quotation within a class, quotations in two classes, texts without words. */
  dropped: { duplicates: number; conflicting: number; empty: number };
}

/**
 * Token ids for `words`: `maxLen` ids (truncated, or padded with <pad> = 0), words missing
 * from the vocabulary as <unk> = 1, and the real length.
 *
 * @example
 * ```ts
 * import { encodeWords } from "glassbox";
 * const index = new Map([["<pad>", 0], ["<unk>", 1], ["cat", 2]]);
 * const { ids, length } = encodeWords(["the", "cat"], index, 4);
 * if (ids.join() !== "1,2,0,0" || length !== 2) throw new Error(ids.join());
 * ```
 */
export function encodeWords(
  words: string[],
  index: Map<string, number>,
  maxLen: number,
): { ids: Int32Array; length: number } {
  const length = Math.min(words.length, maxLen), ids = new Int32Array(maxLen);
  for (let i = 0; i < length; i++) ids[i] = index.get(words[i]) ?? 1;
  return { ids, length };
}

/**
 * Builds a classification data set from collections of texts: lowercased words
 * (`tokenizeText`), duplicates removed (the same words twice in a class keep one; the same
 * words in two classes are dropped from both), a held-out split fixed by a hash of each text's
 * words (so it never depends on order or on the other texts), a vocabulary from the training
 * split only, and fixed-length rows.
 *
 * @example
 * ```ts
 * import { makeTextDataset } from "glassbox";
 * const data = makeTextDataset([
 *   { name: "pets", texts: ["The cat sat.", "A dog ran.", "The cat ran.", "A dog sat."] },
 *   { name: "code", texts: ["The code ran.", "A bug sat.", "The bug ran.", "A code compiled."] },
 * ], { heldOut: 0.25, minCount: 1, maxLen: 4 });
 * if (data.train.count + data.test.count !== 8 || data.vocabulary[0] !== "<pad>") throw new Error("dataset");
 * ```
 */
export function makeTextDataset(
  collections: TextCollection[],
  options: TextDatasetOptions = {},
): TextDataset {
  const heldOut = options.heldOut ?? 0.2, seed = options.seed ?? 0;
  const minCount = options.minCount ?? 2, maxLen = options.maxLen ?? 48;
  if (!(heldOut > 0 && heldOut < 1)) {
    throw new Error(`makeTextDataset: heldOut must be in (0, 1), got ${heldOut}`);
  }
  if (!Number.isInteger(minCount) || minCount < 1) {
    throw new Error(`makeTextDataset: minCount must be a positive integer, got ${minCount}`);
  }
  if (!Number.isInteger(maxLen) || maxLen < 1) {
    throw new Error(`makeTextDataset: maxLen must be a positive integer, got ${maxLen}`);
  }
  if (collections.length < 2) {
    throw new Error(
      `makeTextDataset: need at least two collections to tell apart, got ${collections.length}`,
    );
  }
  const names = collections.map((c) => c.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new Error(`makeTextDataset: the collection "${twice}" is given twice`);
  // key (the words) → first text, its words and the classes it appears in
  const seen = new Map<string, { text: string; words: string[]; classes: Set<number> }>();
  let duplicates = 0, empty = 0;
  collections.forEach((c, label) => {
    for (const text of c.texts) {
      const words = tokenizeText(text);
      if (words.length === 0) {
        empty++;
        continue;
      }
      const key = words.join(" ");
      const found = seen.get(key);
      if (!found) seen.set(key, { text, words, classes: new Set([label]) });
      else {
        if (found.classes.has(label)) duplicates++;
        found.classes.add(label);
      }
    }
  });
  const train: { text: string; words: string[]; label: number }[] = [];
  const test: typeof train = [];
  let conflicting = 0;
  const cut = heldOut * 2 ** 32;
  for (const [key, e] of seen) {
    if (e.classes.size > 1) {
      conflicting++;
      continue;
    }
    const row = { text: e.text, words: e.words, label: [...e.classes][0] };
    (hashText(key, seed) < cut ? test : train).push(row);
  }
  const counts = new Map<string, number>();
  for (const r of train) for (const w of r.words) counts.set(w, (counts.get(w) ?? 0) + 1);
  const kept = [...counts].filter(([, n]) => n >= minCount)
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([w]) => w);
  const vocabulary = [PAD, UNK, ...kept];
  const index = new Map(vocabulary.map((w, i) => [w, i]));
  const split = (rows: typeof train): TextSplit => {
    const tokens = new Int32Array(rows.length * maxLen), lengths = new Int32Array(rows.length);
    rows.forEach((r, i) => {
      const { ids, length } = encodeWords(r.words, index, maxLen);
      tokens.set(ids, i * maxLen);
      lengths[i] = length;
    });
    return {
      texts: rows.map((r) => r.text),
      words: rows.map((r) => r.words),
      tokens,
      lengths,
      labels: Int32Array.from(rows.map((r) => r.label)),
      count: rows.length,
    };
  };
  return {
    classes: names,
    vocabulary,
    maxLen,
    train: split(train),
    test: split(test),
    dropped: { duplicates, conflicting, empty },
  };
}
