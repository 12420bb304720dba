import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { RangeTestResult } from '../../src/report/schema.js';
import { readFileSync } from 'node:fs';
import { StopRule, analyzeRangeTest, defaultSmoothing, divergenceIndex, smoothLoss } from '../../src/sdk/range-test/analysis.js';
import { sweepLrs } from '../../src/sdk/range-test/index.js';
import { mulberry32 } from './toy-model.js';

describe('smoothLoss (bias-corrected EMA)', () => {
  it('keeps a constant loss constant from the first point', () => {
    for (const beta of [0, 0.5, 0.9, 0.98]) {
      for (const v of smoothLoss(Array(50).fill(2.5), beta)) expect(v).toBeCloseTo(2.5, 12);
    }
  });

  it('matches the formula avg/(1 − β^k) by hand', () => {
    // β = 0.5: avg1 = 0.5 → 1; avg2 = 0.25 + 1 = 1.25 → 1.25/0.75; avg3 = 0.625 + 2 = 2.625 → 2.625/0.875
    const s = smoothLoss([1, 2, 4], 0.5);
    expect(s[0]).toBeCloseTo(1, 14);
    expect(s[1]).toBeCloseTo(1.25 / 0.75, 14);
    expect(s[2]).toBeCloseTo(2.625 / 0.875, 14);
  });

  it('returns the raw loss for β = 0', () => {
    expect(smoothLoss([3, 1, 2], 0)).toEqual([3, 1, 2]);
  });

  it('gives NaN at a non-finite loss and carries on from the finite values before it', () => {
    const s = smoothLoss([1, NaN, 2, Infinity], 0.5);
    expect(s[0]).toBe(1);
    expect(s[1]).toBeNaN();
    expect(s[2]).toBeCloseTo(1.25 / 0.75, 14);
    expect(s[3]).toBeNaN();
  });

  it('rejects β outside [0, 1)', () => {
    expect(() => smoothLoss([1], 1)).toThrow(UserInputError);
    expect(() => smoothLoss([1], -0.1)).toThrow(/smoothing/);
  });
});

describe('StopRule', () => {
  it('diverges at best + 3·|best| for a positive loss (fastai’s 4 × best)', () => {
    const rule = new StopRule(0, 3);
    expect(rule.push(1).stop).toBeNull();
    expect(rule.push(0.5).stop).toBeNull();
    expect(rule.push(1.9).stop).toBeNull(); // descent 0.5 < |best| 0.5? equal: scale 0.5 → limit 2.0
    expect(rule.push(2.01).stop).toBe('diverged');
  });

  it('uses the descent as the scale when the best loss is near zero', () => {
    const rule = new StopRule(0, 3);
    for (const v of [2, 1, 0.001]) expect(rule.push(v).stop).toBeNull();
    // 4 × best would stop at 0.004; the curve came down by ~2, so 0.5 is noise, not divergence
    expect(rule.push(0.5).stop).toBeNull();
    expect(rule.push(6.1).stop).toBe('diverged');
  });

  it('works for negative losses (4 × best would stop at once)', () => {
    const rule = new StopRule(0, 3);
    for (const v of [-1, -2, -3, -2.5, 0, 5]) expect(rule.push(v).stop).toBeNull();
    expect(rule.push(6.1).stop).toBe('diverged'); // best −3 + 3·3 = 6
  });

  it('stops non-finite at NaN and ±Infinity', () => {
    expect(new StopRule(0.9, 3).push(NaN).stop).toBe('non-finite');
    expect(new StopRule(0.9, 3).push(-Infinity).stop).toBe('non-finite');
  });
});

