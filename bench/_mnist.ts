/**
 * The MNIST training the accuracy benchmarks share (time-to-accuracy, lr-rule): the demo CNN on the
 * real digits, batch 128, seeded ±2-pixel shifts, wasm; a schedule's steps with the test split
 * evaluated at fixed points (every epoch, or every fraction of one).
 *
 * Two sets of real digits: the `mnist` package's 10,000 (the demo's; seeded splits) and the full
 * MNIST — LeCun's official IDX files (60,000 training and 10,000 test digits) as shipped in the
 * `mnist-loader` package (dev dependency) — split 55,000 / 5,000 / the official 10,000 test digits.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type DigitsSplit, randomShift, type MnistDigits } from '../src/demo/mnist.js';
import { buildDemoModel } from '../src/demo/model.js';
import type { HyperSchedule } from '../src/sdk/schedules/index.js';
import { tfjsTrainer, type TfjsTrainer } from '../src/sdk/trainers/tfjs.js';
import { fmtPct, fmtS, yieldToLoop } from './_common.js';

export const BATCH = 128;

/** One IDX file of the official MNIST: images (magic 2051, n x 28 x 28 bytes) or labels (2049). */
function readIdx(file: string, magic: 2049 | 2051): { n: number; bytes: Buffer } {
  const buf = readFileSync(file);
  if (buf.readUInt32BE(0) !== magic) throw new Error(`${file}: not an MNIST IDX file (magic ${buf.readUInt32BE(0)}, expected ${magic})`);
  const n = buf.readUInt32BE(4);
  const header = magic === 2051 ? 16 : 8;
  const size = magic === 2051 ? 28 * 28 : 1;
  if (buf.length !== header + n * size) throw new Error(`${file}: ${buf.length} bytes, expected ${header + n * size} for ${n} items`);
  return { n, bytes: buf.subarray(header) };
}

function idxSplit(images: { bytes: Buffer }, labels: { bytes: Buffer }, from: number, n: number): DigitsSplit {
  const pixels = new Float32Array(n * 784);
  for (let i = 0; i < n * 784; i++) pixels[i] = images.bytes[from * 784 + i] / 255;
  const lab = Int32Array.from(labels.bytes.subarray(from, from + n));
  const x = tf.tensor4d(pixels, [n, 28, 28, 1]);
  const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(lab, 'int32'), 10), 'float32') as tf.Tensor2D);
  return { x, y, labels: lab, sourceIndex: Int32Array.from({ length: n }, (_, i) => from + i) };
}

/**
 * The full MNIST: the first 55,000 official training digits to train on, the last 5,000 for
 * validation, the official 10,000 test digits to test (the same for every seed).
 */
export function loadFullMnist(): MnistDigits {
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist-loader/package.json')), 'data');
  const trainImages = readIdx(join(dir, 'train-images-idx3-ubyte'), 2051);
  const trainLabels = readIdx(join(dir, 'train-labels-idx1-ubyte'), 2049);
  const testImages = readIdx(join(dir, 't10k-images-idx3-ubyte'), 2051);
  const testLabels = readIdx(join(dir, 't10k-labels-idx1-ubyte'), 2049);
  if (trainImages.n !== 60000 || trainLabels.n !== 60000 || testImages.n !== 10000 || testLabels.n !== 10000) {
    throw new Error(`mnist-loader's files hold ${trainImages.n}/${trainLabels.n} training and ${testImages.n}/${testLabels.n} test items, expected 60000 and 10000`);
  }
  const train = idxSplit(trainImages, trainLabels, 0, 55000);
  const validation = idxSplit(trainImages, trainLabels, 55000, 5000);
  const test = idxSplit(testImages, testLabels, 0, 10000);
  return {
    train,
    validation,
    test,
    dispose() {
      tf.dispose([train.x, train.y, validation.x, validation.y, test.x, test.y]);
    },
  };
}

