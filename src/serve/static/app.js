// The dashboard page: reads the model's description from /api/info, builds the input its modality
// needs (a canvas to draw on, a picture, a form of named features or a text box), sends it to
// /api/explain, shows the streamed progress and the answer: class probabilities and one
// attribution map per method. The static dashboard (deno task serve --static) gives the page
// another `api` before this script runs (globalThis.glassboxApi): the same calls, answered in the
// visitor's browser instead of by the server.
"use strict";
const $ = (id) => document.getElementById(id);

/** Reads an NDJSON stream, handing each message to `onMessage`. */
async function readLines(body, onMessage) {
  const reader = body.getReader(), dec = new TextDecoder();
  let buf = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let k;
    while ((k = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, k);
      buf = buf.slice(k + 1);
      onMessage(JSON.parse(line));
    }
  }
}

const postJson = (path, body) =>
  fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

/**
 * What the page asks for: the model's description, an example, an explanation (its progress and
 * result as messages) and the nearest training examples. Each answer is { ok, body } (body: the
 * JSON, or { error }); `explain` hands its messages to `onMessage`.
 */
const api = globalThis.glassboxApi ?? {
  async info() {
    const r = await fetch("/api/info");
    return { ok: r.ok, body: await r.json() };
  },
  async example(index) {
    const r = await fetch(`/api/test/${index}`);
    return { ok: r.ok, body: await r.json() };
  },
  async explain(body, onMessage) {
    const r = await postJson("/api/explain", body);
    if (!r.ok) return onMessage(await r.json());
    await readLines(r.body, onMessage);
  },
  async neighbours(body) {
    const r = await postJson("/api/neighbours", body);
    return { ok: r.ok, body: await r.json() };
  },
  failed: (e) => `could not reach the server: ${e}`,
};
let info = null, drawing = false, last = null;
/** The input shown in the picture box (image models that are not drawn), or an example's token ids. */
let current = null;
// the label of the example last loaded, while its input is unchanged (for the true class's neighbours)
let currentLabel = null;
const canvas = $("canvas"), ctx = canvas.getContext("2d");
const picture = $("picture");
/** A drawing's ink box fills 5/7 of the side and is centred by its mass, as MNIST's digits are. */
const INK_SHARE = 5 / 7;
/** Grey drawings on a canvas up to this many pixels a side; larger or coloured images are picked or uploaded. */
const DRAWABLE = 64;

const esc = (s) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );

function clearCanvas() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
}
clearCanvas();

function stroke(p) {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = canvas.width / 12;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  ctx.moveTo(last.x, last.y);
  ctx.lineTo(p.x, p.y);
  ctx.stroke();
  last = p;
}
const point = (e) => {
  const r = canvas.getBoundingClientRect();
  return {
    x: (e.clientX - r.left) * (canvas.width / r.width),
    y: (e.clientY - r.top) * (canvas.height / r.height),
  };
};
canvas.addEventListener("pointerdown", (e) => {
  drawing = true;
  last = point(e);
  stroke({ x: last.x + 0.1, y: last.y });
  canvas.setPointerCapture(e.pointerId);
});
canvas.addEventListener("pointermove", (e) => drawing && stroke(point(e)));
canvas.addEventListener("pointerup", () => (drawing = false));
$("clear").addEventListener("click", () => {
  clearCanvas();
  currentLabel = null;
});
canvas.addEventListener("pointerdown", () => (currentLabel = null));

const shape = () => info.inputShape;
const isDrawn = () =>
  info.modality === "image" && shape()[0] === 1 && Math.max(shape()[1], shape()[2]) <= DRAWABLE;

