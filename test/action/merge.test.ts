import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseReport, type Stage, type TuningReport } from '../../src/report/index.js';
import { mergeReports, remakeDecision } from '../../src/report/merge.js';

const full = parseReport(JSON.parse(readFileSync(new URL('../fixtures/full-report.json', import.meta.url), 'utf8')));

/** A leg that ran only the weight-decay candidates `values` (its own decision over them). */
function weightDecayLeg(id: string, values: number[]): TuningReport {
  const r = structuredClone(full);
  r.id = id;
  r.status = 'partial';
  r.final = null;
  r.baseline = null;
  r.diagnosis = null;
  const wd = r.stages.find((s) => s.id === 'weight-decay') as Stage;
  const d = wd.decision!;
  d.candidates = d.candidates.filter((c) => values.includes(c.value as number));
  const best = [...d.candidates].sort((a, b) => (a.metric as number) - (b.metric as number))[0];
  d.winner = best.value;
  r.stages = [wd];
  r.recommendations = { ...r.recommendations, weightDecay: best.value as number, why: { weightDecay: 'leg decision' } };
  return r;
}

describe('mergeReports', () => {
  it('re-decides the weight decay across legs: each leg picked its own best, the merge picks the global best', () => {
    const a = weightDecayLeg('leg-a', [0.001, 0.00001]); // leg winner 1e-5 (0.1127)
    const b = weightDecayLeg('leg-b', [0.0001, 0]); // leg winner 1e-4 (0.1039)
    expect(a.recommendations.weightDecay).toBe(0.00001);
    const m = mergeReports([a, b]);
    const wd = m.stages.find((s) => s.id === 'weight-decay')!;
    expect(wd.decision!.candidates.map((c) => c.value)).toEqual([0.001, 0.00001, 0.0001, 0]);
    expect(wd.decision!.winner).toBe(0.0001);
    expect(m.recommendations.weightDecay).toBe(0.0001);
    expect(m.recommendations.why.weightDecay).toMatch(/re-decided across 2 partial reports/);
    // the first leg's 1e-5 and the second's 1e-4 disagree before the re-decision: reported
    expect(m.warnings.some((w) => w.includes('weightDecay'))).toBe(true);
    expect(m.id).toBe('merged-leg-a+leg-b');
    expect(m.status).toBe('partial');
    // the merged document is a valid TuningReport
    expect(parseReport(JSON.parse(JSON.stringify(m))).recommendations.weightDecay).toBe(0.0001);
  });

  it('concatenates distinct stages in recipe order and keeps the one final training', () => {
    const lr = structuredClone(full);
    lr.id = 'lr';
    lr.stages = full.stages.filter((s) => s.kind === 'final-training' || s.kind === 'lr-range-test').reverse();
    const bs = structuredClone(full);
    bs.id = 'bs';
    bs.final = null;
    bs.stages = full.stages.filter((s) => s.kind === 'batch-size');
    bs.wallSeconds = full.wallSeconds + 100;
    const m = mergeReports([lr, bs]);
    expect(m.stages.map((s) => s.id)).toEqual(['lr-range-test', 'batch-size', 'final-training']);
    expect(m.final?.test?.accuracy).toBe(0.982);
    expect(m.wallSeconds).toBe(full.wallSeconds + 100);
    // batch size decided by one part only: taken as written, not re-decided
    expect(m.recommendations.batchSize).toBe(128);
    expect(m.recommendations.why.batchSize).toBe(full.recommendations.why.batchSize);
  });

  it('takes the worst status: failed beats interrupted beats partial', () => {
    const p = (status: TuningReport['status'], id: string) => ({ ...structuredClone(full), status, id });
    expect(mergeReports([p('complete', 'a'), p('complete', 'b')]).status).toBe('complete');
    expect(mergeReports([p('complete', 'a'), p('partial', 'b')]).status).toBe('partial');
    expect(mergeReports([p('interrupted', 'a'), p('partial', 'b')]).status).toBe('interrupted');
    expect(mergeReports([p('interrupted', 'a'), p('failed', 'b')]).status).toBe('failed');
  });

  it('refuses an empty list and a different schema version', () => {
    expect(() => mergeReports([])).toThrow(/no partial reports/);
    const odd = { ...structuredClone(full), schemaVersion: '0.9' } as unknown as TuningReport;
    expect(() => mergeReports([full, odd])).toThrow(/schemaVersion 0.9; expected 1.0/);
  });
});

describe('remakeDecision', () => {
  it('gives no winner when the parts measured different metrics', () => {
    const d = remakeDecision(
      'weightDecay',
      [
        { value: 1e-4, metric: 0.1, metricName: 'valLoss' },
        { value: 1e-3, metric: 0.9, metricName: 'valAccuracy' },
      ],
      'rule',
      'Weight decay',
    );
    expect(d.winner).toBeNull();
    expect(d.confidence).toBe('low');
  });

  it('is low-confidence when the runner-up is inside the combined spread, and a diverged candidate loses', () => {
    const d = remakeDecision(
      'batchSize',
      [
        { value: 64, metric: null, metricName: 'valLoss' },
        { value: 128, metric: 0.110, metricName: 'valLoss', spread: 0.003 },
        { value: 256, metric: 0.113, metricName: 'valLoss', spread: 0.003 },
      ],
      'rule',
      'Batch size',
    );
    expect(d.winner).toBe(128);
    expect(d.confidence).toBe('low'); // 0.003 <= hypot(0.003, 0.003) = 0.00424
    const clear = remakeDecision('batchSize', [
      { value: 128, metric: 0.110, metricName: 'valLoss', spread: 0.001 },
      { value: 256, metric: 0.130, metricName: 'valLoss', spread: 0.001 },
    ], 'rule', 'Batch size');
    expect(clear.confidence).toBe('high');
  });
});
