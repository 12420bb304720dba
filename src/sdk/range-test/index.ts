/**
 * The LR range test (paper §4.1; Smith 2015 "Cyclical learning rates" §3.3): train for `numIter`
 * steps while the LR grows from startLr to endLr, record the loss, stop when it diverges, and turn
 * the curve into suggestions. The trainer is restored to its state before the sweep afterwards.
 */
import { UserInputError, checkNumber } from '../../errors.js';
import type { RangeTestResult } from '../../report/schema.js';
import type { Trainer, TrainerSnapshot } from '../trainers/types.js';
import { type AnalyzeOptions, type Chooser, StopRule, analyzeRangeTest, resolveAnalyzeOptions } from './analysis.js';

export * from './analysis.js';

export interface RangeTestStep {
  index: number;
  lr: number;
  /** Raw training loss of the batch (NaN/±Infinity as reported). */
  loss: number;
  /** Bias-corrected EMA of the loss (NaN at a non-finite loss). */
  smoothedLoss: number;
}

export interface RangeTestOptions {
  /**
   * First LR; default 1e-7 (fastai's). With endLr 10 the default sweep covers eight decades: wide
   * enough for SGD on a small CNN (useful max LRs ~0.1-1) and for Adam (~1e-3).
   */
  startLr?: number;
  /** Last LR, reached exactly at the last step; default 10 (fastai's). */
  endLr?: number;
  /** Number of steps = number of learning rates tried, endpoints included; default 100. */
  numIter?: number;
  /** 'exponential' (default: equal ratios, the useful scale for LRs) or 'linear'. */
  sweep?: 'exponential' | 'linear';
  /**
   * EMA factor of the smoothed loss, in [0, 1); default 0.9 (see DEFAULT_SMOOTHING for why not 0.98),
   * lower on a coarse exponential sweep so that the smoothing lags at most half a decade of LR
   * (defaultSmoothing: 0.86 for the default 1e-7..10 in 100 steps, 0.70 for 24 steps over 1e-4..10).
   */
  smoothing?: number;
  /** Stop when smoothed loss > best + divergeThreshold·max(|best|, descent); default 3. */
  divergeThreshold?: number;
  /**
   * Momentum (β1 for Adam) held during the sweep; default 0.9. The paper (§4.3) runs the test with a
   * constant momentum; 0.9 is the usual SGD value and what the MNIST calibration used (DESIGN.md).
   */
  momentum?: number;
  /** Evaluate the validation loss every k steps when the trainer can (the paper's variant); 0 = off (default). */
  valEvery?: number;
  /** Check `trainer.weightsFinite()` every k steps (and after the last step); default 5. */
  checkWeightsEvery?: number;
  /** Turns the curve into `chosen`; default 'divergence/3' (DEFAULT_CHOOSER). */
  chooser?: Chooser;
  /** Recorded in the result only (the trainer was built with it). */
  weightDecay?: number | null;
  /** Recorded in the result; default trainer.batchSize. */
  batchSize?: number;
  onStep?: (p: RangeTestStep) => void;
  /** Aborting stops the sweep before the next step, with stopReason 'interrupted'. */
  signal?: AbortSignal;
}

export interface ResolvedRangeTestOptions {
  startLr: number;
  endLr: number;
  numIter: number;
  sweep: 'exponential' | 'linear';
  smoothing: number;
  divergeThreshold: number;
  momentum: number;
  valEvery: number;
  checkWeightsEvery: number;
  chooser: Chooser;
  weightDecay: number | null;
  batchSize: number | null;
}

export const RANGE_TEST_DEFAULTS = {
  startLr: 1e-7,
  endLr: 10,
  numIter: 100,
  sweep: 'exponential',
  momentum: 0.9,
  valEvery: 0,
  checkWeightsEvery: 5,
} as const;

/** Checks every option before any training (for the CLI too) and fills in the defaults. */
export function validateRangeTestOptions(options: RangeTestOptions = {}): ResolvedRangeTestOptions {
  const startLr = checkNumber('startLr', options.startLr ?? RANGE_TEST_DEFAULTS.startLr, { min: 0, minExclusive: true });
  const endLr = checkNumber('endLr', options.endLr ?? RANGE_TEST_DEFAULTS.endLr, { min: 0, minExclusive: true });
  if (!(startLr < endLr)) {
    throw new UserInputError('startLr', startLr, `0 < startLr < endLr (${endLr})`, 'the sweep must go up');
  }
  const numIter = checkNumber('numIter', options.numIter ?? RANGE_TEST_DEFAULTS.numIter, { min: 2, integer: true });
  const analysis = resolveAnalyzeOptions(
    {
      smoothing: options.smoothing,
      divergeThreshold: options.divergeThreshold,
      sweep: options.sweep,
      chooser: options.chooser,
    } satisfies AnalyzeOptions,
    Math.log10(endLr / startLr) / (numIter - 1),
  );
  const momentum = checkNumber('momentum', options.momentum ?? RANGE_TEST_DEFAULTS.momentum, { min: 0, max: 1, maxExclusive: true });
  const valEvery = checkNumber('valEvery', options.valEvery ?? RANGE_TEST_DEFAULTS.valEvery, { min: 0, integer: true });
  const checkWeightsEvery = checkNumber('checkWeightsEvery', options.checkWeightsEvery ?? RANGE_TEST_DEFAULTS.checkWeightsEvery, {
    min: 1,
    integer: true,
  });
  const weightDecay = options.weightDecay == null ? null : checkNumber('weightDecay', options.weightDecay, { min: 0 });
  const batchSize = options.batchSize == null ? null : checkNumber('batchSize', options.batchSize, { min: 1, integer: true });
  if (options.onStep != null && typeof options.onStep !== 'function') {
    throw new UserInputError('onStep', options.onStep, 'a function');
  }
  return { startLr, endLr, numIter, ...analysis, momentum, valEvery, checkWeightsEvery, weightDecay, batchSize };
}

