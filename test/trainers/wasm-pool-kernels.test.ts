import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../../src/sdk/trainers/backend.js';
import { isFastMaxPoolCase, registerWasmPoolGradients, unregisterWasmPoolGradients } from '../../src/sdk/trainers/wasm-pool-kernels.js';

type Case = { shape: [number, number, number, number]; size: number; stride: number; pad: 'same' | 'valid' };

/** Gradient of sum(maxPool(x) * dy) w.r.t. x on the current backend (dy is the upstream gradient). */
function poolGrad(xv: Float32Array, dyv: Float32Array, t: Case): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(xv, t.shape);
    const g = tf.grad((a: tf.Tensor) => {
      const y = tf.maxPool(a as tf.Tensor4D, t.size, t.stride, t.pad);
      return tf.sum(tf.mul(y, tf.tensor(dyv, y.shape)));
    });
    return g(x).dataSync() as Float32Array;
  });
}

function outSize(t: Case): number {
  const [n, h, w, c] = t.shape;
  const o = (d: number) => (t.pad === 'same' ? Math.ceil(d / t.stride) : Math.floor((d - t.size) / t.stride) + 1);
  return n * o(h) * o(w) * c;
}

function lcg(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a * 1103515245 + 12345) % 2147483648;
    return a / 2147483648;
  };
}

/** Like a ReLU output: about half zeros, the rest small integers, so most windows have ties. */
function tiedInput(n: number, seed: number): Float32Array {
  const r = lcg(seed);
  return Float32Array.from({ length: n }, () => Math.max(0, Math.floor(r() * 6) - 3));
}