describe('analyzeRangeTest suggestions', () => {
  const lr = sweepLrs(1e-5, 1, 30, 'exponential');
  // A clean U: falls with log-LR, fastest at index 10, minimum at index 20, then explodes.
  const loss = lr.map((_, i) => (i <= 20 ? 2 - 1.5 / (1 + Math.exp(-(i - 10))) : 0.5 + 0.4 * (i - 20) ** 2));
  const a = analyzeRangeTest(lr, loss, { smoothing: 0 });

  it('finds the steepest descent, the minimum/10 and Smith’s bounds on a clean curve', () => {
    expect(a.outcome).toBe('ok');
    expect([9, 10]).toContain(a.suggestions.steepest!.index); // segment 9→10 or 10→11 straddles the inflection
    expect(a.suggestions.minimum!.index).toBe(20);
    expect(a.suggestions.minimum!.lr).toBeCloseTo(lr[20] / 10, 15);
    // Smith: first point within 10% of the 1.5 descent of the minimum: 1.5/(1+e^−(i−10)) ≥ 1.35 → i ≥ 13
    expect(a.suggestions.smith!.index).toBe(13);
    expect(a.suggestions.smith!.minLr).toBeCloseTo(lr[13] / 10, 15);
    expect(a.stopReason).toBe('diverged');
  });

  it('chooses a third of the LR where the loss climbs back to its start by default, minLr = maxLr / 10', () => {
    // start level 2 (index 0); after the minimum at 20: 0.5 + 0.4·1 = 0.9, then 0.5 + 0.4·4 = 2.1 ≥ 2 at 22
    expect(divergenceIndex(a.smoothedLoss as number[], 20)).toBe(22);
    expect(lr[22] / 3).toBeLessThan(lr[20]); // the grid grows 1.49x a step: 2.2/3 of lr[20]
    expect(a.chosen!.rule).toBe('divergence/3');
    expect(a.chosen!.maxLr).toBeCloseTo(lr[22] / 3, 15);
    expect(a.chosen!.minLr).toBeCloseTo(lr[22] / 30, 15);
    const minLoss = analyzeRangeTest(lr, loss, { smoothing: 0, chooser: 'min-loss/3' });
    expect(minLoss.chosen!.rule).toBe('min-loss/3');
    expect(minLoss.chosen!.maxLr).toBeCloseTo(lr[20] / 3, 15);
  });

  it('caps divergence/3 at the LR of the minimum when the loss wanders long before it explodes', () => {
    // minimum at index 2 (LR 4), back above the start (5) only at index 8 (LR 256): 256/3 > 4
    const g = [1, 2, 4, 8, 16, 32, 64, 128, 256];
    const r = analyzeRangeTest(g, [5, 3, 1, 2, 1.5, 2.5, 2, 3, 6], { smoothing: 0 });
    expect(r.chosen).toEqual({ maxLr: 4, minLr: 0.4, rule: 'divergence/3' });
  });

  it('falls back to min-loss/3 when the loss never climbs back to its start, and says why', () => {
    const g = [1, 2, 4, 8, 16, 32];
    const r = analyzeRangeTest(g, [5, 4, 2, 1, 2, 3], { smoothing: 0 });
    expect(r.chosen).toEqual({ maxLr: 8 / 3, minLr: 8 / 30, rule: 'min-loss/3 (fallback: divergence/3 unavailable: the loss never climbed back near its start)' });
  });

  it('on a real sweep with a transient dip (MNIST CNN), picks 3x the LR min-loss/3 picks', () => {
    // test/fixtures/range-test/mnist-cnn-transient-dip.json: the early dip at 0.0335 is the minimum
    // although training goes on improving up to ~0.2 after a jump at 0.04; the loss is back above its
    // start at 0.272: min(0.272/3, 0.0335).
    const real = JSON.parse(readFileSync('test/fixtures/range-test/mnist-cnn-transient-dip.json', 'utf8')) as { lr: number[]; loss: number[] };
    const byDefault = analyzeRangeTest(real.lr, real.loss);
    const minLoss = analyzeRangeTest(real.lr, real.loss, { chooser: 'min-loss/3' });
    expect(minLoss.suggestions.minimum!.lr * 10).toBeCloseTo(0.0335, 4);
    expect(minLoss.chosen!.maxLr).toBeCloseTo(0.0335 / 3, 4);
    expect(byDefault.chosen!.rule).toBe('divergence/3');
    expect(byDefault.chosen!.maxLr).toBeCloseTo(0.0335, 4);
  });

  it('on a real sweep that collapses to chance level just below its start (MNIST CNN), still finds the climb-back', () => {
    // test/fixtures/range-test/mnist-cnn-chance-plateau.json: smoothed at most 2.482 before its
    // minimum 0.506 at LR 0.277, then a plateau at chance (ln 10 = 2.30) up to 2.395 — never at 2.482.
    // Within a tenth of the descent of the start (2.284) from LR 1.48 on: min(1.48/3, 0.277) = 0.277.
    // Before, the rule was unavailable and min-loss/3 gave 0.092.
    const real = JSON.parse(readFileSync('test/fixtures/range-test/mnist-cnn-chance-plateau.json', 'utf8')) as { lr: number[]; loss: number[] };
    const r = analyzeRangeTest(real.lr, real.loss);
    const s = r.smoothedLoss as number[];
    const minIndex = s.indexOf(Math.min(...s));
    expect(real.lr[minIndex]).toBeCloseTo(0.2768, 4);
    const start = Math.max(...s.slice(0, minIndex + 1));
    expect(start).toBeCloseTo(2.482, 3);
    expect(Math.max(...s.slice(minIndex))).toBeLessThan(start);
    const level = start - 0.1 * (start - s[minIndex]);
    const d = divergenceIndex(s, minIndex)!;
    expect(real.lr[d]).toBeCloseTo(1.482, 3);
    expect(s[d]).toBeGreaterThanOrEqual(level);
    expect(Math.max(...s.slice(minIndex + 1, d))).toBeLessThan(level);
    expect(r.chosen).toEqual({ maxLr: real.lr[minIndex], minLr: real.lr[minIndex] / 10, rule: 'divergence/3' });
    expect(analyzeRangeTest(real.lr, real.loss, { chooser: 'min-loss/3' }).chosen!.maxLr).toBeCloseTo(0.2768 / 3, 4);
  });

  it('on a real coarse sweep (24 steps) smooths less, so the lag does not carry maxLr past the explosion', () => {
    // test/fixtures/range-test/mnist-cnn-short-sweep.json: raw minimum at 0.18, the loss explodes
    // (5.0 from 2.5) at 0.5. With β 0.9 (a lag of ~2 decades here) the smoothed minimum is at 0.30.
    const real = JSON.parse(readFileSync('test/fixtures/range-test/mnist-cnn-short-sweep.json', 'utf8')) as { lr: number[]; loss: number[] };
    expect(real.lr).toHaveLength(24);
    const lagged = analyzeRangeTest(real.lr, real.loss, { smoothing: 0.9 });
    expect(lagged.chosen!.maxLr).toBeCloseTo(0.3008, 4);
    const r = analyzeRangeTest(real.lr, real.loss);
    const beta = defaultSmoothing(5 / 23);
    expect(beta).toBeCloseTo(0.697, 3);
    expect(r.smoothedLoss).toEqual(smoothLoss(real.lr.map((_, i) => real.loss[i]), beta).slice(0, r.smoothedLoss.length));
    expect(r.stopReason).toBe('diverged');
    expect(r.chosen!.rule).toBe('divergence/3');
    expect(r.chosen!.maxLr).toBeCloseTo(0.4963 / 3, 3); // back above the start at the explosion (0.496)
  });

  it('keeps β 0.9 by default unless a sweep is coarse, and never smooths more', () => {
    expect(defaultSmoothing(5 / 99)).toBe(0.9); // the demo's 100 steps over 1e-4..10
    expect(defaultSmoothing(null)).toBe(0.9); // linear sweep
    expect(defaultSmoothing(0.1)).toBeCloseTo(5 / 6, 12); // a lag of 5 steps = half a decade
    expect(defaultSmoothing(1)).toBeCloseTo(1 / 3, 12);
  });

  it('takes the chooser rule by name or as a function', () => {
    const steep = analyzeRangeTest(lr, loss, { smoothing: 0, chooser: 'steepest' });
    expect(steep.chosen).toEqual({ maxLr: steep.suggestions.steepest!.lr, minLr: steep.suggestions.steepest!.lr / 10, rule: 'steepest' });
    const smith = analyzeRangeTest(lr, loss, { smoothing: 0, chooser: 'smith' });
    expect(smith.chosen).toEqual({ maxLr: lr[13], minLr: lr[13] / 10, rule: 'smith' });
    const custom = analyzeRangeTest(lr, loss, { smoothing: 0, chooser: (c) => ({ maxLr: c.lr[c.minIndex] / 2, rule: 'half' }) });
    expect(custom.chosen).toEqual({ maxLr: lr[20] / 2, minLr: lr[20] / 20, rule: 'half' });
  });

  it('falls back when min-loss/3 lies below the tested range, and names the fallback', () => {
    // minimum at index 1 of a coarse grid: lr[1]/3 < lr[0]
    const r = analyzeRangeTest([1, 2, 4, 8, 16], [5, 1, 3, 9, 20], { smoothing: 0, chooser: 'min-loss/3' });
    expect(r.chosen!.rule).toBe('divergence/3 (fallback: min-loss/3 below the tested range)');
    expect(r.chosen!.maxLr).toBe(2); // back above the start (5) at LR 8: min(8/3, the minimum's LR 2)
    const v = analyzeRangeTest([1, 2, 4, 8, 16], [5, 1, 3, 4, 4.5], { smoothing: 0, chooser: 'min-loss/3' });
    expect(v.chosen!.rule).toBe('valley (fallback: min-loss/3 below the tested range, divergence/3 unavailable: the loss never climbed back near its start)');
    expect(v.chosen!.maxLr).toBe(v.suggestions.valley!.lr);
  });

  it('measures slopes against log-LR for an exponential sweep and LR for a linear one', () => {
    const grid = [1e-4, 1e-3, 1e-2, 1.1e-2, 1e-1, 1];
    const l = [1.0, 0.8, 0.6, 0.55, 0.5, 5];
    // per log-LR: −0.2/ln10, −0.2/ln10, −0.05/ln1.1 (steepest), ...; per LR: −0.2/0.0009 (steepest) ...
    expect(analyzeRangeTest(grid, l, { smoothing: 0 }).suggestions.steepest!.index).toBe(2);
    expect(analyzeRangeTest(grid, l, { smoothing: 0, sweep: 'linear' }).suggestions.steepest!.index).toBe(0);
  });

  it('puts the valley halfway into the longest decreasing run (fastai, start index fixed)', () => {
    const l = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 5, 20];
    const g = sweepLrs(1e-4, 1, l.length, 'exponential');
    // run 0..9: sections = 3, index = 0 + 3 + 1 (fastai's start = −1 would give 3)
    expect(analyzeRangeTest(g, l, { smoothing: 0 }).suggestions.valley!.index).toBe(4);
  });

  it('marks an interrupted sweep and uses only the usable points the driver names', () => {
    const r = analyzeRangeTest(lr.slice(0, 22), loss.slice(0, 22), { smoothing: 0, stop: { reason: 'non-finite', usable: 15 } });
    expect(r.stopReason).toBe('non-finite');
    expect(r.stopIndex).toBe(21);
    expect(r.suggestions.minimum!.index).toBe(14);
    const i = analyzeRangeTest(lr.slice(0, 22), loss.slice(0, 22), { smoothing: 0, stop: { reason: 'interrupted', usable: 22 } });
    expect(i.stopReason).toBe('interrupted');
    expect(i.outcome).toBe('low-confidence');
    expect(i.outcomeReason).toMatch(/interrupted/);
  });

  it('rejects inputs that are not a sweep with a UserInputError', () => {
    expect(() => analyzeRangeTest([1, 2], [1], {})).toThrow(UserInputError);
    expect(() => analyzeRangeTest([1, 0.5], [1, 1], {})).toThrow(/lr\[1\]/);
    expect(() => analyzeRangeTest([0, 1], [1, 1], {})).toThrow(/lr\[0\]/);
    expect(() => analyzeRangeTest([1, 2], [1, 1], { chooser: 'median' as 'smith' })).toThrow(/chooser/);
    expect(() => analyzeRangeTest([1, 2], [1, 1], { divergeThreshold: 0 })).toThrow(/divergeThreshold/);
  });

  it('never throws, returns NaN or an edge point on 300 random curves (NaN, Inf, negative, flat)', () => {
    const rng = mulberry32(42);
    for (let t = 0; t < 300; t++) {
      const n = Math.floor(rng.next() * 40);
      const g = n ? sweepLrs(1e-6, 1e-6 * (2 + rng.next() * 1e6), Math.max(n, 2), 'exponential').slice(0, n) : [];
      const kind = t % 4;
      const l = g.map((_, i) => {
        const r = rng.next();
        if (kind === 0 && r < 0.05) return r < 0.025 ? NaN : Infinity;
        if (kind === 1) return 0.7 + 1e-3 * r;
        if (kind === 2) return -5 + Math.cos(i / 3) + r;
        return 3 - 2 * Math.tanh(i / 8) + (i > 30 ? (i - 30) ** 3 : 0) + 0.3 * r;
      });
      const r = analyzeRangeTest(g, l, { sweep: t % 3 ? 'exponential' : 'linear' });
      expect(JSON.stringify(r)).not.toMatch(/NaN|Infinity/);
      const full = {
        sweep: 'exponential', startLr: 1, endLr: 2, numIter: 2, smoothing: 0.9, divergeThreshold: 3, momentum: 0.9,
        weightDecay: null, batchSize: null, lr: g.slice(0, r.smoothedLoss.length), loss: [], ...r,
      };
      expect(RangeTestResult.pick({ suggestions: true, chosen: true, outcome: true, stopReason: true, stopIndex: true }).safeParse(full).success).toBe(true);
      if (r.outcome === 'insufficient-data') expect(r.chosen).toBeNull();
      else {
        const usable = r.smoothedLoss.length;
        for (const s of [r.suggestions.steepest, r.suggestions.valley, r.suggestions.minimum]) {
          if (s) expect(s.index).toBeLessThan(usable);
        }
        // a real descent exists, so the minimum is never the first point
        expect(r.suggestions.minimum!.index).toBeGreaterThan(0);
      }
    }
  });
});
