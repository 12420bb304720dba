/**
 * The baseline: what people do without the recipe — the usual default (Adam, constant LR 1e-3) for
 * the same epochs and batch size as the final 1cycle run — measured the same way, so the report can
 * say what the recipe bought.
 */
import type { Stage, Training } from '../../../report/schema.js';
import { makeHyperSchedule } from '../../schedules/index.js';
import { type StageContext, buildTrainer, trainerSettings } from '../context.js';
import { fmt } from '../decide.js';
import { StageProblem } from '../errors.js';
import { stageTrainingHooks, trainEpochs } from '../train.js';

export async function baselineStage(ctx: StageContext): Promise<Partial<Stage>> {
  const b = ctx.settings.baseline;
  if (!b) throw new StageProblem('no baseline section in the settings');
  const epochs = b.epochs ?? ctx.state.epochs ?? ctx.settings.final.epochs ?? 5;
  const t0 = ctx.clock();
  const trainer = await buildTrainer(ctx, trainerSettings(ctx, { optimizer: b.optimizer, weightDecay: 0 }));
  let result;
  try {
    const schedule = makeHyperSchedule(epochs * trainer.stepsPerEpoch, () => b.lr, () => b.momentum);
    result = await trainEpochs(trainer, {
      schedule,
      epochs,
      ...stageTrainingHooks(ctx, 'baseline'),
    });
  } finally {
    trainer.dispose();
  }
  const schedule = `constant LR ${fmt(b.lr)}`;
  const training: Training = {
    name: 'baseline',
    optimizer: b.optimizer,
    schedule,
    epochs,
    steps: result.steps,
    batchSize: ctx.state.batchSize,
    hyperParameters: { lr: b.lr, momentum: b.momentum, weightDecay: 0 },
    history: result.history,
    test: result.test,
    wallSeconds: (ctx.clock() - t0) / 1000,
  };
  const { history, test } = result;
  if (test && ctx.run) ctx.tracker?.logMetrics(ctx.run, { testLoss: test.loss ?? NaN, ...(test.accuracy != null ? { testAccuracy: test.accuracy } : {}) }, result.steps);
  return {
    kind: 'baseline',
    title: `Baseline: ${b.optimizer === 'adam' ? 'Adam' : 'SGD'}, ${schedule}, ${epochs} epoch${epochs === 1 ? '' : 's'}`,
    params: { optimizer: b.optimizer, lr: b.lr, momentum: b.momentum, batchSize: ctx.state.batchSize, epochs },
    series: [
      { name: 'trainLoss', x: 'epoch', y: 'loss', xs: history.map((h) => h.epoch), ys: history.map((h) => h.trainLoss) },
      { name: 'valLoss', x: 'epoch', y: 'valLoss', xs: history.map((h) => h.epoch), ys: history.map((h) => h.valLoss) },
    ],
    training,
  };
}
