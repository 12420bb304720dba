/**
 * The Trainer seam (DESIGN.md): algorithms talk to a framework only through this interface.
 * The TF.js adapter is one implementation; `fromFunctions(...)` wraps any custom loop.
 */

/** Hyper-parameters applied before one optimizer step. */
export interface StepHyperParams {
  /** Learning rate for this step. */
  lr: number;
  /** Momentum for SGD, β1 for Adam (cycled as momentum, paper §4.3). */
  momentum: number;
  /**
   * A `weightsFinite()` call follows this step: an adapter may find out with the step, at no extra
   * sync (the TF.js one reads the answer back with the loss). Default false: no check is computed.
   */
  checkWeights?: boolean;
}

export interface EvalResult {
  /** Mean loss over the split. May be NaN. */
  loss: number;
  /** Accuracy in [0, 1] when the task has one. */
  accuracy?: number;
  /** Number of examples evaluated. */
  n: number;
}

/** Opaque saved state of model + optimizer. Dispose what you do not restore. */
export interface TrainerSnapshot {
  dispose(): void;
}

export interface Trainer {
  /** Examples per step. */
  readonly batchSize: number;
  /** Steps in one pass over the training data. */
  readonly stepsPerEpoch: number;
  /** Backend/device description for the report, e.g. `wasm`, `tensorflow (GPU)`. */
  readonly backend: string;
  /**
   * One optimizer step on the next training batch (data cycle in a seeded order, reshuffled every
   * epoch) with the given hyper-parameters. Returns the training loss of that batch, NaN/±Infinity
   * included as they are.
   */
  step(hp: StepHyperParams): Promise<number>;
  /** Loss (and accuracy) on held-out data; `test` only where a test split exists. */
  evaluate?(split?: 'validation' | 'test'): Promise<EvalResult>;
  /** False when any weight is NaN/±Inf (the wasm backend can report a finite loss for a diverged model). */
  weightsFinite?(): Promise<boolean>;
  /** Deep copy of model weights, optimizer state and data position. */
  snapshot(): Promise<TrainerSnapshot>;
  /** Restores a snapshot bit-exactly. The snapshot stays valid (restore it again if you like). */
  restore(snapshot: TrainerSnapshot): Promise<void>;
  /** Frees everything the trainer holds. */
  dispose(): void;
}

/** Settings that change structure: a factory builds a fresh trainer for each. */
export interface TrainerSettings {
  batchSize: number;
  /** Weight decay (decoupled by default in the TF.js adapter; see its docs). */
  weightDecay: number;
  seed: number;
  optimizer: 'sgd' | 'adam';
}

export type TrainerFactory = (settings: TrainerSettings) => Promise<Trainer>;
