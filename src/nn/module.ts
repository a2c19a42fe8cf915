/**
 * Module: the base of every layer and model, as in PyTorch: parameters, children,
 * train/eval mode, state dicts, and hooks that fire on every call.
 */
import { type BackwardContext, currentPass, enableGrad, isGradEnabled, record } from "../tensor/graph.ts";
import { launchCopy } from "../tensor/kernels.ts";
import { type RemovableHandle, Tensor } from "../tensor/tensor.ts";

/** Called after each forward call with the inputs and output; a returned tensor replaces the output. */
export type ForwardHook = (module: Module, inputs: Tensor[], output: Tensor) => Tensor | void;

/**
 * Called before each forward call with the inputs; returning a tensor or an array of tensors
 * replaces the inputs (as PyTorch's forward pre-hooks may).
 */
export type ForwardPreHook = (module: Module, inputs: Tensor[]) => Tensor | Tensor[] | void;

/**
 * Called during backward for each forward call, once the gradients with respect to the
 * module's inputs are known. `gradInput[i]` is null for an input that needs no gradient.
 * Returning an array replaces the input gradients that flow to earlier layers.
 */
export type BackwardHook = (
  module: Module,
  gradInput: (Tensor | null)[],
  gradOutput: Tensor[],
) => (Tensor | null)[] | void;

function handle<T>(list: T[], item: T): RemovableHandle {
  list.push(item);
  return {
    remove: () => {
      const i = list.indexOf(item);
      if (i >= 0) list.splice(i, 1);
    },
  };
}

/**
 * The base class of layers and models. Subclasses implement `forward`; calling
 * `module.forward(x)` runs the forward hooks and backward hooks around it.
 *
 * @example
 * ```ts
 * import { Linear, Module, type Tensor } from "glassbox";
 * class TwoLayer extends Module {
 *   fc1 = this.addModule("fc1", new Linear(4, 8));
 *   fc2 = this.addModule("fc2", new Linear(8, 2));
 *   forward(x: Tensor): Tensor {
 *     return this.fc2.forward(this.fc1.forward(x).relu());
 *   }
 * }
 * ```
 */
export abstract class Module {
  /** Whether the module is in training mode (Dropout and BatchNorm behave differently). */
  training = true;
  /** The module's name inside its parent ("" for the root). */
  name = "";
  #params = new Map<string, Tensor>();
  #buffers = new Map<string, Tensor>();
  #children = new Map<string, Module>();
  #forwardHooks: ForwardHook[] = [];
  #forwardPreHooks: ForwardPreHook[] = [];
  #backwardHooks: BackwardHook[] = [];

  /** The computation; call it through `forward` (which the constructor wraps with hooks). */
  abstract forward(...inputs: Tensor[]): Tensor;

  constructor() {
    // wrap the subclass's forward so hooks see every call, however the module is reached
    const proto = Object.getPrototypeOf(this);
    const raw = proto.forward as (...x: Tensor[]) => Tensor;
    if (raw) this.forward = (...inputs: Tensor[]) => this.#call(raw, inputs);
  }

  /** A short type name for summaries and graphs, e.g. "Linear". */
  get typeName(): string {
    return this.constructor.name;
  }

  /** Registers a parameter (a tensor that requires grad and that optimizers update). */
  addParameter(name: string, t: Tensor): Tensor {
    t.requiresGrad_(true);
    t._markParameter(); // matmul keeps its packed panels (src/tensor/ops/matmul.ts)
    t.name = name;
    this.#params.set(name, t);
    return t;
  }

  /** Registers a non-trainable state tensor (e.g. BatchNorm running statistics). */
  addBuffer(name: string, t: Tensor): Tensor {
    t.name = name;
    this.#buffers.set(name, t);
    return t;
  }

  /** Registers a child module. */
  addModule<M extends Module>(name: string, m: M): M {
    m.name = name;
    this.#children.set(name, m);
    return m;
  }

