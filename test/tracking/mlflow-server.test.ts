/**
 * Against a real MLflow server (started once for the suite by test/global-setup.ts): everything
 * logged is read back through MLflow's REST API and compared with the report it came from.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import { readFileSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  LocalTracker,
  MlflowClient,
  MlflowError,
  MlflowTracker,
  SYNC_STATE_FILE,
  createTracker,
  fromWireNumber,
  readEvents,
  resolveMlflowConfig,
  syncRunDir,
} from '../../src/sdk/tracking/index.js';
import type { TuningReport } from '../../src/report/schema.js';
import { logSyntheticTune, mlflowUrl, serverReady, syntheticReport, tmp } from './helpers.js';

const url = mlflowUrl();

function client(experimentName = 'test', extraEnv: NodeJS.ProcessEnv = {}, opts: ConstructorParameters<typeof MlflowClient>[1] = {}): MlflowClient {
  return new MlflowClient(resolveMlflowConfig({ tracking: url, experimentName, env: { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.1', ...extraEnv } }), opts);
}

/** Reads back every run of a synthetic tune and compares it with the report. */
async function expectTuneOnServer(c: MlflowClient, runs: Record<string, string>, handles: { parent: string; stages: Record<string, string>; reportPath: string }, report: TuningReport) {
  const parentId = runs[handles.parent];
  const parent = await c.getRun(parentId);
  const ptags = Object.fromEntries((parent.data.tags ?? []).map((t) => [t.key, t.value]));
  const pparams = Object.fromEntries((parent.data.params ?? []).map((t) => [t.key, t.value]));
  expect(parent.info.status).toBe('FINISHED');
  expect(ptags['mlflow.runName']).toBe('tune');
  expect(ptags['mlflow.source.git.commit']).toBe('abc123');
  expect(ptags['mlflow.source.git.branch']).toBe('main');
  expect(ptags['mlflow.source.git.repoURL']).toBe('https://example.com/r.git');
  expect(ptags['mlflow.user']).toBe('tester');
  expect(ptags['mlflow.source.type']).toMatch(/^(LOCAL|JOB)$/);
  expect(ptags['mlflow.note.content']).toContain('Synthetic tune');
  expect(ptags['mlflow.parentRunId']).toBeUndefined();
  expect(pparams).toMatchObject({ seed: '1', optimizer: 'sgd', 'recommended.maxLr': '0.3', 'recommended.minLr': '0.03', 'recommended.batchSize': '64', 'recommended.weightDecay': '0.0001' });
  expect(ptags['superconverge.recommended.momentumMax']).toBe('0.95');
  expect(ptags['superconverge.why.maxLr']).toBe('min-loss LR / 3');
  const files = await c.listArtifacts(parentId);
  expect(files.map((f) => f.path)).toContain('report.json');
  expect(JSON.parse(await c.downloadArtifact(parent.info, 'report.json'))).toEqual(report);

  for (const s of report.stages) {
    const run = await c.getRun(runs[handles.stages[s.id]]);
    const tags = Object.fromEntries((run.data.tags ?? []).map((t) => [t.key, t.value]));
    expect(tags['mlflow.parentRunId']).toBe(parentId);
    expect(tags['mlflow.runName']).toBe(s.id);
    expect(run.info.status).toBe(s.status === 'failed' ? 'FAILED' : 'FINISHED');
    const params = Object.fromEntries((run.data.params ?? []).map((t) => [t.key, t.value]));
    for (const [k, v] of Object.entries(s.params)) expect(params[k]).toBe(String(v));
    const tests = [...(s.rangeTest ? [['', s.rangeTest] as const] : []), ...Object.entries(s.rangeTests ?? {}).map(([k, v]) => [`${k}/`, v] as const)];
    for (const [prefix, rt] of tests) {
      const lr = await c.getMetricHistory(run.info.run_id, `${prefix}lr`);
      const loss = await c.getMetricHistory(run.info.run_id, `${prefix}loss`);
      const smooth = await c.getMetricHistory(run.info.run_id, `${prefix}smoothedLoss`);
      expect(lr.length).toBe(rt.lr.length);
      expect(loss.length).toBe(rt.loss.length);
      expect(smooth.length).toBe(rt.smoothedLoss.length);
      const byStep = (h: typeof lr) => new Map(h.map((m) => [Number(m.step), fromWireNumber(m.value)]));
      const lrs = byStep(lr);
      const losses = byStep(loss);
      rt.lr.forEach((x, i) => expect(lrs.get(i)).toBeCloseTo(x, 12));
      rt.loss.forEach((x, i) => (x == null ? expect(losses.get(i)).toBeNaN() : expect(losses.get(i)).toBeCloseTo(x, 12)));
      const val = await c.getMetricHistory(run.info.run_id, `${prefix}valLoss`);
      expect(val.map((m) => [Number(m.step), fromWireNumber(m.value)])).toEqual(rt.valLoss.map((v) => [v.index, v.loss]));
    }
    for (const key of ['loss', 'valLoss', 'accuracy', 'lr', 'momentum'] as const) {
      if (!s.training) continue;
      const h = await c.getMetricHistory(run.info.run_id, key);
      const field = { loss: 'trainLoss', valLoss: 'valLoss', accuracy: 'valAccuracy', lr: 'lr', momentum: 'momentum' }[key] as 'trainLoss';
      expect(h.map((m) => [Number(m.step), fromWireNumber(m.value)])).toEqual(s.training.history.map((r) => [r.step, r[field]]));
    }
  }
}