/** The drawing as H×W values in [0, 1]: the ink's box scaled to INK_SHARE of the side and centred by mass. */
function drawnPixels() {
  const [, H, Wd] = shape();
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height).data, W = canvas.width, CH = canvas.height;
  let x0 = W, y0 = CH, x1 = -1, y1 = -1;
  for (let y = 0; y < CH; y++) {
    for (let x = 0; x < W; x++) {
      if (img[(y * W + x) * 4] > 30) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  const out = new Array(H * Wd).fill(0);
  if (x1 < 0) return out;
  const s = Math.min(Wd, H) * INK_SHARE / Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const small = document.createElement("canvas");
  small.width = Wd;
  small.height = H;
  const sc = small.getContext("2d");
  sc.fillStyle = "#000";
  sc.fillRect(0, 0, Wd, H);
  sc.imageSmoothingEnabled = true;
  const w = (x1 - x0 + 1) * s, h = (y1 - y0 + 1) * s;
  sc.drawImage(canvas, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (Wd - w) / 2, (H - h) / 2, w, h);
  const d = sc.getImageData(0, 0, Wd, H).data;
  let m = 0, cx = 0, cy = 0;
  for (let i = 0; i < H * Wd; i++) {
    const v = d[i * 4] / 255;
    m += v;
    cx += v * (i % Wd);
    cy += v * Math.floor(i / Wd);
  }
  const dx = Math.round((Wd - 1) / 2 - cx / m), dy = Math.round((H - 1) / 2 - cy / m);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < Wd; x++) {
      const sx = x - dx, sy = y - dy;
      if (sx >= 0 && sx < Wd && sy >= 0 && sy < H) {
        out[y * Wd + x] = +(d[(sy * Wd + sx) * 4] / 255).toFixed(4);
      }
    }
  }
  return out;
}

/** Paints C×H×W values in [0, 1] (grey or RGB) onto a canvas, scaled up without smoothing. */
function paint(target, values) {
  const [C, H, W] = shape(), plane = H * W;
  const small = document.createElement("canvas");
  small.width = W;
  small.height = H;
  const sc = small.getContext("2d"), im = sc.createImageData(W, H);
  for (let i = 0; i < plane; i++) {
    const ch = (c) => Math.round(255 * values[Math.min(c, C - 1) * plane + i]);
    im.data.set(C >= 3 ? [ch(0), ch(1), ch(2), 255] : [ch(0), ch(0), ch(0), 255], i * 4);
  }
  sc.putImageData(im, 0, 0);
  const g = target.getContext("2d");
  g.imageSmoothingEnabled = false;
  g.clearRect(0, 0, target.width, target.height);
  g.drawImage(small, 0, 0, target.width, target.height);
}

/** An uploaded picture resized to the model's W×H, as C×H×W values in [0, 1] (grey: the mean of R, G, B). */
$("upload").addEventListener("change", () => {
  const file = $("upload").files[0];
  if (!file) return;
  const img = new Image();
  img.onload = () => {
    const [C, H, W] = shape();
    const small = document.createElement("canvas");
    small.width = W;
    small.height = H;
    const sc = small.getContext("2d");
    sc.drawImage(img, 0, 0, W, H);
    const d = sc.getImageData(0, 0, W, H).data, plane = H * W, out = new Array(C * plane);
    for (let i = 0; i < plane; i++) {
      const [r, g, b] = [d[i * 4] / 255, d[i * 4 + 1] / 255, d[i * 4 + 2] / 255];
      if (C === 3) [out[i], out[plane + i], out[2 * plane + i]] = [r, g, b].map((v) => +v.toFixed(4));
      else out[i] = +((r + g + b) / 3).toFixed(4);
    }
    current = out;
    paint(picture, out);
    $("input-note").textContent =
      `${file.name}, resized to ${W}×${H} pixels (stretched to fit) as the model takes it.`;
    URL.revokeObjectURL(img.src);
  };
  img.onerror = () => showError(`${file.name} is not a picture the browser can read`);
  img.src = URL.createObjectURL(file);
});

$("text").addEventListener("input", () => {
  current = null;
  currentLabel = null;
});

/** The request's input for the shown modality. */
function input() {
  if (info.modality === "image") {
    if (isDrawn()) return drawnPixels();
    if (!current) throw new Error("pick an example or upload a picture first");
    return current;
  }
  if (info.modality === "tabular") {
    const fields = [...document.querySelectorAll("#feature-form input")];
    const values = fields.map((f) => f.value.trim() === "" ? NaN : Number(f.value));
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new Error(`${fields[bad].name} needs a number`);
    return info.featureNames ? Object.fromEntries(info.featureNames.map((n, i) => [n, values[i]])) : values;
  }
  if (current) return current; // an example's token ids, until the text is edited
  const text = $("text").value;
  if (info.acceptsText) return text;
  return text.split(/[\s,]+/).filter((s) => s !== "").map(Number);
}

function describeModel() {
  const s = shape(), K = info.classes.length;
  const classes = K === 1
    ? `one output, the probability of "${info.classes[0]}"`
    : `${K} classes (${info.classes.slice(0, 12).join(", ")}${K > 12 ? ", …" : ""})`;
  const what = info.modality === "image"
    ? `${s[0] === 3 ? "RGB" : s[0] === 1 ? "grey" : `${s[0]}-channel`} images of ${s[2]}×${s[1]} pixels`
    : info.modality === "tabular"
    ? `${s[0]} numeric features`
    : `texts of up to ${s[0]} tokens`;
  $("model-note").textContent = `This model reads ${what} and gives ${classes}.`;
}

