/**
 * Stage 1, learning rate (paper §4.1, §5): an LR range test gives maxLr (and minLr = maxLr/10) for
 * 1cycle. Also used to re-run the test when weight decay or batch size changed (`lr-recheck`): large
 * learning rates and weight decay regularise together, so the LR found before may no longer hold.
 */
import type { RangeTestResult, Stage } from '../../../report/schema.js';
import { rangeTest } from '../../range-test/index.js';
import { type StageContext, Interrupted, buildTrainer, trainerSettings } from '../context.js';
import { fmt } from '../decide.js';
import { StageProblem } from '../errors.js';
import { bandSteps, stepsFor } from '../budget.js';

export interface RangeTestRun {
  result: RangeTestResult;
  stepSeconds: number;
  stepsPerEpoch: number;
}

/** Runs one range test on a fresh trainer; a test with no usable LR is a StageProblem. */
export async function runRangeTest(
  ctx: StageContext,
  opts: { batchSize: number; weightDecay: number; numIter: number; run?: string; onProgress?: (f: number) => void },
): Promise<RangeTestRun> {
  const lr = ctx.settings.lr;
  const trainer = await buildTrainer(ctx, trainerSettings(ctx, { batchSize: opts.batchSize, weightDecay: opts.weightDecay }));
  let steps = 0;
  const t0 = ctx.clock();
  let result: RangeTestResult;
  try {
    result = await rangeTest(trainer, {
      startLr: lr.startLr,
      endLr: lr.endLr,
      numIter: opts.numIter,
      sweep: lr.sweep,
      momentum: lr.momentum,
      chooser: lr.chooser,
      weightDecay: opts.weightDecay,
      batchSize: opts.batchSize,
      signal: ctx.signal,
      onStep: (point: unknown) => {
        steps++;
        const p = point as { lr?: number; loss?: number; smoothedLoss?: number; index?: number };
        if (opts.run && typeof p?.lr === 'number') {
          const m: Record<string, number> = { lr: p.lr };
          if (typeof p.loss === 'number') m.loss = p.loss;
          if (typeof p.smoothedLoss === 'number') m.smoothedLoss = p.smoothedLoss;
          ctx.tracker?.logMetrics(opts.run, m, p.index ?? steps - 1);
        }
        opts.onProgress?.(Math.min(1, steps / opts.numIter));
      },
    });
  } finally {
    trainer.dispose();
  }
  if (result.stopReason === 'interrupted' || ctx.signal?.aborted) throw new Interrupted();
  const points = Math.max(1, result.lr.length);
  const stepSeconds = (ctx.clock() - t0) / 1000 / points;
  if (!result.chosen) {
    const firstBad = result.loss.findIndex((l) => l == null);
    const nan =
      result.stopReason === 'non-finite' && firstBad >= 0 && firstBad <= 2
        ? `the trainer returned a non-finite (NaN) loss at step ${firstBad + 1}`
        : `${result.outcome}${result.outcomeReason ? `: ${result.outcomeReason}` : ''}`;
    throw new StageProblem(`the LR range test (batch ${opts.batchSize}, weight decay ${fmt(opts.weightDecay)}) found no usable learning rate — ${nan}`);
  }
  return { result, stepSeconds, stepsPerEpoch: trainer.stepsPerEpoch };
}

/**
 * Range-test length: the configured one, else what fits the stage's budget (40..300), else 100.
 * At least 40 steps even past a tiny budget: with 20-24 steps over 5 decades the shortened demo's
 * maxLr came out anywhere in 0.17-0.48 (the count followed the measured step time) and its 2-epoch
 * 1cycle anywhere in 10-89%; with 40 steps three runs gave 0.089 and 72.1% each.
 */
export function rangeTestIters(ctx: StageContext, stepSeconds: number, fallback = 100): number {
  if (ctx.settings.lr.numIter) return ctx.settings.lr.numIter;
  if (ctx.budgetSeconds == null) return fallback;
  return Math.min(300, bandSteps(stepsFor(ctx.budgetSeconds, stepSeconds, 0, 0, 40)));
}

