/**
 * The 1cycle policy (Smith, arXiv 1803.09820 §4.1, §4.3) and its cosine variants (PyTorch
 * `OneCycleLR`, fastai `fit_one_cycle`), each a piecewise combination of `Sched` pieces.
 */
import { UserInputError, checkNumber } from '../../errors.js';
import { type Sched, piecewise, schedConst, schedCos, schedLin } from './sched.js';
import {
  type HyperSchedule,
  type OverrunHandler,
  checkMomentum,
  checkOrder,
  checkPct,
  checkPositiveLr,
  checkTotalSteps,
  makeHyperSchedule,
} from './schedule.js';

export interface OneCycleOptions {
  /** Peak learning rate (from the LR range test). */
  maxLr: number;
  /** Number of optimizer steps in the whole run. */
  totalSteps: number;
  /** LR at both ends of the cycle; default maxLr / 10 (paper §4.1: a 10x range). */
  minLr?: number;
  /** LR reached at the end of annihilation; default maxLr / 1000 ("several orders below" minLr). */
  finalLr?: number;
  /** Fraction of the steps spent in the annihilation tail, in [0, 1); default 0.1. 0 = no tail. */
  annihilationPct?: number;
  /** Momentum at the ends of the cycle and in the tail; default 0.95 (paper §4.3). */
  momentumMax?: number;
  /** Momentum at the LR peak; default 0.85 (paper §4.3). */
  momentumMin?: number;
  onOverrun?: OverrunHandler;
}

/**
 * The paper's 1cycle (§4.1; cyclical momentum §4.3). With progress `p = step / (totalSteps − 1)`
 * and cycle length `c = 1 − annihilationPct`:
 *
 *     lr(p) = minLr + (maxLr − minLr)·p/(c/2)                 for p ≤ c/2   (linear up)
 *           = maxLr − (maxLr − minLr)·(p − c/2)/(c/2)         for p ≤ c     (linear down)
 *           = minLr − (minLr − finalLr)·(p − c)/(1 − c)       otherwise     (annihilation)
 *     momentum(p) = mirror image: momentumMax → momentumMin → momentumMax, then held at momentumMax.
 *
 * The first step uses minLr and the last one finalLr exactly. With `totalSteps = 1` the single step
 * uses minLr. The peak lands on a step only when `(totalSteps − 1)·c/2` is an integer.
 */
export function oneCycle(opts: OneCycleOptions): HyperSchedule {
  const maxLr = checkPositiveLr('maxLr', opts.maxLr);
  const totalSteps = checkTotalSteps(opts.totalSteps);
  const minLr = checkPositiveLr('minLr', opts.minLr ?? maxLr / 10);
  checkOrder('minLr', minLr, 'maxLr', maxLr);
  const finalLr = checkNumber('finalLr', opts.finalLr ?? maxLr / 1000, { min: 0 });
  checkOrder('finalLr', finalLr, 'minLr', minLr);
  const annihilationPct = checkNumber('annihilationPct', opts.annihilationPct ?? 0.1, {
    min: 0,
    max: 1,
    maxExclusive: true,
  });
  const { momentumMax, momentumMin } = momentumBounds(opts);

  const cycle = 1 - annihilationPct;
  const edges = [0, cycle / 2, cycle, 1];
  const lr = piecewise(edges, [schedLin(minLr, maxLr), schedLin(maxLr, minLr), schedLin(minLr, finalLr)]);
  const cyclicalMomentum = piecewise(edges, [
    schedLin(momentumMax, momentumMin),
    schedLin(momentumMin, momentumMax),
    schedConst(momentumMax),
  ]);
  const progress = (step: number) => step / Math.max(1, totalSteps - 1);
  return makeHyperSchedule(
    totalSteps,
    (s) => lr(progress(s)),
    (s) => cyclicalMomentum(progress(s)),
    opts.onOverrun,
  );
}

export interface OneCycleCosineOptions {
  maxLr: number;
  totalSteps: number;
  /** Fraction of the steps spent increasing the LR; default 0.3 (torch). */
  pctStart?: number;
  /** initialLr = maxLr / divFactor; default 25. */
  divFactor?: number;
  /** finalLr = initialLr / finalDivFactor; default 1e4. */
  finalDivFactor?: number;
  /** torch's `three_phase`: up, back down to initialLr, then annihilate to finalLr. Default false. */
  threePhase?: boolean;
  /** Shape of every phase; default 'cos'. */
  annealStrategy?: 'cos' | 'linear';
  momentumMax?: number;
  momentumMin?: number;
  onOverrun?: OverrunHandler;
}

/**
 * PyTorch `OneCycleLR` semantics (cycle_momentum on). With `initialLr = maxLr/divFactor`,
 * `finalLr = initialLr/finalDivFactor` and phase ends at steps `e1 = pctStart·T − 1`, `e2 = T − 1`
 * (three-phase: `e1`, `e2 = 2·pctStart·T − 2`, `e3 = T − 1`), inside a phase from step `a` to `b`
 * the value is `anneal(from, to, (step − a)/(b − a))` where
 *
 *     cos:    to + (from − to)/2 · (1 + cos(π·p))
 *     linear: from + (to − from)·p
 *
 *     lr:       initialLr → maxLr → finalLr          (three-phase: → initialLr → finalLr)
 *     momentum: momentumMax → momentumMin → momentumMax (three-phase: then held)
 *
 * Differences from torch, on purpose: a phase end before step 0 (`pctStart·T < 1`) is clamped to a
 * zero-length phase instead of a negative one, a zero-length phase gives its end value instead of
 * 0/0 = NaN, and steps past `T − 1` hold the final value instead of extrapolating the cosine.
 */
