/**
 * Benchmark (issue 7 item 2): wall time of each stage of `tune` with the demo's settings
 * (src/demo/run.ts demoTuneSettings: full recipe, 9-minute budget, batch 128, real MNIST digits,
 * wasm backend), without the baseline (a comparison, not tuning), and the cost of the stages before
 * the final training as a multiple of the final training.
 *
 * Target (issue 7; the budget gives the final training half, src/sdk/recipe/budget.ts): the
 * stages before the final training (calibration included) cost at most 1x the final training.
 *
 *   node --import tsx bench/tuning-cost.ts        # ~10 minutes
 *   BENCH_BUDGET=4m BENCH_SEED=0 BENCH_TRAIN=7000  # a shorter or different run
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadDigits } from '../src/demo/mnist.js';
import { demoTrainerFactory, demoTuneSettings } from '../src/demo/run.js';
import { type ProgressEvent, type StageId, tune } from '../src/sdk/recipe/index.js';
import { describeBackend, loadBackend } from '../src/sdk/trainers/backend.js';
import { envNumber, fmtS, fmtX, machine, table, writeResult } from './_common.js';

const BUDGET = process.env.BENCH_BUDGET ?? '9m';
const SEED = envNumber('BENCH_SEED', 0, { integer: true });
const TRAIN = envNumber('BENCH_TRAIN', 7000, { integer: true, min: 512 });

async function main(): Promise<void> {
  const m = machine();
  const backend = await loadBackend('wasm');
  const digits = loadDigits({ seed: SEED, train: TRAIN });
  const out = mkdtempSync(join(tmpdir(), 'sc-bench-tune-'));
  const settings = demoTuneSettings({ seed: SEED, recipe: 'full', baseline: false, backend: 'wasm', budget: BUDGET, out });
  // Wall-clock marks of every stage's start and end, from the progress events.
  const marks: { stage: StageId; type: string; at: number }[] = [];
  const t0 = performance.now();
  try {
    const { report } = await tune({
      ...settings,
      trainer: demoTrainerFactory(digits, SEED, describeBackend(backend)),
      onProgress: (e: ProgressEvent) => {
        if (e.type !== 'progress') marks.push({ stage: e.stage, type: e.type, at: performance.now() });
        if (e.type === 'stage-end') console.log(`  ${e.stage}: ${e.status} after ${((performance.now() - t0) / 1000).toFixed(1)} s — ${e.message ?? ''}`);
      },
    });
    const total = (performance.now() - t0) / 1000;
    const firstStart = marks.find((x) => x.type === 'stage-start')?.at ?? t0;
    const lastEnd = [...marks].reverse().find((x) => x.type === 'stage-end')?.at ?? performance.now();
    // Calibration (a warm-up and three timed steps) runs before the first stage; the report files
    // (Markdown, HTML, SVG/PNG charts) are written after the last one.
    const calibrationSeconds = (firstStart - t0) / 1000;
    const reportFilesSeconds = (performance.now() - lastEnd) / 1000;
    const stages = report.stages.map((s) => ({ id: s.id, status: s.status, wallSeconds: s.wallSeconds, summary: s.decision?.summary ?? null }));
    const final = stages.find((s) => s.id === 'final');
    if (!final || final.status !== 'complete') throw new Error('the final training did not complete');
    const before = calibrationSeconds + stages.filter((s) => s.id !== 'final').reduce((a, s) => a + s.wallSeconds, 0);
    const ratio = before / final.wallSeconds;
    const rows: (string | number)[][] = [
      ['calibration', fmtS(calibrationSeconds), fmtX(calibrationSeconds / final.wallSeconds)],
      ...stages.map((s) => [s.id, fmtS(s.wallSeconds), fmtX(s.wallSeconds / final.wallSeconds)]),
      ['report files (md, html, svg, png)', fmtS(reportFilesSeconds), fmtX(reportFilesSeconds / final.wallSeconds)],
      ['**stages before the final training**', fmtS(before), `**${fmtX(ratio)}**`],
      ['whole tune', fmtS(total), fmtX(total / final.wallSeconds)],
    ];
    const text = table(['stage', 'wall time', '× final training'], rows);
    const met = ratio <= 1;
    console.log(`\n${text}\n`);
    const r = report.recommendations;
    console.log(
      `recommended: maxLr ${r.maxLr}, minLr ${r.minLr}, batch ${r.batchSize}, momentum ${r.momentumMax}→${r.momentumMin}, weight decay ${r.weightDecay}, ${r.epochs} epochs; test accuracy ${report.final?.test?.accuracy}`,
    );
    console.log(`stages before the final training: ${ratio.toFixed(3)}× the final training (target <= 1×): ${met ? 'met' : 'MISSED'}`);
    const file = writeResult({
      name: 'tuning-cost',
      target: 'the stages before the final training (calibration included) cost <= 1x the final training',
      met,
      machine: m,
      backend: describeBackend(backend),
      settings: { budget: BUDGET, seed: SEED, train: TRAIN, stages: settings.stages },
      ratio: Number(ratio.toFixed(3)),
      calibrationSeconds,
      reportFilesSeconds,
      beforeFinalSeconds: before,
      finalSeconds: final.wallSeconds,
      totalSeconds: total,
      stages,
      recommendations: r,
      finalTest: report.final?.test ?? null,
      finalEpochs: report.final?.epochs ?? null,
      table: text,
    });
    console.log(`wrote ${file}`);
  } finally {
    digits.dispose();
    rmSync(out, { recursive: true, force: true });
  }
}

await main();
