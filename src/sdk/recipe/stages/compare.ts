/**
 * Short runs over a list of values of one hyper-parameter, each from a fresh trainer with the same
 * seed, collected as measurements for decideByValLoss (momentum and weight-decay stages).
 */
import type { Series } from '../../../report/schema.js';
import type { TrainerSettings } from '../../trainers/types.js';
import type { StageContext } from '../context.js';
import { type Measured, fmt } from '../decide.js';
import { bandSteps, stepsFor } from '../budget.js';
import { shortRun } from '../short-run.js';

export interface Compared {
  measured: Measured[];
  series: Series[];
}

/** Steps of each short run: configured, else what fits the stage's budget over `runs` runs, else one epoch. */
export function shortRunSteps(ctx: StageContext, configured: number | undefined, runs: number): number {
  if (configured) return configured;
  const { state } = ctx;
  if (ctx.budgetSeconds == null) return Math.max(4, state.stepsPerEpoch);
  return bandSteps(stepsFor(ctx.budgetSeconds / runs, state.stepSeconds, state.evalSeconds, 6, 4));
}

export async function compareShortRuns(
  ctx: StageContext,
  args: {
    name: string;
    values: readonly number[];
    steps: number;
    hp: (v: number) => { momentumMax: number; momentumMin: number; settings?: Partial<TrainerSettings> };
    /** Progress range of these runs inside the stage. */
    from?: number;
    to?: number;
    into?: Compared;
  },
): Promise<Compared> {
  const { state } = ctx;
  const out = args.into ?? { measured: [], series: [] };
  const from = args.from ?? 0;
  const span = (args.to ?? 1) - from;
  for (const [i, v] of args.values.entries()) {
    const { momentumMax, momentumMin, settings } = args.hp(v);
    const trial = ctx.tracker && ctx.run ? ctx.tracker.startRun(`${args.name} ${fmt(v)}`, { parent: ctx.run, params: { [args.name]: v } }) : undefined;
    let r;
    try {
      r = await shortRun(ctx, {
        settings: { batchSize: state.batchSize, weightDecay: state.weightDecay, seed: ctx.settings.seed, optimizer: ctx.settings.optimizer, ...settings },
        steps: args.steps,
        maxLr: state.maxLr!,
        minLr: state.minLr!,
        momentumMax,
        momentumMin,
        run: trial,
        onProgress: (f) => ctx.progress(from + (span * (i + f)) / args.values.length),
      });
    } catch (e) {
      if (trial) ctx.tracker?.endRun(trial, 'FAILED');
      throw e;
    }
    if (trial) ctx.tracker?.endRun(trial, 'FINISHED');
    out.series.push({ name: `${args.name}=${fmt(v)}`, label: `${args.name} ${fmt(v)}`, x: 'step', y: 'valLoss', xs: r.val.map((p) => p.step), ys: r.val.map((p) => p.loss) });
    out.measured.push({
      value: v,
      metric: r.metric,
      noise: r.noise,
      at: `step ${r.stepsRun}`,
      ...(r.diverged ? { note: `diverged at step ${(r.divergedAt ?? 0) + 1}` } : {}),
    });
  }
  return out;
}
