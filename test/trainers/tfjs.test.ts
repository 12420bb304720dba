import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { loadBackend } from '../../src/sdk/trainers/backend.js';
import { tfjsTrainer, tfjsTrainerFactory, type TfjsTrainer } from '../../src/sdk/trainers/tfjs.js';
import { UserInputError } from '../../src/errors.js';
import { loadDigits, randomShift, type MnistDigits } from '../../src/demo/mnist.js';
import { buildDemoModel } from '../../src/demo/model.js';

// A linear model y = x·W + b with MSE: gradients are easy to compute by hand.
const X = [
  [1, 2],
  [0.5, -1],
  [-1.5, 0.25],
  [2, 1],
];
const Y = [[1], [0], [-1], [2]];
const W0 = [[0.1], [-0.2]];
const B0 = [0.05];

function linearModel(): tfl.LayersModel {
  const m = tfl.sequential({ layers: [tfl.layers.dense({ units: 1, inputShape: [2] })] });
  const init = [tf.tensor2d(W0), tf.tensor1d(B0)];
  m.setWeights(init);
  tf.dispose(init);
  return m;
}

/** Full-batch gradient of mean((xW + b − y)²) w.r.t. W (2x1) and b (1). */
function grad(w: number[], b: number): { gw: number[]; gb: number } {
  const gw = [0, 0];
  let gb = 0;
  X.forEach((x, i) => {
    const r = x[0] * w[0] + x[1] * w[1] + b - Y[i][0];
    gw[0] += (2 / X.length) * r * x[0];
    gw[1] += (2 / X.length) * r * x[1];
    gb += (2 / X.length) * r;
  });
  return { gw, gb };
}

interface HandOpts {
  steps: { lr: number; momentum: number }[];
  adam?: boolean;
  wd?: number;
  mode?: 'decoupled' | 'l2';
}
/** The update rules of the adapter's docs, in float64. */
function hand({ steps, adam, wd = 0, mode = 'decoupled' }: HandOpts): number[] {
  let w = [W0[0][0], W0[1][0]];
  let b = B0[0];
  let m = [0, 0, 0];
  let v = [0, 0, 0];
  let p1 = 1;
  let p2 = 1;
  for (const { lr, momentum } of steps) {
    const { gw, gb } = grad(w, b);
    const g = [gw[0] + (mode === 'l2' ? wd * w[0] : 0), gw[1] + (mode === 'l2' ? wd * w[1] : 0), gb];
    const p = [w[0], w[1], b];
    let next: number[];
    if (!adam) {
      m = m.map((mi, i) => momentum * mi + g[i]);
      next = p.map((pi, i) => pi - lr * m[i]);
    } else {
      p1 *= momentum;
      p2 *= 0.999;
      m = m.map((mi, i) => momentum * mi + (1 - momentum) * g[i]);
      v = v.map((vi, i) => 0.999 * vi + 0.001 * g[i] * g[i]);
      next = p.map((pi, i) => pi - (lr * (m[i] / (1 - p1))) / (Math.sqrt(v[i] / (1 - p2)) + 1e-7));
    }
    if (mode === 'decoupled' && wd > 0) {
      next[0] *= 1 - lr * wd;
      next[1] *= 1 - lr * wd;
    }
    [w[0], w[1], b] = next;
    w = [w[0], w[1]];
  }
  return [w[0], w[1], b];
}

async function weightsOf(t: TfjsTrainer): Promise<number[]> {
  const out: number[] = [];
  for (const w of t.model.weights) out.push(...(await w.read().data()));
  return out;
}

async function linearTrainer(extra: Partial<Parameters<typeof tfjsTrainer>[0]> = {}): Promise<TfjsTrainer> {
  return tfjsTrainer({
    model: linearModel,
    data: { xTrain: xs, yTrain: ys },
    loss: 'meanSquaredError',
    batchSize: 4,
    seed: 1,
    ...extra,
  });
}

let xs: tf.Tensor2D;
let ys: tf.Tensor2D;
let digits: MnistDigits;
let tensorsAtStart = 0;

