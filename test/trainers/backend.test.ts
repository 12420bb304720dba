import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { describeBackend, loadBackend } from '../../src/sdk/trainers/backend.js';
import { UserInputError } from '../../src/errors.js';

// @tensorflow/tfjs-node(-gpu) cannot be installed here (they download libtensorflow): the loader
// must report them missing and carry on.
describe('loadBackend', () => {
  it('auto skips the missing tfjs-node packages, picks wasm and says why', async () => {
    const b = await loadBackend();
    expect(b.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(b.skipped.map((s) => s.candidate)).toEqual(['tensorflow-gpu', 'tensorflow']);
    expect(b.skipped[0].error).toMatch(/@tensorflow\/tfjs-node-gpu/);
    expect(describeBackend(b)).toMatch(/^wasm \(.*\); skipped tensorflow-gpu \(not installed\), tensorflow \(not installed\)$/);
    // The engine works after the failed attempts.
    expect(Array.from(tf.add(tf.scalar(1), tf.scalar(2)).dataSync())).toEqual([3]);
  });

  it('a named backend that cannot load falls back to cpu, and the engine stays usable', async () => {
    const b = await loadBackend('tensorflow');
    expect(b.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(b.skipped).toHaveLength(1);
    expect(b.skipped[0].candidate).toBe('tensorflow');
    expect(Array.from(tf.mul(tf.scalar(3), tf.scalar(2)).dataSync())).toEqual([6]);
  });

  it('cpu and wasm can be asked for by name', async () => {
    expect((await loadBackend('cpu')).name).toBe('cpu');
    const w = await loadBackend('wasm');
    expect(w.name).toBe('wasm');
    expect(w.skipped).toEqual([]);
  });

  it('an unknown backend is a UserInputError naming the choices', async () => {
    await expect(loadBackend('webgpu' as 'cpu')).rejects.toBeInstanceOf(UserInputError);
    await expect(loadBackend('webgpu' as 'cpu')).rejects.toThrow(/backend.*auto, tensorflow-gpu, tensorflow, wasm, cpu/);
  });
});