/** Continuous values: ties have probability ~0. */
function continuousInput(n: number, seed: number): Float32Array {
  const r = lcg(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
}

async function compareWithCpu(t: Case, xv: Float32Array, seed: number): Promise<number> {
  const dyv = continuousInput(outSize(t), seed);
  await tf.setBackend('cpu');
  const ref = poolGrad(xv, dyv, t);
  await tf.setBackend('wasm');
  const before = tf.memory().numTensors;
  const got = poolGrad(xv, dyv, t);
  expect(tf.memory().numTensors).toBe(before);
  expect(got.length).toBe(ref.length);
  let worst = 0;
  ref.forEach((r, i) => (worst = Math.max(worst, Math.abs(r - got[i]))));
  return worst;
}

beforeAll(async () => {
  await loadBackend('wasm');
});

describe('wasm MaxPoolGrad (2x2, stride 2)', () => {
  const fast: Case[] = [
    { shape: [1, 2, 2, 1], size: 2, stride: 2, pad: 'valid' },
    { shape: [2, 8, 8, 3], size: 2, stride: 2, pad: 'valid' },
    { shape: [3, 6, 10, 5], size: 2, stride: 2, pad: 'same' },
    { shape: [4, 28, 28, 16], size: 2, stride: 2, pad: 'same' },
    { shape: [5, 14, 14, 32], size: 2, stride: 2, pad: 'valid' },
  ];

  it.each(fast)('matches the cpu backend on inputs full of ties (to 1e-6): %j', async (t) => {
    expect(isFastMaxPoolCase(t.shape, { filterSize: t.size, strides: t.stride, pad: t.pad })).toBe(true);
    const xv = tiedInput(t.shape.reduce((a, b) => a * b), 11);
    expect(await compareWithCpu(t, xv, 12)).toBeLessThan(1e-6);
  });

  it.each(fast)('matches the cpu backend on continuous inputs (to 1e-6): %j', async (t) => {
    const xv = continuousInput(t.shape.reduce((a, b) => a * b), 21);
    expect(await compareWithCpu(t, xv, 22)).toBeLessThan(1e-6);
  });

  it('sends a tied window’s gradient to its first maximum in row-major order, as cpu does', async () => {
    // Windows (2x2): all zeros | 3 at (0,1) and (1,0) | 5 at (1,0) and (1,1) | -1 everywhere.
    const x = [0, 0, 1, 3, 0, 0, 3, 2, 2, 1, -1, -1, 5, 5, -1, -1];
    const dy = [10, 20, 30, 40];
    const t: Case = { shape: [1, 4, 4, 1], size: 2, stride: 2, pad: 'valid' };
    const got = poolGrad(Float32Array.from(x), Float32Array.from(dy), t);
    expect(Array.from(got)).toEqual([10, 0, 0, 20, 0, 0, 0, 0, 0, 0, 40, 0, 30, 0, 0, 0]);
  });

  it('keeps the gradient exact for large and tiny magnitudes (no tolerance-based equality)', async () => {
    const t: Case = { shape: [1, 2, 4, 1], size: 2, stride: 2, pad: 'valid' };
    // 1e-30 vs 1.0000001e-30 and 3e38 vs -3e38: differences a tolerance would blur or overflow.
    const xv = Float32Array.from([1e-30, 1.0000001e-30, 3e38, -3e38, 0, 0, -3e38, 3e38]);
    expect(await compareWithCpu(t, xv, 5)).toBe(0);
  });
});

describe('wasm MaxPoolGrad fallback and registration', () => {
  const others: Case[] = [
    { shape: [2, 7, 7, 3], size: 2, stride: 2, pad: 'valid' },
    { shape: [2, 7, 9, 2], size: 2, stride: 2, pad: 'same' },
    { shape: [2, 8, 8, 3], size: 3, stride: 2, pad: 'same' },
    { shape: [2, 6, 6, 2], size: 2, stride: 1, pad: 'valid' },
  ];

  it.each(others)('other configurations (JavaScript loop) match cpu on continuous inputs and on ties (to 1e-6): %j', async (t) => {
    expect(isFastMaxPoolCase(t.shape, { filterSize: t.size, strides: t.stride, pad: t.pad })).toBe(false);
    const n = t.shape.reduce((a, b) => a * b);
    expect(await compareWithCpu(t, continuousInput(n, 31), 32)).toBeLessThan(1e-6);
    expect(await compareWithCpu(t, tiedInput(n, 33), 34)).toBeLessThan(1e-6);
    // All-negative windows: wasm's own kernel drops their gradient (FLT_MIN start).
    expect(await compareWithCpu(t, continuousInput(n, 35).map((v) => v - 2), 36)).toBeLessThan(1e-6);
  });

  it('registering twice is a no-op and unregistering restores wasm’s own kernel', () => {
    registerWasmPoolGradients();
    const ours = tf.getKernel('MaxPoolGrad', 'wasm')!.kernelFunc;
    registerWasmPoolGradients();
    expect(tf.getKernel('MaxPoolGrad', 'wasm')!.kernelFunc).toBe(ours);
    unregisterWasmPoolGradients();
    const builtIn = tf.getKernel('MaxPoolGrad', 'wasm')!.kernelFunc;
    expect(builtIn).not.toBe(ours);
    registerWasmPoolGradients();
    expect(tf.getKernel('MaxPoolGrad', 'wasm')!.kernelFunc).toBe(ours);
  });

  it('wasm’s own kernel loses the gradient of an all-negative window; ours matches cpu', async () => {
    // Two windows: [1, 2; 3, 4] and the all-negative [-3, -1; -2, -4].
    const t: Case = { shape: [1, 2, 4, 1], size: 2, stride: 2, pad: 'valid' };
    const x = Float32Array.from([1, 2, -3, -1, 3, 4, -2, -4]);
    const dy = Float32Array.from([10, 20]);
    unregisterWasmPoolGradients();
    try {
      expect(Array.from(poolGrad(x, dy, t))).toEqual([0, 0, 0, 0, 0, 10, 0, 0]);
    } finally {
      registerWasmPoolGradients();
    }
    expect(Array.from(poolGrad(x, dy, t))).toEqual([0, 0, 0, 20, 0, 10, 0, 0]);
  });
});
