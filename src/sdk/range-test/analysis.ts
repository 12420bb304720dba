/**
 * Curve analysis of an LR range test (paper §4.1; Smith 2015 §3.3): smoothing, the stop rule and
 * the suggestions. Pure: no TensorFlow.js, no I/O, no clock. The driver (`rangeTest`) replays the
 * same `StopRule` online, so a sweep and an analysis of its recorded curve always agree.
 */
import { UserInputError, checkNumber } from '../../errors.js';
import type { RangeTestResult, StopReason, Suggestion } from '../../report/schema.js';

/**
 * Default EMA factor. fastai uses 0.98, whose lag (β/(1−β) ≈ 49 steps) is half of a 100-step sweep,
 * about four decades of LR in the default 1e-7..10 range: the smoothed minimum lands far right of the
 * real one. 0.9 averages ~19 batches and lags ~9 steps. On a coarse exponential sweep fewer steps
 * are allowed (see MAX_LAG_DECADES).
 */
export const DEFAULT_SMOOTHING = 0.9;
/**
 * The default smoothing's lag, β/(1−β) steps, is held to at most this many decades of LR, about the
 * factor 3 that the `/3` of the rules absorbs. 9 steps of a 24-step sweep over 1e-4..10 are two
 * decades: the smoothed minimum of a real short sweep sat at LR 0.30 where the loss had exploded at
 * 0.5 (raw minimum 0.18), and a 2-epoch 1cycle at 0.30 ended at 45% test accuracy against 73% at the
 * 0.165 this limit gives (β 0.70).
 */
export const MAX_LAG_DECADES = 0.5;

/**
 * The default EMA factor for an exponential sweep whose LR grows by `decadesPerStep` per step (null:
 * a linear sweep or unknown): DEFAULT_SMOOTHING, lowered so that the lag is at most MAX_LAG_DECADES.
 * 100 steps over 1e-4..10 keep 0.9; the default 1e-7..10 sweep gets 0.86; 24 steps over 1e-4..10, 0.70.
 */
export function defaultSmoothing(decadesPerStep: number | null): number {
  if (decadesPerStep == null || !(decadesPerStep > 0)) return DEFAULT_SMOOTHING;
  const lagSteps = MAX_LAG_DECADES / decadesPerStep;
  return Math.min(DEFAULT_SMOOTHING, lagSteps / (1 + lagSteps));
}
/**
 * Default divergence factor: stop when the smoothed loss exceeds `best + 3·scale`, scale =
 * max(|best|, descent so far). For positive losses that is fastai's "4 × best"; unlike it, it still
 * works for negative losses (a log-likelihood) and for losses that fall close to zero.
 */
export const DEFAULT_DIVERGE_THRESHOLD = 3;
/** Fewer usable points than this: insufficient data. */
export const MIN_POINTS = 4;
/** Fewer usable points than this: the result is low-confidence. */
export const FEW_POINTS = 10;
/** A descent smaller than this fraction of the loss level is "flat". */
export const MIN_RELATIVE_DESCENT = 0.01;
/**
 * How far below its start the smoothed loss may stay and still count as "climbed back" (a fraction
 * of the descent). A classifier that diverges collapses to chance level, ln(classes), which is
 * where an untrained one starts; a start a little above chance (the first batches' larger logits)
 * then made the climb-back unreachable: the demo CNN's sweep of 2026-12-04 went 2.48 → 0.51 → a
 * plateau at 2.31–2.40 from LR 1.7 to 10, and the rule fell back to min-loss/3 (0.092).
 */
export const CLIMB_BACK_SLACK = 0.1;
/** ... or smaller than this many times the batch-to-batch noise. */
export const NOISE_FACTOR = 2;

export type ChooserRule = 'divergence/3' | 'min-loss/3' | 'steepest' | 'valley' | 'minimum' | 'smith';
export const CHOOSER_RULES: readonly ChooserRule[] = ['divergence/3', 'min-loss/3', 'steepest', 'valley', 'minimum', 'smith'];
/** The rule `chosen` uses unless told otherwise; see `divergenceIndex` for why. */
export const DEFAULT_CHOOSER: ChooserRule = 'divergence/3';

export type Suggestions = RangeTestResult['suggestions'];
export type Chosen = NonNullable<RangeTestResult['chosen']>;

/** What a custom chooser sees: the usable part of the curve and the named suggestions. */
export interface ChooserInput {
  lr: readonly number[];
  smoothedLoss: readonly number[];
  /** Index of the minimum of the smoothed loss. */
  minIndex: number;
  suggestions: Suggestions;
}
export type Chooser = ChooserRule | ((input: ChooserInput) => { maxLr: number; minLr?: number; rule: string } | null);

