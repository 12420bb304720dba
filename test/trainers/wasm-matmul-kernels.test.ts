import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../../src/sdk/trainers/backend.js';
import { registerWasmMatMulFix, unregisterWasmMatMulFix } from '../../src/sdk/trainers/wasm-matmul-kernels.js';

type Case = { a: number[]; b: number[]; ta: boolean; tb: boolean };

function values(n: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648 - 0.5;
  });
}

function product(t: Case): { data: Float32Array; shape: number[] } {
  return tf.tidy(() => {
    const a = tf.tensor(values(t.a.reduce((x, y) => x * y), 1), t.a);
    const b = tf.tensor(values(t.b.reduce((x, y) => x * y), 2), t.b);
    const out = tf.matMul(a, b, t.ta, t.tb);
    return { data: out.dataSync() as Float32Array, shape: out.shape };
  });
}

beforeAll(async () => {
  await loadBackend('wasm');
});

describe('wasm BatchMatMul with transposed operands', () => {
  const cases: Case[] = [
    { a: [5, 7], b: [3, 7], ta: false, tb: true },
    { a: [7, 5], b: [7, 3], ta: true, tb: false },
    { a: [7, 5], b: [3, 7], ta: true, tb: true },
    { a: [5, 7], b: [7, 3], ta: false, tb: false },
    { a: [2, 4, 6], b: [2, 5, 6], ta: false, tb: true },
    { a: [2, 6, 4], b: [1, 6, 5], ta: true, tb: false },
    { a: [128, 1568], b: [128, 128], ta: true, tb: false },
  ];
  it.each(cases)('matches the cpu backend to 1e-5 (relative) without leaking tensors: %j', async (t) => {
    await tf.setBackend('cpu');
    const ref = product(t);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const got = product(t);
    expect(tf.memory().numTensors).toBe(before);
    expect(got.shape).toEqual(ref.shape);
    const scale = ref.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    let worst = 0;
    ref.data.forEach((r, i) => (worst = Math.max(worst, Math.abs(r - got.data[i]))));
    expect(worst / scale).toBeLessThan(1e-5);
  });

  it('registering twice is a no-op and unregistering restores wasm’s own kernel', () => {
    registerWasmMatMulFix();
    const ours = tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc;
    registerWasmMatMulFix();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(ours);
    unregisterWasmMatMulFix();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).not.toBe(ours);
    registerWasmMatMulFix();
    expect(tf.getKernel('BatchMatMul', 'wasm')!.kernelFunc).toBe(ours);
  });

  it('the gradient of a dense layer (both transposes) matches cpu', async () => {
    const grads = () =>
      tf.tidy(() => {
        const x = tf.tensor(values(6 * 10, 3), [6, 10]);
        const w = tf.tensor(values(10 * 4, 4), [10, 4]);
        const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.square(tf.matMul(a, b))))([x, w]);
        return g.map((t) => Array.from(t.dataSync()));
      });
    await tf.setBackend('cpu');
    const ref = grads();
    await tf.setBackend('wasm');
    const got = grads();
    for (let k = 0; k < 2; k++) got[k].forEach((v, i) => expect(v).toBeCloseTo(ref[k][i], 5));
  });
});
