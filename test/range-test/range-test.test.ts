/** The range-test driver end to end on a pure-JS model (no TensorFlow.js) wrapped by fromFunctions. */
import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { RangeTestResult } from '../../src/report/schema.js';
import { type RangeTestOptions, divergenceIndex, rangeTest, smoothLoss, sweepLrs, validateRangeTestOptions } from '../../src/sdk/range-test/index.js';
import { oneCycle } from '../../src/sdk/schedules/index.js';
import { makeToy } from './toy-model.js';

const sweep: RangeTestOptions = { startLr: 1e-4, endLr: 100, numIter: 100 };

describe('rangeTest on a linear-regression model trained by SGD with momentum', () => {
  it('sweeps, stops at divergence, and its chosen maxLr trains the model with 1cycle to the noise floor', async () => {
    const toy = makeToy();
    const r = await rangeTest(toy.trainer, sweep);
    expect(RangeTestResult.parse(r)).toEqual(r);
    expect(r.stopReason).toBe('diverged');
    expect(r.stopIndex).toBe(r.lr.length - 1);
    expect(r.stopIndex!).toBeLessThan(99);
    expect(r.outcome).toBe('ok');
    expect(r.batchSize).toBe(32);
    const s = r.suggestions;
    expect(s.steepest!.index).toBeLessThan(s.minimum!.index);
    // This convex problem wanders past its minimum long before it explodes: the minimum's LR decides.
    const climb = divergenceIndex(r.smoothedLoss as number[], s.minimum!.index)!;
    const minLr = r.lr[s.minimum!.index];
    expect(r.lr[climb] / 3).toBeGreaterThan(minLr);
    expect(r.chosen!.rule).toBe('divergence/3');
    expect(r.chosen!.maxLr).toBe(minLr);

    const train = (maxLr: number) => {
      const fresh = makeToy();
      const schedule = oneCycle({ maxLr, totalSteps: 160 });
      for (let i = 0; i < 160; i++) fresh.fns.step({ lr: schedule.lr(i), momentum: schedule.momentum(i) });
      return fresh.valLoss();
    };
    const tuned = train(r.chosen!.maxLr);
    expect(tuned).toBeLessThan(2 * makeToy().noiseFloor); // MSE/2 of the 0.1 label noise is 0.005
    expect(train(r.startLr)).toBeGreaterThan(50 * tuned); // the bottom of the sweep barely learns
  });

  it('gives the same suggestions for a loss shifted to negative values', async () => {
    const a = await rangeTest(makeToy().trainer, sweep);
    const b = await rangeTest(makeToy({ lossOffset: -10 }).trainer, sweep);
    expect(b.stopReason).toBe('diverged');
    expect(b.suggestions.minimum!.index).toBe(a.suggestions.minimum!.index);
    expect(b.suggestions.steepest!.index).toBe(a.suggestions.steepest!.index);
    expect(b.suggestions.smith!.index).toBe(a.suggestions.smith!.index);
    expect(b.chosen!.maxLr).toBe(a.chosen!.maxLr);
  });

  it('tries exactly numIter learning rates with exact endpoints, at the given momentum', async () => {
    for (const kind of ['exponential', 'linear'] as const) {
      const toy = makeToy();
      const r = await rangeTest(toy.trainer, { startLr: 1e-4, endLr: 3e-3, numIter: 37, sweep: kind, momentum: 0.8 });
      expect(r.stopReason).toBe('finished');
      expect(r.lr).toHaveLength(37);
      expect(r.lr[0]).toBe(1e-4);
      expect(r.lr[36]).toBe(3e-3);
      expect(toy.stepsSeen.map((h) => h.lr)).toEqual(r.lr);
      expect(new Set(toy.stepsSeen.map((h) => h.momentum))).toEqual(new Set([0.8]));
      const ratio = (3e-3 / 1e-4) ** (1 / 36);
      for (let i = 1; i < 37; i++) {
        if (kind === 'exponential') expect(r.lr[i] / r.lr[i - 1]).toBeCloseTo(ratio, 12);
        else expect(r.lr[i] - r.lr[i - 1]).toBeCloseTo((3e-3 - 1e-4) / 36, 15);
      }
    }
    expect(sweepLrs(0.1, 0.7, 2, 'linear')).toEqual([0.1, 0.7]);
  });

  it('reports every step to onStep with the smoothed loss of the result', async () => {
    const seen: Array<{ index: number; lr: number; loss: number; smoothedLoss: number }> = [];
    const r = await rangeTest(makeToy().trainer, { ...sweep, onStep: (p) => seen.push(p) });
    expect(seen.map((p) => p.index)).toEqual(r.lr.map((_, i) => i));
    expect(seen.map((p) => p.lr)).toEqual(r.lr);
    expect(seen.map((p) => p.loss)).toEqual(r.loss);
    expect(seen.map((p) => p.smoothedLoss)).toEqual(r.smoothedLoss);
    const expected = smoothLoss(r.loss as number[], r.smoothing);
    r.smoothedLoss.forEach((v, i) => expect(v).toBeCloseTo(expected[i], 12));
  });
});

