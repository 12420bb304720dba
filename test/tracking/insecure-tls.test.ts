/**
 * MLFLOW_TRACKING_INSECURE_TLS against a real MLflow server behind an HTTPS reverse proxy with a
 * self-signed certificate made at test time (openssl). Without the variable the certificate is
 * refused with an error that says what to change; with it, a run and its metrics land and are read
 * back through the proxy. The Bearer token goes through the proxy and never into an error.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowClient, MlflowError, MlflowTracker, fromWireNumber, readEvents, resolveMlflowConfig } from '../../src/sdk/tracking/index.js';
import { mlflowUrl, serverReady, tmp } from './helpers.js';

const url = mlflowUrl();
const OPENSSL = ['/usr/bin/openssl', 'openssl'].find((p) => p === 'openssl' || existsSync(p))!;
const TOKEN = 'tok-SECRET-tls-4242';

interface TlsProxy {
  url: string;
  /** Authorization headers the proxy received, in order. */
  auth: Array<string | undefined>;
  /** When set, the proxy answers every request itself and echoes the Authorization header. */
  echo?: { status: number; contentType: string };
  close(): Promise<void>;
}

/** A self-signed certificate for 127.0.0.1 (P-256: generated in milliseconds). */
function selfSignedCert(): { key: string; cert: string } {
  const dir = tmp('sc-tls-');
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync(OPENSSL, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
  ], { stdio: 'pipe' });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