beforeAll(async () => {
  await loadBackend('wasm');
  xs = tf.tensor2d(X);
  ys = tf.tensor2d(Y);
  digits = loadDigits({ seed: 3, train: 640, validation: 200, test: 100 });
  tensorsAtStart = tf.memory().numTensors;
});

afterAll(() => {
  expect(tf.memory().numTensors).toBe(tensorsAtStart);
  digits.dispose();
  tf.dispose([xs, ys]);
});

describe('tfjsTrainer: momentum and β1 take effect every step', () => {
  it('two SGD steps with momentum 0.5 vs 0.95 give different weights, each equal to the hand computation', async () => {
    const before = tf.memory().numTensors;
    const t = await linearTrainer();
    const snap = await t.snapshot();
    const results: number[][] = [];
    for (const momentum of [0.5, 0.95]) {
      await t.restore(snap);
      const steps = [
        { lr: 0.1, momentum },
        { lr: 0.1, momentum },
      ];
      for (const hp of steps) await t.step(hp);
      const got = await weightsOf(t);
      const want = hand({ steps });
      got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
      results.push(got);
    }
    // The second step's update differs by (0.95 − 0.5)·lr·v₁: far from float noise.
    expect(Math.abs(results[0][0] - results[1][0])).toBeGreaterThan(1e-3);
    snap.dispose();
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('Adam uses the momentum of each step as β1 (with the bias correction of the β1s used)', async () => {
    const t = await linearTrainer({ optimizer: 'adam' });
    const snap = await t.snapshot();
    const results: number[][] = [];
    for (const b1 of [0.85, 0.95]) {
      await t.restore(snap);
      const steps = [
        { lr: 0.01, momentum: 0.95 },
        { lr: 0.01, momentum: b1 },
        { lr: 0.01, momentum: b1 },
      ];
      for (const hp of steps) await t.step(hp);
      const got = await weightsOf(t);
      const want = hand({ steps, adam: true });
      got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
      results.push(got);
    }
    expect(Math.abs(results[0][0] - results[1][0])).toBeGreaterThan(1e-4);
    snap.dispose();
    t.dispose();
  });
});

describe('tfjsTrainer: weight decay', () => {
  it('decoupled (default) multiplies kernels by (1 − lr·wd) after the step and leaves biases alone', async () => {
    const steps = [
      { lr: 0.1, momentum: 0.9 },
      { lr: 0.05, momentum: 0.9 },
    ];
    const t = await linearTrainer({ weightDecay: 0.5 });
    for (const hp of steps) await t.step(hp);
    const got = await weightsOf(t);
    const want = hand({ steps, wd: 0.5 });
    const noDecay = hand({ steps });
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
    expect(Math.abs(got[0] - noDecay[0])).toBeGreaterThan(1e-3);
    t.dispose();
  });

  it("'l2' adds wd·w to the gradient (so momentum carries the decay)", async () => {
    const steps = [
      { lr: 0.1, momentum: 0.9 },
      { lr: 0.1, momentum: 0.9 },
    ];
    const t = await linearTrainer({ weightDecay: 0.5, weightDecayMode: 'l2' });
    for (const hp of steps) await t.step(hp);
    const got = await weightsOf(t);
    const want = hand({ steps, wd: 0.5, mode: 'l2' });
    got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
    expect(Math.abs(want[0] - hand({ steps, wd: 0.5 })[0])).toBeGreaterThan(1e-3);
    t.dispose();
  });
});

describe('tfjsTrainer on the demo CNN (wasm)', () => {
  const cnn = (seed: number): tfl.LayersModel => buildDemoModel({ seed, filters: [4, 8], denseUnits: 16 });
  const data = (): Parameters<typeof tfjsTrainer>[0]['data'] => ({
    xTrain: digits.train.x,
    yTrain: digits.train.y,
    xVal: digits.validation.x,
    yVal: digits.validation.y,
  });

  it('restores model, optimizer state and data position bit-exactly, and the snapshot stays valid', async () => {
    const before = tf.memory().numTensors;
    const t = await tfjsTrainer({ model: cnn, data: data(), batchSize: 64, seed: 5, augment: randomShift({ seed: 5 }) });
    await t.step({ lr: 0.05, momentum: 0.9 });
    const snap = await t.snapshot();
    const run = async (): Promise<{ losses: number[]; weights: number[] }> => {
      const losses: number[] = [];
      // 12 steps cross an epoch boundary (10 steps per epoch): the reshuffle is restored too.
      for (let i = 0; i < 12; i++) losses.push(await t.step({ lr: 0.05 + 0.01 * i, momentum: 0.9 - 0.005 * i }));
      return { losses, weights: await weightsOf(t) };
    };
    const a = await run();
    await t.restore(snap);
    const b = await run();
    await t.restore(snap);
    const c = await run();
    expect(b.losses).toEqual(a.losses);
    expect(c.losses).toEqual(a.losses);
    expect(new Float64Array(b.weights)).toEqual(new Float64Array(a.weights));
    expect(new Float64Array(c.weights)).toEqual(new Float64Array(a.weights));
    snap.dispose();
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the same seed gives bit-identical losses; another seed gives different ones', async () => {
    const losses = async (seed: number): Promise<number[]> => {
      const t = await tfjsTrainer({ model: cnn, data: data(), batchSize: 64, seed });
      const out: number[] = [];
      for (let i = 0; i < 5; i++) out.push(await t.step({ lr: 0.05, momentum: 0.9 }));
      t.dispose();
      return out;
    };
    const a = await losses(11);
    const b = await losses(11);
    const c = await losses(12);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('a CNN trains on wasm: the loss falls clearly over 30 steps on a digits subset', async () => {
    const t = await tfjsTrainer({ model: (s) => buildDemoModel({ seed: s }), data: data(), batchSize: 32, seed: 2 });
    expect(t.backend).toBe('wasm');
    const losses: number[] = [];
    for (let i = 0; i < 30; i++) losses.push(await t.step({ lr: 0.05, momentum: 0.9 }));
    const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
    const first = mean(losses.slice(0, 5));
    const last = mean(losses.slice(-5));
    expect(first).toBeGreaterThan(1.8); // about ln 10 = 2.30 at the start
    expect(last).toBeLessThan(0.6 * first);
    const v = await t.evaluate('validation');
    expect(v.n).toBe(200);
    expect(v.accuracy).toBeGreaterThan(0.6);
    t.dispose();
  });

  it('evaluate matches a direct computation of loss and accuracy', async () => {
    const t = await tfjsTrainer({ model: cnn, data: data(), batchSize: 64, seed: 4, evalBatchSize: 64 });
    await t.step({ lr: 0.05, momentum: 0.9 });
    const r = await t.evaluate('validation');
    const [loss, acc] = tf.tidy(() => {
      const p = t.model.predict(digits.validation.x) as tf.Tensor;
      const l = tf.neg(tf.mean(tf.sum(tf.mul(digits.validation.y, tf.log(tf.clipByValue(p, 1e-7, 1 - 1e-7))), -1)));
      const a = tf.mean(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(digits.validation.y, -1)), 'float32'));
      return [l.dataSync()[0], a.dataSync()[0]];
    });
    expect(r.loss).toBeCloseTo(loss, 4);
    expect(r.accuracy).toBeCloseTo(acc, 6);
    await expect(t.evaluate('test')).rejects.toThrow(UserInputError);
    t.dispose();
  });

  it('weightsFinite turns false once a huge learning rate blows the weights up', async () => {
    const t = await tfjsTrainer({ model: cnn, data: data(), batchSize: 64, seed: 4 });
    expect(await t.weightsFinite()).toBe(true);
    const start = await t.snapshot();
    await t.step({ lr: 1e-3, momentum: 0.9, checkWeights: true });
    expect(await t.weightsFinite()).toBe(true); // read back with the step's loss
    for (let i = 0; i < 3; i++) await t.step({ lr: 1e30, momentum: 0.9, checkWeights: true });
    expect(await t.weightsFinite()).toBe(false);
    // without checkWeights the step computes no answer; weightsFinite() then looks at the weights
    await t.restore(start);
    await t.step({ lr: 1e-3, momentum: 0.9 });
    expect(await t.weightsFinite()).toBe(true);
    for (let i = 0; i < 3; i++) await t.step({ lr: 1e30, momentum: 0.9 });
    expect(await t.weightsFinite()).toBe(false);
    // after a restore the answer is about the restored weights, not the last step
    await t.restore(start);
    expect(await t.weightsFinite()).toBe(true);
    start.dispose();
    t.dispose();
  });

  it('leaks no tensor over steps, evaluations, snapshots, restores and dispose', async () => {
    const before = tf.memory().numTensors;
    const t = await tfjsTrainer({ model: cnn, data: data(), batchSize: 64, seed: 4, optimizer: 'adam', weightDecay: 1e-4 });
    const s1 = await t.snapshot();
    await t.step({ lr: 1e-3, momentum: 0.9 });
    const s2 = await t.snapshot();
    await t.evaluate();
    await t.restore(s1);
    await t.step({ lr: 1e-3, momentum: 0.9 });
    await t.restore(s2);
    await t.weightsFinite();
    s1.dispose();
    s2.dispose();
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the factory builds a fresh trainer per settings', async () => {
    const factory = tfjsTrainerFactory({ model: cnn, data: data() });
    const t = await factory({ batchSize: 32, weightDecay: 0, seed: 1, optimizer: 'sgd' });
    expect(t.batchSize).toBe(32);
    expect(t.stepsPerEpoch).toBe(20);
    const loss = await t.step({ lr: 0.01, momentum: 0.9 });
    expect(loss).toBeGreaterThan(1.5);
    t.dispose();
  });

  it('reads a tf.data-like dataset into memory', async () => {
    const before = tf.memory().numTensors;
    const batches = [0, 1].map(() => ({ xs: tf.clone(xs), ys: tf.clone(ys) }));
    const ds = {
      iterator: async () => {
        let i = 0;
        return { next: async () => (i < batches.length ? { value: batches[i++], done: false } : { value: undefined, done: true }) };
      },
    };
    const t = await tfjsTrainer({ model: linearModel, data: { train: ds }, loss: 'meanSquaredError', batchSize: 8, seed: 1 });
    expect(t.stepsPerEpoch).toBe(1);
    const loss = await t.step({ lr: 0.1, momentum: 0 });
    // Same examples twice: the loss of the initial weights on X, Y.
    const w = [W0[0][0], W0[1][0]];
    const want = X.reduce((s, x, i) => s + (x[0] * w[0] + x[1] * w[1] + B0[0] - Y[i][0]) ** 2, 0) / X.length;
    expect(loss).toBeCloseTo(want, 5);
    t.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('tfjsTrainer: bad input is rejected before any work', () => {
  it.each([
    [{ batchSize: 0 }, /batchSize/],
    [{ batchSize: 5 }, /batchSize.*larger than the training set/],
    [{ optimizer: 'rmsprop' as 'sgd' }, /optimizer.*unknown optimizer.*sgd, adam/],
    [{ weightDecay: -1 }, /weightDecay/],
    [{ weightDecayMode: 'coupled' as 'l2' }, /weightDecayMode/],
    [{ loss: 'hinge' as 'meanSquaredError' }, /loss/],
  ])('%j', async (extra, message) => {
    const before = tf.memory().numTensors;
    await expect(linearTrainer(extra)).rejects.toThrow(message);
    await expect(linearTrainer(extra)).rejects.toBeInstanceOf(UserInputError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a step with momentum outside [0, 1) or a negative lr names the option', async () => {
    const t = await linearTrainer();
    await expect(t.step({ lr: 0.1, momentum: 1 })).rejects.toThrow(/momentum/);
    await expect(t.step({ lr: -1, momentum: 0.9 })).rejects.toThrow(/lr/);
    t.dispose();
  });
});