function setUpInput() {
  const s = shape();
  $("examples-box").hidden = info.examples === 0;
  $("test-index").max = String(Math.max(0, info.examples - 1));
  const ex = info.examples ? ` Or load one of the ${info.examples} examples by number.` : "";
  if (info.modality === "image" && isDrawn()) {
    $("draw-box").hidden = false;
    $("input-note").textContent =
      `Draw with the mouse (or a finger), white on black. The drawing is centred and scaled down to ${s[2]}×${
        s[1]
      } pixels, as the model's images are.${ex}`;
  } else if (info.modality === "image") {
    $("picture-box").hidden = false;
    $("upload").disabled = s[0] !== 1 && s[0] !== 3;
    $("input-note").textContent = [
      `The model reads ${s[2]}×${s[1]}${s[0] === 3 ? " colour" : ""} images.`,
      ex ? ex.replace(" Or load", "Load") : "",
      s[0] === 1 || s[0] === 3 ? "Or upload a picture: it is resized to that size." : "",
    ].filter((t) => t).join(" ");
  } else if (info.modality === "tabular") {
    const names = info.featureNames ?? Array.from({ length: s[0] }, (_, i) => `feature ${i}`);
    $("feature-form").hidden = false;
    $("feature-form").innerHTML = names.map((n, i) =>
      `<label>${esc(n)} <input name="${esc(n)}" type="number" step="any" value="0" data-i="${i}"></label>`
    ).join("");
    $("input-note").textContent = `Type one number per feature, in the units the model was trained on.${ex}`;
  } else {
    $("text-box").hidden = false;
    $("input-note").textContent = info.acceptsText
      ? `Type a text. It is split into lower-case words as the model's training texts were; words the model never saw become <unk>, and only the first ${
        s[0]
      } words are read.${ex}`
      : `Type ${s[0]} token ids (integers 0 to ${info.vocabularySize - 1}), separated by spaces.${ex}`;
  }
}

async function loadInfo() {
  const r = await api.info();
  if (!r.ok) throw new Error(r.body.error);
  info = r.body;
  describeModel();
  setUpInput();
  for (const m of info.methods) {
    const l = document.createElement("label");
    l.innerHTML = `<input type="checkbox" value="${esc(m.name)}"${m.preselected ? " checked" : ""}> ${
      esc(m.label)
    }${m.slow ? " (slower)" : ""}`;
    $("methods").appendChild(l);
  }
  for (const l of info.layers) {
    const o = document.createElement("option");
    o.value = l.name;
    o.textContent = `${l.name} ${l.type}`;
    $("layer").appendChild(o);
  }
  $("layer").value = info.layers.length ? info.layers[0].name : "";
  $("layer-box").hidden = info.layers.length === 0;
  $("features-section").hidden = info.layers.length === 0;
  $("lang-box").hidden = !info.words;
  if (info.colourKeys) {
    $("image-key").hidden = false;
    $("image-key").innerHTML =
      `signed: lowered<img class="ramp" alt="blue to white to red" src="${info.colourKeys.signed}">raised &nbsp; magnitudes: little<img class="ramp" alt="dark purple to yellow" src="${info.colourKeys.magnitude}">most`;
  }
  $("words-section").hidden = !info.words;
}

$("load-test").addEventListener("click", async () => {
  const { ok, body } = await api.example($("test-index").value);
  if (!ok) return showError(body.error);
  const label = body.label >= 0 ? `, labelled ${body.labelName ?? body.label}` : "";
  if (info.modality === "image") {
    if (isDrawn()) {
      clearCanvas();
      paint(canvas, body.input);
    } else {
      current = body.input;
      paint(picture, body.input);
    }
  } else if (info.modality === "tabular") {
    document.querySelectorAll("#feature-form input").forEach((f, i) => (f.value = String(body.input[i])));
  } else {
    $("text").value = info.acceptsText ? body.text : body.input.join(" ");
    current = body.input;
  }
  $("input-note").textContent = `Example ${body.index}${label}.`;
  currentLabel = body.label >= 0 ? body.label : null;
});