export async function newTrainer(digits: MnistDigits, seed: number, optimizer: 'sgd' | 'adam', weightDecay: number): Promise<TfjsTrainer> {
  return tfjsTrainer({
    model: (s) => buildDemoModel({ seed: s }),
    data: { xTrain: digits.train.x, yTrain: digits.train.y, xVal: digits.validation.x, yVal: digits.validation.y, xTest: digits.test.x, yTest: digits.test.y },
    batchSize: BATCH,
    seed,
    optimizer,
    weightDecay,
    augment: randomShift({ seed, maxShift: 2 }),
  });
}

export interface RunRecord<M extends string = string> {
  method: M;
  seed: number;
  /** The epoch (a fraction with several evaluations per epoch) of each evaluation. */
  evalEpochs: number[];
  /** Test accuracy at each evaluation. */
  testAccuracy: number[];
  /** Training seconds (steps only, evaluations excluded) at each evaluation, cumulative. */
  trainSeconds: number[];
  reachedEpoch: number | null;
  reachedSeconds: number | null;
  epochsRun: number;
}

/**
 * Trains under `schedule` for `maxEpochs` (may be a fraction), evaluating the test split
 * `evalsPerEpoch` times per epoch and at the end; stops early once `target` is reached and at least
 * `minEpochs` ran (for the equal-epoch accuracy).
 */
export async function trainEpochsToTarget<M extends string>(
  method: M,
  digits: MnistDigits,
  seed: number,
  o: {
    optimizer: 'sgd' | 'adam';
    weightDecay: number;
    schedule: (stepsPerEpoch: number) => HyperSchedule;
    maxEpochs: number;
    minEpochs: number;
    target: number;
    evalsPerEpoch?: number;
  },
): Promise<RunRecord<M>> {
  const trainer = await newTrainer(digits, seed, o.optimizer, o.weightDecay);
  const rec: RunRecord<M> = { method, seed, evalEpochs: [], testAccuracy: [], trainSeconds: [], reachedEpoch: null, reachedSeconds: null, epochsRun: 0 };
  try {
    const spe = trainer.stepsPerEpoch;
    const schedule = o.schedule(spe);
    const totalSteps = Math.round(o.maxEpochs * spe);
    const evalsPerEpoch = o.evalsPerEpoch ?? 1;
    // Evaluation points: every 1/evalsPerEpoch of an epoch and the end, each at its step (rounded)
    // and labelled with its nominal epoch.
    const nominal = [...Array.from({ length: Math.floor(o.maxEpochs * evalsPerEpoch + 1e-9) }, (_, i) => (i + 1) / evalsPerEpoch), o.maxEpochs];
    const points = new Map<number, number>();
    for (const e of nominal) {
      const at = Math.min(totalSteps, Math.round(e * spe));
      if (at > 0 && !points.has(at)) points.set(at, Number(e.toFixed(4)));
    }
    let step = 0;
    let seconds = 0;
    for (const [point, epoch] of [...points].sort((a, b) => a[0] - b[0])) {
      const t0 = performance.now();
      for (; step < point; step++) {
        const loss = await trainer.step({ lr: schedule.lr(step), momentum: schedule.momentum(step) });
        if (!Number.isFinite(loss)) throw new Error(`${method} seed ${seed}: loss ${loss} at step ${step}`);
      }
      seconds += (performance.now() - t0) / 1000;
      const acc = (await trainer.evaluate('test')).accuracy ?? NaN;
      rec.evalEpochs.push(epoch);
      rec.testAccuracy.push(acc);
      rec.trainSeconds.push(seconds);
      rec.epochsRun = epoch;
      if (rec.reachedEpoch == null && acc >= o.target) {
        rec.reachedEpoch = epoch;
        rec.reachedSeconds = seconds;
      }
      console.log(`  ${method.padEnd(8)} seed ${seed} epoch ${epoch.toFixed(2).padStart(5)}: test ${fmtPct(acc)}  (${fmtS(seconds)} training)`);
      await yieldToLoop();
      if (rec.reachedEpoch != null && epoch >= o.minEpochs - 1e-9) break;
    }
  } finally {
    trainer.dispose();
  }
  return rec;
}
