// The static dashboard's answers to the page script (app.js), computed in this browser: it imports
// glassbox.js, loads the checkpoint next to the page and runs the live dashboard's Explainer on
// WebGPU. The same calls as the server's API, so app.js is the live page's own script. Requests
// run one after another (the Explainer's queue): glassbox's scopes allow one task at a time here.
"use strict";
(() => {
  const config = JSON.parse(document.getElementById("glassbox-config").textContent);
  const note = (text, error = false) => {
    const p = document.getElementById("runtime-note");
    p.textContent = text;
    p.classList.toggle("error", error);
  };
  const t0 = performance.now();
  /** What a test (or a curious visitor) can read: the last input and result, and the timings. */
  const seen = { last: null, timings: {} };
  const ready = (async () => {
    if (location.protocol === "file:") {
      throw new Error(
        "This page was opened as a file (file://), and browsers refuse to load its glassbox.js and the " +
          "model from there. Serve its folder with any static file server (for example " +
          "`python3 -m http.server -d FOLDER 8080`) and open the page over http:// (http://localhost:8080/).",
      );
    }
    if (!("gpu" in navigator)) {
      throw new Error(
        "This browser has no WebGPU (navigator.gpu is missing), which this page needs to run the model " +
          "here. Open it in a browser with WebGPU: a recent Chrome or Edge, or Firefox or Safari with " +
          "WebGPU turned on. (WebGPU also needs the page to come from https:// or localhost.)",
      );
    }
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) {
      throw new Error(
        "This browser has WebGPU but offers no adapter (no usable GPU, or WebGPU is blocked for it), " +
          "so the model cannot run here.",
      );
    }
    const [gb, bytes] = await Promise.all([
      import(`./${config.bundle}`),
      fetch(config.checkpoint).then(async (r) => {
        if (!r.ok) throw new Error(`could not load the model ${config.checkpoint}: HTTP ${r.status}`);
        return new Uint8Array(await r.arrayBuffer());
      }),
    ]);
    const { model, profile } = gb.decodeModel(bytes, config.checkpoint);
    const n = config.novelty;
    const novelty = n && gb.noveltyReference(n.classMeans, n.threshold, n.percentile);
    const explainer = new gb.Explainer(model, profile ?? config.profile, novelty);
    const a = gb.adapterInfo();
    const name = a.description || [a.vendor, a.architecture].filter((s) => s).join(" ") || "unnamed";
    seen.timings.loaded = performance.now() - t0;
    seen.adapter = name;
    note(
      `Computed in this browser, on its WebGPU adapter (${name}${
        a.isFallbackAdapter ? ", a software fallback" : ""
      }). There is no server: the page fetched glassbox.js and the model ${config.checkpoint}, and sends ` +
        `nothing anywhere. The first explanation also compiles the GPU programs, so it takes longer.`,
    );
    return { gb, explainer };
  })();
  ready.catch((e) => {
    note(`This page cannot run the model: ${e.message ?? e}`, true);
    document.getElementById("input-note").textContent = "The model could not be loaded in this browser.";
    document.getElementById("explain").disabled = true;
  });
  const answer = async (f) => {
    try {
      return { ok: true, body: await f() };
    } catch (e) {
      return { ok: false, body: { error: e.message ?? String(e) } };
    }
  };
  globalThis.glassboxApi = {
    seen,
    info: () =>
      answer(async () => {
        const { gb, explainer } = await ready;
        return gb.dashboardInfo(explainer, { examples: 0 });
      }),
    example: () => answer(() => Promise.reject(new Error("this static dashboard carries no examples"))),
    neighbours: () =>
      answer(() => Promise.reject(new Error("this static dashboard has no training examples to search"))),
    async explain(body, onMessage) {
      let request, explainer;
      try {
        const r = await ready;
        explainer = r.explainer;
        // the server's own check: the same errors for the same mistakes
        request = r.gb.parseExplainRequest(JSON.stringify(body), explainer);
      } catch (e) {
        return onMessage({ error: e.message ?? String(e) });
      }
      onMessage({ progress: explainer.running ? "waiting for the explanation before it" : "started" });
      const start = performance.now();
      try {
        const result = await explainer.explain(request, (p) => onMessage({ progress: p }));
        seen.last = { input: request.input, result };
        seen.timings.first ??= performance.now() - start;
        seen.timings.firstSincePageStart ??= performance.now() - t0;
        onMessage({ result });
      } catch (e) {
        onMessage({ error: `the explanation failed: ${e.message ?? e}` });
      }
    },
    failed: () => "Nothing can be computed here: the note at the top of the page says why.",
  };
})();
