/**
 * Trains a fresh trainer for whole epochs under a schedule, evaluating after each epoch and on the
 * test split at the end. The final 1cycle training and the constant-LR baseline both run through it,
 * so the two are measured the same way.
 */
import type { EpochRecord, Training } from '../../report/schema.js';
import type { HyperSchedule } from '../schedules/index.js';
import type { Trainer } from '../trainers/types.js';
import { type StageContext, checkAbort } from './context.js';
import { fmt } from './decide.js';
import { StageProblem } from './errors.js';

export interface TrainEpochsOptions {
  schedule: HyperSchedule;
  epochs: number;
  clock: () => number;
  signal?: AbortSignal;
  /** Called after every step (tracking). */
  onStep?: (step: number, m: { loss: number; lr: number; momentum: number }) => void;
  /** Called after every epoch's validation (tracking). */
  onEpoch?: (record: EpochRecord) => void;
  /** Progress in [0, 1]. */
  onProgress?: (fraction: number) => void;
  /** Non-fatal problems (no test split). */
  warn?: (message: string) => void;
}

export interface TrainEpochsResult {
  history: EpochRecord[];
  test: Training['test'];
  steps: number;
  wallSeconds: number;
}

export async function trainEpochs(trainer: Trainer, o: TrainEpochsOptions): Promise<TrainEpochsResult> {
  if (!trainer.evaluate) throw new StageProblem('the trainer has no evaluate(): training needs a validation loss');
  const t0 = o.clock();
  const stepsPerEpoch = trainer.stepsPerEpoch;
  const totalSteps = o.epochs * stepsPerEpoch;
  const history: EpochRecord[] = [];
  let step = 0;
  for (let epoch = 1; epoch <= o.epochs; epoch++) {
    let sum = 0;
    for (let i = 0; i < stepsPerEpoch; i++, step++) {
      await checkAbort(o.signal);
      const lr = o.schedule.lr(step);
      const momentum = o.schedule.momentum(step);
      const loss = await trainer.step({ lr, momentum });
      if (!Number.isFinite(loss)) {
        throw new StageProblem(
          `the training loss became ${loss} at step ${step + 1} of ${totalSteps} (epoch ${epoch}, lr ${fmt(lr)}): the run diverged or the trainer returns NaN losses`,
        );
      }
      sum += loss;
      o.onStep?.(step, { loss, lr, momentum });
      o.onProgress?.((step + 1) / totalSteps);
    }
    const v = await trainer.evaluate('validation');
    const record: EpochRecord = {
      epoch,
      step,
      trainLoss: sum / stepsPerEpoch,
      valLoss: Number.isFinite(v.loss) ? v.loss : null,
      ...(v.accuracy != null ? { valAccuracy: v.accuracy } : {}),
      lr: o.schedule.lr(step - 1),
      momentum: o.schedule.momentum(step - 1),
      seconds: (o.clock() - t0) / 1000,
    };
    history.push(record);
    o.onEpoch?.(record);
    if (record.valLoss == null) throw new StageProblem(`the validation loss is ${v.loss} after epoch ${epoch}: the run diverged`);
  }
  let test: Training['test'] = null;
  try {
    const t = await trainer.evaluate('test');
    test = { loss: Number.isFinite(t.loss) ? t.loss : null, accuracy: t.accuracy ?? null, n: t.n };
  } catch (e) {
    o.warn?.(`no test metrics (${(e as Error).message})`);
  }
  return { history, test, steps: totalSteps, wallSeconds: (o.clock() - t0) / 1000 };
}

/** The hooks a stage passes to trainEpochs: per-step and per-epoch metrics to its run, progress, warnings. */
export function stageTrainingHooks(ctx: StageContext, label: string): Pick<TrainEpochsOptions, 'onStep' | 'onEpoch' | 'onProgress' | 'warn' | 'clock' | 'signal'> {
  return {
    clock: ctx.clock,
    signal: ctx.signal,
    onStep: (step, m) => {
      if (ctx.run) ctx.tracker?.logMetrics(ctx.run, m, step);
    },
    onEpoch: (rec) => {
      if (ctx.run)
        ctx.tracker?.logMetrics(
          ctx.run,
          { trainLoss: rec.trainLoss ?? NaN, valLoss: rec.valLoss ?? NaN, ...(rec.valAccuracy != null ? { valAccuracy: rec.valAccuracy } : {}), epoch: rec.epoch },
          rec.step,
        );
    },
    onProgress: (f) => ctx.progress(f),
    warn: (m) => ctx.warn(`${label}: ${m}`),
  };
}