  /**
   * The submodule at a dotted path, as in `model.namedModules()` ("" is this module).
   *
   * @example
   * ```ts
   * import { Linear, ReLU, Sequential } from "glassbox";
   * const model = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
   * model.get("2"); // the second Linear
   * ```
   */
  get(path: string): Module {
    const parts = path === "" ? [] : path.split(".");
    return parts.reduce<Module>((m, part, i) => {
      const next = m.#children.get(part);
      if (next) return next;
      const here = parts.slice(0, i).join(".");
      const names = [...m.#children.keys()];
      throw new Error(
        `no module "${path}": ${here ? `"${here}"` : "the model"} has ${
          names.length ? `children ${names.map((n) => `"${n}"`).join(", ")}` : "no children"
        }`,
      );
    }, this);
  }

  /** Direct children, in registration order. */
  children(): Module[] {
    return [...this.#children.values()];
  }

  /** Every module below and including this one, with dotted names ("" for this one). */
  namedModules(prefix = ""): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [n, c] of this.#children) out.push(...c.namedModules(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Parameters with dotted names, e.g. "fc1.weight". */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.#params) out.push([prefix ? `${prefix}.${n}` : n, p]);
    for (const [n, c] of this.#children) out.push(...c.namedParameters(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** Non-trainable state with dotted names. */
  namedBuffers(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.#buffers) out.push([prefix ? `${prefix}.${n}` : n, p]);
    for (const [n, c] of this.#children) out.push(...c.namedBuffers(prefix ? `${prefix}.${n}` : n));
    return out;
  }

  /** All parameters. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Training mode for this module and its children. */
  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  /** Evaluation mode (same as `train(false)`). */
  eval(): this {
    return this.train(false);
  }

  /**
   * Puts this module and its children in evaluation mode for a while: returns a function that
   * gives each one back the mode it had (for tools that run a model and must leave it as found).
   *
   * @example
   * ```ts
   * import { Linear } from "glassbox";
   * const m = new Linear(2, 2);
   * const restore = m.enterEval(); // m.training === false
   * restore(); // m.training === true again
   * ```
   */
  enterEval(): () => void {
    const modes = this.namedModules().map(([, m]) => [m, m.training] as const);
    this.eval();
    return () => {
      for (const [m, t] of modes) m.training = t;
    };
  }

  /** Clears the gradients of all parameters. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Parameters and buffers by dotted name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /**
   * Copies values into the parameters and buffers. Every name must be present with the same
   * shape and dtype (extra or missing names are errors unless `strict` is false).
   */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, strict = true): void {
    const src = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    if (strict) {
      for (const k of own.keys()) if (!src.has(k)) throw new Error(`loadStateDict: missing "${k}"`);
      for (const k of src.keys()) if (!own.has(k)) throw new Error(`loadStateDict: unexpected "${k}"`);
    }
    for (const [k, t] of own) {
      const s = src.get(k);
      if (!s) continue;
      if (
        s.dtype !== t.dtype || s.shape.length !== t.shape.length || s.shape.some((d, i) => d !== t.shape[i])
      ) {
        throw new Error(`loadStateDict: "${k}" is ${s.describe()} but the model has ${t.describe()}`);
      }
      if (s._storage === t._storage) continue; // the module's own tensor
      launchCopy(s, t, t.dtype, [t.size], [1], [1]);
      t._markModified();
    }
  }

  /**
   * How many hooks of each kind this module has (tools that install hooks check they left
   * none behind).
   *
   * @example
   * ```ts
   * import { Linear } from "glassbox";
   * new Linear(2, 2).hookCounts(); // { forwardPre: 0, forward: 0, backward: 0 }
   * ```
   */
  hookCounts(): { forwardPre: number; forward: number; backward: number } {
    return {
      forwardPre: this.#forwardPreHooks.length,
      forward: this.#forwardHooks.length,
      backward: this.#backwardHooks.length,
    };
  }

  /** Adds a hook that runs before every call of this module. */
  registerForwardPreHook(hook: ForwardPreHook): RemovableHandle {
    return handle(this.#forwardPreHooks, hook);
  }

  /** Adds a forward hook; it runs after every call of this module. */
  registerForwardHook(hook: ForwardHook): RemovableHandle {
    return handle(this.#forwardHooks, hook);
  }

  /** Adds a backward hook (like PyTorch's full backward hook); it runs once per call. */
  registerFullBackwardHook(hook: BackwardHook): RemovableHandle {
    return handle(this.#backwardHooks, hook);
  }

  #call(raw: (...x: Tensor[]) => Tensor, inputs: Tensor[]): Tensor {
    for (const h of [...this.#forwardPreHooks]) {
      const r = h(this, inputs);
      if (r instanceof Tensor) inputs = [r];
      else if (Array.isArray(r)) inputs = r;
    }
    const bw = this.#backwardHooks.length > 0 && isGradEnabled();
    let ins = inputs;
    let rec: CallRecord | null = null;
    if (bw) {
      rec = { firedPass: -1, gradOutput: null, inIds: [], nInputs: inputs.length };
      ins = inputs.map((
        x,
      ) => (x instanceof Tensor && x.requiresGrad ? hookInput(this, x, rec!, this.#backwardHooks) : x));
      rec.inIds = ins.filter((x, i) => x !== inputs[i]);
    }
    let out = raw.apply(this, ins);
    for (const h of [...this.#forwardHooks]) {
      const r = h(this, inputs, out);
      if (r instanceof Tensor) out = r;
    }
    if (bw && out.requiresGrad) out = hookOutput(this, out, rec!, this.#backwardHooks);
    return out;
  }
}

interface CallRecord {
  /** the backward pass in which the hooks last fired (they fire once per call and pass) */
  firedPass: number;
  gradOutput: Tensor | null;
  /** The identity tensors standing for the inputs that require grad, in order. */
  inIds: Tensor[];
  nInputs: number;
}

function fire(
  m: Module,
  rec: CallRecord,
  hooks: BackwardHook[],
  gradIn: (Tensor | null)[],
): (Tensor | null)[] {
  rec.firedPass = currentPass();
  let current = gradIn;
  const gout = rec.gradOutput ? [rec.gradOutput] : [];
  for (const h of [...hooks]) {
    const r = h(m, current, gout);
    if (Array.isArray(r)) current = r;
  }
  rec.gradOutput?.dispose();
  rec.gradOutput = null;
  return current;
}

function hookInput(m: Module, x: Tensor, rec: CallRecord, hooks: BackwardHook[]): Tensor {
  const id = x._view(x.shape);
  return record(id, "hook", [x], (g: Tensor, ctx: BackwardContext) => {
    if (rec.firedPass === currentPass()) return [g];
    const grads = rec.inIds.map((t) => (t === id ? g : ctx.gradOf(t) ?? null));
    const replaced = fire(m, rec, hooks, grads);
    let mine: Tensor = g;
    rec.inIds.forEach((t, i) => {
      const r = replaced[i];
      if (!r || r === grads[i]) return;
      if (t === id) mine = r;
      else ctx.setGrad(t, r);
    });
    return [mine];
  }, []);
}

function hookOutput(m: Module, y: Tensor, rec: CallRecord, hooks: BackwardHook[]): Tensor {
  const id = y._view(y.shape);
  return enableGrad(() =>
    record(id, "hook", [y], (g: Tensor) => {
      rec.gradOutput = g._view(g.shape);
      if (rec.inIds.length === 0) fire(m, rec, hooks, new Array(rec.nInputs).fill(null));
      return [g];
    }, [])
  );
}
