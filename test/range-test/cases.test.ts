/**
 * Every curve of ../shared/cases/range-test-curves.json (rebuilt from public bug reports of peer
 * tools) is a test asserting what its `expect` says, plus the invariants every analysis keeps.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { RangeTestResult } from '../../src/report/schema.js';
import { type Analysis, analyzeRangeTest } from '../../src/sdk/range-test/analysis.js';

interface CurveCase {
  name: string;
  lr: number[];
  loss: Array<number | string>;
  linear?: boolean;
  expect: string;
}
const casesPath = fileURLToPath(new URL('../fixtures/shared/range-test-curves.json', import.meta.url));
const file = JSON.parse(readFileSync(casesPath, 'utf8')) as { cases: CurveCase[] };
const num = (v: number | string) => Number(v); // 'NaN' / 'Infinity' are numbers

function analyse(c: CurveCase): Analysis {
  return analyzeRangeTest(c.lr, c.loss.map(num), { sweep: c.linear ? 'linear' : 'exponential' });
}

const suggestionIndices = (a: Analysis) =>
  [a.suggestions.steepest?.index, a.suggestions.valley?.index, a.suggestions.minimum?.index, a.suggestions.smith?.index].filter(
    (i): i is number => i != null,
  );

function expectInsufficient(a: Analysis) {
  expect(a.outcome).toBe('insufficient-data');
  expect(a.outcomeReason).toMatch(/\w+/);
  expect(a.suggestions).toEqual({ steepest: null, valley: null, minimum: null, smith: null });
  expect(a.chosen).toBeNull();
}

/** Index of the steepest segment of `s` against `x`, searched in [from, to). */
function steepestSegment(s: readonly (number | null)[], x: readonly number[], from: number, to: number): number {
  let best = -1;
  let bestSlope = 0;
  for (let i = from; i < to; i++) {
    const slope = ((s[i + 1] as number) - (s[i] as number)) / (x[i + 1] - x[i]);
    if (slope < bestSlope) [best, bestSlope] = [i, slope];
  }
  return best;
}