describe.skipIf(!url)('MLflow tracking against a real server', () => {
  const servers: Server[] = [];
  beforeAll(() => serverReady(url));
  afterAll(() => servers.forEach((s) => s.close()));

  it('a live tune lands with every point, param, tag, nesting, status and report.json, read back through the API', async () => {
    const dir = tmp();
    const report = syntheticReport(40);
    const tracker = createTracker({ runDir: dir, tracking: url, experimentName: 'live-tune', env: {} }) as MlflowTracker;
    expect(tracker.kind).toBe('mlflow');
    const handles = logSyntheticTune(tracker, report, dir);
    await tracker.close();
    expect(tracker.pendingCount).toBe(0);
    const links = tracker.links()!;
    expect(links.runUrl).toBe(`${url}/#/experiments/${links.experimentId}/runs/${links.runId}`);
    expect(Object.keys(links.stageRuns).sort()).toEqual(['final', 'lr', 'momentum']);
    const runs = Object.fromEntries(Object.entries(tracker.replayer.state.runs).map(([h, r]) => [h, r.runId]));
    expect(links.runId).toBe(runs[handles.parent]);
    await expectTuneOnServer(client(), runs, handles, report);
  });

  it('syncRunDir replays an offline run folder once: a second sync sends nothing and doubles nothing', async () => {
    const dir = tmp();
    const report = syntheticReport(30);
    const local = createTracker({ runDir: dir, env: {} });
    expect(local).toBeInstanceOf(LocalTracker);
    const handles = logSyntheticTune(local, report, dir);
    await local.close();
    const events = readEvents(dir);
    const first = await syncRunDir(dir, { trackingUri: url, experimentName: 'offline', env: {} });
    expect(first.events).toBe(events.length);
    expect(first.sent).toBe(events.length);
    expect(first.alreadySynced).toBe(0);
    expect(first.foundOnServer).toBe(0);
    expect(first.rejected).toEqual([]);
    await expectTuneOnServer(client(), first.runs, handles, report);
    const second = await syncRunDir(dir, { trackingUri: url, experimentName: 'offline', env: {} });
    expect(second.sent).toBe(0);
    expect(second.alreadySynced).toBe(events.length);
    expect(second.runs).toEqual(first.runs);
    // Lose the cursor: the runs are found by their run key and the points read back, not doubled.
    rmSync(join(dir, SYNC_STATE_FILE));
    const third = await syncRunDir(dir, { trackingUri: url, experimentName: 'offline', env: {} });
    expect(third.runs).toEqual(first.runs);
    // Every metric point was found there: those events are counted as found, not as sent.
    const metricEvents = events.filter((e) => e.type === 'metrics').length;
    expect(metricEvents).toBeGreaterThan(10);
    expect(third.foundOnServer).toBe(metricEvents);
    expect(third.sent).toBe(events.length - metricEvents);
    expect(third.alreadySynced).toBe(0);
    await expectTuneOnServer(client(), third.runs, handles, report);
  });

  it('sync sends a folder to the experiment it was logged to, not to MLFLOW_EXPERIMENT_NAME or the default', async () => {
    // The server never answered during the run (port 9: discard): nothing reached MLflow.
    const dir = tmp();
    const report = syntheticReport(20);
    const dead = createTracker({ runDir: dir, tracking: 'http://127.0.0.1:9', experimentName: 'logged-here', env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' }, mlflow: { closeTimeoutMs: 200 } }) as MlflowTracker;
    const handles = logSyntheticTune(dead, report, dir);
    await dead.close();
    const events = readEvents(dir);
    expect(dead.pendingCount).toBe(events.length);
    // Synced later to the server that is up, with another experiment in the environment.
    const s = await syncRunDir(dir, { trackingUri: url, env: { MLFLOW_EXPERIMENT_NAME: 'elsewhere' } });
    expect(s.experimentName).toBe('logged-here');
    expect(s.experimentFrom).toBe('recorded');
    expect(s.experimentId).toBe(await client().getOrCreateExperiment('logged-here'));
    expect(s.sent).toBe(events.length);
    await expectTuneOnServer(client(), s.runs, handles, report);
    const again = await syncRunDir(dir, { trackingUri: url, env: {} });
    expect([again.experimentName, again.sent, again.alreadySynced]).toEqual(['logged-here', 0, events.length]);
    // The cursor lost: the experiment that already holds the folder's runs, found on the server.
    rmSync(join(dir, SYNC_STATE_FILE));
    const lost = await syncRunDir(dir, { trackingUri: url, env: {} });
    expect([lost.experimentName, lost.experimentFrom]).toEqual(['logged-here', 'server']);
    expect(lost.runs).toEqual(s.runs);
    const metricEvents = events.filter((e) => e.type === 'metrics').length;
    expect([lost.foundOnServer, lost.sent]).toEqual([metricEvents, events.length - metricEvents]);
    // --experiment still wins; then the folder is on this server in two experiments, and a sync
    // without --experiment does not guess.
    const other = await syncRunDir(dir, { trackingUri: url, experimentName: 'copy', env: {} });
    expect(other.experimentFrom).toBe('option');
    expect(other.sent).toBe(events.length);
    await expect(syncRunDir(dir, { trackingUri: url, env: {} })).rejects.toThrow(
      /--experiment: the run folder was logged to several experiments — got .*; allowed: one of the experiments this folder was logged to: "logged-here", "copy"/,
    );
  });

  it('an offline folder made with an experiment named is synced to that experiment', async () => {
    const dir = tmp();
    const local = createTracker({ runDir: dir, experimentName: 'named-offline', env: {} });
    expect(local).toBeInstanceOf(LocalTracker);
    const report = syntheticReport(10);
    const handles = logSyntheticTune(local, report, dir);
    await local.close();
    const s = await syncRunDir(dir, { trackingUri: url, env: { MLFLOW_EXPERIMENT_NAME: 'elsewhere' } });
    expect([s.experimentName, s.experimentFrom, s.sent]).toEqual(['named-offline', 'recorded', readEvents(dir).length]);
    expect(s.experimentId).toBe(await client().getOrCreateExperiment('named-offline'));
    await expectTuneOnServer(client(), s.runs, handles, report);
    // without a name nothing is recorded: the environment's experiment, then the default
    const plain = tmp();
    const p = createTracker({ runDir: plain, env: {} });
    logSyntheticTune(p, syntheticReport(5), plain);
    await p.close();
    expect(existsSync(join(plain, SYNC_STATE_FILE))).toBe(false);
    const e = await syncRunDir(plain, { trackingUri: url, env: { MLFLOW_EXPERIMENT_NAME: 'from-env' } });
    expect([e.experimentName, e.experimentFrom]).toEqual(['from-env', 'environment']);
  });

  it('says at close when the server refused events for good (artifacts to a store it does not serve)', async () => {
    // An experiment whose artifacts go to a file: store: the server cannot take them over HTTP.
    const r = await fetch(`${url}/api/2.0/mlflow/experiments/create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'file-store', artifact_location: `file://${tmp()}` }),
    });
    expect(r.status).toBe(200);
    const dir = tmp();
    const status: string[] = [];
    const t = createTracker({ runDir: dir, tracking: url, experimentName: 'file-store', env: {}, mlflow: { onStatus: (m) => status.push(m) } }) as MlflowTracker;
    logSyntheticTune(t, syntheticReport(10), dir);
    await t.close();
    const artifacts = readEvents(dir).filter((e) => e.type === 'artifact').length;
    expect(artifacts).toBeGreaterThan(0);
    expect(t.replayer.state.rejected).toHaveLength(artifacts);
    expect(t.pendingCount).toBe(0);
    expect(status).toEqual([
      `MLflow refused ${artifacts} event${artifacts === 1 ? '' : 's'} for good: ${t.replayer.state.rejected[0].error}`,
    ]);
    expect(status[0]).toMatch(/start the server with --serve-artifacts \(artifact proxying\) so artifacts can be sent and read over HTTP/);
    // a later sync does not retry them, and says there were some
    const s = await syncRunDir(dir, { trackingUri: url, env: {} });
    expect([s.sent, s.rejected, s.rejectedEarlier]).toEqual([0, [], artifacts]);
  });

  it('log-batch splits at 1000 metrics, 100 params, 100 tags and the byte limit, and every entity arrives', async () => {
    const c = client();
    const exp = await c.getOrCreateExperiment('batching');
    const run = await c.createRun({ experimentId: exp, runName: 'split' });
    const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: `m${i % 5}`, value: i, timestamp: 1000 + i, step: i }));
    const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: String(i) }));
    const tags = Array.from({ length: 150 }, (_, i) => ({ key: `t${i}`, value: 'x'.repeat(10) }));
    const before = c.requestCount;
    const parts = await c.logBatch(run.run_id, { metrics, params, tags });
    // 2900 entities need 3 requests of 1000; 250 params fit in 3 requests of 100.
    expect(parts).toBe(3);
    expect(c.requestCount - before).toBe(parts);
    const got = await c.getRun(run.run_id);
    expect(got.data.params?.length).toBe(250);
    expect(got.data.tags?.filter((t) => t.key.startsWith('t')).length).toBe(150);
    for (let k = 0; k < 5; k++) expect((await c.getMetricHistory(run.run_id, `m${k}`)).length).toBe(500);
    // Byte limit: 30 tags of 5000 chars ~ 150 kB; a 100 kB limit splits them into 2 requests.
    const small = client('test', {}, { batchLimits: { bytes: 100_000 } });
    const big = Array.from({ length: 30 }, (_, i) => ({ key: `big${i}`, value: 'y'.repeat(5000) }));
    expect(await small.logBatch(run.run_id, { tags: big })).toBe(2);
    expect((await c.getRun(run.run_id)).data.tags?.filter((t) => t.key.startsWith('big')).length).toBe(30);
  });

  it('getOrCreateExperiment is race-safe: 4 concurrent callers get one experiment id', async () => {
    const name = `race-${Date.now()}`;
    const ids = await Promise.all([0, 1, 2, 3].map(() => client().getOrCreateExperiment(name)));
    expect(new Set(ids).size).toBe(1);
  });

  it('NaN and ±Infinity are sent as MLflow strings and read back as non-finite', async () => {
    const c = client();
    const run = await c.createRun({ experimentId: await c.getOrCreateExperiment('nonfinite'), runName: 'nan' });
    await c.logBatch(run.run_id, { metrics: [NaN, Infinity, -Infinity, 1.5].map((v, i) => ({ key: 'x', value: i === 3 ? v : (['NaN', 'Infinity', '-Infinity'] as const)[i], timestamp: 1, step: i })) });
    const h = (await c.getMetricHistory(run.run_id, 'x')).sort((a, b) => a.step - b.step);
    expect(fromWireNumber(h[0].value)).toBeNaN();
    expect(fromWireNumber(h[1].value)).toBeGreaterThan(1e308);
    expect(fromWireNumber(h[2].value)).toBeLessThan(-1e308);
    expect(fromWireNumber(h[3].value)).toBe(1.5);
  });

  /** A proxy in front of the real server that answers the first `failures` requests itself. */
  async function proxy(reply: (n: number) => { status: number; headers?: Record<string, string>; body: string } | undefined): Promise<string> {
    let n = 0;
    const target = new URL(url);
    const srv = createServer((req, res) => {
      const own = reply(n++);
      if (own) {
        res.writeHead(own.status, own.headers);
        res.end(own.body);
        return;
      }
      const up = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    });
    servers.push(srv);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const addr = srv.address();
    return `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }

  it('503 with Retry-After is retried after the server-given delay, then succeeds', async () => {
    const p = await proxy((n) => (n < 2 ? { status: 503, headers: { 'Retry-After': '1', 'Content-Type': 'text/plain' }, body: 'busy' } : undefined));
    const waits: number[] = [];
    const c = new MlflowClient(resolveMlflowConfig({ tracking: p, env: { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.01' } }), { onRetry: (i) => waits.push(i.waitMs) });
    const t0 = Date.now();
    const id = await c.getOrCreateExperiment('retry-after');
    expect(id).toMatch(/^\d+$/);
    expect(waits).toEqual([1000, 1000]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000);
    expect(c.requestCount).toBeGreaterThanOrEqual(3);
  });

  it('retries are bounded: a server that always answers 503 fails after MLFLOW_HTTP_REQUEST_MAX_RETRIES', async () => {
    const p = await proxy(() => ({ status: 503, body: 'down' }));
    const c = new MlflowClient(resolveMlflowConfig({ tracking: p, env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '3', MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.01', MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: '0' } }));
    const err = await c.getRun('x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MlflowError);
    expect((err as MlflowError).status).toBe(503);
    expect(c.requestCount).toBe(4);
  });

  it('a plain-text 401 is reported clearly and never shows the token or password', async () => {
    const p = await proxy(() => ({ status: 401, headers: { 'Content-Type': 'text/plain' }, body: 'You are not authenticated. Please see docs' }));
    for (const env of [{ MLFLOW_TRACKING_TOKEN: 'tok-SECRET-123' }, { MLFLOW_TRACKING_USERNAME: 'alice', MLFLOW_TRACKING_PASSWORD: 'pw-SECRET-456' }]) {
      const c = new MlflowClient(resolveMlflowConfig({ tracking: p, env }));
      const err = (await c.getExperimentByName('x').catch((e: unknown) => e)) as MlflowError;
      expect(err.status).toBe(401);
      expect(err.message).toContain('HTTP 401: You are not authenticated. Please see docs');
      expect(err.message).toContain('MLFLOW_TRACKING_TOKEN');
      expect(err.message).not.toMatch(/SECRET/);
      expect(err.message).not.toContain(Buffer.from('alice:pw-SECRET-456').toString('base64'));
    }
    // Credentials in the URI become Basic auth and vanish from the URI, errors and links.
    const cfg = resolveMlflowConfig({ tracking: p.replace('http://', 'http://bob:uri-SECRET-789@'), env: {} });
    expect(cfg.trackingUri).toBe(p);
    expect(cfg.auth).toEqual({ kind: 'basic', username: 'bob', password: 'uri-SECRET-789' });
    const err = (await new MlflowClient(cfg).getRun('r').catch((e: unknown) => e)) as MlflowError;
    expect(err.message).not.toContain('SECRET');
  });

  it('a tracker sending through a failing proxy keeps the token out of its run folder', async () => {
    const p = await proxy(() => ({ status: 500, body: 'oops' }));
    const dir = tmp();
    const t = createTracker({ runDir: dir, tracking: p, env: { MLFLOW_TRACKING_TOKEN: 'tok-SECRET-999', MLFLOW_HTTP_REQUEST_MAX_RETRIES: '0' }, mlflow: { closeTimeoutMs: 500 } }) as MlflowTracker;
    const r = t.startRun('x');
    t.logMetrics(r, { loss: 1 }, 0);
    await t.close();
    expect(t.lastError).toContain('HTTP 500');
    expect(t.pendingCount).toBe(2);
    for (const f of ['events.jsonl', SYNC_STATE_FILE]) if (existsSync(join(dir, f))) expect(readFileSync(join(dir, f), 'utf8')).not.toContain('SECRET');
    expect(t.lastError).not.toContain('SECRET');
  });
});
