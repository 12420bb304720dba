/**
 * Stage 4, weight decay (paper §4.4, §5): short 1cycle runs (cyclical momentum as recommended) at
 * each value of a grid chosen from a hint about the problem (or given), compared by validation loss
 * early in training; then one bisection of the exponent between the two best (1e-4 and 1e-3 →
 * 3e-4), run like the others. The result has one significant figure.
 * Short 1cycle runs rather than range tests: they measure WD at the LR it will be used with.
 */
import type { Stage } from '../../../report/schema.js';
import type { StageContext } from '../context.js';
import { bisectExponent, decideByValLoss, fmt, weightDecayGrid } from '../decide.js';
import { StageProblem } from '../errors.js';
import { compareShortRuns, shortRunSteps } from './compare.js';

export async function weightDecayStage(ctx: StageContext): Promise<Partial<Stage>> {
  const { state, settings } = ctx;
  if (state.maxLr == null) throw new StageProblem('needs maxLr: run the lr stage first or set start.maxLr');
  const o = settings.weightDecay;
  const grid = o.values ?? weightDecayGrid(o.hint);
  const willBisect = o.bisect && grid.length >= 2;
  const steps = shortRunSteps(ctx, o.steps, grid.length + (willBisect ? 1 : 0));
  const hp = (wd: number) => ({ momentumMax: state.momentumMax, momentumMin: state.momentumMin, settings: { weightDecay: wd } });
  const to = willBisect ? grid.length / (grid.length + 1) : 1;
  const compared = await compareShortRuns(ctx, { name: 'wd', values: grid, steps, hp, from: 0, to });
  let bisected: number | null = null;
  if (willBisect) {
    const ranked = compared.measured.filter((m) => m.metric != null).sort((a, b) => (a.metric as number) - (b.metric as number));
    if (ranked.length >= 2) bisected = bisectExponent(ranked[0].value, ranked[1].value, grid);
    if (bisected != null) {
      await compareShortRuns(ctx, { name: 'wd', values: [bisected], steps, hp, from: to, to: 1, into: compared });
      compared.measured[compared.measured.length - 1].note = `bisection of the exponent between ${fmt(ranked[0].value)} and ${fmt(ranked[1].value)}`;
    }
  }
  const { winnerValue, ...decision } = decideByValLoss({
    parameter: 'weightDecay',
    label: 'WD',
    measured: compared.measured,
    ruleDetail: `${steps} steps of 1cycle per value${bisected != null ? ', plus one bisection of the exponent between the two best' : ''}`,
  });
  if (winnerValue == null) throw new StageProblem(`every weight-decay run diverged (${grid.map(fmt).join(', ')}): the trainer returned non-finite losses`);
  state.weightDecay = winnerValue;
  state.why.weightDecay = decision.summary;
  return {
    kind: 'weight-decay',
    title: `Weight decay: ${o.values ? 'given grid' : `${o.hint} grid`}${bisected != null ? ' + bisection' : ''}`,
    params: { steps, grid: grid.map(fmt).join(', '), bisected: bisected ?? null, hint: o.values ? 'explicit' : o.hint, maxLr: state.maxLr, batchSize: state.batchSize },
    series: compared.series,
    decision,
  };
}
