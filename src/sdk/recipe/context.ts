/**
 * What every stage gets: the trainer factory, the settings, the values chosen so far, the clock,
 * the abort signal, the tracker and a progress callback. Stages are functions of this context and
 * of the state left by the stages before them, so a resumed run repeats an uninterrupted one.
 */
import type { Tracker } from '../tracking/types.js';
import type { TrainerFactory, TrainerSettings } from '../trainers/types.js';
import type { StageId, TuneSettings } from './options.js';

/** The values the recipe has chosen so far, with how each was chosen. Persisted after every stage. */
export interface RecipeState {
  maxLr: number | null;
  minLr: number | null;
  batchSize: number;
  momentumMax: number;
  momentumMin: number;
  weightDecay: number;
  epochs: number | null;
  /** Settings of the last LR range test, to know when it must be re-run (paper §5). */
  lrTestedAt: { batchSize: number; weightDecay: number } | null;
  /** Seconds of one optimizer step / one validation pass at the current batch size. */
  stepSeconds: number;
  evalSeconds: number;
  stepsPerEpoch: number;
  /** Training-set size when the trainer says (Trainer.numExamples). */
  numExamples: number | null;
  why: Record<string, string>;
}

/** Measured once at the start of a run and stored with it, so resume plans with the same numbers. */
export interface Calibration {
  stepSeconds: number;
  evalSeconds: number;
  stepsPerEpoch: number;
  numExamples: number | null;
  backend: string;
}

export interface StageContext {
  id: StageId;
  factory: TrainerFactory;
  settings: TuneSettings;
  state: RecipeState;
  /** Budget seconds of this stage, when the run has a budget. */
  budgetSeconds: number | null;
  clock: () => number;
  signal: AbortSignal | undefined;
  tracker: Tracker | undefined;
  /** Tracker handle of this stage's run. */
  run: string | undefined;
  progress(fraction: number, message?: string): void;
  warn(message: string): void;
}

/** Raised when the signal fires; the runner turns it into TuneInterruptedError. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/**
 * Throws Interrupted when the signal fired. It first yields to the event loop: a wasm/cpu training
 * step is synchronous work whose promises resolve as microtasks, so without this a SIGINT handler
 * (a macrotask) would not run until the stage ended.
 */
export async function checkAbort(signal: AbortSignal | undefined): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  if (signal?.aborted) throw new Interrupted();
}

export function trainerSettings(ctx: StageContext, over: Partial<TrainerSettings> = {}): TrainerSettings {
  return {
    batchSize: ctx.state.batchSize,
    weightDecay: ctx.state.weightDecay,
    // One seed for every candidate: common random numbers make the comparisons less noisy.
    seed: ctx.settings.seed,
    optimizer: ctx.settings.optimizer,
    ...over,
  };
}

/** Builds a trainer, naming the settings when the user's factory throws. */
export async function buildTrainer(ctx: StageContext, settings: TrainerSettings) {
  try {
    return await ctx.factory(settings);
  } catch (e) {
    throw new FactoryError(settings, e);
  }
}

export class FactoryError extends Error {
  constructor(
    readonly settings: TrainerSettings,
    cause: unknown,
  ) {
    super(
      `the trainer factory threw for batchSize ${settings.batchSize}, weightDecay ${settings.weightDecay}: ${(cause as Error)?.message ?? String(cause)}`,
      { cause },
    );
    this.name = 'FactoryError';
  }
}
