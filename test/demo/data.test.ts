import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { loadBackend } from '../../src/sdk/trainers/backend.js';
import { loadDigits, randomShift, readRawDigits, type MnistDigits } from '../../src/demo/mnist.js';
import { UserInputError } from '../../src/errors.js';

let a: MnistDigits;
let before = 0;

beforeAll(async () => {
  await loadBackend('wasm');
  before = tf.memory().numTensors;
  a = loadDigits({ seed: 42 });
});

afterAll(() => {
  a.dispose();
  expect(tf.memory().numTensors).toBe(before);
});

describe('loadDigits (the mnist package, read deterministically)', () => {
  it('reads all 10,000 digits of the package, every class present', () => {
    const raw = readRawDigits();
    expect(raw.labels.length).toBe(10000);
    const counts = new Array(10).fill(0);
    raw.labels.forEach((l) => counts[l]++);
    expect(counts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
  });

  it('splits 7,000 / 1,000 / 2,000 by default with NHWC images and one-hot labels', () => {
    expect(a.train.x.shape).toEqual([7000, 28, 28, 1]);
    expect(a.validation.x.shape).toEqual([1000, 28, 28, 1]);
    expect(a.test.x.shape).toEqual([2000, 28, 28, 1]);
    expect(a.test.y.shape).toEqual([2000, 10]);
    const argmax = tf.tidy(() => tf.argMax(a.test.y, -1).dataSync());
    expect(Array.from(argmax)).toEqual(Array.from(a.test.labels));
    const [lo, hi] = tf.tidy(() => [tf.min(a.train.x).dataSync()[0], tf.max(a.train.x).dataSync()[0]]);
    expect(lo).toBe(0);
    expect(hi).toBeLessThanOrEqual(1);
    expect(hi).toBeGreaterThan(0.9);
  });

  it('the splits are disjoint and cover distinct digits', () => {
    const seen = new Set<number>();
    for (const s of [a.train, a.validation, a.test]) s.sourceIndex.forEach((i) => seen.add(i));
    expect(seen.size).toBe(10000);
  });

  it('the same seed gives the same split; another seed another one', () => {
    const b = loadDigits({ seed: 42, train: 100, validation: 50, test: 50 });
    const c = loadDigits({ seed: 43, train: 100, validation: 50, test: 50 });
    expect(Array.from(b.train.sourceIndex)).toEqual(Array.from(a.train.sourceIndex.subarray(0, 100)));
    expect(Array.from(c.train.sourceIndex)).not.toEqual(Array.from(b.train.sourceIndex));
    b.dispose();
    c.dispose();
  });

  it('every class appears in the test split in roughly its share (seeded shuffle, not class order)', () => {
    const counts = new Array(10).fill(0);
    a.test.labels.forEach((l) => counts[l]++);
    for (const c of counts) {
      expect(c).toBeGreaterThan(140);
      expect(c).toBeLessThan(270);
    }
  });

  it('asking for more digits than the package has is a UserInputError', () => {
    expect(() => loadDigits({ seed: 1, train: 9000, validation: 1000, test: 1000 })).toThrow(UserInputError);
    expect(() => loadDigits({ seed: 1, train: 9000, validation: 1000, test: 1000 })).toThrow(/at most 10000/);
  });
});

describe('randomShift', () => {
  it('shifts each image by whole pixels within ±2, the same way for the same step', () => {
    const aug = randomShift({ seed: 7 });
    const x = tf.slice(a.train.x, 0, 16);
    const xs = x.arraySync() as number[][][][];
    const out1 = aug(x, 3);
    const out2 = aug(x, 3);
    const out3 = aug(x, 4);
    const o1 = out1.arraySync() as number[][][][];
    expect(Array.from(out2.dataSync())).toEqual(Array.from(out1.dataSync()));
    expect(Array.from(out3.dataSync())).not.toEqual(Array.from(out1.dataSync()));
    const shifts = new Set<string>();
    for (let i = 0; i < 16; i++) {
      const matches: string[] = [];
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          let ok = true;
          for (let r = 0; r < 28 && ok; r++) {
            for (let c = 0; c < 28 && ok; c++) {
              const sr = r + dy;
              const sc = c + dx;
              const v = sr >= 0 && sr < 28 && sc >= 0 && sc < 28 ? xs[i][sr][sc][0] : 0;
              ok = v === o1[i][r][c][0];
            }
          }
          if (ok) matches.push(`${dy},${dx}`);
        }
      }
      expect(matches.length).toBe(1);
      shifts.add(matches[0]);
    }
    // 16 draws from 25 shifts: several distinct ones.
    expect(shifts.size).toBeGreaterThan(5);
    tf.dispose([x, out1, out2, out3]);
  });
});
