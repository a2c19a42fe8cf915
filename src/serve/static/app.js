// The dashboard page: draw or load a digit, send it to /api/explain, show the streamed progress and the answer.
"use strict";
const $ = (id) => document.getElementById(id);
const canvas = $("canvas"), ctx = canvas.getContext("2d");
let info = null, drawing = false, last = null;

function clearCanvas() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
}
clearCanvas();

function stroke(p) {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = 22;
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
$("clear").addEventListener("click", clearCanvas);

/** The canvas as 784 values in [0, 1], the ink's box scaled into 20×20 and centred by mass, as MNIST. */
function pixels() {
  const img = ctx.getImageData(0, 0, canvas.width, canvas.height).data, W = canvas.width, H = canvas.height;
  let x0 = W, y0 = H, x1 = -1, y1 = -1;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (img[(y * W + x) * 4] > 30) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  const out = new Array(784).fill(0);
  if (x1 < 0) return out;
  const s = 20 / Math.max(x1 - x0 + 1, y1 - y0 + 1);
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const sc = small.getContext("2d");
  sc.fillStyle = "#000";
  sc.fillRect(0, 0, 28, 28);
  sc.imageSmoothingEnabled = true;
  const w = (x1 - x0 + 1) * s, h = (y1 - y0 + 1) * s;
  sc.drawImage(canvas, x0, y0, x1 - x0 + 1, y1 - y0 + 1, (28 - w) / 2, (28 - h) / 2, w, h);
  const d = sc.getImageData(0, 0, 28, 28).data;
  let m = 0, cx = 0, cy = 0;
  for (let i = 0; i < 784; i++) {
    const v = d[i * 4] / 255;
    m += v;
    cx += v * (i % 28);
    cy += v * Math.floor(i / 28);
  }
  const dx = Math.round(13.5 - cx / m), dy = Math.round(13.5 - cy / m);
  for (let y = 0; y < 28; y++) {
    for (let x = 0; x < 28; x++) {
      const sx = x - dx, sy = y - dy;
      if (sx >= 0 && sx < 28 && sy >= 0 && sy < 28) {
        out[y * 28 + x] = +(d[(sy * 28 + sx) * 4] / 255).toFixed(4);
      }
    }
  }
  return out;
}

function showPixels(px) {
  const small = document.createElement("canvas");
  small.width = small.height = 28;
  const sc = small.getContext("2d"), im = sc.createImageData(28, 28);
  px.forEach((v, i) => {
    const g = Math.round(255 * v);
    im.data.set([g, g, g, 255], i * 4);
  });
  sc.putImageData(im, 0, 0);
  clearCanvas();
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, canvas.width, canvas.height);
}

async function loadInfo() {
  const r = await fetch("/api/info");
  info = await r.json();
  $("test-index").max = String(info.testImages - 1);
  for (const m of info.methods) {
    const l = document.createElement("label");
    l.innerHTML = `<input type="checkbox" value="${m.name}"${
      ["saliency", "ig", "gradcam"].includes(m.name) ? " checked" : ""
    }> ${m.label}${m.slow ? " (slower)" : ""}`;
    $("methods").appendChild(l);
  }
  for (const l of info.layers) {
    const o = document.createElement("option");
    o.value = l.name;
    o.textContent = `${l.name} ${l.type}`;
    $("layer").appendChild(o);
  }
  $("layer").value = info.layers.length ? info.layers[0].name : "";
}

$("load-test").addEventListener("click", async () => {
  const r = await fetch(`/api/test/${$("test-index").value}`);
  const body = await r.json();
  if (!r.ok) return showError(body.error);
  showPixels(body.pixels);
  $("input-note").textContent = `Test image ${body.index}, label ${body.label}.`;
});

function showError(msg) {
  $("progress").innerHTML = "";
  const p = document.createElement("span");
  p.className = "error";
  p.textContent = msg;
  $("progress").appendChild(p);
}

function showResult(res) {
  const p = res.probabilities;
  $("prediction").textContent = `Prediction: ${res.predicted} (${(100 * p[res.predicted]).toFixed(1)}%)`;
  $("probabilities").innerHTML = p.map((v, c) =>
    `<div class="bar${
      c === res.predicted ? " top" : ""
    }"><span style="width:1.2em">${c}</span><span class="b" style="width:${
      Math.max(1, 240 * v)
    }px"></span><span>${(100 * v).toFixed(1)}%</span></div>`
  ).join("");
  $("heatmaps").innerHTML = "";
  for (const h of res.heatmaps) {
    const f = document.createElement("figure");
    f.innerHTML =
      `<img alt="${h.label} heatmap" src="${h.png}" width="168" height="168"><figcaption>${h.label}</figcaption>`;
    $("heatmaps").appendChild(f);
  }
  $("features").innerHTML = res.featureMaps
    ? `<img alt="feature maps of layer ${res.featureMaps.layer}" src="${res.featureMaps.png}"><p class="hint">Layer ${res.featureMaps.layer}: one tile per channel.</p>`
    : '<p class="hint">(no layer chosen)</p>';
  $("explanation").textContent = res.explanation;
  $("progress").textContent = `done in ${(res.milliseconds / 1000).toFixed(1)} s`;
}

$("explain").addEventListener("click", async () => {
  const methods = [...document.querySelectorAll("#methods input:checked")].map((i) => i.value);
  const body = { pixels: pixels(), methods, layer: $("layer").value || undefined, lang: $("lang").value };
  $("explain").disabled = true;
  $("progress").textContent = "sending…";
  try {
    const r = await fetch("/api/explain", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!r.ok) return showError((await r.json()).error);
    const reader = r.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let k;
      while ((k = buf.indexOf("\n")) >= 0) {
        const msg = JSON.parse(buf.slice(0, k));
        buf = buf.slice(k + 1);
        if (msg.progress) $("progress").textContent = `working: ${msg.progress}`;
        if (msg.error) showError(msg.error);
        if (msg.result) showResult(msg.result);
      }
    }
  } catch (e) {
    showError(`the request failed: ${e}`);
  } finally {
    $("explain").disabled = false;
  }
});

loadInfo().catch((e) => showError(`could not reach the server: ${e}`));
