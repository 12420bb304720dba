/**
 * The time budget (issue 3 item 3): `'15m'`, `'90s'`, `'1h30m'` or seconds, split over the stages so
 * that the whole recipe fits. Half goes to the final training (the bench bar: tuning costs at most as
 * much as the final training); the rest is shared by the tuning stages in fixed proportions.
 */
import { UserInputError } from '../../errors.js';

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600 };

/**
 * Longest budget: 7 days. The stages turn their share into step counts, so a typo such as
 * `999999999h` would plan a stage that never ends; a week is far beyond any tuning run this tool
 * is made for (the demo's recipe takes minutes) and still leaves room for a slow model on a CPU.
 */
export const MAX_BUDGET_SECONDS = 7 * 24 * 3600;
/**
 * Shortest budget a person may ask for (config file, `--budget`): 10 s. Calibration alone is four
 * timed steps and a validation pass, and every stage has a floor it cannot go below (a range test
 * of 40 steps, short runs of 4 steps, one epoch of final training); a shorter budget cannot pay for
 * them on any real model and would only be overrun. The SDK's `tune()` takes any positive budget:
 * its `clock` option may be simulated (the tests run whole recipes on a fake clock in 0.5 s).
 */
export const MIN_BUDGET_SECONDS = 10;

/** What a budget may be, for the messages of the CLI, the config file and the SDK alike. */
export function budgetAllowed(minSeconds: number): string {
  const range = minSeconds > 0 ? `from ${minSeconds} s to 7 days (168h)` : 'up to 7 days (168h)';
  return `seconds (e.g. 900) or a duration of h, m and s parts without spaces ('90s', '15m', '1h30m'; parts add up: '1h90m' is 2h30m), ${range}`;
}

/** A budget string: seconds, or h, m and s parts without spaces (also the config schema's pattern). */
export const BUDGET_PATTERN = /^\s*(\d+(\.\d+)?|(\d+(\.\d+)?[hms])+)\s*$/;

/**
 * Seconds of a budget by its syntax alone, or why it has none. The string syntax is Go's
 * time.ParseDuration restricted to h, m and s: parts add up ('1h90m' = '2h30m', as in Go), and a
 * plain number is seconds. No spaces: '5m 3s' and '1 2 3' are refused rather than guessed at.
 */
function toSeconds(budget: unknown): number | string {
  if (typeof budget === 'number') return budget;
  if (typeof budget !== 'string') return 'not a number of seconds or a duration string';
  if (!BUDGET_PATTERN.test(budget)) return 'not a duration';
  const text = budget.trim();
  if (!/[hms]$/.test(text)) return Number(text);
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+(?:\.\d+)?)([hms])/g)) total += Number(n) * UNIT[unit];
  return total;
}

/** Why `budget` is not a budget from `minSeconds` (any positive one when 0) to 7 days, or null when it is. */
export function budgetProblem(budget: unknown, minSeconds: number): string | null {
  const seconds = toSeconds(budget);
  if (typeof seconds === 'string') return seconds;
  if (!Number.isFinite(seconds) || seconds <= 0) return 'not a positive duration';
  if (seconds > MAX_BUDGET_SECONDS) return `longer than 7 days (${seconds} s)`;
  if (seconds < minSeconds) return `shorter than ${minSeconds} s (${seconds} s): too short for calibration and the stages' minimum steps`;
  return null;
}

/**
 * Seconds from `'15m'`, `'90s'`, `'1h30m'`, `'2.5m'` or a number of seconds; otherwise a
 * UserInputError naming `option`. `minSeconds` 0 (the SDK's rule) takes any positive budget; the
 * CLI and the config file use MIN_BUDGET_SECONDS.
 */
export function parseBudget(budget: unknown, option = 'budget', minSeconds = 0): number {
  const problem = budgetProblem(budget, minSeconds);
  if (problem) throw new UserInputError(option, budget, budgetAllowed(minSeconds), problem);
  return toSeconds(budget) as number;
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
