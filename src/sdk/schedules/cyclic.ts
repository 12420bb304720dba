/**
 * Cyclical learning rates (Smith 2015, arXiv 1506.01186) with cyclical momentum (arXiv 1803.09820
 * §4.3), PyTorch `CyclicLR` semantics.
 */
import { UserInputError, checkNumber } from '../../errors.js';
import { piecewise, schedLin } from './sched.js';
import {
  type HyperSchedule,
  type OverrunHandler,
  checkMomentum,
  checkOrder,
  checkPositiveLr,
  checkTotalSteps,
  makeHyperSchedule,
} from './schedule.js';

export type CyclicMode = 'triangular' | 'triangular2' | 'exp_range';

export interface CyclicLrOptions {
  /** Lower LR bound (the LR at the start of every cycle). */
  baseLr: number;
  /** Upper LR bound (reached after `stepSizeUp` steps). */
  maxLr: number;
  /** Steps from baseLr to maxLr (may be 0 for a falling sawtooth; non-integers allowed as in torch). */
  stepSizeUp: number;
  /** Steps from maxLr back to baseLr; default stepSizeUp. */
  stepSizeDown?: number;
  mode: CyclicMode;
  /** exp_range decay per step, in (0, 1]; default 1. */
  gamma?: number;
  /** Momentum at the LR peak; default 0.8 (torch). */
  baseMomentum?: number;
  /** Momentum at baseLr; default 0.9 (torch). */
  maxMomentum?: number;
  /** Cycle momentum inversely to the LR; default true. When false momentum stays at maxMomentum. */
  cycleMomentum?: boolean;
  totalSteps: number;
  onOverrun?: OverrunHandler;
}

/**
 * With `size = stepSizeUp + stepSizeDown`, `cycle = ⌊1 + step/size⌋` and the position inside the
 * cycle `x = 1 + step/size − cycle ∈ [0, 1)`, a triangle wave
 *
 *     wave(x) = x / r                 for x ≤ r = stepSizeUp/size
 *             = (1 − x) / (1 − r)     otherwise
 *     lr       = baseLr + (maxLr − baseLr) · wave(x) · scale
 *     momentum = maxMomentum − (maxMomentum − baseMomentum) · wave(x) · scale
 *
 * where `scale` is 1 (triangular), `1/2^(cycle−1)` (triangular2) or `gamma^step` (exp_range).
 * A zero-length half of the wave takes its end value instead of dividing by zero.
 */
export function cyclicLr(opts: CyclicLrOptions): HyperSchedule {
  const baseLr = checkPositiveLr('baseLr', opts.baseLr);
  const maxLr = checkPositiveLr('maxLr', opts.maxLr);
  checkOrder('baseLr', baseLr, 'maxLr', maxLr);
  const stepSizeUp = checkNumber('stepSizeUp', opts.stepSizeUp, { min: 0 });
  const stepSizeDown = checkNumber('stepSizeDown', opts.stepSizeDown ?? stepSizeUp, { min: 0 });
  if (stepSizeUp + stepSizeDown <= 0) {
    throw new UserInputError('stepSizeUp', stepSizeUp, 'stepSizeUp + stepSizeDown > 0', 'a cycle needs at least one step');
  }
  const mode = opts.mode;
  if (mode !== 'triangular' && mode !== 'triangular2' && mode !== 'exp_range') {
    throw new UserInputError('mode', mode, "'triangular', 'triangular2' or 'exp_range'", 'unknown mode');
  }
  const gamma = checkNumber('gamma', opts.gamma ?? 1, { min: 0, max: 1, minExclusive: true });
  const baseMomentum = checkMomentum('baseMomentum', opts.baseMomentum ?? 0.8);
  const maxMomentum = checkMomentum('maxMomentum', opts.maxMomentum ?? 0.9);
  checkOrder('baseMomentum', baseMomentum, 'maxMomentum', maxMomentum);
  const cycleMomentum = opts.cycleMomentum ?? true;
  const totalSteps = checkTotalSteps(opts.totalSteps);

  const size = stepSizeUp + stepSizeDown;
  const wave = piecewise([0, stepSizeUp / size, 1], [schedLin(0, 1), schedLin(1, 0)]);
  const cycleOf = (step: number) => Math.floor(1 + step / size);
  const position = (step: number) => 1 + step / size - cycleOf(step);
  const scale = (step: number) =>
    mode === 'triangular' ? 1 : mode === 'triangular2' ? 1 / 2 ** (cycleOf(step) - 1) : gamma ** step;
  const height = (step: number) => wave(position(step)) * scale(step);
  return makeHyperSchedule(
    totalSteps,
    (s) => baseLr + (maxLr - baseLr) * height(s),
    (s) => (cycleMomentum ? maxMomentum - (maxMomentum - baseMomentum) * height(s) : maxMomentum),
    opts.onOverrun,
  );
}
