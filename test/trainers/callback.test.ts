import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadBackend } from '../../src/sdk/trainers/backend.js';
import { oneCycleCallback } from '../../src/sdk/trainers/callback.js';
import type { HyperSchedule } from '../../src/sdk/schedules/index.js';

// y = x·w (one weight, no bias), MSE, batches of two: w ← w − lr·v, v ← m·v + g, g = 2·mean(x(xw − y)).
const X = [1, 2, -1, 0.5];
const Y = [2, 3, -2, 1];
const W0 = 0.3;

const schedule: HyperSchedule = {
  totalSteps: 6,
  lr: (s) => [0.01, 0.05, 0.1, 0.05, 0.01, 0.001][Math.min(s, 5)],
  momentum: (s) => [0.95, 0.9, 0.85, 0.9, 0.95, 0.95][Math.min(s, 5)],
};

beforeAll(async () => {
  await loadBackend('wasm');
});

describe('oneCycleCallback with model.fit', () => {
  it('applies the schedule’s LR and momentum before every batch (the updates equal the hand computation)', async () => {
    const before = tf.memory().numTensors;
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1], useBias: false })] });
    const init = tf.tensor2d([[W0]]);
    model.setWeights([init]);
    init.dispose();
    // The momentum given here (0.5) must be overridden by the schedule from the first batch.
    const optimizer = tf.train.momentum(0.5, 0.5);
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const applied: [number, number, number][] = [];
    const weights: number[] = [];
    const x = tf.tensor2d(X, [4, 1]);
    const y = tf.tensor2d(Y, [4, 1]);
    await model.fit(x, y, {
      epochs: 3,
      batchSize: 2,
      shuffle: false,
      verbose: 0,
      callbacks: [
        oneCycleCallback(schedule, undefined, { onApply: (s, lr, m) => applied.push([s, lr, m]) }),
        new tfl.CustomCallback({ onBatchEnd: async () => void weights.push((await model.getWeights()[0].data())[0]) }),
      ],
    });
    expect(applied.map((a) => a[0])).toEqual([0, 1, 2, 3, 4, 5]);
    expect(applied.map((a) => a[1])).toEqual([0, 1, 2, 3, 4, 5].map(schedule.lr));
    // Hand computation with batches [x0,x1], [x2,x3] in order.
    let w = W0;
    let v = 0;
    const want: number[] = [];
    for (let step = 0; step < 6; step++) {
      const b = (step % 2) * 2;
      const g = [b, b + 1].reduce((s, i) => s + x1(i, w), 0);
      v = schedule.momentum(step) * v + g;
      w -= schedule.lr(step) * v;
      want.push(w);
    }
    weights.forEach((got, i) => expect(got).toBeCloseTo(want[i], 5));
    tf.dispose([x, y]);
    model.dispose();
    optimizer.dispose();
    // tfjs-layers' fit itself keeps one tensor per compiled model; the callback adds nothing.
    expect(tf.memory().numTensors - before).toBe(await leakOfPlainFit());
  });

  it('sets Adam’s learning rate and β1 from the schedule', async () => {
    const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1] })] });
    const optimizer = tf.train.adam(0.5, 0.5);
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const seen: [number, number][] = [];
    const x = tf.tensor2d(X, [4, 1]);
    const y = tf.tensor2d(Y, [4, 1]);
    const o = optimizer as unknown as { learningRate: number; beta1: number };
    await model.fit(x, y, {
      epochs: 1,
      batchSize: 1,
      shuffle: false,
      verbose: 0,
      callbacks: [oneCycleCallback(schedule), new tfl.CustomCallback({ onBatchBegin: async () => void seen.push([o.learningRate, o.beta1]) })],
    });
    expect(seen).toEqual([0, 1, 2, 3].map((s) => [schedule.lr(s), schedule.momentum(s)]));
    tf.dispose([x, y]);
    model.dispose();
  });
});

/** Tensors left behind by a fit of the same shape without our callback (tfjs-layers' own). */
async function leakOfPlainFit(): Promise<number> {
  const before = tf.memory().numTensors;
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [1], useBias: false })] });
  const optimizer = tf.train.momentum(0.5, 0.5);
  model.compile({ optimizer, loss: 'meanSquaredError' });
  const x = tf.tensor2d(X, [4, 1]);
  const y = tf.tensor2d(Y, [4, 1]);
  await model.fit(x, y, { epochs: 3, batchSize: 2, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose();
  return tf.memory().numTensors - before;
}

/** Gradient contribution of example i for a batch of two (mean over the batch). */
function x1(i: number, w: number): number {
  return (2 / 2) * X[i] * (X[i] * w - Y[i]);
}
