import { describe, expect, it } from 'vitest';
import { rangePoints } from '../../src/reporters/data.js';
import { loadFixture } from './helpers.js';

describe('fixture reports', () => {
  it('the full report is a valid recipe report whose range test falls then diverges over ~100 points', () => {
    const r = loadFixture('full-report');
    expect(r.stages.map((s) => s.kind)).toEqual(['lr-range-test', 'batch-size', 'momentum', 'weight-decay', 'final-training', 'baseline']);
    const rt = r.stages[0].rangeTest!;
    const pts = rangePoints(rt);
    expect(pts.length).toBeGreaterThanOrEqual(90);
    expect(rt.stopReason).toBe('diverged');
    const sm = pts.map((p) => p.smoothed as number);
    const min = Math.min(...sm);
    expect(min).toBeLessThan(sm[0] * 0.5); // falls
    expect(sm[sm.length - 1]).toBeGreaterThan(min * 4); // then diverges (4x rule)
    expect(rt.chosen!.maxLr).toBeCloseTo(rt.suggestions.minimum!.lr / 3, 2);
    expect(r.final!.test!.accuracy).toBeCloseTo(0.982, 3);
    expect(r.baseline!.test!.accuracy).toBeCloseTo(0.972, 3);
    for (const kind of ['batch-size', 'momentum', 'weight-decay'] as const) {
      const stage = r.stages.find((s) => s.kind === kind)!;
      const best = [...stage.decision!.candidates].sort((a, b) => (a.metric as number) - (b.metric as number))[0];
      expect(best.value, `${kind} winner is the lowest metric`).toBe(stage.decision!.winner);
      expect(stage.series.length).toBe(stage.decision!.candidates.length);
    }
  });

  it('the base report differs in its recommendations', () => {
    const head = loadFixture('full-report').recommendations;
    const base = loadFixture('base-report').recommendations;
    expect(base.maxLr).not.toBe(head.maxLr);
    expect(base.weightDecay).toBe(1e-3);
    expect(head.weightDecay).toBe(1e-4);
    expect(base.batchSize).toBe(64);
  });

  it('the LR-only report has insufficient data and no recommendation', () => {
    const r = loadFixture('lr-only-report');
    expect(r.stages).toHaveLength(1);
    expect(r.stages[0].rangeTest!.outcome).toBe('insufficient-data');
    expect(r.stages[0].rangeTest!.chosen).toBeNull();
    expect(r.recommendations.maxLr).toBeNull();
    expect(r.stages[0].rangeTest!.loss.at(-1)).toBeNull();
  });
});