export interface AnalyzeOptions {
  /** EMA factor in [0, 1); default `defaultSmoothing` of the sweep's spacing (0.9 unless the sweep is coarse). */
  smoothing?: number;
  /** > 0; default DEFAULT_DIVERGE_THRESHOLD. */
  divergeThreshold?: number;
  /** Slopes against log(lr) ('exponential', default) or lr ('linear'). */
  sweep?: 'exponential' | 'linear';
  /** How `chosen` is made; default DEFAULT_CHOOSER ('divergence/3'). */
  chooser?: Chooser;
  /**
   * A stop the curve itself does not show, set by the driver: an interruption, or weights found
   * non-finite. Only the first `usable` points are analysed; stopIndex is the last point given.
   */
  stop?: { reason: 'interrupted' | 'non-finite'; usable: number };
}

export type Analysis = Pick<
  RangeTestResult,
  'smoothedLoss' | 'stopReason' | 'stopIndex' | 'outcome' | 'outcomeReason' | 'suggestions' | 'chosen'
>;

/**
 * Exponential moving average with bias correction (Adam's, as fastai's `SmoothenValue`):
 *
 *     avg_k = β·avg_{k−1} + (1 − β)·x_k,   avg_0 = 0,   smoothed_k = avg_k / (1 − β^k)
 *
 * where k counts the finite values seen so far, so a constant loss stays exactly that constant
 * (up to rounding). A NaN/±Infinity input gives NaN at its position and is skipped: the average
 * carries on from the finite values before it. (The range test stops at the first one anyway.)
 */
export function smoothLoss(loss: readonly number[], beta: number): number[] {
  checkNumber('smoothing', beta, { min: 0, max: 1, maxExclusive: true });
  const out: number[] = [];
  let avg = 0;
  let k = 0;
  for (const x of loss) {
    if (!Number.isFinite(x)) {
      out.push(NaN);
      continue;
    }
    k++;
    avg = beta * avg + (1 - beta) * x;
    out.push(avg / (1 - beta ** k));
  }
  return out;
}

/**
 * The online stop rule: feed raw losses one by one. `non-finite` at the first NaN/±Infinity,
 * `diverged` when the smoothed loss exceeds `best + divergeThreshold · max(|best|, descent)` where
 * descent = highest smoothed loss before the best point − best (so negative losses and losses near 0
 * work; "4 × best" does not).
 */
export class StopRule {
  private avg = 0;
  private k = 0;
  private best = Infinity;
  private highBeforeBest = -Infinity;
  private high = -Infinity;

  constructor(
    readonly smoothing: number,
    readonly divergeThreshold: number,
  ) {
    checkNumber('smoothing', smoothing, { min: 0, max: 1, maxExclusive: true });
    checkNumber('divergeThreshold', divergeThreshold, { min: 0, minExclusive: true });
  }

  push(loss: number): { smoothed: number; stop: 'non-finite' | 'diverged' | null } {
    if (!Number.isFinite(loss)) return { smoothed: NaN, stop: 'non-finite' };
    this.k++;
    this.avg = this.smoothing * this.avg + (1 - this.smoothing) * loss;
    const smoothed = this.avg / (1 - this.smoothing ** this.k);
    if (this.k > 1) {
      const scale = Math.max(Math.abs(this.best), this.highBeforeBest - this.best, Number.MIN_VALUE);
      if (smoothed > this.best + this.divergeThreshold * scale) return { smoothed, stop: 'diverged' };
    }
    this.high = Math.max(this.high, smoothed);
    if (smoothed < this.best) {
      this.best = smoothed;
      this.highBeforeBest = this.high;
    }
    return { smoothed, stop: null };
  }
}

/** Checks the options shared by the analysis and the driver; returns them with defaults. */
export function resolveAnalyzeOptions(
  opts: AnalyzeOptions = {},
  /** Decades of LR per step of an exponential sweep, for the default smoothing; null: not known. */
  decadesPerStep: number | null = null,
): {
  smoothing: number;
  divergeThreshold: number;
  sweep: 'exponential' | 'linear';
  chooser: Chooser;
} {
  const sweepSpacing = (opts.sweep ?? 'exponential') === 'exponential' ? decadesPerStep : null;
  const smoothing = checkNumber('smoothing', opts.smoothing ?? defaultSmoothing(sweepSpacing), { min: 0, max: 1, maxExclusive: true });
  const divergeThreshold = checkNumber('divergeThreshold', opts.divergeThreshold ?? DEFAULT_DIVERGE_THRESHOLD, {
    min: 0,
    minExclusive: true,
  });
  const sweep = opts.sweep ?? 'exponential';
  if (sweep !== 'exponential' && sweep !== 'linear') {
    throw new UserInputError('sweep', sweep, "'exponential' or 'linear'", 'unknown sweep');
  }
  const chooser = opts.chooser ?? DEFAULT_CHOOSER;
  if (typeof chooser !== 'function' && !CHOOSER_RULES.includes(chooser)) {
    throw new UserInputError('chooser', chooser, CHOOSER_RULES.map((r) => `'${r}'`).join(', ') + ' or a function', 'unknown rule');
  }
  return { smoothing, divergeThreshold, sweep, chooser };
}

