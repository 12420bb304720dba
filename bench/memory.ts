/**
 * Benchmark (issue 7 item 6): peak resident memory of a shortened demo-like tune (the demo's
 * settings — full recipe, batch 128, 7,000 training digits, the Adam baseline, report files — with
 * a 2-minute budget and one epoch for the final training and the baseline), and the number of live
 * TensorFlow.js tensors at the start and end of every stage.
 *
 * Target: every stage ends with as many live tensors as it started with, and the tune as a whole
 * returns to the count before it (only the data set's 6 tensors stay, freed at the end).
 *
 *   node --import tsx bench/memory.ts        # ~3 minutes
 *   BENCH_BUDGET=2m BENCH_TRAIN=7000 BENCH_EPOCHS=1
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { loadDigits } from '../src/demo/mnist.js';
import { demoTrainerFactory, demoTuneSettings } from '../src/demo/run.js';
import { type ProgressEvent, type StageId, tune } from '../src/sdk/recipe/index.js';
import { describeBackend, loadBackend } from '../src/sdk/trainers/backend.js';
import { envNumber, machine, rssSampler, table, writeResult } from './_common.js';

const BUDGET = process.env.BENCH_BUDGET ?? '2m';
const TRAIN = envNumber('BENCH_TRAIN', 7000, { integer: true, min: 512 });
const EPOCHS = envNumber('BENCH_EPOCHS', 1, { integer: true, min: 1 });
const SEED = 0;

const mb = (bytes: number) => Number((bytes / 2 ** 20).toFixed(1));

async function main(): Promise<void> {
  const m = machine();
  const sampler = rssSampler(100);
  const rssAtStart = process.memoryUsage.rss();
  const backend = await loadBackend('wasm');
  const tensorsBeforeData = tf.memory().numTensors;
  const digits = loadDigits({ seed: SEED, train: TRAIN });
  const tensorsAtStart = tf.memory().numTensors;
  const rssWithData = process.memoryUsage.rss();
  const dataMb = mb(tf.memory().numBytes);
  const out = mkdtempSync(join(tmpdir(), 'sc-bench-mem-'));
  const stages: { stage: StageId; status: string; tensorsAtStart: number; tensorsAtEnd: number; rssAtEndMb: number; tensorMb: number }[] = [];
  const open = new Map<StageId, number>();
  const tensorMb = () => mb(tf.memory().numBytes);
  const t0 = performance.now();
  let tensorsAfterTune = NaN;
  let tensorsAfterDispose = NaN;
  try {
    const settings = demoTuneSettings({ seed: SEED, recipe: 'full', baseline: true, backend: 'wasm', budget: BUDGET, epochs: EPOCHS, out });
    await tune({
      ...settings,
      ...(settings.baseline ? { baseline: { ...settings.baseline, epochs: EPOCHS } } : {}),
      trainer: demoTrainerFactory(digits, SEED, describeBackend(backend)),
      onProgress: (e: ProgressEvent) => {
        if (e.type === 'stage-start') open.set(e.stage, tf.memory().numTensors);
        if (e.type === 'stage-end') {
          stages.push({
            stage: e.stage,
            status: e.status ?? '',
            tensorsAtStart: open.get(e.stage) ?? NaN,
            tensorsAtEnd: tf.memory().numTensors,
            rssAtEndMb: mb(process.memoryUsage.rss()),
            tensorMb: tensorMb(),
          });
          console.log(`  ${e.stage}: ${e.status}, tensors ${open.get(e.stage)} → ${tf.memory().numTensors}, rss ${mb(process.memoryUsage.rss())} MB`);
        }
      },
    });
    tensorsAfterTune = tf.memory().numTensors;
  } finally {
    digits.dispose();
    tensorsAfterDispose = tf.memory().numTensors;
    rmSync(out, { recursive: true, force: true });
  }
  const { peakMb, samples } = sampler.stop();
  const maxRssMb = process.resourceUsage().maxRSS / 1024; // kilobytes
  const stagesOk = stages.every((s) => s.tensorsAtStart === s.tensorsAtEnd);
  const met = stagesOk && tensorsAfterTune === tensorsAtStart && tensorsAfterDispose === tensorsBeforeData;
  const rows = [
    ['before the data', tensorsBeforeData, mb(rssAtStart), 0],
    ['data loaded (start of tune)', tensorsAtStart, mb(rssWithData), dataMb],
    ...stages.map((s) => [s.stage, `${s.tensorsAtStart} → ${s.tensorsAtEnd}${s.tensorsAtStart === s.tensorsAtEnd ? '' : ' **leak**'}`, s.rssAtEndMb, s.tensorMb]),
    ['after tune', tensorsAfterTune, '', ''],
    ['after the data is freed', tensorsAfterDispose, '', ''],
  ];
  const text = table(['point', 'live tensors', 'resident MB', 'MB held by live tensors'], rows);
  console.log(`\n${text}\n`);
  console.log(`peak resident memory: ${peakMb.toFixed(0)} MB sampled every 100 ms (${samples} samples); maxRSS ${maxRssMb.toFixed(0)} MB`);
  console.log(`tensors return to the starting count after every stage and after tune: ${met ? 'met' : 'MISSED'}`);
  const file = writeResult({
    name: 'memory',
    target: 'live tensors return to the starting count after every stage and after the whole tune',
    met,
    machine: m,
    backend: describeBackend(backend),
    settings: { budget: BUDGET, train: TRAIN, epochs: EPOCHS, seed: SEED },
    peakRssMb: Number(peakMb.toFixed(1)),
    maxRssMb: Number(maxRssMb.toFixed(1)),
    rssAtStartMb: mb(rssAtStart),
    rssWithDataMb: mb(rssWithData),
    tensorsBeforeData,
    tensorsAtStart,
    tensorsAfterTune,
    tensorsAfterDispose,
    stages,
    table: text,
    wallSeconds: (performance.now() - t0) / 1000,
  });
  console.log(`wrote ${file}`);
}

await main();
