/** Optimizers and learning-rate schedules. */
export { Optimizer } from "./optimizer.ts";
export { SGD, type SGDOptions } from "./sgd.ts";
export { Adam, type AdamOptions, AdamW } from "./adam.ts";
export { CosineAnnealingLR, StepLR } from "./schedule.ts";