function rangeTestDecision(r: RangeTestResult, label: string) {
  const s = r.suggestions;
  const candidates = (
    [
      ['steepest', s.steepest?.lr, s.steepest?.loss],
      ['valley', s.valley?.lr, s.valley?.loss],
      ['minimum', s.minimum?.lr, s.minimum?.loss],
      ['smith', s.smith?.maxLr, null],
    ] as const
  )
    .filter(([, lr]) => lr != null)
    .map(([name, lr, loss]) => ({ value: lr as number, metric: loss ?? null, metricName: 'smoothedLoss', note: `suggestions.${name}` }));
  const chosen = r.chosen!;
  return {
    parameter: 'maxLr',
    candidates,
    winner: chosen.maxLr,
    rule: chosen.rule,
    summary: `${label}: maxLr ${fmt(chosen.maxLr)}, minLr ${fmt(chosen.minLr)} from ${r.lr.length} points of an ${r.sweep} sweep ${fmt(r.startLr)}–${fmt(r.endLr)} (stop: ${r.stopReason}).`,
    confidence: r.outcome === 'ok' ? ('high' as const) : ('low' as const),
    ...(r.outcome !== 'ok' ? { confidenceReason: r.outcomeReason ?? r.outcome } : {}),
  };
}

export function rangeTestSeries(r: RangeTestResult, suffix = '') {
  return [
    { name: `loss${suffix}`, x: 'lr', y: 'loss', xs: r.lr, ys: r.loss },
    { name: `smoothedLoss${suffix}`, x: 'lr', y: 'smoothedLoss', xs: r.lr, ys: r.smoothedLoss },
  ];
}

/** Records how maxLr and minLr were chosen: by the range test `where` (its rule, and the ratio). */
export function explainLrBounds(why: Record<string, string>, where: string, chosen: NonNullable<RangeTestResult['chosen']>): void {
  why.maxLr = `${where}: ${chosen.rule}`;
  why.minLr = `maxLr / ${fmt(chosen.maxLr / chosen.minLr)} (${chosen.rule})`;
}

export async function lrStage(ctx: StageContext): Promise<Partial<Stage>> {
  const { state } = ctx;
  const numIter = rangeTestIters(ctx, state.stepSeconds);
  const { result, stepSeconds, stepsPerEpoch } = await runRangeTest(ctx, {
    batchSize: state.batchSize,
    weightDecay: state.weightDecay,
    numIter,
    run: ctx.run,
    onProgress: (f) => ctx.progress(f),
  });
  const chosen = result.chosen!;
  state.maxLr = chosen.maxLr;
  state.minLr = chosen.minLr;
  state.lrTestedAt = { batchSize: state.batchSize, weightDecay: state.weightDecay };
  state.stepSeconds = stepSeconds;
  state.stepsPerEpoch = stepsPerEpoch;
  explainLrBounds(state.why, `LR range test at batch ${state.batchSize}, weight decay ${fmt(state.weightDecay)}`, chosen);
  return {
    kind: 'lr-range-test',
    title: 'Learning rate: LR range test',
    params: { batchSize: state.batchSize, weightDecay: state.weightDecay, momentum: ctx.settings.lr.momentum, numIter, chooser: ctx.settings.lr.chooser },
    series: rangeTestSeries(result),
    rangeTest: result,
    decision: rangeTestDecision(result, 'LR range test'),
  };
}

/** Re-runs the range test when the chosen weight decay or batch size differs from the first test's. */
export async function lrRecheckStage(ctx: StageContext): Promise<Partial<Stage>> {
  const { state } = ctx;
  const at = state.lrTestedAt;
  if (at && at.batchSize === state.batchSize && at.weightDecay === state.weightDecay) {
    return {
      kind: 'lr-range-test',
      title: 'Learning rate re-check',
      status: 'skipped',
      params: { batchSize: state.batchSize, weightDecay: state.weightDecay },
      decision: {
        parameter: 'maxLr',
        candidates: [],
        winner: state.maxLr,
        rule: 'the LR test is re-run only when the chosen batch size or weight decay differ from its settings',
        summary: `Not needed: the LR test already ran at batch ${state.batchSize} and weight decay ${fmt(state.weightDecay)}.`,
        confidence: 'high',
      },
    };
  }
  const before = state.maxLr;
  const stage = await lrStage(ctx);
  const changed = at
    ? [
        at.batchSize !== state.batchSize ? `batch ${at.batchSize} → ${state.batchSize}` : '',
        at.weightDecay !== state.weightDecay ? `weight decay ${fmt(at.weightDecay)} → ${fmt(state.weightDecay)}` : '',
      ]
        .filter(Boolean)
        .join(', ')
    : 'no earlier LR test';
  stage.title = 'Learning rate re-check (settings changed)';
  if (stage.decision) {
    stage.decision.summary = `Re-run because ${changed}: maxLr ${fmt(before)} → ${fmt(state.maxLr)}.`;
  }
  return stage;
}
