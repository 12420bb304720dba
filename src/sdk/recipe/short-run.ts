/**
 * A short 1cycle run from a fresh trainer: the measurement behind the batch-size, momentum and
 * weight-decay comparisons ("judged by validation loss early in training", paper §5). Validation
 * loss is read at `evals` evenly spaced points; the spread of the last ones estimates the noise.
 */
import { oneCycle } from '../schedules/index.js';
import type { TrainerSettings } from '../trainers/types.js';
import { type StageContext, buildTrainer, checkAbort } from './context.js';
import { type ValPoint, tailNoise } from './decide.js';
import { StageProblem } from './errors.js';

export interface ShortRunOptions {
  settings: TrainerSettings;
  steps: number;
  maxLr: number;
  minLr: number;
  momentumMax: number;
  momentumMin: number;
  /** Validation passes, evenly spaced, the last at the last step. Default 6. */
  evals?: number;
  annihilationPct?: number;
  /** Tracker run of this trial. */
  run?: string;
  /** Progress of this run in [0, 1]. */
  onProgress?: (fraction: number) => void;
}

export interface ShortRunResult {
  val: ValPoint[];
  /** Validation loss at the end; null when the run diverged. */
  metric: number | null;
  noise: number;
  /** Mean seconds per optimizer step (validation excluded). */
  stepSeconds: number;
  /** Training seconds (validation excluded) when the run ended. */
  trainSeconds: number;
  diverged: boolean;
  /** Step at which a non-finite loss appeared. */
  divergedAt: number | null;
  stepsRun: number;
  stepsPerEpoch: number;
}

export async function shortRun(ctx: StageContext, o: ShortRunOptions): Promise<ShortRunResult> {
  const evals = Math.max(1, Math.min(o.evals ?? 6, o.steps));
  const schedule = oneCycle({
    maxLr: o.maxLr,
    minLr: Math.min(o.minLr, o.maxLr),
    totalSteps: o.steps,
    momentumMax: o.momentumMax,
    momentumMin: Math.min(o.momentumMin, o.momentumMax),
    annihilationPct: o.annihilationPct ?? 0.1,
  });
  const evalAt = new Set<number>();
  for (let k = 1; k <= evals; k++) evalAt.add(Math.round((k * o.steps) / evals));
  const trainer = await buildTrainer(ctx, o.settings);
  if (!trainer.evaluate) {
    trainer.dispose();
    throw new StageProblem('the trainer has no evaluate(): the comparisons need a validation loss');
  }
  const val: ValPoint[] = [];
  let trainSeconds = 0;
  let divergedAt: number | null = null;
  let step = 0;
  try {
    for (; step < o.steps; step++) {
      await checkAbort(ctx.signal);
      const lr = schedule.lr(step);
      const momentum = schedule.momentum(step);
      const t0 = ctx.clock();
      const loss = await trainer.step({ lr, momentum });
      trainSeconds += (ctx.clock() - t0) / 1000;
      if (o.run) ctx.tracker?.logMetrics(o.run, { loss, lr, momentum }, step);
      if (!Number.isFinite(loss)) {
        divergedAt = step;
        break;
      }
      if (evalAt.has(step + 1)) {
        const r = await trainer.evaluate('validation');
        const finiteWeights = trainer.weightsFinite ? await trainer.weightsFinite() : true;
        // The wasm backend can report a finite loss for a diverged model (DESIGN.md): check weights.
        if (!Number.isFinite(r.loss) || !finiteWeights) {
          divergedAt = step;
          break;
        }
        val.push({ step: step + 1, seconds: trainSeconds, loss: r.loss, ...(r.accuracy != null ? { accuracy: r.accuracy } : {}) });
        if (o.run) ctx.tracker?.logMetrics(o.run, { valLoss: r.loss, ...(r.accuracy != null ? { valAccuracy: r.accuracy } : {}) }, step + 1);
      }
      o.onProgress?.((step + 1) / o.steps);
    }
  } finally {
    trainer.dispose();
  }
  const diverged = divergedAt != null;
  const stepsRun = diverged ? (divergedAt as number) + 1 : o.steps;
  return {
    val,
    metric: diverged || val.length === 0 ? null : val[val.length - 1].loss,
    noise: tailNoise(val.map((v) => v.loss)),
    stepSeconds: trainSeconds / Math.max(1, stepsRun),
    trainSeconds,
    diverged,
    divergedAt,
    stepsRun,
    stepsPerEpoch: trainer.stepsPerEpoch,
  };
}
