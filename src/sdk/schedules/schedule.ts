import { UserInputError, checkNumber } from '../../errors.js';

/**
 * Learning rate and momentum for every step of a training run. `step` is 0-based and the value is
 * the one applied BEFORE that step (as torch's schedulers after `step` calls, and fastai's
 * `before_batch`). Past `totalSteps − 1` the final value holds (no rebound as in PyTorch).
 */
export interface HyperSchedule {
  totalSteps: number;
  lr(step: number): number;
  momentum(step: number): number;
}

/** Called once per schedule the first time a step at or past `totalSteps` is asked for. */
export type OverrunHandler = (step: number, totalSteps: number) => void;

/** Default overrun report: one process warning (PyTorch silently extrapolates; we hold and say so). */
export function warnOverrun(step: number, totalSteps: number): void {
  globalThis.process?.emitWarning?.(
    `schedule asked for step ${step} but has ${totalSteps} steps (0..${totalSteps - 1}); holding the final value`,
    { code: 'SUPERCONVERGE_SCHEDULE_OVERRUN' },
  );
}

/**
 * Wraps two functions of a step in `[0, totalSteps − 1]` into a HyperSchedule that clamps later
 * steps to the last one and reports the first overrun once.
 */
export function makeHyperSchedule(
  totalSteps: number,
  lrAt: (step: number) => number,
  momentumAt: (step: number) => number,
  onOverrun: OverrunHandler = warnOverrun,
): HyperSchedule {
  let overrunReported = false;
  const clamp = (step: number): number => {
    if (typeof step !== 'number' || Number.isNaN(step) || step < 0) {
      throw new RangeError(`schedule step must be a number >= 0, got ${String(step)}`);
    }
    if (step > totalSteps - 1) {
      if (!overrunReported) {
        overrunReported = true;
        onOverrun(step, totalSteps);
      }
      return totalSteps - 1;
    }
    return step;
  };
  return {
    totalSteps,
    lr: (step) => lrAt(clamp(step)),
    momentum: (step) => momentumAt(clamp(step)),
  };
}

// ---- argument checks shared by the schedules (UserInputError naming the option) ----

export function checkTotalSteps(value: unknown, option = 'totalSteps'): number {
  return checkNumber(option, value, { min: 1, integer: true });
}

export function checkPositiveLr(option: string, value: unknown): number {
  return checkNumber(option, value, { min: 0, minExclusive: true });
}

export function checkMomentum(option: string, value: unknown): number {
  return checkNumber(option, value, { min: 0, max: 1, maxExclusive: true });
}

/** A fraction strictly inside (0, 1). */
export function checkPct(option: string, value: unknown): number {
  return checkNumber(option, value, { min: 0, max: 1, minExclusive: true, maxExclusive: true });
}

export function checkOrder(lowOption: string, low: number, highOption: string, high: number): void {
  if (low > high) {
    throw new UserInputError(lowOption, low, `a value <= ${highOption} (${high})`, `must not exceed ${highOption}`);
  }
}