const noSuggestions = (): Suggestions => ({ steepest: null, valley: null, minimum: null, smith: null });
const toCurve = (xs: readonly number[]) => xs.map((v) => (Number.isFinite(v) ? v : null));
const fmt = (x: number) => Number(x.toPrecision(3)).toString();

/**
 * Analyses a recorded sweep. Never throws for a curve's shape (empty, short, NaN, flat, diverging
 * at once): those give `outcome: 'insufficient-data'` with a reason and null suggestions. Throws a
 * UserInputError only for inputs that are not a sweep (different lengths, an LR <= 0 or decreasing).
 */
export function analyzeRangeTest(lr: readonly number[], loss: readonly number[], opts: AnalyzeOptions = {}): Analysis {
  // Decades per step of the recorded sweep, for the default smoothing (an LR grid that is not a sweep
  // is reported below, not here).
  const last = lr.length - 1;
  const spacing = last >= 1 && lr[0] > 0 && lr[last] > lr[0] ? Math.log10(lr[last] / lr[0]) / last : null;
  const { smoothing, divergeThreshold, sweep, chooser } = resolveAnalyzeOptions(opts, spacing);
  if (lr.length !== loss.length) {
    throw new UserInputError('loss', `${loss.length} values`, `as many values as lr (${lr.length})`, 'lengths differ');
  }
  lr.forEach((v, i) => {
    if (!(Number.isFinite(v) && v > 0)) throw new UserInputError(`lr[${i}]`, v, 'a finite number > 0');
    if (i > 0 && !(v > lr[i - 1])) throw new UserInputError(`lr[${i}]`, v, `a value > lr[${i - 1}] (${lr[i - 1]})`, 'not increasing');
  });

  // Replay the stop rule: the points after the stop are not used.
  const rule = new StopRule(smoothing, divergeThreshold);
  const smoothed: number[] = [];
  let stopReason: StopReason = 'finished';
  let usable = loss.length;
  for (let i = 0; i < loss.length; i++) {
    const { smoothed: s, stop } = rule.push(loss[i]);
    smoothed.push(s);
    if (stop) {
      stopReason = stop;
      usable = stop === 'non-finite' ? i : i + 1;
      break;
    }
  }
  if (opts.stop && stopReason === 'finished') {
    stopReason = opts.stop.reason;
    usable = Math.min(usable, Math.max(0, Math.floor(opts.stop.usable)));
  }
  const stopIndex = smoothed.length > 0 ? smoothed.length - 1 : null;
  const base = { smoothedLoss: toCurve(smoothed), stopReason, stopIndex };
  const insufficient = (outcomeReason: string): Analysis => ({
    ...base,
    outcome: 'insufficient-data',
    outcomeReason,
    suggestions: noSuggestions(),
    chosen: null,
  });

  if (usable < MIN_POINTS) {
    const why = loss.length === 0 ? 'no points recorded' : `only ${usable} usable point${usable === 1 ? '' : 's'}`;
    return insufficient(`${why} before the stop (${stopReason}); need at least ${MIN_POINTS}`);
  }
  const S = smoothed.slice(0, usable);
  const L = lr.slice(0, usable);
  const x = sweep === 'exponential' ? L.map(Math.log) : L;

  let m = 0;
  for (let i = 1; i < usable; i++) if (S[i] < S[m]) m = i;
  let high = -Infinity;
  for (let i = 0; i <= m; i++) high = Math.max(high, S[i]);
  const descent = high - S[m];
  const level = Math.max(Math.abs(high), Math.abs(S[m]));
  const noise = batchNoise(loss.slice(0, Math.max(m, 1) + 1));
  const isSmall = (d: number) => d <= MIN_RELATIVE_DESCENT * level || d <= NOISE_FACTOR * noise;
  if (isSmall(descent) && !isSmall(Math.max(...S) - S[0])) {
    return insufficient('the smoothed loss rose from the first point on (diverging at once): lower startLr');
  }
  if (isSmall(descent)) {
    return insufficient(
      `no real descent: the smoothed loss fell by ${fmt(descent)} (${fmt((100 * descent) / (level || 1))}% of its level, ` +
        `batch noise ${fmt(noise)}); the curve is flat over the tested range`,
    );
  }

  const at = (index: number, lrValue: number, ruleText: string): Suggestion => ({ lr: lrValue, index, loss: S[index], rule: ruleText });
  const axis = sweep === 'exponential' ? 'log-LR' : 'LR';

  // Steepest descent: slopes over consecutive segments using the real spacing, before the minimum.
  // The first points of a bias-corrected EMA average only a few batches, so their slopes are noise
  // (fastai drops the first tenth of the sweep for this): skip ~β/(1−β) points, at most a third of
  // the descent so that a short curve keeps its steep part.
  const naturalWarmUp = Math.round(smoothing / (1 - smoothing));
  const warmUp = Math.min(naturalWarmUp, Math.floor(m / 3));
  let steepIndex = -1;
  let steepSlope = 0;
  for (let i = warmUp; i < m; i++) {
    const slope = (S[i + 1] - S[i]) / (x[i + 1] - x[i]);
    if (slope < steepSlope) {
      steepSlope = slope;
      steepIndex = i;
    }
  }
  const steepest =
    steepIndex >= 0
      ? at(steepIndex, L[steepIndex], `start of the steepest segment of the smoothed loss against ${axis}, before the minimum`)
      : null;

  const valleyIndex = valley(S);
  const valleySuggestion = at(valleyIndex, L[valleyIndex], 'fastai valley: halfway into the longest decreasing run of the smoothed loss');
  const minimum = at(m, L[m] / 10, 'LR of the minimum smoothed loss / 10');

  // Smith: the loss "stops improving" at the first point within 10% of the total descent of the minimum.
  let knee = m;
  for (let i = 0; i <= m; i++) {
    if (S[i] - S[m] <= 0.1 * descent) {
      knee = i;
      break;
    }
  }
  const smith = {
    maxLr: L[knee],
    minLr: L[knee] / 10,
    index: knee,
    rule: 'max = first LR within 10% of the total descent of the minimum (the loss stops improving); min = max/10',
  };
  const suggestions: Suggestions = { steepest, valley: valleySuggestion, minimum, smith };

  const doubts: string[] = [];
  if (usable < FEW_POINTS) doubts.push(`only ${usable} usable points`);
  if (m === usable - 1) doubts.push('the loss was still falling at the end of the sweep (raise endLr or numIter)');
  if (steepIndex === warmUp && warmUp === naturalWarmUp && m > 2) doubts.push('the steepest descent is at the start of the sweep (lower startLr)');
  if (stopReason === 'interrupted') doubts.push('the sweep was interrupted');

  const chosen = choose(chooser, { lr: L, smoothedLoss: S, minIndex: m, suggestions });
  if (!chosen) doubts.push('the chooser gave no learning rate');
  return {
    ...base,
    outcome: doubts.length ? 'low-confidence' : 'ok',
    ...(doubts.length ? { outcomeReason: doubts.join('; ') } : {}),
    suggestions,
    chosen,
  };
}