describe('rangeTest leaves the trainer as it found it', () => {
  it('restores model, optimizer and data position bit-exactly and disposes the snapshot', async () => {
    const toy = makeToy();
    for (let i = 0; i < 5; i++) await toy.trainer.step({ lr: 0.01, momentum: 0.9 }); // mid-epoch, non-zero velocity
    const before = toy.fingerprint();
    const twin = makeToy();
    for (let i = 0; i < 5; i++) await twin.trainer.step({ lr: 0.01, momentum: 0.9 });

    await rangeTest(toy.trainer, sweep);
    expect(toy.fingerprint()).toBe(before);
    expect(toy.counters).toMatchObject({ snapshots: 1, restores: 1, disposedSnapshots: 1 });
    // and training continues exactly as if the sweep never happened
    for (let i = 0; i < 10; i++) {
      expect(await toy.trainer.step({ lr: 0.05, momentum: 0.9 })).toBe(await twin.trainer.step({ lr: 0.05, momentum: 0.9 }));
    }
  });

  it('restores and disposes when a step throws, and rethrows that error', async () => {
    const toy = makeToy({ throwAtStep: 7 });
    const before = toy.fingerprint();
    await expect(rangeTest(toy.trainer, sweep)).rejects.toThrow('toy step 7 failed');
    expect(toy.fingerprint()).toBe(before);
    expect(toy.counters).toMatchObject({ steps: 7, restores: 1, disposedSnapshots: 1 });
  });

  it('stops with stopReason interrupted when the signal aborts, and restores', async () => {
    const toy = makeToy();
    const before = toy.fingerprint();
    const controller = new AbortController();
    const r = await rangeTest(toy.trainer, {
      ...sweep,
      signal: controller.signal,
      onStep: (p) => p.index === 10 && controller.abort(),
    });
    expect(r.stopReason).toBe('interrupted');
    expect(r.lr).toHaveLength(11);
    expect(r.stopIndex).toBe(10);
    expect(toy.counters.steps).toBe(11);
    expect(['low-confidence', 'insufficient-data']).toContain(r.outcome);
    expect(toy.fingerprint()).toBe(before);
  });
});

