/**
 * Stage 5, final training: 1cycle (paper §4.1) at the recommended values for the recommended number
 * of epochs (from the budget, else `final.epochs`, default 5); per-epoch history, test metrics and
 * wall time; the fit diagnosis reads its curves.
 */
import type { Stage, Training } from '../../../report/schema.js';
import { oneCycle } from '../../schedules/index.js';
import { type StageContext, buildTrainer, trainerSettings } from '../context.js';
import { fmt } from '../decide.js';
import { StageProblem } from '../errors.js';
import { type TrainEpochsResult, stageTrainingHooks, trainEpochs } from '../train.js';

/** Epochs of the final run: configured, else what fits the stage's budget (at least 1), else 5. */
export function finalEpochs(ctx: StageContext): { epochs: number; why: string } {
  const { state } = ctx;
  const configured = ctx.settings.final.epochs;
  if (configured) return { epochs: configured, why: 'final.epochs' };
  if (ctx.budgetSeconds == null) return { epochs: 5, why: 'default (no budget)' };
  const epochSeconds = state.stepsPerEpoch * state.stepSeconds + state.evalSeconds;
  const epochs = Math.max(1, Math.floor(ctx.budgetSeconds / epochSeconds));
  return { epochs, why: `what fits the final training's share of the budget (${fmt(ctx.budgetSeconds)} s at ${fmt(epochSeconds)} s per epoch)` };
}

export async function finalStage(ctx: StageContext): Promise<Partial<Stage>> {
  const { state, settings } = ctx;
  if (state.maxLr == null || state.minLr == null) throw new StageProblem('needs maxLr: run the lr stage first or set start.maxLr');
  const { epochs, why } = finalEpochs(ctx);
  const t0 = ctx.clock();
  const trainer = await buildTrainer(ctx, trainerSettings(ctx));
  const stepsPerEpoch = trainer.stepsPerEpoch;
  const totalSteps = epochs * stepsPerEpoch;
  const schedule = oneCycle({
    maxLr: state.maxLr,
    minLr: Math.min(state.minLr, state.maxLr),
    totalSteps,
    momentumMax: state.momentumMax,
    momentumMin: state.momentumMin,
    annihilationPct: settings.final.annihilationPct,
  });
  let result: TrainEpochsResult;
  try {
    result = await trainEpochs(trainer, {
      schedule,
      epochs,
      ...stageTrainingHooks(ctx, 'final'),
    });
  } finally {
    trainer.dispose();
  }
  const { history, test } = result;
  state.epochs = epochs;
  state.why.epochs = why;
  const training: Training = {
    name: 'final',
    optimizer: settings.optimizer,
    schedule: `1cycle (maxLr ${fmt(state.maxLr)}, minLr ${fmt(state.minLr)}, annihilation ${fmt(settings.final.annihilationPct * 100)}%)`,
    epochs,
    steps: totalSteps,
    batchSize: state.batchSize,
    hyperParameters: {
      maxLr: state.maxLr,
      minLr: state.minLr,
      momentumMax: state.momentumMax,
      momentumMin: state.momentumMin,
      weightDecay: state.weightDecay,
      annihilationPct: settings.final.annihilationPct,
    },
    history,
    test,
    wallSeconds: (ctx.clock() - t0) / 1000,
  };
  if (test && ctx.run) ctx.tracker?.logMetrics(ctx.run, { testLoss: test.loss ?? NaN, ...(test.accuracy != null ? { testAccuracy: test.accuracy } : {}) }, totalSteps);
  return {
    kind: 'final-training',
    title: `Final training: 1cycle, ${epochs} epoch${epochs === 1 ? '' : 's'}`,
    params: { ...training.hyperParameters, batchSize: state.batchSize, epochs },
    series: [
      { name: 'trainLoss', x: 'epoch', y: 'loss', xs: history.map((h) => h.epoch), ys: history.map((h) => h.trainLoss) },
      { name: 'valLoss', x: 'epoch', y: 'valLoss', xs: history.map((h) => h.epoch), ys: history.map((h) => h.valLoss) },
    ],
    training,
  };
}