/**
 * Batch-to-batch noise of the raw loss: robust standard deviation of successive differences
 * (1.4826·MAD/√2), which ignores the slow trend of the curve.
 */
function batchNoise(raw: readonly number[]): number {
  const d: number[] = [];
  for (let i = 1; i < raw.length; i++) d.push(raw[i] - raw[i - 1]);
  if (d.length < 2) return 0;
  const med = median(d);
  return (1.4826 * median(d.map((v) => Math.abs(v - med)))) / Math.SQRT2;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/**
 * fastai's `valley`: the longest decreasing subsequence of the loss, and the point
 * `start + ⌊len/3⌋ + ⌊len/6⌋` in it. fastai computes `start = end − len`, one before the run (−1 for
 * a curve that falls from its first point); we use `end − len + 1`. O(n²), fine for sweeps of a
 * few thousand points.
 */
function valley(S: readonly number[]): number {
  const n = S.length;
  const lds = new Array<number>(n).fill(1);
  let end = 0;
  for (let i = 1; i < n; i++) {
    for (let j = 0; j < i; j++) if (S[i] < S[j] && lds[i] < lds[j] + 1) lds[i] = lds[j] + 1;
    if (lds[end] < lds[i]) end = i;
  }
  const start = end - lds[end] + 1;
  const sections = (end - start) / 3;
  return Math.min(n - 1, Math.max(0, start + Math.floor(sections) + Math.floor(sections / 2)));
}

/** Fallback order when the asked rule has no value, or its value lies below the tested range. */
const FALLBACK: readonly ChooserRule[] = ['divergence/3', 'min-loss/3', 'valley', 'steepest', 'minimum', 'smith'];

/**
 * Where training diverges: the first point after the minimum at which the smoothed loss is back up
 * at the highest level it had before the minimum (where it started), less a tenth of the descent
 * ({@link CLIMB_BACK_SLACK}), or null when the sweep ended (or stopped) before that. The stop rule
 * fires only above that level, so every 'diverged' sweep has this point.
 *
 * The default rule `divergence/3` is maxLr = min(LR here / 3, LR of the minimum). Smith (§4.1) takes
 * the LR at the extremum of the loss as the largest usable 1cycle bound; the minimum alone is not
 * enough because a short sweep's minimum is often a transient one: at ~0.04 the demo CNN's loss jumps
 * (momentum 0.9 meets a fast-growing LR), recovers and improves up to ~0.2 without getting back below
 * the early dip, and min-loss/3 says 0.011 (1cycle then ends ~1.6 points below). Hence no division
 * of the minimum's LR: the margin comes from the other bound, a third of where training diverges
 * (a third also absorbs the EMA's lag, ~β/(1−β) steps: a factor ~3 of LR on 100 steps over 5 decades).
 * The minimum's bound matters on a convex problem, whose loss wanders well past its minimum before it
 * explodes (the test suite's linear regression: minimum 0.33, climb-back 4.0, 1cycle at 1.35 fails),
 * and on coarse sweeps, where the lag puts the climb-back decades late. Evidence over seeds:
 * bench/lr-rule.ts and docs/benchmarks.md.
 */
export function divergenceIndex(smoothedLoss: readonly number[], minIndex: number): number | null {
  let start = -Infinity;
  for (let i = 0; i <= minIndex; i++) start = Math.max(start, smoothedLoss[i]);
  const level = start - CLIMB_BACK_SLACK * (start - smoothedLoss[minIndex]);
  for (let i = minIndex + 1; i < smoothedLoss.length; i++) if (smoothedLoss[i] >= level) return i;
  return null;
}

function ruleValue(rule: ChooserRule, input: ChooserInput): { maxLr: number; minLr: number } | null {
  const s = input.suggestions;
  const withMin = (maxLr: number) => ({ maxLr, minLr: maxLr / 10 });
  switch (rule) {
    case 'divergence/3': {
      const d = divergenceIndex(input.smoothedLoss, input.minIndex);
      return d == null ? null : withMin(Math.min(input.lr[d] / 3, input.lr[input.minIndex]));
    }
    case 'min-loss/3':
      return withMin(input.lr[input.minIndex] / 3);
    case 'steepest':
      return s.steepest ? withMin(s.steepest.lr) : null;
    case 'valley':
      return s.valley ? withMin(s.valley.lr) : null;
    case 'minimum':
      return s.minimum ? withMin(s.minimum.lr) : null;
    case 'smith':
      return s.smith ? { maxLr: s.smith.maxLr, minLr: s.smith.minLr } : null;
  }
}

/**
 * The bounds handed to 1cycle. Default rule `divergence/3` (see divergenceIndex), falling back to
 * `min-loss/3` when the sweep never diverged: on MNIST (DESIGN.md) min-loss LR / 3 gave 98.2% test
 * accuracy where the steepest point and min-loss/10 gave 97.0-97.6%. minLr = maxLr/10.
 */
function choose(chooser: Chooser, input: ChooserInput): Chosen | null {
  if (typeof chooser === 'function') {
    const c = chooser(input);
    if (!c) return null;
    const maxLr = checkNumber('chooser().maxLr', c.maxLr, { min: 0, minExclusive: true });
    const minLr = checkNumber('chooser().minLr', c.minLr ?? maxLr / 10, { min: 0, minExclusive: true });
    return { maxLr, minLr, rule: c.rule };
  }
  const lowest = input.lr[0];
  const order = [chooser, ...FALLBACK.filter((r) => r !== chooser)];
  const skipped: string[] = [];
  for (const rule of order) {
    const v = ruleValue(rule, input);
    if (v && v.maxLr >= lowest) {
      const why = skipped.length ? ` (fallback: ${skipped.join(', ')})` : '';
      return { ...v, rule: `${rule}${why}` };
    }
    skipped.push(`${rule} ${v ? 'below the tested range' : rule === 'divergence/3' ? 'unavailable: the loss never climbed back near its start' : 'unavailable'}`);
  }
  return null;
}