/**
 * The `numIter` learning rates of a sweep, first = startLr and last = endLr exactly:
 * exponential `startLr·(endLr/startLr)^(i/(N−1))`, linear `startLr + (endLr − startLr)·i/(N−1)`.
 */
export function sweepLrs(startLr: number, endLr: number, numIter: number, sweep: 'exponential' | 'linear'): number[] {
  const n = numIter - 1;
  const lrs = Array.from({ length: numIter }, (_, i) =>
    sweep === 'exponential' ? startLr * (endLr / startLr) ** (i / n) : startLr + ((endLr - startLr) * i) / n,
  );
  lrs[0] = startLr;
  lrs[n] = endLr;
  return lrs;
}

/**
 * Runs the sweep on `trainer` and analyses it. The trainer's state (model, optimizer, data position)
 * is snapshotted first and restored afterwards, also when a step throws; the snapshot is disposed.
 * Stops early with stopReason `diverged`, `non-finite` (a NaN/±Infinity loss, or weights found
 * non-finite — the wasm backend can clip NaN to a finite loss, DESIGN.md) or `interrupted`.
 */
export async function rangeTest(trainer: Trainer, options: RangeTestOptions = {}): Promise<RangeTestResult> {
  const o = validateRangeTestOptions(options);
  const lrs = sweepLrs(o.startLr, o.endLr, o.numIter, o.sweep);
  const rule = new StopRule(o.smoothing, o.divergeThreshold);
  const lr: number[] = [];
  const loss: number[] = [];
  const valLoss: RangeTestResult['valLoss'] = [];
  let forced: AnalyzeOptions['stop'];

  const snapshot: TrainerSnapshot = await trainer.snapshot();
  let threw = false;
  let stepError: unknown;
  try {
    let lastGoodCheck = -1;
    let lastCheck = -1;
    const weightsOk = async (i: number): Promise<boolean> => {
      if (!trainer.weightsFinite) return true;
      lastCheck = i;
      if (await trainer.weightsFinite()) {
        lastGoodCheck = i;
        return true;
      }
      // The loss of a step is computed before its update, but a check every k steps does not say
      // which step broke the weights: trust only the points up to the last good check.
      forced = { reason: 'non-finite', usable: lastGoodCheck + 1 };
      return false;
    };
    let stoppedByLoss = false;
    for (let i = 0; i < o.numIter; i++) {
      // Let signal handlers run: synchronous backends never yield to the event loop by themselves.
      if (options.signal) await new Promise<void>((resolve) => setImmediate(resolve));
      if (options.signal?.aborted) {
        forced = { reason: 'interrupted', usable: loss.length };
        break;
      }
      // A weights check follows every checkWeightsEvery-th step and the last one (after the loop).
      const periodic = (i + 1) % o.checkWeightsEvery === 0;
      const value = await trainer.step({ lr: lrs[i], momentum: o.momentum, ...((periodic || i === o.numIter - 1) && { checkWeights: true }) });
      lr.push(lrs[i]);
      loss.push(value);
      const { smoothed, stop } = rule.push(value);
      options.onStep?.({ index: i, lr: lrs[i], loss: value, smoothedLoss: smoothed });
      if (stop) {
        stoppedByLoss = true;
        break;
      }
      if (periodic && !(await weightsOk(i))) break;
      if (o.valEvery > 0 && trainer.evaluate && (i + 1) % o.valEvery === 0) {
        const ev = await trainer.evaluate('validation');
        valLoss.push({ index: i, lr: lrs[i], loss: Number.isFinite(ev.loss) ? ev.loss : null });
      }
    }
    // ...and once more after the last step (an interrupted sweep too), unless the loss already stopped it.
    const last = loss.length - 1;
    if (!stoppedByLoss && forced?.reason !== 'non-finite' && last >= 0 && lastCheck !== last) await weightsOk(last);
  } catch (error) {
    threw = true;
    stepError = error;
  }
  try {
    await trainer.restore(snapshot);
  } catch (error) {
    // A failed step's error says more than the failed restore that follows it.
    if (!threw) throw error;
  } finally {
    snapshot.dispose();
  }
  if (threw) throw stepError;

  const analysis = analyzeRangeTest(lr, loss, {
    smoothing: o.smoothing,
    divergeThreshold: o.divergeThreshold,
    sweep: o.sweep,
    chooser: o.chooser,
    stop: forced,
  });
  return {
    sweep: o.sweep,
    startLr: o.startLr,
    endLr: o.endLr,
    numIter: o.numIter,
    smoothing: o.smoothing,
    divergeThreshold: o.divergeThreshold,
    momentum: o.momentum,
    weightDecay: o.weightDecay,
    batchSize: o.batchSize ?? (Number.isInteger(trainer.batchSize) && trainer.batchSize > 0 ? trainer.batchSize : null),
    lr,
    loss: loss.map((v) => (Number.isFinite(v) ? v : null)),
    valLoss,
    ...analysis,
  };
}
