/** Tracking pieces that need no server: batching, configuration, redaction, the local run folder. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  LocalTracker,
  MlflowTracker,
  createTracker,
  parseRetryAfter,
  readEvents,
  redact,
  resolveMlflowConfig,
  splitLogBatch,
  systemTags,
  toWireNumber,
} from '../../src/sdk/tracking/index.js';
import { logSyntheticTune, syntheticReport, tmp } from './helpers.js';

const m = (i: number) => ({ key: `k${i % 7}`, value: i, timestamp: 1, step: i });

describe('splitLogBatch', () => {
  it('keeps every request within 1000 metrics, 100 params, 100 tags, 1000 entities, in order', () => {
    const metrics = Array.from({ length: 10_000 }, (_, i) => m(i));
    const params = Array.from({ length: 230 }, (_, i) => ({ key: `p${i}`, value: 'v' }));
    const tags = Array.from({ length: 120 }, (_, i) => ({ key: `t${i}`, value: 'v' }));
    const parts = splitLogBatch({ metrics, params, tags });
    expect(parts.length).toBe(11); // 10,350 entities / 1000
    for (const p of parts) {
      expect(p.metrics.length).toBeLessThanOrEqual(1000);
      expect(p.params.length).toBeLessThanOrEqual(100);
      expect(p.tags.length).toBeLessThanOrEqual(100);
      expect(p.metrics.length + p.params.length + p.tags.length).toBeLessThanOrEqual(1000);
    }
    expect(parts.flatMap((p) => p.metrics)).toEqual(metrics);
    expect(parts.flatMap((p) => p.params)).toEqual(params);
    expect(parts.flatMap((p) => p.tags)).toEqual(tags);
  });

  it('splits at the byte limit (1 MB by default)', () => {
    const tags = Array.from({ length: 100 }, (_, i) => ({ key: `t${i}`, value: 'x'.repeat(20_000) }));
    const parts = splitLogBatch({ tags });
    expect(parts.length).toBe(3);
    for (const p of parts) expect(Buffer.byteLength(JSON.stringify({ run_id: 'x'.repeat(32), ...p }))).toBeLessThan(1_000_000);
  });

  it('encodes NaN and ±Infinity as the strings MLflow expects', () => {
    expect([NaN, Infinity, -Infinity, 0.5].map(toWireNumber)).toEqual(['NaN', 'Infinity', '-Infinity', 0.5]);
  });
});

describe('MLflow configuration', () => {
  it('reads the MLflow environment variables', () => {
    const c = resolveMlflowConfig({
      env: {
        MLFLOW_TRACKING_URI: 'https://mlflow.example.com/',
        MLFLOW_TRACKING_TOKEN: 't0k',
        MLFLOW_TRACKING_INSECURE_TLS: 'true',
        MLFLOW_EXPERIMENT_NAME: 'exp',
        MLFLOW_HTTP_REQUEST_MAX_RETRIES: '2',
        MLFLOW_HTTP_REQUEST_TIMEOUT: '5',
      },
    });
    expect(c).toMatchObject({ trackingUri: 'https://mlflow.example.com', auth: { kind: 'bearer', token: 't0k' }, insecureTls: true, experimentName: 'exp', maxRetries: 2, timeoutMs: 5000 });
    expect(resolveMlflowConfig({ tracking: 'http://h:1', env: { MLFLOW_TRACKING_USERNAME: 'u', MLFLOW_TRACKING_PASSWORD: 'p' } }).auth).toEqual({ kind: 'basic', username: 'u', password: 'p' });
    expect(resolveMlflowConfig({ tracking: 'http://h:1', env: {} })).toMatchObject({ maxRetries: 7, timeoutMs: 120_000, experimentName: 'superconverge' });
    // an empty MLFLOW_EXPERIMENT_NAME is unset; an empty name asked for is an error (the server refuses it)
    expect(resolveMlflowConfig({ tracking: 'http://h:1', env: { MLFLOW_EXPERIMENT_NAME: '' } }).experimentName).toBe('superconverge');
    expect(() => resolveMlflowConfig({ tracking: 'http://h:1', experimentName: '', env: {} })).toThrow(/experiment \(--experiment\): empty — got ""; allowed: a non-empty MLflow experiment name/);
  });

  it('rejects a bad retry count and a non-http URI naming the option', () => {
    expect(() => resolveMlflowConfig({ tracking: 'http://h', env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: 'many' } })).toThrow(/MLFLOW_HTTP_REQUEST_MAX_RETRIES: not a valid number — got "many"/);
    expect(() => resolveMlflowConfig({ tracking: './mlruns', env: {} })).toThrow(UserInputError);
  });

  it('redacts tokens, passwords, Basic credentials and URI userinfo', () => {
    const b64 = Buffer.from('u:hunter22').toString('base64');
    const text = `GET https://u:hunter22@h/x Authorization: Bearer abc.def token abc.def basic ${b64}`;
    const out = redact(text, ['abc.def', 'hunter22', b64]);
    expect(out).not.toMatch(/abc\.def|hunter22/);
    expect(out).not.toContain(b64);
    expect(out).toContain('https://***@h/x');
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4000)).toBe(6000);
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe('createTracker and the local run folder', () => {
  it('chooses MLflow only for an http(s) tracking URI', async () => {
    const local = createTracker({ runDir: tmp(), env: { MLFLOW_TRACKING_URI: 'file:./mlruns' } });
    expect(local.kind).toBe('local');
    const remote = createTracker({ runDir: tmp(), env: { MLFLOW_TRACKING_URI: 'http://127.0.0.1:9' }, mlflow: { closeTimeoutMs: 10 } });
    expect(remote).toBeInstanceOf(MlflowTracker);
    await remote.close();
    await local.close();
  });

  it('does not wait a second time at close when the flush before it gave up on a dead server', async () => {
    // The recipe waits (bounded) for its run links, then closes: with a dead server a tune ended
    // 10 s + 10 s after its last stage. Here close would wait 60 s; it must end long before.
    const status: string[] = [];
    // The client's own retries (7 by default, here 1 s apart) outlast both waits: the tracker has
    // seen no failed send yet when the flush gives up.
    const env = { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.5', MLFLOW_HTTP_REQUEST_BACKOFF_JITTER: '0' };
    const t = createTracker({ runDir: tmp(), tracking: 'http://127.0.0.1:9', env, mlflow: { closeTimeoutMs: 60_000, onStatus: (m) => status.push(m) } }) as MlflowTracker;
    const run = t.startRun('dead');
    t.logMetrics(run, { loss: 1 }, 0);
    t.endRun(run);
    await t.flush(1500);
    const closed = t.close().then(() => 'closed' as const);
    const late = new Promise<'late'>((r) => setTimeout(() => r('late'), 20_000).unref());
    expect(await Promise.race([closed, late])).toBe('closed');
    // said once, at the first retry, with the cause; then what is left and how to send it
    expect(status).toHaveLength(2);
    expect(status[0]).toMatch(/^MLflow: GET http:\/\/127\.0\.0\.1:9\/api\/2\.0\/mlflow\/experiments\/get-by-name: connection failed \(ECONNREFUSED\); retrying, points are kept in the run folder meanwhile$/);
    expect(status[1]).toMatch(/^MLflow: 3 events not sent \(GET .*: connection failed \(ECONNREFUSED\)\); they are kept in .*events\.jsonl: send them with `superconverge sync /);
    expect(t.lastError).toMatch(/connection failed \(ECONNREFUSED\) \(stopped after \d attempts?\)$/);
  });

  it('writes every call as one event line, NaN kept, artifacts copied at call time', async () => {
    const dir = tmp();
    const t = new LocalTracker(dir);
    const report = syntheticReport(10);
    const { reportPath } = logSyntheticTune(t, report, dir);
    writeFileSync(reportPath, 'overwritten later');
    await t.close();
    const events = readEvents(dir);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.type === 'start').length).toBe(4);
    expect(events.filter((e) => e.type === 'end').map((e) => (e.type === 'end' ? e.status : ''))).toEqual(['FINISHED', 'FAILED', 'FINISHED', 'FINISHED']);
    const rtPoints = events.filter((e) => e.type === 'metrics' && Object.keys(e.metrics).some((k) => k.endsWith('smoothedLoss')));
    expect(rtPoints.length).toBe(10 + 12 + 12);
    expect(rtPoints.some((e) => e.type === 'metrics' && e.metrics.loss === 'NaN')).toBe(true);
    const art = events.find((e) => e.type === 'artifact');
    expect(art?.type === 'artifact' && JSON.parse(readFileSync(join(dir, art.file), 'utf8'))).toEqual(report);
    // A second tracker in the same folder continues the sequence and the handles.
    const again = new LocalTracker(dir);
    const h = again.startRun('resume');
    await again.close();
    expect(h).toBe('5-resume');
    expect(readEvents(dir).at(-1)?.seq).toBe(events.length + 1);
  });

  it('refuses a float step and an unknown run handle', () => {
    const t = new LocalTracker(tmp());
    const r = t.startRun('x');
    expect(() => t.logMetrics(r, { loss: 1 }, 0.5)).toThrow(/logMetrics\(step\).*0\.5/);
    expect(() => t.logParams('nope', {})).toThrow(UserInputError);
  });

  it('systemTags fills the mlflow.* tags from git', () => {
    const tags = systemTags({ runName: 'tune', note: '**hi**', user: 'me', cwd: process.cwd() });
    expect(tags['mlflow.runName']).toBe('tune');
    expect(tags['mlflow.user']).toBe('me');
    expect(tags['mlflow.note.content']).toBe('**hi**');
    expect(tags['mlflow.source.git.commit']).toMatch(/^[0-9a-f]{40}$/);
  });
});
