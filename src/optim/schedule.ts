/** Learning-rate schedules: call `step()` once per epoch (or per step, as you define T). */
import type { Optimizer } from "./optimizer.ts";

/**
 * Multiplies the learning rate by `gamma` every `stepSize` steps (`torch.optim.lr_scheduler.StepLR`).
 *
 * @example
 * ```ts
 * import { Adam, Linear, StepLR } from "glassbox";
 * const opt = new Adam(new Linear(2, 2).parameters(), { lr: 0.1 });
 * const sched = new StepLR(opt, 10, 0.5); // call sched.step() after each epoch
 * ```
 */
export class StepLR {
  #t = 0;
  /** Multiplies the rate by `gamma` every `stepSize` steps. */
  constructor(readonly optimizer: Optimizer, readonly stepSize: number, readonly gamma: number = 0.1) {}
  /** Advances one step (usually an epoch); returns the new rate. */
  step(): number {
    this.#t++;
    this.optimizer.lr = this.optimizer.initialLr * this.gamma ** Math.floor(this.#t / this.stepSize);
    return this.optimizer.lr;
  }
}

/**
 * Cosine annealing from the initial rate to `etaMin` over `tMax` steps, as
 * `torch.optim.lr_scheduler.CosineAnnealingLR`: lr(t) = etaMin + (lr0 − etaMin)(1 + cos(πt/tMax))/2.
 * Past `tMax` the cosine goes on (the rate rises again towards lr0 at 2·tMax), as PyTorch's does;
 * stop stepping at `tMax` to stay at `etaMin`.
 *
 * @example
 * ```ts
 * import { CosineAnnealingLR, SGD, zeros } from "glassbox";
 * const opt = new SGD([zeros([1], { requiresGrad: true })], { lr: 1 });
 * const sched = new CosineAnnealingLR(opt, 4);
 * sched.step(); // 0.854 (after one of four epochs)
 * ```
 */
export class CosineAnnealingLR {
  #t = 0;
  /** Anneals over `tMax` steps to `etaMin`. */
  constructor(readonly optimizer: Optimizer, readonly tMax: number, readonly etaMin: number = 0) {}
  /** Advances one step (usually an epoch); returns the new rate. */
  step(): number {
    this.#t++;
    const base = this.optimizer.initialLr;
    this.optimizer.lr = this.etaMin +
      (base - this.etaMin) * (1 + Math.cos((Math.PI * this.#t) / this.tMax)) / 2;
    return this.optimizer.lr;
  }
}
