/**
 * The model graph: derived from the autograd graph of one forward pass, so it works for any
 * model (branches, residual additions, functional ops), not only `Sequential`. Ops inside a
 * leaf module's call are folded into one node for that layer; ops outside any layer stay as
 * their own nodes. Written as DOT and as SVG laid out by dagre.
 */
// A full specifier (pinned) so scripts outside this folder can import mod.ts.
// deno-lint-ignore no-import-prefix
import dagre from "npm:@dagrejs/dagre@3.1.3";
import type { Module } from "../nn/module.ts";
import { enableGrad } from "../tensor/graph.ts";
import { zeros } from "../tensor/create.ts";
import { scope } from "../tensor/scope.ts";
import { nextTensorId, type Tensor } from "../tensor/tensor.ts";

/** A node of the model graph. */
export interface GraphNode {
  /** Unique within the graph: "input", "output", "layer<i>" or "op<tensor id>". */
  id: string;
  /**
   * What the node stands for: the model input, a leaf module call, a functional op outside any module, or the
   * output.
   */
  kind: "input" | "layer" | "op" | "output";
  /** Layer name and type ("3 Conv2d"), op name ("add"), "input" or "output". */
  label: string;
  /** The module class ("Conv2d") for a layer, the op name ("add") for an op, else "input" or "output". */
  type: string;
  /** Output shape of the node. */
  shape: number[];
  /** Parameters of a layer node. */
  params: number;
}

/** The graph: nodes in forward order and edges between them. */
export interface ModelGraph {
  /** The nodes, in forward order (input first, output last). */
  nodes: GraphNode[];
  /** Data flow as [from id, to id] pairs. */
  edges: [string, string][];
}

interface Call {
  label: string;
  type: string;
  start: number;
  end: number;
  out: Tensor;
  params: number;
}

/**
 * Traces one forward pass and returns the layer graph.
 *
 * @example
 * ```ts
 * import { graphToSvg, Linear, modelGraph, ReLU, Sequential, writeTextAtomic } from "glassbox";
 * const g = await modelGraph(new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2)), [1, 4]);
 * await writeTextAtomic("out/graph.svg", graphToSvg(g));
 * ```
 */
export async function modelGraph(model: Module, input: number[] | Tensor): Promise<ModelGraph> {
  const calls: Call[] = [];
  const starts: number[] = [];
  const leaves = model.namedModules().filter(([, m]) => m.children().length === 0);
  const handles = leaves.flatMap(([name, m]) => [
    m.registerForwardPreHook(() => void starts.push(nextTensorId())),
    m.registerForwardHook((_m, _in, out) => {
      calls.push({
        label: name ? `${name} ${m.typeName}` : m.typeName,
        type: m.typeName,
        start: starts.pop()!,
        end: out.id,
        out,
        params: m.parameters().reduce((a, p) => a + p.size, 0),
      });
    }),
  ]);
  const wasTraining = model.training;
  model.eval();
  try {
    return await scope(() =>
      enableGrad(() => {
        const x = Array.isArray(input) ? zeros(input) : input;
        const xi = x.requiresGrad ? x : x.detach().requiresGrad_(true);
        const out = model.forward(xi);
        return build(calls, xi, out);
      })
    );
  } finally {
    handles.forEach((h) => h.remove());
    model.train(wasTraining);
  }
}

function build(calls: Call[], input: Tensor, out: Tensor): ModelGraph {
  const nodes = new Map<string, GraphNode>();
  const edges = new Set<string>();
  const callOf = (t: Tensor) => {
    // the innermost call whose id range holds t (calls are leaves, so ranges do not nest)
    return calls.findIndex((c) => t.id >= c.start && t.id <= c.end);
  };
  const nodeOf = (t: Tensor): string | null => {
    if (t === input) return "input";
    if (t._node?.op === "hook") return nodeOf(t._node.inputs[0]);
    const ci = callOf(t);
    if (ci >= 0) {
      const id = `layer${ci}`;
      if (!nodes.has(id)) {
        const c = calls[ci];
        nodes.set(id, {
          id,
          kind: "layer",
          label: c.label,
          type: c.type,
          shape: [...c.out.shape],
          params: c.params,
        });
      }
      return id;
    }
    if (!t._node) return null; // a parameter or constant: folded away
    const id = `op${t.id}`;
    if (!nodes.has(id)) {
      nodes.set(id, { id, kind: "op", label: t._node.op, type: t._node.op, shape: [...t.shape], params: 0 });
    }
    return id;
  };
  nodes.set("input", {
    id: "input",
    kind: "input",
    label: "input",
    type: "input",
    shape: [...input.shape],
    params: 0,
  });
  const seen = new Set<Tensor>();
  const stack = [out];
  while (stack.length) {
    const t = stack.pop()!;
    if (seen.has(t)) continue;
    seen.add(t);
    const dst = nodeOf(t);
    for (const i of t._node?.inputs ?? []) {
      const src = nodeOf(i);
      if (src && dst && src !== dst) edges.add(`${src}\u0000${dst}`);
      stack.push(i);
    }
  }
  const last = nodeOf(out)!;
  nodes.set("output", {
    id: "output",
    kind: "output",
    label: "output",
    type: "output",
    shape: [...out.shape],
    params: 0,
  });
  edges.add(`${last}\u0000output`);
  // forward order: input, then nodes by the first tensor id they hold
  const order = (n: GraphNode) =>
    n.kind === "input"
      ? -1
      : n.kind === "output"
      ? Infinity
      : n.id.startsWith("layer")
      ? calls[Number(n.id.slice(5))].start
      : Number(n.id.slice(2));
  return {
    nodes: [...nodes.values()].sort((a, b) => order(a) - order(b)),
    edges: [...edges].map((e) => e.split("\u0000") as [string, string]),
  };
}

