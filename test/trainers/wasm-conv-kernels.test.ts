import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../../src/sdk/trainers/backend.js';
import { registerWasmConvGradients } from '../../src/sdk/trainers/wasm-conv-kernels.js';
import { tfjsTrainer } from '../../src/sdk/trainers/tfjs.js';
import { buildDemoModel } from '../../src/demo/model.js';

type Case = { n: number; h: number; w: number; c: number; o: number; k: number; s: number; pad: 'same' | 'valid' };

/** Gradients of sum(conv2d(x, f)²) w.r.t. x and f on the current backend, as plain arrays. */
function convGrads(xv: Float32Array, fv: Float32Array, t: Case): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, [t.n, t.h, t.w, t.c]);
    const f = tf.tensor4d(fv, [t.k, t.k, t.c, t.o]);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, t.s, t.pad))));
    return g([x, f]).map((r) => r.dataSync() as Float32Array);
  });
}

function random(n: number, seed: number): Float32Array {
  let a = seed;
  return Float32Array.from({ length: n }, () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648 - 0.5;
  });
}

beforeAll(async () => {
  await loadBackend('wasm');
});

describe('wasm Conv2DBackpropInput / Conv2DBackpropFilter', () => {
  const cases: Case[] = [
    { n: 2, h: 7, w: 7, c: 3, o: 4, k: 3, s: 1, pad: 'same' },
    { n: 2, h: 8, w: 8, c: 3, o: 4, k: 3, s: 2, pad: 'same' },
    { n: 2, h: 7, w: 9, c: 2, o: 5, k: 3, s: 2, pad: 'valid' },
    { n: 1, h: 6, w: 6, c: 1, o: 2, k: 2, s: 2, pad: 'valid' },
    { n: 3, h: 9, w: 8, c: 4, o: 3, k: 5, s: 2, pad: 'same' },
    { n: 2, h: 10, w: 11, c: 2, o: 3, k: 3, s: 3, pad: 'valid' },
    { n: 2, h: 5, w: 5, c: 2, o: 2, k: 1, s: 2, pad: 'same' },
    { n: 2, h: 12, w: 12, c: 16, o: 8, k: 3, s: 1, pad: 'valid' },
  ];
  it.each(cases)('match the cpu backend to 1e-4 (relative): %j', async (t) => {
    const before = tf.memory().numTensors;
    const xv = random(t.n * t.h * t.w * t.c, 1);
    const fv = random(t.k * t.k * t.c * t.o, 2);
    await tf.setBackend('cpu');
    const ref = convGrads(xv, fv, t);
    await tf.setBackend('wasm');
    const got = convGrads(xv, fv, t);
    for (let g = 0; g < 2; g++) {
      const scale = Math.max(...ref[g].map(Math.abs));
      expect(scale).toBeGreaterThan(0);
      let worst = 0;
      ref[g].forEach((r, i) => (worst = Math.max(worst, Math.abs(r - got[g][i]))));
      expect(worst / scale).toBeLessThan(1e-4);
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('registering twice keeps one working kernel', async () => {
    registerWasmConvGradients();
    registerWasmConvGradients();
    const t = cases[1];
    const got = convGrads(random(t.n * t.h * t.w * t.c, 3), random(t.k * t.k * t.c * t.o, 4), t);
    expect(got[1].length).toBe(t.k * t.k * t.c * t.o);
  });

  it('refuses NCHW with a clear error', () => {
    const x = tf.zeros([1, 4, 4, 1]);
    const dy = tf.zeros([1, 4, 4, 2]);
    expect(() =>
      tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NCHW', filterShape: [3, 3, 1, 2] }),
    ).toThrow(/only dataFormat NHWC/);
    tf.dispose([x, dy]);
  });

  it('a training step of the demo CNN runs on wasm and on cpu; times are logged (not asserted)', async () => {
    // The pure-JS cpu backend needs tens of seconds for one step at batch 128 on a busy 2-core
    // machine, so it is timed at batch 16 only; wasm at both sizes.
    const time = async (backend: string, batch: number, steps: number): Promise<number> => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(random(batch * 784, 5).map((v) => v + 0.5), [batch, 28, 28, 1]);
      const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(Int32Array.from({ length: batch }, (_, i) => i % 10), 'int32'), 10), 'float32'));
      const t = await tfjsTrainer({ model: (s) => buildDemoModel({ seed: s }), data: { xTrain: x, yTrain: y }, batchSize: batch, seed: 1 });
      // wasm: one warm-up step (XNNPACK operator setup); cpu has none to do.
      const losses = backend === 'wasm' ? [await t.step({ lr: 0.01, momentum: 0.9 })] : [];
      const start = performance.now();
      for (let i = 0; i < steps; i++) losses.push(await t.step({ lr: 0.01, momentum: 0.9 }));
      const ms = (performance.now() - start) / steps;
      losses.forEach((l) => expect(Number.isFinite(l)).toBe(true));
      t.dispose();
      tf.dispose([x, y]);
      return ms;
    };
    const wasm128 = await time('wasm', 128, 3);
    const wasm16 = await time('wasm', 16, 3);
    const cpu16 = await time('cpu', 16, 1);
    await tf.setBackend('wasm');
    console.log(
      `demo CNN training step: wasm ${wasm128.toFixed(0)} ms at batch 128; batch 16: wasm ${wasm16.toFixed(0)} ms, cpu ${cpu16.toFixed(0)} ms (x${(cpu16 / wasm16).toFixed(1)})`,
    );
    expect(wasm128).toBeGreaterThan(0);
  });
});