const specific: Record<string, (c: CurveCase) => void> = {
  'constant-loss-debias': (c) => {
    const a = analyse(c);
    expect(a.smoothedLoss).toHaveLength(5);
    for (const v of a.smoothedLoss) expect(v).toBeCloseTo(1.0, 12);
    expect(a.stopReason).toBe('finished');
    // A constant loss has no descent: no suggestion rather than an edge point.
    expectInsufficient(a);
  },
  'nan-at-end': (c) => {
    const a = analyse(c);
    expect(a.stopReason).toBe('non-finite');
    expect(a.stopIndex).toBe(6);
    expect(a.smoothedLoss[6]).toBeNull();
    expect(a.outcome).not.toBe('insufficient-data');
    for (const i of suggestionIndices(a)) expect(i).toBeLessThan(6);
    expect(a.chosen!.maxLr).toBeLessThan(c.lr[6]);
    expect(a.suggestions.minimum!.index).toBe(5);
  },
  'nan-in-middle': (c) => {
    const a = analyse(c);
    expect(a.stopReason).toBe('non-finite');
    expect(a.stopIndex).toBe(2);
    // the 0.8 after the NaN is not used: nothing past index 2 is even smoothed
    expect(a.smoothedLoss).toHaveLength(3);
    expect(a.smoothedLoss[2]).toBeNull();
    expectInsufficient(a);
    expect(a.outcomeReason).toMatch(/2 usable points/);
  },
  'negative-losses': (c) => {
    const a = analyse(c);
    // fastai's "loss > 4 × best" would stop at once with a negative best; here no stop before index 8
    expect(a.stopReason === 'finished' || a.stopIndex! >= 8).toBe(true);
    expect(a.outcome).not.toBe('insufficient-data');
    const inDescent = [a.suggestions.steepest!.index, a.suggestions.valley!.index];
    for (const i of inDescent) {
      expect(i).toBeGreaterThanOrEqual(1);
      expect(i).toBeLessThanOrEqual(7);
    }
    expect(a.chosen!.maxLr).toBeGreaterThan(c.lr[1]);
    // Below the LR where the loss has clearly turned up (−2.0 at index 9, from −3.5); the smoothed
    // minimum lags to index 8 on this coarse grid (0.55 decades a step) and the default rule may use it.
    expect(a.chosen!.maxLr).toBeLessThan(c.lr[9]);
  },
  'keep-all-points': (c) => {
    const a = analyse(c);
    expect(a.outcome).not.toBe('insufficient-data');
    expect([0.3, 0.4]).toContain(a.suggestions.steepest!.lr);
    expect(a.chosen).not.toBeNull();
  },
  'too-short': (c) => expectInsufficient(analyse(c)),
  empty: (c) => {
    const a = analyse(c);
    expectInsufficient(a);
    expect(a.stopIndex).toBeNull();
    expect(a.smoothedLoss).toEqual([]);
  },
  'immediate-divergence': (c) => {
    const a = analyse(c);
    expect(['diverged', 'non-finite']).toContain(a.stopReason);
    expect(a.stopIndex!).toBeLessThanOrEqual(11);
    expect(['insufficient-data', 'low-confidence']).toContain(a.outcome);
    expect(a.outcomeReason).toMatch(/\w+/);
  },
  flat: (c) => {
    const a = analyse(c);
    expect(a.stopReason).toBe('finished');
    expect(a.stopIndex).toBe(29);
    expectInsufficient(a);
    expect(a.outcomeReason).toMatch(/no real descent/);
  },
  'non-uniform-linear-grid': (c) => {
    const loss = c.loss.map(num);
    const index = c.lr.map((_, i) => i);
    const exp = analyzeRangeTest(c.lr, loss, { sweep: 'exponential' });
    const m = exp.suggestions.minimum!.index;
    // Against log-LR the segment 0.005 → 0.006 is the steepest; by point index it would be 0.004 → 0.005.
    expect(exp.suggestions.steepest!.index).toBe(steepestSegment(exp.smoothedLoss, c.lr.map(Math.log), 0, m));
    expect(exp.suggestions.steepest!.index).toBe(3);
    expect(steepestSegment(exp.smoothedLoss, index, 0, m)).toBe(2);
    const lin = analyzeRangeTest(c.lr, loss, { sweep: 'linear' });
    expect(lin.suggestions.steepest!.index).toBe(steepestSegment(lin.smoothedLoss, c.lr, 0, lin.suggestions.minimum!.index));
    expect(lin.suggestions.steepest!.lr).toBe(0.004);
  },
};

describe('range-test curves from peer tools’ bug reports', () => {
  it('has a specific test for every case in the file', () => {
    expect(file.cases.map((c) => c.name).sort()).toEqual(Object.keys(specific).sort());
  });

  for (const c of file.cases) {
    describe(c.name, () => {
      it(c.expect, () => specific[c.name](c));

      it('returns fields valid in the report schema, with no NaN and no exception', () => {
        const a = analyse(c);
        const result = {
          sweep: c.linear ? 'linear' : 'exponential',
          startLr: c.lr[0] ?? 1e-7,
          endLr: c.lr.at(-1) ?? 1,
          numIter: Math.max(2, c.lr.length),
          smoothing: 0.9,
          divergeThreshold: 3,
          momentum: 0.9,
          weightDecay: null,
          batchSize: null,
          lr: c.lr.slice(0, a.smoothedLoss.length),
          loss: c.loss.slice(0, a.smoothedLoss.length).map(num).map((v) => (Number.isFinite(v) ? v : null)),
          ...a,
        };
        expect(RangeTestResult.safeParse(result).success).toBe(true);
        expect(JSON.stringify(a)).not.toMatch(/NaN|Infinity/);
        for (const s of [a.suggestions.steepest, a.suggestions.valley, a.suggestions.minimum]) {
          if (s) expect(Number.isFinite(s.lr) && s.lr > 0).toBe(true);
        }
      });
    });
  }
});
