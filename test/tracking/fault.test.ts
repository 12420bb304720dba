/**
 * Outage: the MLflow server is stopped in the middle of a run and started again on the same port
 * and store. Training never waits on it, and every point arrives exactly once. This file runs its
 * own server (it kills it), so the suite's shared server is not disturbed.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { MlflowClient, MlflowTracker, fromWireNumber, resolveMlflowConfig } from '../../src/sdk/tracking/index.js';
import { TEMPLATE_DB, findMlflowBin, startMlflowServer, type MlflowServer } from '../support/mlflow-server.js';
import { mlflowUrl, serverReady, tmp } from './helpers.js';

const sharedUrl = mlflowUrl();
const bin = findMlflowBin();

describe.skipIf(!sharedUrl || !bin)('MLflow outage in the middle of a run', () => {
  let server: MlflowServer | undefined;
  afterAll(async () => server?.stop());

  it('a server stopped and restarted mid-run receives every point exactly once, and logging never blocks', async () => {
    const shared = inject('mlflowDir');
    let template: string | undefined;
    if (shared) {
      // The suite's server leaves an empty migrated store once it is up: start from a copy.
      await serverReady(sharedUrl);
      template = join(shared, TEMPLATE_DB);
    }
    server = await startMlflowServer({ bin: bin!, templateDb: template });
    const startSeconds = server.startSeconds;
    const env = { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '2', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.2', MLFLOW_HTTP_REQUEST_TIMEOUT: '5' };
    const config = resolveMlflowConfig({ tracking: server.url, experimentName: 'outage', env });
    const dir = tmp();
    const status: string[] = [];
    const tracker = new MlflowTracker(dir, config, { flushIntervalMs: 200, batchMetrics: 300, maxOfflineBackoffMs: 1000, closeTimeoutMs: 60_000, onStatus: (s) => status.push(s) });
    const parent = tracker.startRun('tune');
    const run = tracker.startRun('stage', { parent });
    const steps = 900;
    const calls: number[] = [];
    const step = async (i: number) => {
      const t0 = performance.now();
      tracker.logMetrics(run, { loss: 1 / (i + 1), lr: 1e-4 * 1.01 ** i, momentum: i % 7 === 0 ? NaN : 0.9 }, i);
      calls.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 2));
    };
    for (let i = 0; i < 300; i++) await step(i);
    await server.stop();
    for (let i = 300; i < 600; i++) await step(i);
    const restart = server.start();
    for (let i = 600; i < steps; i++) await step(i);
    await restart;
    console.info(`[fault] mlflow server start ${startSeconds.toFixed(1)} s, restart ${server.startSeconds.toFixed(1)} s`);
    tracker.endRun(run, 'FINISHED');
    tracker.endRun(parent, 'FINISHED');
    await tracker.close();
    expect(tracker.pendingCount).toBe(0);
    // The outage was seen and recovered from.
    expect(status.some((s) => /kept in the run folder/.test(s))).toBe(true);
    expect(status.some((s) => /is back/.test(s))).toBe(true);
    // A logging call is a queue push (plus a buffered file append): even with the server gone it
    // stays far below a training step. The max allows for preemption on a loaded 2-core machine.
    calls.sort((a, b) => a - b);
    expect(calls[Math.floor(calls.length * 0.99)]).toBeLessThan(10);
    expect(calls.at(-1)).toBeLessThan(250);

    const c = new MlflowClient(config);
    const runId = tracker.replayer.state.runs[run].runId;
    for (const key of ['loss', 'lr', 'momentum']) {
      const h = await c.getMetricHistory(runId, key);
      expect(h.length).toBe(steps);
      expect(new Set(h.map((m) => Number(m.step))).size).toBe(steps);
    }
    const loss = new Map((await c.getMetricHistory(runId, 'loss')).map((m) => [Number(m.step), fromWireNumber(m.value)]));
    for (const i of [0, 299, 300, 450, 599, 600, 899]) expect(loss.get(i)).toBeCloseTo(1 / (i + 1), 12);
    const mom = await c.getMetricHistory(runId, 'momentum');
    expect(mom.filter((m) => Number.isNaN(fromWireNumber(m.value))).length).toBe(Math.ceil(steps / 7));
    expect((await c.getRun(runId)).info.status).toBe('FINISHED');
    const children = await c.searchRuns([tracker.links()!.experimentId], `tags.mlflow.parentRunId = '${tracker.links()!.runId}'`);
    expect(children.map((r) => r.info.run_id)).toEqual([runId]);
  });
});