describe('non-finite weights and validation loss', () => {
  it('stops non-finite when the weights blow up although the reported loss stays finite (wasm clipping)', async () => {
    const toy = makeToy({ clipLoss: true });
    const r = await rangeTest(toy.trainer, { startLr: 1e-4, endLr: 1e20, numIter: 100 });
    expect(r.stopReason).toBe('non-finite');
    expect(r.loss.every((v) => v != null && v <= 2.3)).toBe(true);
    expect((r.stopIndex! + 1) % 5).toBe(0); // found by the check every 5 steps
    expect(toy.counters.weightChecks).toBe((r.stopIndex! + 1) / 5);
    // only points up to the last good check are analysed
    for (const s of [r.suggestions.steepest, r.suggestions.valley, r.suggestions.minimum]) {
      if (s) expect(s.index).toBeLessThanOrEqual(r.stopIndex! - 5);
    }
    expect(toy.state.w.every(Number.isFinite)).toBe(true); // restored
  });

  it('checks the weights after the last step too', async () => {
    const toy = makeToy();
    await rangeTest(toy.trainer, { startLr: 1e-4, endLr: 1e-3, numIter: 12 });
    expect(toy.counters.weightChecks).toBe(3); // after steps 5, 10 and 12
  });

  it('evaluates the validation loss every valEvery steps when the trainer can', async () => {
    const toy = makeToy();
    const r = await rangeTest(toy.trainer, { startLr: 1e-4, endLr: 1e-2, numIter: 50, valEvery: 10 });
    expect(r.stopReason).toBe('finished');
    expect(r.valLoss.map((v) => v.index)).toEqual([9, 19, 29, 39, 49]);
    expect(r.valLoss.map((v) => v.lr)).toEqual([9, 19, 29, 39, 49].map((i) => r.lr[i]));
    expect(toy.counters.evaluations).toBe(5);
    // the model learns during the sweep: validation loss falls
    expect(r.valLoss[4].loss!).toBeLessThan(r.valLoss[0].loss!);

    const off = makeToy();
    const r0 = await rangeTest(off.trainer, { startLr: 1e-4, endLr: 1e-2, numIter: 20 });
    expect(r0.valLoss).toEqual([]);
    expect(off.counters.evaluations).toBe(0);
  });
});

describe('invalid options are rejected before any training', () => {
  const bad: Array<[string, RangeTestOptions, string]> = [
    ['startLr >= endLr', { startLr: 1, endLr: 1 }, 'startLr'],
    ['startLr 0', { startLr: 0 }, 'startLr'],
    ['negative endLr', { endLr: -1 }, 'endLr'],
    ['numIter 1', { numIter: 1 }, 'numIter'],
    ['numIter 2.5', { numIter: 2.5 }, 'numIter'],
    ['momentum 1', { momentum: 1 }, 'momentum'],
    ['momentum -0.1', { momentum: -0.1 }, 'momentum'],
    ['smoothing 1', { smoothing: 1 }, 'smoothing'],
    ['divergeThreshold 0', { divergeThreshold: 0 }, 'divergeThreshold'],
    ['unknown sweep', { sweep: 'log' as 'linear' }, 'sweep'],
    ['unknown chooser', { chooser: 'best' as 'smith' }, 'chooser'],
    ['valEvery -1', { valEvery: -1 }, 'valEvery'],
  ];
  for (const [name, options, option] of bad) {
    it(name, async () => {
      expect(() => validateRangeTestOptions(options)).toThrow(UserInputError);
      const toy = makeToy();
      const error = await rangeTest(toy.trainer, options).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UserInputError);
      expect((error as UserInputError).option).toBe(option);
      expect(toy.counters).toMatchObject({ steps: 0, snapshots: 0 });
    });
  }

  it('fills in the documented defaults', () => {
    expect(validateRangeTestOptions({})).toMatchObject({
      startLr: 1e-7, endLr: 10, numIter: 100, sweep: 'exponential', divergeThreshold: 3,
      momentum: 0.9, valEvery: 0, checkWeightsEvery: 5, chooser: 'divergence/3', weightDecay: null, batchSize: null,
    });
    // 8 decades in 99 steps: a lag of half a decade is 6.19 steps, β = 6.19 / 7.19
    expect(validateRangeTestOptions({}).smoothing).toBeCloseTo(0.8609, 4);
    expect(validateRangeTestOptions({ startLr: 1e-4, endLr: 10, numIter: 100 }).smoothing).toBe(0.9);
    expect(validateRangeTestOptions({ sweep: 'linear' }).smoothing).toBe(0.9);
    expect(validateRangeTestOptions({ smoothing: 0.98 }).smoothing).toBe(0.98);
  });
});