async function startTlsProxy(upstream: string): Promise<TlsProxy> {
  const target = new URL(upstream);
  const proxy: TlsProxy = { url: '', auth: [], close: async () => undefined };
  const server: Server = createServer(selfSignedCert(), (req, res) => {
    proxy.auth.push(req.headers.authorization);
    if (proxy.echo) {
      // A server that repeats the credentials it was given (some auth proxies do) must not leak them.
      const body =
        proxy.echo.contentType === 'application/json'
          ? JSON.stringify({ error_code: 'PERMISSION_DENIED', message: `token not accepted: ${req.headers.authorization}` })
          : `Unauthorized: ${req.headers.authorization} is not valid`;
      res.writeHead(proxy.echo.status, { 'Content-Type': proxy.echo.contentType });
      res.end(body);
      return;
    }
    const up = httpRequest({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  proxy.url = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  proxy.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return proxy;
}

describe.skipIf(!url)('MLFLOW_TRACKING_INSECURE_TLS through an HTTPS proxy with a self-signed certificate', () => {
  let proxy: TlsProxy;
  beforeAll(async () => {
    await serverReady(url);
    proxy = await startTlsProxy(url);
  });
  afterAll(() => proxy?.close());

  const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ MLFLOW_TRACKING_URI: proxy.url, MLFLOW_TRACKING_TOKEN: TOKEN, ...extra });

  it('without it, the certificate is refused at once with an error naming the problem and MLFLOW_TRACKING_INSECURE_TLS', async () => {
    const config = resolveMlflowConfig({ experimentName: 'tls', env: env() });
    expect(config.insecureTls).toBe(false);
    const c = new MlflowClient(config);
    const seenBefore = proxy.auth.length;
    const t0 = Date.now();
    const err = (await c.getOrCreateExperiment('tls').catch((e: unknown) => e)) as MlflowError;
    expect(err).toBeInstanceOf(MlflowError);
    expect(err.errorCode).toBe('TLS_CERTIFICATE');
    expect(err.message).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(err.message).toContain('self-signed certificate');
    expect(err.message).toContain('MLFLOW_TRACKING_INSECURE_TLS=true');
    expect(err.message).toContain(`${proxy.url}/api/2.0/mlflow/experiments/get-by-name`);
    // One line, no stack frames, no token.
    expect(err.message).not.toMatch(/\n|\bat .+:\d+:\d+/);
    expect(err.message).not.toContain('SECRET');
    // A certificate does not fix itself: one attempt, no back-off.
    expect(c.requestCount).toBe(1);
    expect(Date.now() - t0).toBeLessThan(5000);
    // The handshake failed before any request went out: the proxy saw nothing.
    expect(proxy.auth.length).toBe(seenBefore);
  });

  it('without it, a tracker keeps every event in its run folder and reports the certificate problem', async () => {
    const dir = tmp();
    const messages: string[] = [];
    const t = new MlflowTracker(dir, resolveMlflowConfig({ experimentName: 'tls', env: env() }), { closeTimeoutMs: 1000, onStatus: (m) => messages.push(m) });
    const run = t.startRun('refused');
    t.logMetrics(run, { loss: 1 }, 0);
    t.endRun(run);
    await t.close();
    expect(t.pendingCount).toBe(3);
    expect(readEvents(dir).map((e) => e.type)).toEqual(['start', 'metrics', 'end']);
    expect(t.lastError).toContain('MLFLOW_TRACKING_INSECURE_TLS');
    expect(messages.join('\n')).toContain('TLS certificate is not trusted');
    expect(messages.join('\n')).not.toContain('SECRET');
  });

  it('with MLFLOW_TRACKING_INSECURE_TLS=true, a run with metrics is created and read back through the proxy', async () => {
    const config = resolveMlflowConfig({ experimentName: 'tls-insecure', env: env({ MLFLOW_TRACKING_INSECURE_TLS: 'true' }) });
    expect(config.insecureTls).toBe(true);
    expect(config.trackingUri).toBe(proxy.url);
    const before = proxy.auth.length;
    const dir = tmp();
    const t = new MlflowTracker(dir, config);
    const run = t.startRun('through-tls', { params: { maxLr: 0.3 } });
    const loss = (s: number): number => 2.3 / (1 + s);
    for (let s = 0; s < 50; s++) t.logMetrics(run, { loss: s === 49 ? NaN : loss(s), lr: 1e-3 * (s + 1) }, s);
    t.endRun(run, 'FINISHED');
    await t.close();
    expect(t.lastError).toBeUndefined();
    expect(t.pendingCount).toBe(0);
    const runId = t.replayer.state.runs[run].runId;

    const c = new MlflowClient(config);
    const got = await c.getRun(runId);
    expect(got.info.status).toBe('FINISHED');
    expect(got.data.params).toEqual([{ key: 'maxLr', value: '0.3' }]);
    const history = (await c.getMetricHistory(runId, 'loss')).sort((a, b) => a.step - b.step);
    expect(history.length).toBe(50);
    history.forEach((m, s) => (s === 49 ? expect(fromWireNumber(m.value)).toBeNaN() : expect(fromWireNumber(m.value)).toBeCloseTo(loss(s), 12)));
    expect((await c.getMetricHistory(runId, 'lr')).length).toBe(50);
    // The same run, read from the plain server behind the proxy: the proxy forwarded, not invented.
    const direct = new MlflowClient(resolveMlflowConfig({ tracking: url, env: {} }));
    expect((await direct.getMetricHistory(runId, 'loss')).length).toBe(50);
    // Every request through the proxy carried the Bearer token.
    const seen = proxy.auth.slice(before);
    expect(seen.length).toBeGreaterThanOrEqual(4);
    expect(new Set(seen)).toEqual(new Set([`Bearer ${TOKEN}`]));
  });

  it('a Bearer token echoed back by the server through the proxy never appears in an error message', async () => {
    const c = new MlflowClient(resolveMlflowConfig({ env: env({ MLFLOW_TRACKING_INSECURE_TLS: '1' }) }));
    try {
      for (const echo of [
        { status: 401, contentType: 'text/plain' },
        { status: 403, contentType: 'application/json' },
      ]) {
        proxy.echo = echo;
        const err = (await c.getRun('some-run').catch((e: unknown) => e)) as MlflowError;
        expect(err).toBeInstanceOf(MlflowError);
        expect(err.status).toBe(echo.status);
        // The echo reached the client (so redaction had something to remove) ...
        expect(err.message).toMatch(/Bearer \*\*\*/);
        // ... and the token did not get out.
        expect(err.message).not.toContain('SECRET');
        expect(String(err.stack)).not.toContain('SECRET');
      }
    } finally {
      proxy.echo = undefined;
    }
  });
});
