import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { fromFunctions } from '../../src/sdk/trainers/functions.js';
import { makeToy } from '../range-test/toy-model.js';

/** A one-parameter quadratic f(w) = (w − 3)²/2 minimised by SGD with momentum, in plain JS. */
function quadratic() {
  const state = { w: 0, v: 0 };
  let disposed = 0;
  const trainer = fromFunctions({
    step: ({ lr, momentum }) => {
      const loss = (state.w - 3) ** 2 / 2;
      state.v = momentum * state.v + (state.w - 3);
      state.w -= lr * state.v;
      return loss;
    },
    evaluate: () => ({ loss: (state.w - 3) ** 2 / 2, n: 1 }),
    snapshot: () => ({ ...state }),
    restore: (s) => {
      Object.assign(state, s);
    },
    weightsFinite: () => Number.isFinite(state.w),
    dispose: () => disposed++,
    batchSize: 8,
    stepsPerEpoch: 12,
    backend: 'plain-js',
  });
  return { trainer, state, disposed: () => disposed };
}

describe('fromFunctions', () => {
  it('runs the given step with the hyper-parameters and returns its loss', async () => {
    const q = quadratic();
    expect(await q.trainer.step({ lr: 0.5, momentum: 0 })).toBe(4.5); // (0 − 3)²/2
    expect(q.state.w).toBe(1.5);
    expect(await q.trainer.step({ lr: 0.5, momentum: 0.5 })).toBe(1.125);
    expect(q.state.v).toBe(0.5 * -3 + -1.5); // momentum is applied
    expect(await q.trainer.evaluate!()).toEqual({ loss: (q.state.w - 3) ** 2 / 2, n: 1 });
    expect(await q.trainer.weightsFinite!()).toBe(true);
  });

  it('exposes batchSize, stepsPerEpoch and backend, with documented defaults', () => {
    const q = quadratic();
    expect([q.trainer.batchSize, q.trainer.stepsPerEpoch, q.trainer.backend]).toEqual([8, 12, 'plain-js']);
    const bare = fromFunctions({ step: () => 1, snapshot: () => 0, restore: () => {} });
    expect([bare.batchSize, bare.stepsPerEpoch, bare.backend]).toEqual([1, 1, 'custom']);
    expect(bare.evaluate).toBeUndefined();
    expect(bare.weightsFinite).toBeUndefined();
  });

  it('restores a snapshot bit-exactly, more than once', async () => {
    const toy = makeToy();
    await toy.trainer.step({ lr: 0.01, momentum: 0.9 });
    const snap = await toy.trainer.snapshot();
    const before = toy.fingerprint();
    const losses = async () => {
      const out: number[] = [];
      for (let i = 0; i < 12; i++) out.push(await toy.trainer.step({ lr: 0.02, momentum: 0.9 }));
      return out;
    };
    const first = await losses();
    await toy.trainer.restore(snap);
    expect(toy.fingerprint()).toBe(before);
    expect(await losses()).toEqual(first);
    await toy.trainer.restore(snap);
    expect(toy.fingerprint()).toBe(before);
    snap.dispose();
    snap.dispose();
    expect(toy.counters.disposedSnapshots).toBe(1);
    await expect(toy.trainer.restore(snap)).rejects.toThrow(/disposed snapshot/);
  });

  it('refuses a snapshot from another trainer', async () => {
    const a = quadratic();
    const b = quadratic();
    const snap = await a.trainer.snapshot();
    await expect(b.trainer.restore(snap)).rejects.toThrow(/did not make/);
  });

  it('awaits async functions', async () => {
    let w = 1;
    const t = fromFunctions({
      step: async ({ lr }) => {
        await new Promise((r) => setTimeout(r, 1));
        w -= lr;
        return w;
      },
      snapshot: async () => w,
      restore: async (s) => {
        w = s;
      },
      weightsFinite: async () => false,
    });
    const s = await t.snapshot();
    expect(await t.step({ lr: 0.25, momentum: 0 })).toBe(0.75);
    await t.restore(s);
    expect(w).toBe(1);
    expect(await t.weightsFinite!()).toBe(false);
  });

  it('rejects a step that does not return a number, and use after dispose', async () => {
    const t = fromFunctions({ step: () => 'x' as unknown as number, snapshot: () => 0, restore: () => {} });
    await expect(t.step({ lr: 1, momentum: 0 })).rejects.toThrow(/must return a number/);
    const q = quadratic();
    q.trainer.dispose();
    q.trainer.dispose();
    expect(q.disposed()).toBe(1);
    await expect(q.trainer.step({ lr: 1, momentum: 0 })).rejects.toThrow(/after dispose/);
  });

  it('names a missing function or a bad batchSize in a UserInputError', () => {
    expect(() => fromFunctions({ step: () => 1, snapshot: () => 0 } as any)).toThrow(UserInputError);
    expect(() => fromFunctions({ step: () => 1, snapshot: () => 0 } as any)).toThrow(/^restore/);
    expect(() => fromFunctions({ step: () => 1, snapshot: () => 0, restore: () => {}, batchSize: 0 })).toThrow(/batchSize/);
  });
});
