/**
 * `fail-on`: when the step should go red. A range test that "diverges" is the expected end of the
 * sweep (paper §4.1: run until the loss explodes), so divergence here means the trainings the user
 * would keep: the final 1cycle training or a stage that failed.
 */
import type { TuningReport, Training } from '../report/index.js';
import type { FailOn } from './inputs.js';

/** Accuracy may drop this much (absolute) before it counts as a regression: run-to-run noise. */
export const ACCURACY_TOLERANCE = 0.005;
/** Relative rise of the final validation loss that counts as a regression when no accuracy. */
export const LOSS_TOLERANCE = 0.02;

function diverged(t: Training | null): boolean {
  if (!t) return false;
  return t.history.some((h) => h.trainLoss === null || h.valLoss === null);
}

export function findDivergence(report: TuningReport): string | null {
  if (report.status === 'failed') return `the report status is "failed"`;
  if (diverged(report.final)) return 'the final training produced a non-finite loss';
  for (const s of report.stages) {
    if (s.status === 'failed') return `stage "${s.title}" failed${s.error ? `: ${s.error}` : ''}`;
    if (s.kind === 'final-training' && diverged(s.training ?? null)) return `stage "${s.title}" produced a non-finite loss`;
  }
  return null;
}

function lastValLoss(t: Training | null): number | null {
  const h = t?.history ?? [];
  for (let i = h.length - 1; i >= 0; i--) if (h[i].valLoss != null) return h[i].valLoss;
  return null;
}

export function findRegression(report: TuningReport, base: TuningReport | null): string | null {
  if (!base) return null;
  const acc = report.final?.test?.accuracy;
  const baseAcc = base.final?.test?.accuracy;
  if (acc != null && baseAcc != null) {
    return acc < baseAcc - ACCURACY_TOLERANCE
      ? `test accuracy ${(acc * 100).toFixed(2)}% is below the base's ${(baseAcc * 100).toFixed(2)}% (tolerance ${ACCURACY_TOLERANCE * 100} points)`
      : null;
  }
  const loss = lastValLoss(report.final);
  const baseLoss = lastValLoss(base.final);
  if (loss != null && baseLoss != null && loss > baseLoss * (1 + LOSS_TOLERANCE)) {
    return `final validation loss ${loss.toPrecision(4)} is above the base's ${baseLoss.toPrecision(4)} (tolerance ${LOSS_TOLERANCE * 100}%)`;
  }
  return null;
}

export function failureReason(failOn: FailOn, report: TuningReport, base: TuningReport | null): string | null {
  if (failOn === 'never') return null;
  const d = findDivergence(report);
  if (d) return `fail-on ${failOn}: ${d}`;
  if (failOn === 'regression') {
    const r = findRegression(report, base);
    if (r) return `fail-on regression: ${r}`;
  }
  return null;
}
