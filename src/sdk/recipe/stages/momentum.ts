/**
 * Stage 3, momentum (paper §4.3, §5): short runs at constant momentum 0.99, 0.97, 0.95 and 0.9
 * (configurable) with the 1cycle learning rate, judged by validation loss early in training; the
 * recommendation is cyclical momentum from the winner down to 0.85 (configurable, e.g. 0.8) while
 * the LR rises.
 */
import type { Stage } from '../../../report/schema.js';
import type { StageContext } from '../context.js';
import { decideByValLoss, fmt } from '../decide.js';
import { StageProblem } from '../errors.js';
import { compareShortRuns, shortRunSteps } from './compare.js';

export async function momentumStage(ctx: StageContext): Promise<Partial<Stage>> {
  const { state, settings } = ctx;
  if (state.maxLr == null) throw new StageProblem('needs maxLr: run the lr stage first or set start.maxLr');
  const o = settings.momentum;
  const steps = shortRunSteps(ctx, o.steps, o.values.length);
  const { measured, series } = await compareShortRuns(ctx, {
    name: 'momentum',
    values: o.values,
    steps,
    hp: (m) => ({ momentumMax: m, momentumMin: m }),
  });
  const { winnerValue, ...decision } = decideByValLoss({
    parameter: 'momentum',
    label: 'Momentum',
    measured,
    ruleDetail: `constant momentum, ${steps} steps of 1cycle LR`,
    // Paper §4.3: cyclical momentum 0.95 → 0.85 is the sound default when the short runs cannot tell.
    ...(o.values.includes(0.95) ? { prefer: { value: 0.95, why: "the paper's default 0.95" } } : {}),
  });
  if (winnerValue == null) throw new StageProblem(`every momentum run diverged (${o.values.join(', ')}): the trainer returned non-finite losses`);
  state.momentumMax = winnerValue;
  // Cyclical momentum needs a range; a winner at or below the floor is used constant.
  state.momentumMin = Math.min(o.min, winnerValue);
  state.why.momentumMax = decision.summary;
  state.why.momentumMin =
    o.min < winnerValue
      ? `cyclical momentum ${fmt(winnerValue)} → ${fmt(o.min)} while the LR rises (paper §4.3; momentum.min)`
      : `winner ${fmt(winnerValue)} is not above momentum.min ${fmt(o.min)}: constant momentum`;
  return {
    kind: 'momentum',
    title: 'Momentum: short runs at constant momentum',
    params: { steps, maxLr: state.maxLr, minLr: state.minLr, batchSize: state.batchSize, weightDecay: state.weightDecay, cyclicalMomentumMin: o.min },
    series,
    decision,
  };
}
