/**
 * Stage 2, batch size (paper §4.2, Remark 4).
 * (a) The largest batch that fits: double from the start size until a size fails (out of memory),
 *     exceeds the resident-memory cap or the size cap, then halve back to the last size that ran.
 *     Only sizes that actually ran are ever reported (Lightning's finder can report a size it never
 *     ran after an OOM).
 * (b) Candidates compared at equal wall-clock time, as the paper compares them: each gets its own
 *     short LR range test (the one the lr stage ran at the same batch size and weight decay keeps
 *     that test's bounds) and a short 1cycle run of the same number of seconds; the lowest
 *     validation loss wins. The report holds validation loss against seconds for each.
 */
import type { RangeTestResult, Series, Stage } from '../../../report/schema.js';
import { type StageContext, checkAbort, trainerSettings } from '../context.js';
import { type Measured, decideByValLoss, fmt } from '../decide.js';
import { StageProblem } from '../errors.js';
import { shortRun } from '../short-run.js';
import { bandSteps, stepsFor } from '../budget.js';
import { explainLrBounds, runRangeTest } from './lr.js';

export interface ProbeResult {
  batchSize: number;
  fits: boolean;
  stepSeconds: number | null;
  reason?: string;
}

function isOutOfMemory(e: unknown): boolean {
  return /out of memory|\boom\b|allocat|memory/i.test(String((e as Error)?.message ?? e));
}

/** (a) Doubling search; returns every size tried, in order. */
export async function probeBatchSizes(ctx: StageContext, start: number, cap: number): Promise<ProbeResult[]> {
  const o = ctx.settings.batchSize;
  const probes: ProbeResult[] = [];
  for (let b = start; b <= cap; b *= 2) {
    await checkAbort(ctx.signal);
    let trainer;
    try {
      trainer = await ctx.factory(trainerSettings(ctx, { batchSize: b }));
      let seconds = 0;
      for (let i = 0; i < o.probeSteps; i++) {
        const t0 = ctx.clock();
        // A small LR: the probe measures memory and time, not learning; keep it from diverging.
        await trainer.step({ lr: ctx.state.minLr ?? ctx.settings.lr.startLr, momentum: ctx.state.momentumMax });
        if (i > 0) seconds += (ctx.clock() - t0) / 1000; // the first step is a warm-up (kernels, allocation)
      }
      const rssMb = process.memoryUsage().rss / 1e6;
      if (o.memoryCapMb != null && rssMb > o.memoryCapMb) {
        probes.push({ batchSize: b, fits: false, stepSeconds: null, reason: `resident memory ${rssMb.toFixed(0)} MB > memoryCapMb ${o.memoryCapMb}` });
        break;
      }
      probes.push({ batchSize: b, fits: true, stepSeconds: seconds / (o.probeSteps - 1) });
    } catch (e) {
      const message = String((e as Error)?.message ?? e);
      if (b === start) throw new StageProblem(`batch size ${b} (the start of the search) does not run: ${message}`);
      // Only running out of memory means "does not fit"; any other error is a bug to report.
      if (!isOutOfMemory(e)) throw e;
      probes.push({ batchSize: b, fits: false, stepSeconds: null, reason: `out of memory: ${message}` });
      break;
    } finally {
      trainer?.dispose();
    }
    ctx.progress(0.1 * Math.min(1, Math.log2(b / start + 1) / Math.log2(cap / start + 1)));
  }
  return probes;
}