/** The nearest training examples of the predicted class and, for a labelled example it got wrong, of the true class. */
async function showNeighbours(sent) {
  $("neighbours").textContent = "searching the training examples…";
  const { ok, body: res } = await api.neighbours({ input: sent, label: currentLabel ?? undefined });
  if (!ok) {
    $("neighbours").textContent = `(no neighbours: ${res.error})`;
    return;
  }
  const d = (v) => v.toPrecision(3);
  $("neighbours-note").textContent =
    `The ${info.neighbours.k} training examples nearest to this input in layer ${
      res.layer || "(output)"
    }'s representation, ` +
    `by Euclidean distance (d, nearest first; exact search over all ${res.searched} training examples)` +
    (res.rows.length > 1
      ? ": first of the class the model predicts, then of the example's true class, which it got wrong. An input nearer to the predicted class's examples looks like them to the model."
      : ", of the class the model predicts.");
  $("neighbours").innerHTML = res.rows.map((row) =>
    `<div class="neighbour-row"><h3>Of the ${row.which === "true" ? "true" : "predicted"} class, ${
      esc(row.className)
    }</h3>${
      row.neighbours.map((n) =>
        `<figure>${
          n.png
            ? `<img alt="training example ${n.index}" src="${n.png}">`
            : n.text !== undefined
            ? `<div class="hint">${esc(n.text)}</div>`
            : ""
        }<figcaption>${esc(n.labelName)} · d ${d(n.distance)}</figcaption></figure>`
      ).join("")
    }</div>`
  ).join("");
}

function showError(msg) {
  $("progress").innerHTML = "";
  const p = document.createElement("span");
  p.className = "error";
  p.textContent = msg;
  $("progress").appendChild(p);
}

/** A colour for a value in [-1, 1]: red raised the score, blue lowered it (signed); purple, darker is more (magnitudes). */
function colour(v, signed) {
  const a = Math.min(1, Math.abs(v));
  if (!signed) {
    return `rgb(${Math.round(255 - 140 * a)},${Math.round(255 - 200 * a)},${Math.round(255 - 60 * a)})`;
  }
  return v >= 0
    ? `rgb(255,${Math.round(255 - 200 * a)},${Math.round(255 - 210 * a)})`
    : `rgb(${Math.round(255 - 200 * a)},${Math.round(255 - 140 * a)},255)`;
}

const fmt = (v) => Math.abs(v) >= 0.01 || v === 0 ? v.toFixed(3) : v.toExponential(2);

function key(signed, scale) {
  const stops = signed ? [-1, -0.5, 0, 0.5, 1] : [0, 0.5, 1];
  const ramp = `linear-gradient(to right, ${stops.map((s) => colour(s, signed)).join(", ")})`;
  return `<div class="key">${
    signed ? `−${fmt(scale)} lowered the score` : "0"
  }<span class="ramp" style="background:${ramp}"></span>${
    signed ? `+${fmt(scale)} raised it` : `${fmt(scale)} mattered most`
  }</div>`;
}

/** Tabular: one bar per feature, left (blue) below zero, right (red) above; magnitudes all to the right. */
function featureBars(h) {
  const names = info.featureNames ?? h.values.map((_, i) => `feature ${i}`);
  const scale = Math.max(...h.values.map(Math.abs)) || 1;
  const rows = h.values.map((v, i) => {
    const w = Math.round(160 * Math.abs(v) / scale);
    return `<div class="fbar"><span class="name" title="${esc(names[i])}">${
      esc(names[i])
    }</span><span class="neg" style="width:${v < 0 ? w : 0}px"></span><span class="pos" style="width:${
      v >= 0 ? w : 0
    }px;${h.signed ? "" : "background:#7a4fa8"}"></span><span>${fmt(v)}</span></div>`;
  }).join("");
  return `<div class="map"><h3>${esc(h.label)}</h3>${rows}</div>`;
}

/** Tokens: each token of the text in its box, coloured by its attribution on one scale per method. */
function tokenRow(h, tokens) {
  let n = tokens.length;
  while (n > 1 && tokens[n - 1] === "<pad>") n--; // the padding after the text
  const vals = h.values.slice(0, n), scale = Math.max(...vals.map(Math.abs)) || 1;
  const boxes = vals.map((v, i) =>
    `<span class="tok" style="background:${colour(v / scale, h.signed)}" title="${fmt(v)}${
      tokens[i] === "<unk>" ? " (a word the model never saw)" : ""
    }">${esc(tokens[i])}</span>`
  ).join(" ");
  return `<div class="map"><h3>${esc(h.label)}</h3><div class="tokens">${boxes}</div>${
    key(h.signed, scale)
  }</div>`;
}

