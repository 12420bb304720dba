/**
 * The recipe's time left, for the progress display.
 *
 * With a budget every stage has planned seconds, but a budget smaller than the stages' minimum step
 * counts (the range test's 40 steps, a few steps per compared value) makes the tuning stages overrun
 * their shares by a factor that can reach 5–10, while the final training keeps to its share. So the
 * estimate is: the current stage's own rate, plus the later tuning stages' plans scaled by the
 * overrun measured so far, plus the final training's plan (and the baseline's: as long as the final).
 * Without a budget the stages have no planned seconds (their default step counts are not in
 * proportion to anything known before they run), so there is no estimate (null) until the final
 * training, whose own rate then gives it (and the baseline's, as long as the final).
 */
import type { PlannedStage } from './budget.js';

/** Below this much of a stage done, its own rate is too noisy (the first steps compile). */
const MIN_STAGE_FRACTION = 0.05;

export class EtaEstimator {
  private readonly started = new Map<PlannedStage, number>();
  private readonly took = new Map<PlannedStage, number>();

  /**
   * @param ids the stages that run, in order
   * @param budgets planned seconds of each stage (the baseline has none), or null without a budget
   */
  constructor(
    private readonly ids: readonly PlannedStage[],
    private readonly budgets: Readonly<Record<string, number>> | null,
  ) {}

  stageStarted(id: PlannedStage, seconds: number): void {
    this.started.set(id, seconds);
  }

  stageEnded(id: PlannedStage, wallSeconds: number): void {
    this.took.set(id, wallSeconds);
  }

  /**
   * Seconds left at `now` (seconds on the same clock as `stageStarted`) with stage `id` done to
   * `stageFraction`; null while nothing has been measured yet (no budget, nothing done).
   */
  estimate(id: PlannedStage, stageFraction: number, now: number): number | null {
    const inStage = Math.max(0, now - (this.started.get(id) ?? now));
    // A stage that did not start here was finished by the run this one resumes: nothing of it is left.
    const ran = this.started.has(id);
    const measured = !ran ? 0 : (this.took.get(id) ?? (stageFraction >= MIN_STAGE_FRACTION ? inStage / stageFraction : null));
    const later = this.ids.slice(this.ids.indexOf(id) + 1);
    const budgets = this.budgets;
    if (!budgets) {
      const total = measured ?? (id === 'baseline' ? this.took.get('final') : undefined);
      if (total == null || (id !== 'final' && id !== 'baseline')) return null;
      return Math.max(0, total - inStage) + (later.includes('baseline') ? total : 0);
    }
    const planned = (s: PlannedStage): number => (s === 'baseline' ? (this.took.get('final') ?? budgets.final ?? 0) : (budgets[s] ?? 0));
    // The tuning stages overrun their plans (minimum step counts); the final training keeps to its.
    const isTuning = (s: PlannedStage) => s !== 'final' && s !== 'baseline';
    let spent = 0;
    let plan = 0;
    for (const [s, seconds] of this.took) {
      if (isTuning(s) && s !== id) {
        spent += seconds;
        plan += planned(s);
      }
    }
    if (ran && isTuning(id) && measured != null) {
      spent += measured;
      plan += planned(id);
    }
    const overrun = plan > 0 && spent > 0 ? spent / plan : 1;
    const expected = (s: PlannedStage) => (isTuning(s) ? overrun * planned(s) : planned(s));
    const currentTotal = measured ?? Math.max(expected(id), inStage);
    let left = Math.max(0, currentTotal - inStage);
    for (const s of later) left += s === 'baseline' && id === 'final' ? currentTotal : expected(s);
    return left;
  }
}