const FILL: Record<string, string> = {
  input: "#d9f0d3",
  output: "#d9f0d3",
  Conv2d: "#c6dbef",
  Linear: "#dadaeb",
  ReLU: "#f0f0f0",
  Sigmoid: "#f0f0f0",
  Tanh: "#f0f0f0",
  GELU: "#f0f0f0",
  MaxPool2d: "#c7e9c0",
  AvgPool2d: "#c7e9c0",
  BatchNorm2d: "#fdd0a2",
  Dropout: "#fee6ce",
};

const nodeText = (
  n: GraphNode,
) => [n.label, `[${n.shape.join(", ")}]${n.params ? `  ${n.params.toLocaleString("en-US")} params` : ""}`];

/** The graph in Graphviz DOT. */
export function graphToDot(g: ModelGraph): string {
  const q = (s: string) => `"${s.replace(/"/g, '\\"')}"`;
  const lines = [
    "digraph model {",
    "  rankdir=TB;",
    '  node [shape=box, style="rounded,filled", fontname="Helvetica"];',
  ];
  for (const n of g.nodes) {
    lines.push(
      `  ${q(n.id)} [label=${q(nodeText(n).join("\\n"))}, fillcolor=${q(FILL[n.type] ?? "#ffffff")}${
        n.kind === "op" ? ', style="rounded,dashed"' : ""
      }];`,
    );
  }
  for (const [a, b] of g.edges) lines.push(`  ${q(a)} -> ${q(b)};`);
  lines.push("}");
  return lines.join("\n");
}

/** The graph as an SVG picture, laid out top to bottom by dagre. */
export function graphToSvg(g: ModelGraph, title = "Model graph"): string {
  const dg = new dagre.graphlib.Graph();
  dg.setGraph({ rankdir: "TB", nodesep: 30, ranksep: 36, marginx: 20, marginy: 50 });
  dg.setDefaultEdgeLabel(() => ({}));
  for (const n of g.nodes) {
    const w = Math.max(...nodeText(n).map((s) => s.length)) * 7 + 24;
    dg.setNode(n.id, { width: w, height: 42 });
  }
  for (const [a, b] of g.edges) dg.setEdge(a, b);
  dagre.layout(dg);
  const info = dg.graph() as { width?: number; height?: number };
  const W = Math.max(Math.ceil(title.length * 9) + 40, Math.ceil(info.width ?? 400)),
    H = Math.ceil((info.height ?? 400) + 20);
  const shift = (W - (info.width ?? W)) / 2; // centre the drawing (boxes and arrows) under a wider title
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#555"/></marker></defs>`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
  ];
  for (const [a, b] of g.edges) {
    const e = dg.edge(a, b) as { points: { x: number; y: number }[] };
    out.push(
      `<polyline fill="none" stroke="#555" stroke-width="1.3" marker-end="url(#arrow)" points="${
        e.points.map((p) => `${(p.x + shift).toFixed(1)},${p.y.toFixed(1)}`).join(" ")
      }"/>`,
    );
  }
  for (const n of g.nodes) {
    const q = dg.node(n.id) as { x: number; y: number; width: number; height: number };
    const p = { ...q, x: q.x + shift };
    const [l1, l2] = nodeText(n);
    out.push(
      `<rect x="${(p.x - p.width / 2).toFixed(1)}" y="${
        (p.y - p.height / 2).toFixed(1)
      }" width="${p.width}" height="${p.height}" rx="7" fill="${FILL[n.type] ?? "#ffffff"}" stroke="#444"${
        n.kind === "op" ? ' stroke-dasharray="4 3"' : ""
      }/>`,
    );
    out.push(
      `<text x="${p.x.toFixed(1)}" y="${(p.y - 3).toFixed(1)}" text-anchor="middle" font-weight="bold">${
        esc(l1)
      }</text>`,
    );
    out.push(
      `<text x="${p.x.toFixed(1)}" y="${
        (p.y + 13).toFixed(1)
      }" text-anchor="middle" fill="#333" font-size="11">${esc(l2)}</text>`,
    );
  }
  out.push("</svg>");
  return out.join("\n");
}