function showResult(res) {
  const p = res.probabilities, K = res.classes.length, name = (c) => esc(res.classes[c]);
  $("prediction").innerHTML = K === 1
    ? `Probability of ${name(0)}: ${(100 * p[0]).toFixed(1)}%`
    : `Prediction: ${name(res.predicted)} (${(100 * p[res.predicted]).toFixed(1)}%)`;
  const width = Math.min(14, Math.max(1.2, ...res.classes.map((c) => c.length * 0.6)));
  $("probabilities").innerHTML = p.map((v, c) =>
    `<div class="bar${c === res.predicted ? " top" : ""}"><span style="width:${width}em">${
      name(c)
    }</span><span class="b" style="width:${Math.max(1, 240 * v)}px"></span><span>${
      (100 * v).toFixed(1)
    }%</span></div>`
  ).join("");
  const target = K === 1
    ? `the output "${res.classes[0]}"`
    : `the predicted class, ${res.classes[res.predicted]}`;
  $("prediction-note").textContent = K === 1
    ? `The model has one output; this is its sigmoid, the probability of "${res.classes[0]}".`
    : "The probability the model gives each class for this input (softmax of its outputs); the highest is in red.";
  if (info.modality === "image") {
    $("maps-note").textContent = `Where in the image the evidence for ${target} lies, one map per method. ` +
      "Signed maps: red raised the score, blue lowered it. Magnitude maps (yellow–purple): brighter mattered more. " +
      "Each map is scaled to its own 99th percentile; colour images are summed over their channels.";
  } else if (info.modality === "tabular") {
    $("maps-note").textContent =
      `How much each feature moved the score of ${target}, one chart per method: ` +
      "red bars raised it, blue bars lowered it (purple bars are magnitudes, without a sign). Each chart has its own scale.";
  } else {
    $("maps-note").textContent = `How much each token moved the score of ${target}, one row per method: ` +
      "red raised it, blue lowered it, white did little; hover a token for its value. Each row has its own scale (its key below it).";
  }
  $("heatmaps").innerHTML = "";
  for (const h of res.heatmaps) {
    if (info.modality === "image") {
      const f = document.createElement("figure");
      f.innerHTML = `<img alt="${esc(h.label)} heatmap" src="${h.png}" width="168" height="168"><figcaption>${
        esc(h.label)
      }</figcaption>`;
      $("heatmaps").appendChild(f);
    } else {
      $("heatmaps").insertAdjacentHTML(
        "beforeend",
        info.modality === "tabular" ? featureBars(h) : tokenRow(h, res.tokens),
      );
    }
  }
  $("features").innerHTML = res.featureMaps
    ? `<img alt="feature maps of layer ${
      esc(res.featureMaps.layer)
    }" src="${res.featureMaps.png}"><p class="hint">Layer ${
      esc(res.featureMaps.layer)
    }: one tile per channel.</p>`
    : '<p class="hint">(no layer chosen)</p>';
  $("explanation").textContent = res.explanation;
  $("progress").textContent = `done in ${(res.milliseconds / 1000).toFixed(1)} s`;
  if (res.truncated) {
    $("progress").textContent += `; the model read the first ${
      shape()[0]
    } words, not the last ${res.truncated}`;
  }
}

$("explain").addEventListener("click", async () => {
  const methods = [...document.querySelectorAll("#methods input:checked")].map((i) => i.value);
  let body;
  try {
    body = { input: input(), methods, layer: $("layer").value || undefined, lang: $("lang").value };
  } catch (e) {
    return showError(e.message);
  }
  $("explain").disabled = true;
  $("progress").textContent = "sending…";
  try {
    await api.explain(body, (msg) => {
      if (msg.progress) $("progress").textContent = `working: ${msg.progress}`;
      if (msg.error) showError(msg.error);
      if (msg.result) {
        showResult(msg.result);
        lastInput = body.input;
        $("neighbours-section").hidden = !info.neighbours;
        $("neighbours").textContent = "";
      }
    });
  } catch (e) {
    showError(`the request failed: ${e}`);
  } finally {
    $("explain").disabled = false;
  }
});

// the input of the last explanation: the nearest training examples are searched for it on request
let lastInput = null;
$("find-neighbours").addEventListener("click", async () => {
  if (!lastInput) return;
  $("find-neighbours").disabled = true;
  try {
    await showNeighbours(lastInput);
  } catch (e) {
    $("neighbours").textContent = `(no neighbours: ${e})`;
  } finally {
    $("find-neighbours").disabled = false;
  }
});

loadInfo().catch((e) => showError(api.failed(e)));
