/**
 * The time budget (issue 3 item 3): `'15m'`, `'90s'`, `'1h30m'` or seconds, split over the stages so
 * that the whole recipe fits. Half goes to the final training (the bench bar: tuning costs at most as
 * much as the final training); the rest is shared by the tuning stages in fixed proportions.
 */
import { UserInputError } from '../../errors.js';

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** Seconds from `'15m'`, `'90s'`, `'1h30m'`, `'2.5m'` or a number of seconds. */
export function parseBudget(budget: string | number): number {
  const allowed = "a positive number of seconds, or a duration like '90s', '15m', '1h30m'";
  if (typeof budget === 'number') {
    if (!Number.isFinite(budget) || budget <= 0) throw new UserInputError('budget', budget, allowed, 'not a positive duration');
    return budget;
  }
  const text = String(budget).trim();
  if (/^\d+(\.\d+)?$/.test(text)) return parseBudget(Number(text));
  const re = /(\d+(?:\.\d+)?)\s*([smh])/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * UNIT[m[2]];
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || consumed === 0 || total <= 0)
    throw new UserInputError('budget', budget, allowed, 'not a duration');
  return total;
}

export type PlannedStage = 'lr' | 'batch-size' | 'momentum' | 'weight-decay' | 'lr-recheck' | 'final' | 'baseline';

/** Share of the budget of each stage (normalised over the stages that run). */
export const BUDGET_SHARES: Record<PlannedStage, number> = {
  // The re-check gets the same share as the first test: a shorter sweep would move maxLr by noise.
  lr: 0.05,
  'batch-size': 0.16,
  momentum: 0.12,
  'weight-decay': 0.12,
  'lr-recheck': 0.05,
  final: 0.5,
  // Outside the budget (it is a comparison, not tuning); weighted like the final run for progress.
  baseline: 0.5,
};

/** Seconds for each stage that runs, summing to `budgetSeconds`. */
export function splitBudget(budgetSeconds: number, stages: readonly PlannedStage[]): Record<string, number> {
  const planned = stages.filter((id) => id !== 'baseline');
  const total = planned.reduce((s, id) => s + BUDGET_SHARES[id], 0);
  const out: Record<string, number> = {};
  for (const id of planned) out[id] = (budgetSeconds * BUDGET_SHARES[id]) / total;
  return out;
}

/**
 * How many optimizer steps fit in `seconds` when each costs `stepSeconds` and the run also makes
 * `evals` evaluations of `evalSeconds` each; at least `min`.
 */
export function stepsFor(seconds: number, stepSeconds: number, evalSeconds: number, evals: number, min: number): number {
  const usable = seconds - evals * evalSeconds;
  const steps = Math.floor(usable / Math.max(stepSeconds, 1e-9));
  return Math.max(min, Number.isFinite(steps) ? steps : min);
}

/** Mantissas of the step counts a budget may plan (a 1-1.2-1.5-2-2.5-3-4-5-6-8 series per decade). */
const STEP_BANDS = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8];

/**
 * `n` rounded down to the series 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, ... (below 10:
 * unchanged). A step count derived from a budget follows the machine's measured speed; rounding
 * it to a coarse series makes two machines of similar speed (or two runs on one, whose calibration
 * differs by noise) plan the same sweep and the same short runs, and so reach the same decisions.
 * It gives up at most a quarter of the steps that fit (199 → 150), so a stage stays within its share.
 */
export function bandSteps(n: number): number {
  if (!(n >= 10)) return n;
  const decade = 10 ** Math.floor(Math.log10(n) + 1e-12);
  const m = n / decade;
  let pick = STEP_BANDS[0];
  for (const b of STEP_BANDS) if (b <= m + 1e-9) pick = b;
  return Math.round(pick * decade);
}
