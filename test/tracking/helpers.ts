/** Shared pieces of the tracking tests: the server URL (or why there is none) and a synthetic tune. */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { READY_MARKER, waitForHealth } from '../support/mlflow-server.js';
import type { TuningReport, RangeTestResult, Training } from '../../src/report/schema.js';
import { logTuningReport, systemTags, type Tracker } from '../../src/sdk/tracking/index.js';

/** The suite's MLflow server URL; '' when absent (then the file's tests skip, or fail under CI). */
export function mlflowUrl(): string {
  const url = inject('mlflowUrl');
  if (!url) {
    const reason = inject('mlflowSkipReason');
    if (process.env.CI) throw new Error(`an MLflow server is required under CI: ${reason}`);
    console.warn(`[tracking] skipping MLflow server tests: ${reason}`);
  }
  return url;
}

/** Waits for the suite's server (it boots while other test files run). */
export async function serverReady(url: string): Promise<void> {
  const dir = inject('mlflowDir');
  if (!dir) return waitForHealth(url, 170_000);
  const deadline = Date.now() + 170_000;
  while (!existsSync(join(dir, READY_MARKER))) {
    if (Date.now() > deadline) throw new Error(`the suite's MLflow server did not become ready: see ${join(dir, 'server.log')}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function tmp(prefix = 'sc-track-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

function rangeTest(n: number, withNonFinite: boolean): RangeTestResult {
  const lr = Array.from({ length: n }, (_, i) => 1e-5 * Math.pow(1e6, i / (n - 1)));
  const loss: Array<number | null> = lr.map((x, i) => 2.3 - Math.log10(x / 1e-5) * 0.3 + (i % 3) * 0.01);
  const smoothedLoss: Array<number | null> = loss.map((v) => (v == null ? null : v + 0.005));
  if (withNonFinite) {
    loss[n - 1] = null;
    smoothedLoss[n - 1] = null;
  }
  return {
    sweep: 'exponential', startLr: lr[0], endLr: lr[n - 1], numIter: n, smoothing: 0.98, divergeThreshold: 4,
    momentum: 0.9, weightDecay: null, batchSize: 64, lr, loss, smoothedLoss,
    valLoss: [{ index: 5, lr: lr[5], loss: 1.9 }],
    stopReason: withNonFinite ? 'non-finite' : 'finished', stopIndex: n - 1, outcome: 'ok',
    suggestions: { steepest: { lr: lr[10], index: 10, loss: 1.5, rule: 'steepest descent' }, valley: null, minimum: null, smith: null },
    chosen: { maxLr: 0.3, minLr: 0.03, rule: 'min-loss LR / 3' },
  };
}

function training(epochs: number): Training {
  return {
    name: 'final', optimizer: 'sgd', schedule: '1cycle', epochs, steps: epochs * 10, batchSize: 64,
    hyperParameters: { maxLr: 0.3, momentumMax: 0.95 },
    history: Array.from({ length: epochs }, (_, e) => ({
      epoch: e + 1, step: (e + 1) * 10, trainLoss: 1 / (e + 2), valLoss: 1.1 / (e + 2), valAccuracy: 0.8 + e * 0.03,
      lr: 0.3 / (e + 1), momentum: 0.85 + e * 0.01, seconds: e + 1,
    })),
    test: { loss: 0.2, accuracy: 0.95, n: 100 }, wallSeconds: 5,
  };
}

/** A TuningReport-shaped result of a multi-stage tune, with a NaN at the end of the range test. */
export function syntheticReport(points = 40): TuningReport {
  return {
    schemaVersion: '1.0', kind: 'superconverge.tuning-report', id: 'synthetic-1', title: 'Synthetic tune', createdAt: new Date(0).toISOString(),
    status: 'partial', tool: { name: 'superconverge', version: '0.1.0' },
    environment: { backend: 'cpu', node: process.version, platform: process.platform, versions: {} },
    config: {},
    stages: [
      { id: 'lr', kind: 'lr-range-test', title: 'LR range test', status: 'complete', wallSeconds: 2, params: { batchSize: 64, momentum: 0.9 }, series: [], rangeTest: rangeTest(points, true) },
      {
        id: 'momentum', kind: 'momentum', title: 'Momentum', status: 'failed', wallSeconds: 1, params: { candidates: '0.85,0.9,0.95' }, series: [],
        rangeTests: { '0.9': rangeTest(12, false), '0.95': rangeTest(12, false) }, error: 'synthetic failure',
      },
      { id: 'final', kind: 'final-training', title: 'Final 1cycle', status: 'complete', wallSeconds: 5, params: { maxLr: 0.3, epochs: 4 }, series: [], training: training(4) },
    ],
    recommendations: { maxLr: 0.3, minLr: 0.03, momentumMax: 0.95, momentumMin: 0.85, weightDecay: 0.0001, batchSize: 64, epochs: 4, optimizer: 'sgd', why: { maxLr: 'min-loss LR / 3' } },
    final: training(4), baseline: null, diagnosis: { verdict: 'good-fit', reason: 'val tracks train', suggestion: 'none' },
    wallSeconds: 8, links: { artifacts: [] }, warnings: [],
  };
}

/**
 * Logs a report the way the recipe does: a parent run per tune, a child per stage (FAILED when the
 * stage failed), per-step metrics of the final training, then the report onto the parent.
 */
export function logSyntheticTune(tracker: Tracker, report: TuningReport, runDir: string): { parent: string; stages: Record<string, string>; reportPath: string } {
  const parent = tracker.startRun('tune', { tags: systemTags({ runName: 'tune', note: 'synthetic', git: { sha: 'abc123', branch: 'main', repoUrl: 'https://example.com/r.git' }, user: 'tester' }) });
  tracker.logParams(parent, { seed: 1, optimizer: 'sgd' });
  const stages: Record<string, string> = {};
  for (const s of report.stages) {
    const run = tracker.startRun(s.id, { parent, tags: { 'superconverge.stageId': s.id, 'superconverge.stageKind': s.kind }, params: s.params as Record<string, number | string> });
    stages[s.id] = run;
    for (const h of s.training?.history ?? []) {
      tracker.logMetrics(run, { loss: h.trainLoss ?? NaN, valLoss: h.valLoss ?? NaN, accuracy: h.valAccuracy ?? NaN, lr: h.lr ?? NaN, momentum: h.momentum ?? NaN }, h.step);
    }
  }
  const reportPath = join(runDir, 'report.json');
  writeFileSync(reportPath, JSON.stringify(report));
  logTuningReport(tracker, parent, report, { reportPath, stageRuns: stages });
  for (const s of report.stages) tracker.endRun(stages[s.id], s.status === 'failed' ? 'FAILED' : 'FINISHED');
  tracker.endRun(parent, 'FINISHED');
  return { parent, stages, reportPath };
}