export function oneCycleCosine(opts: OneCycleCosineOptions): HyperSchedule {
  const maxLr = checkPositiveLr('maxLr', opts.maxLr);
  const totalSteps = checkTotalSteps(opts.totalSteps);
  const pctStart = checkPct('pctStart', opts.pctStart ?? 0.3);
  const divFactor = checkNumber('divFactor', opts.divFactor ?? 25, { min: 0, minExclusive: true });
  const finalDivFactor = checkNumber('finalDivFactor', opts.finalDivFactor ?? 1e4, { min: 0, minExclusive: true });
  const threePhase = opts.threePhase ?? false;
  const annealStrategy = opts.annealStrategy ?? 'cos';
  if (annealStrategy !== 'cos' && annealStrategy !== 'linear') {
    throw new UserInputError('annealStrategy', annealStrategy, "'cos' or 'linear'", 'unknown anneal strategy');
  }
  if (threePhase && pctStart > 0.5) {
    throw new UserInputError('pctStart', pctStart, '0 < pctStart <= 0.5 with threePhase', 'the two cycle phases would not fit');
  }
  const { momentumMax, momentumMin } = momentumBounds(opts);

  const anneal = annealStrategy === 'cos' ? schedCos : schedLin;
  const initialLr = maxLr / divFactor;
  const finalLr = initialLr / finalDivFactor;
  const last = totalSteps - 1;
  // torch computes `float(pct_start * total_steps) - 1`: keep the same arithmetic for exact vectors.
  const clampEdge = (e: number, lo: number) => Math.min(last, Math.max(lo, e));
  const e1 = clampEdge(pctStart * totalSteps - 1, 0);
  let lr: Sched;
  let momentum: Sched;
  if (threePhase) {
    const e2 = clampEdge(2 * pctStart * totalSteps - 2, e1);
    const edges = [0, e1, e2, last];
    lr = piecewise(edges, [anneal(initialLr, maxLr), anneal(maxLr, initialLr), anneal(initialLr, finalLr)]);
    momentum = piecewise(edges, [anneal(momentumMax, momentumMin), anneal(momentumMin, momentumMax), schedConst(momentumMax)]);
  } else {
    const edges = [0, e1, last];
    lr = piecewise(edges, [anneal(initialLr, maxLr), anneal(maxLr, finalLr)]);
    momentum = piecewise(edges, [anneal(momentumMax, momentumMin), anneal(momentumMin, momentumMax)]);
  }
  return makeHyperSchedule(totalSteps, lr, momentum, opts.onOverrun);
}

export interface FitOneCycleOptions {
  /** fastai's `lr_max`. */
  maxLr: number;
  /** fastai's `n_epoch · n_iter`: the number of batches. */
  totalSteps: number;
  /** default 0.25 (fastai). */
  pctStart?: number;
  /** fastai's `div`: start LR = maxLr / divFactor; default 25. */
  divFactor?: number;
  /** fastai's `div_final`: final LR = maxLr / finalDivFactor; default 1e5. */
  finalDivFactor?: number;
  /** fastai's `moms = (momentumMax, momentumMin, momentumMax)`. */
  momentumMax?: number;
  momentumMin?: number;
  onOverrun?: OverrunHandler;
}

/**
 * fastai `fit_one_cycle` preset: with `p = step / totalSteps` (fastai's `pct_train` before each batch)
 *
 *     lr       = combine_scheds([pctStart, 1 − pctStart],
 *                               [SchedCos(maxLr/div, maxLr), SchedCos(maxLr, maxLr/divFinal)])(p)
 *     momentum = combine_scheds([pctStart, 1 − pctStart],
 *                               [SchedCos(momentumMax, momentumMin), SchedCos(momentumMin, momentumMax)])(p)
 *
 * As in fastai the last step is one step short of `maxLr/divFinal` (p never reaches 1).
 */
export function fitOneCycle(opts: FitOneCycleOptions): HyperSchedule {
  const maxLr = checkPositiveLr('maxLr', opts.maxLr);
  const totalSteps = checkTotalSteps(opts.totalSteps);
  const pctStart = checkPct('pctStart', opts.pctStart ?? 0.25);
  const divFactor = checkNumber('divFactor', opts.divFactor ?? 25, { min: 0, minExclusive: true });
  const finalDivFactor = checkNumber('finalDivFactor', opts.finalDivFactor ?? 1e5, { min: 0, minExclusive: true });
  const { momentumMax, momentumMin } = momentumBounds(opts);

  const edges = [0, pctStart, 1];
  const lr = piecewise(edges, [schedCos(maxLr / divFactor, maxLr), schedCos(maxLr, maxLr / finalDivFactor)]);
  const momentum = piecewise(edges, [schedCos(momentumMax, momentumMin), schedCos(momentumMin, momentumMax)]);
  return makeHyperSchedule(
    totalSteps,
    (s) => lr(s / totalSteps),
    (s) => momentum(s / totalSteps),
    opts.onOverrun,
  );
}

/** The cyclical momentum's bounds (defaults 0.95 and 0.85), each in [0, 1), min not above max. */
function momentumBounds(opts: { momentumMax?: number; momentumMin?: number }): { momentumMax: number; momentumMin: number } {
  const momentumMax = checkMomentum('momentumMax', opts.momentumMax ?? 0.95);
  const momentumMin = checkMomentum('momentumMin', opts.momentumMin ?? 0.85);
  // Momentum falls while the LR rises (paper §4.3); min above max would invert the cycle.
  checkOrder('momentumMin', momentumMin, 'momentumMax', momentumMax);
  return { momentumMax, momentumMin };
}