export async function batchSizeStage(ctx: StageContext): Promise<Partial<Stage>> {
  const { state, settings } = ctx;
  const o = settings.batchSize;
  if (state.maxLr == null || state.minLr == null) throw new StageProblem('needs maxLr: run the lr stage first or set start.maxLr');
  const start = o.start ?? state.batchSize;
  const cap = Math.min(o.max, state.numExamples ?? Infinity);
  const capText = `the cap ${cap} (${cap === o.max ? 'batchSize.max' : 'training-set size'})`;
  const probes = await probeBatchSizes(ctx, start, cap);
  const fitting = probes.filter((p) => p.fits);
  const largest = fitting[fitting.length - 1];
  const stopped = probes.find((p) => !p.fits);
  // No size ran: the start is above the cap (the settings' check refuses that before any work) or
  // it broke memoryCapMb. Said here, not left to a TypeError on `largest` below.
  if (!largest)
    throw new StageProblem(
      stopped
        ? `batch size ${start} (the start of the search) does not fit: ${stopped.reason}`
        : `batch size ${start} (the start of the search) is above ${capText}`,
    );
  const largestWhy = stopped
    ? `${stopped.batchSize} did not fit (${stopped.reason}); halved back to ${largest.batchSize}, which ran`
    : `reached ${capText}`;

  const stepSecondsOf = new Map(fitting.map((p) => [p.batchSize, p.stepSeconds as number]));
  const wanted = o.candidates ?? fitting.slice(-4).map((p) => p.batchSize);
  const runnable = wanted.filter((b) => stepSecondsOf.has(b) || b <= largest.batchSize);
  const skipped = wanted.filter((b) => !runnable.includes(b));

  // Equal wall-clock time for every candidate (Remark 4): seconds per candidate from the budget,
  // else the time of one epoch at the start size.
  const share = ctx.budgetSeconds != null ? (0.9 * ctx.budgetSeconds) / Math.max(1, runnable.length) : null;
  const seconds = o.secondsPerCandidate ?? (share != null ? 0.7 * share : state.stepSeconds * state.stepsPerEpoch);
  const measured: Measured[] = [];
  const series: Series[] = [];
  const rangeTests: Record<string, RangeTestResult> = {};
  const lrOf = new Map<number, { maxLr: number; minLr: number; stepSeconds: number; stepsPerEpoch: number }>();
  for (const [i, b] of runnable.entries()) {
    await checkAbort(ctx.signal);
    const stepSec = stepSecondsOf.get(b) ?? state.stepSeconds * (b / state.batchSize);
    const iters = o.rangeTestIters ?? (share != null ? Math.min(300, bandSteps(stepsFor(0.3 * share, stepSec, 0, 0, 20))) : 60);
    const base = 0.1 + (0.9 * i) / runnable.length;
    const part = 0.9 / runnable.length;
    const trial = ctx.tracker && ctx.run ? ctx.tracker.startRun(`batch ${b}`, { parent: ctx.run, params: { batchSize: b } }) : undefined;
    try {
      // The candidate the lr stage already tested (same batch size and weight decay) keeps that
      // longer test's bounds: a shorter sweep of the same model is only a noisier answer.
      // (state.maxLr and minLr are known: checked at the top of the stage.)
      const tested = state.lrTestedAt?.batchSize === b && state.lrTestedAt.weightDecay === state.weightDecay;
      if (!tested) {
        const rt = await runRangeTest(ctx, { batchSize: b, weightDecay: state.weightDecay, numIter: iters, onProgress: (f) => ctx.progress(base + 0.3 * part * f) });
        rangeTests[String(b)] = rt.result;
      }
      const { maxLr, minLr } = tested ? { maxLr: state.maxLr, minLr: state.minLr } : rangeTests[String(b)].chosen!;
      const steps = stepsFor(seconds, stepSec, 0, 0, 4);
      const r = await shortRun(ctx, {
        settings: trainerSettings(ctx, { batchSize: b }),
        steps,
        maxLr,
        minLr,
        momentumMax: state.momentumMax,
        momentumMin: state.momentumMin,
        run: trial,
        onProgress: (f) => ctx.progress(base + part * (0.3 + 0.7 * f)),
      });
      lrOf.set(b, { maxLr, minLr, stepSeconds: r.stepSeconds, stepsPerEpoch: r.stepsPerEpoch });
      series.push({ name: `batch=${b}`, label: `batch ${b}`, x: 'seconds', y: 'valLoss', xs: r.val.map((v) => v.seconds), ys: r.val.map((v) => v.loss) });
      measured.push({
        value: b,
        metric: r.metric,
        noise: r.noise,
        at: `${fmt(r.trainSeconds)} s (${r.stepsRun} steps)`,
        note: `maxLr ${fmt(maxLr)} from ${tested ? "the lr stage's range test (same batch size and weight decay)" : 'its own range test'}${r.diverged ? `; diverged at step ${(r.divergedAt ?? 0) + 1}` : ''}`,
      });
      if (trial) ctx.tracker?.endRun(trial, 'FINISHED');
    } catch (e) {
      if (trial) ctx.tracker?.endRun(trial, 'FAILED');
      // A candidate whose own range test finds nothing loses; the stage goes on with the others.
      if (!(e instanceof StageProblem)) throw e;
      measured.push({ value: b, metric: null, noise: 0, note: e.message });
    }
  }
  const startSize = settings.start.batchSize;
  const decision = decideByValLoss({
    parameter: 'batchSize',
    label: 'Batch',
    measured,
    ruleDetail: `equal wall-clock time of ${fmt(seconds)} s per candidate (paper Remark 4)`,
    ...(measured.some((m) => m.value === startSize) ? { prefer: { value: startSize, why: `the starting batch size ${startSize}` } } : {}),
  });
  for (const b of skipped) decision.candidates.push({ value: b, metric: null, metricName: 'valLoss', note: `not run: larger than the largest batch that fits (${largest.batchSize})` });
  const { winnerValue, ...dec } = decision;
  if (winnerValue == null) {
    // What happened to each candidate; `wanted` is never empty (candidates has at least one, else
    // the sizes that fit, and at least the start fits).
    const outcomes = [
      ...measured.map((m) => `${m.value}: ${m.note ?? 'diverged'}`),
      ...skipped.map((b) => `${b}: not run, larger than the largest batch that fits (${largest.batchSize})`),
    ];
    const what =
      measured.length === 0
        ? 'no batch-size candidate could run'
        : `every batch-size candidate diverged${skipped.length > 0 ? ', found no learning rate or was too large to run' : ' or found no learning rate'}`;
    throw new StageProblem(`${what} (${outcomes.join('; ')})`);
  }
  const w = lrOf.get(winnerValue)!;
  state.batchSize = winnerValue;
  state.maxLr = w.maxLr;
  state.minLr = w.minLr;
  state.stepSeconds = w.stepSeconds;
  state.stepsPerEpoch = w.stepsPerEpoch;
  state.lrTestedAt = { batchSize: winnerValue, weightDecay: state.weightDecay };
  state.why.batchSize = dec.summary;
  // A winner with a range test of its own explains its bounds; the lr stage's explanation stands otherwise.
  const ownTest = rangeTests[String(winnerValue)];
  if (ownTest) explainLrBounds(state.why, `LR range test at the chosen batch ${winnerValue} (batch-size stage)`, ownTest.chosen!);
  return {
    kind: 'batch-size',
    title: 'Batch size: largest that fits, then equal wall-clock comparison',
    params: {
      largestFit: largest.batchSize,
      largestFitWhy: largestWhy,
      probed: probes.map((p) => `${p.batchSize}:${p.fits ? `ok ${fmt((p.stepSeconds ?? 0) * 1000)} ms/step` : 'no'}`).join(', '),
      secondsPerCandidate: seconds,
      weightDecay: state.weightDecay,
    },
    series: [
      { name: 'stepSeconds', x: 'batchSize', y: 'seconds', xs: fitting.map((p) => p.batchSize), ys: fitting.map((p) => p.stepSeconds) },
      ...series,
    ],
    rangeTests,
    decision: dec,
  };
}
