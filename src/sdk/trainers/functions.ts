/**
 * `fromFunctions(...)`: the Trainer seam (DESIGN.md) over any custom training loop — another
 * framework, a hand-written model, a remote worker. Only `step`, `snapshot` and `restore` are needed.
 */
import { UserInputError, checkNumber } from '../../errors.js';
import type { EvalResult, StepHyperParams, Trainer, TrainerSnapshot } from './types.js';

export interface TrainerFunctions<S> {
  /** One optimizer step on the next batch with these hyper-parameters; returns the batch loss. */
  step(hp: StepHyperParams): number | Promise<number>;
  /** Loss (and accuracy) on held-out data. */
  evaluate?(split?: 'validation' | 'test'): EvalResult | Promise<EvalResult>;
  /**
   * A deep copy of everything a step changes (weights, optimizer state, data position). `restore`
   * must not modify it: a snapshot can be restored more than once.
   */
  snapshot(): S | Promise<S>;
  restore(state: S): void | Promise<void>;
  /** Frees a snapshot's resources when it is disposed (e.g. tensors); optional. */
  disposeSnapshot?(state: S): void;
  /** False when any weight is NaN/±Infinity. */
  weightsFinite?(): boolean | Promise<boolean>;
  /** Frees the model. */
  dispose?(): void;
  /** Examples per step; default 1. Used for the report and epoch counts: set it. */
  batchSize?: number;
  /** Steps per pass over the training data; default 1. Used for epoch counts: set it. */
  stepsPerEpoch?: number;
  /** Shown in the report; default 'custom'. */
  backend?: string;
}

class FunctionsSnapshot<S> implements TrainerSnapshot {
  disposed = false;
  constructor(
    readonly owner: object,
    readonly state: S,
    private readonly free?: (state: S) => void,
  ) {}
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.free?.(this.state);
  }
}

/** Wraps plain functions as a Trainer. Checks the options and the values the functions return. */
export function fromFunctions<S>(fns: TrainerFunctions<S>): Trainer {
  for (const name of ['step', 'snapshot', 'restore'] as const) {
    if (typeof fns?.[name] !== 'function') throw new UserInputError(name, fns?.[name], 'a function', 'required by fromFunctions');
  }
  for (const name of ['evaluate', 'disposeSnapshot', 'weightsFinite', 'dispose'] as const) {
    if (fns[name] != null && typeof fns[name] !== 'function') throw new UserInputError(name, fns[name], 'a function or undefined');
  }
  const batchSize = checkNumber('batchSize', fns.batchSize ?? 1, { min: 1, integer: true });
  const stepsPerEpoch = checkNumber('stepsPerEpoch', fns.stepsPerEpoch ?? 1, { min: 1, integer: true });
  const backend = fns.backend ?? 'custom';
  let disposed = false;
  const alive = (what: string) => {
    if (disposed) throw new Error(`fromFunctions trainer: ${what} after dispose()`);
  };

  const trainer: Trainer = {
    batchSize,
    stepsPerEpoch,
    backend,
    async step(hp) {
      alive('step');
      const loss = await fns.step(hp);
      if (typeof loss !== 'number') throw new TypeError(`fromFunctions: step() must return a number, got ${typeof loss}`);
      return loss;
    },
    async snapshot() {
      alive('snapshot');
      return new FunctionsSnapshot(trainer, await fns.snapshot(), fns.disposeSnapshot?.bind(fns));
    },
    async restore(snapshot) {
      alive('restore');
      if (!(snapshot instanceof FunctionsSnapshot) || snapshot.owner !== trainer) {
        throw new Error('fromFunctions: restore() got a snapshot this trainer did not make');
      }
      if (snapshot.disposed) throw new Error('fromFunctions: restore() got a disposed snapshot');
      await fns.restore(snapshot.state as S);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      fns.dispose?.();
    },
  };
  if (fns.evaluate) {
    const evaluate = fns.evaluate.bind(fns);
    trainer.evaluate = async (split) => {
      alive('evaluate');
      return evaluate(split);
    };
  }
  if (fns.weightsFinite) {
    const weightsFinite = fns.weightsFinite.bind(fns);
    trainer.weightsFinite = async () => {
      alive('weightsFinite');
      return Boolean(await weightsFinite());
    };
  }
  return trainer;
}
