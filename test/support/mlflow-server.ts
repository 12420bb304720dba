/**
 * Starts a real `mlflow server` for the tests: SQLite backend store, artifact serving, 127.0.0.1,
 * a free port, one worker, background job execution off (it forks a dozen consumer processes we
 * do not need, on 2 cores). Waits on `/health`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_MLFLOW_BIN = join(homedir(), '.cache', 'superconverge', 'mlflow-venv', 'bin', 'mlflow');

/** An empty, migrated store the global setup leaves beside the shared server's store. */
export const TEMPLATE_DB = 'template.db';
/** Written by the global setup beside the store once the server is up and the template copied. */
export const READY_MARKER = 'ready';

export function findMlflowBin(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const bin = env.SUPERCONVERGE_MLFLOW_BIN || DEFAULT_MLFLOW_BIN;
  return existsSync(bin) ? bin : undefined;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForHealth(url: string, timeoutMs: number, proc?: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`mlflow server exited with code ${proc.exitCode} before answering /health`);
    try {
      const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`mlflow server at ${url} did not answer /health within ${timeoutMs} ms`);
}

export interface MlflowServer {
  url: string;
  port: number;
  /** Holds mlflow.db, artifacts/ and server.log. */
  dir: string;
  /** Seconds from spawn to a healthy /health. */
  startSeconds: number;
  /** Process id of the running server (also its process group id), if it runs. */
  readonly pid: number | undefined;
  stop(): Promise<void>;
  /** Starts it again on the same port and store (after `stop`). */
  start(): Promise<void>;
  /** Settles when the first start answered /health (or failed). */
  ready: Promise<void>;
}

/**
 * Starts a server. With `wait: false` it returns as soon as the process is spawned (the port is
 * known), so the suite's other test files run while MLflow boots; `ready` settles on /health.
 */
export async function startMlflowServer(o: { bin: string; dir?: string; port?: number; timeoutMs?: number; templateDb?: string; wait?: boolean }): Promise<MlflowServer> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'sc-mlflow-'));
  mkdirSync(dir, { recursive: true });
  if (o.templateDb && existsSync(o.templateDb) && !existsSync(join(dir, 'mlflow.db'))) copyFileSync(o.templateDb, join(dir, 'mlflow.db'));
  const port = o.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  let proc: ChildProcess | undefined;
  const server: MlflowServer = {
    url,
    port,
    dir,
    startSeconds: 0,
    get pid() {
      return proc?.pid;
    },
    ready: Promise.resolve(),
    async start() {
      const t0 = Date.now();
      const log = openSync(join(dir, 'server.log'), 'a');
      proc = spawn(
        o.bin,
        [
          'server',
          '--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`,
          '--artifacts-destination', join(dir, 'artifacts'),
          '--serve-artifacts',
          '--host', '127.0.0.1',
          '--port', String(port),
          '--workers', '1',
        ],
        {
          // Own process group: `stop` ends the server and the uvicorn worker it forks, nothing else.
          detached: true,
          stdio: ['ignore', log, log],
          env: { ...process.env, MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false', PYTHONUNBUFFERED: '1' },
        },
      );
      await waitForHealth(url, o.timeoutMs ?? 120_000, proc);
      server.startSeconds = (Date.now() - t0) / 1000;
    },
    async stop() {
      const p = proc;
      if (!p || p.exitCode !== null || p.pid == null) return;
      const exited = new Promise<void>((r) => p.once('exit', () => r()));
      try {
        process.kill(-p.pid, 'SIGTERM');
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(-p.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 5000);
      await exited;
      clearTimeout(t);
      // The forked worker may outlive the parent for a moment; wait until the port is free.
      for (let i = 0; i < 40; i++) {
        try {
          await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) });
          await new Promise((r) => setTimeout(r, 250));
        } catch {
          break;
        }
      }
      proc = undefined;
    },
  };
  server.ready = server.start();
  if (o.wait === false) server.ready.catch(() => undefined);
  else await server.ready;
  return server;
}
