/**
 * A typed MLflow REST client over undici (MLflow 2.x and 3.x tracking servers).
 * Retries as the official Python client does (408/429/500/502/503/504 and connection errors,
 * exponential backoff with jitter, Retry-After honoured), bounded in total.
 */
import { readFile } from 'node:fs/promises';
import { Agent, type Dispatcher, request as undiciRequest } from 'undici';
import { type LogBatch, type BatchLimits, splitLogBatch, type WireMetric, type WireKeyValue } from './batch.js';
import { type MlflowConfig, authHeader, redact, secretsOf } from './config.js';

export const RETRY_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);
/** urllib3's DEFAULT_BACKOFF_MAX: no single wait is longer. */
const BACKOFF_MAX_MS = 120_000;
/**
 * Error codes of a certificate the client does not trust (Node's TLS / OpenSSL codes, e.g.
 * DEPTH_ZERO_SELF_SIGNED_CERT, SELF_SIGNED_CERT_IN_CHAIN, UNABLE_TO_VERIFY_LEAF_SIGNATURE,
 * CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID).
 */
const TLS_CERT_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/;

export interface MlflowExperiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage?: string;
}
export interface MlflowRunInfo {
  run_id: string;
  run_uuid?: string;
  experiment_id: string;
  run_name?: string;
  status: 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
  start_time?: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage?: string;
}
export interface MlflowRun {
  info: MlflowRunInfo;
  data: { metrics?: WireMetric[]; params?: WireKeyValue[]; tags?: WireKeyValue[] };
}

/** An MLflow API failure. The message never contains credentials. */
export class MlflowError extends Error {
  constructor(
    message: string,
    readonly endpoint: string,
    /** HTTP status, or 0 for a connection error / timeout. */
    readonly status: number,
    readonly errorCode?: string,
  ) {
    super(message);
    this.name = 'MlflowError';
  }
  /** True for failures the official client retries (and we spool and replay). */
  get retryable(): boolean {
    return this.status === 0 || RETRY_STATUSES.has(this.status);
  }
}

interface RawResponse {
  status: number;
  header(name: string): string | null;
  text: string;
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: Buffer | string;
  contentType?: string;
  signal?: AbortSignal;
  /** Overrides the configured number of retries (0 = one attempt). */
  maxRetries?: number;
}

export interface ClientOptions {
  /** Called before each retry wait (for tests and diagnostics). */
  onRetry?: (info: { endpoint: string; attempt: number; waitMs: number; status: number; error: string }) => void;
  /** Replaces the sleep used between retries (tests). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** log-batch limits (tests shrink them to check the splitting against a real server). */
  batchLimits?: Partial<BatchLimits>;
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Parses Retry-After (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return s * 1000;
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

export class MlflowClient {
  /** Number of HTTP requests sent (every attempt counts): the benchmark reads it. */
  requestCount = 0;
  private readonly secrets: string[];
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /**
   * `MLFLOW_TRACKING_INSECURE_TLS`: a connection pool that skips certificate verification, for
   * this client only (the process's other TLS connections keep checking). Otherwise undici's
   * global pool, the one global fetch uses.
   */
  private readonly dispatcher: Dispatcher | undefined;

  constructor(
    readonly config: MlflowConfig,
    private readonly options: ClientOptions = {},
  ) {
    this.secrets = secretsOf(config.auth);
    this.sleep = options.sleep ?? abortableSleep;
    this.dispatcher = config.insecureTls ? new Agent({ connect: { rejectUnauthorized: false } }) : undefined;
  }

  /** Removes secrets from any text before it leaves this client. */
  redact(text: string): string {
    return redact(text, this.secrets);
  }

  /**
   * One HTTP exchange. undici's `request` rather than fetch: the sender runs between training
   * steps, where a fetch cost ~3 ms of CPU and a `request` ~1.5 ms (bench/mlflow-logging.ts).
   */
  private async send(url: string, init: { method: Dispatcher.HttpMethod; headers: Record<string, string>; body?: Buffer | string }, signal: AbortSignal): Promise<RawResponse> {
    const res = await undiciRequest(url, { method: init.method, headers: init.headers, body: init.body, signal, dispatcher: this.dispatcher });
    // Read the body in full, also on errors: the connection goes back to the pool.
    const text = await res.body.text();
    const h = res.headers;
    return {
      status: res.statusCode,
      header: (n) => {
        const v = h[n.toLowerCase()];
        return v == null ? null : Array.isArray(v) ? v.join(', ') : v;
      },
      text,
    };
  }

  /** One REST call with retries. `endpoint` is the path after the tracking URI. */
  async request<T = unknown>(endpoint: string, opts: RequestOptions = {}): Promise<T> {
    const method = opts.method ?? (opts.json !== undefined ? 'POST' : 'GET');
    const qs = opts.query
      ? '?' +
        Object.entries(opts.query)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
          .join('&')
      : '';
    const url = `${this.config.trackingUri}${endpoint}${qs}`;
    const headers: Record<string, string> = { 'User-Agent': 'superconverge-mlflow' };
    const auth = authHeader(this.config.auth);
    if (auth) headers.Authorization = auth;
    let body: Buffer | string | undefined = opts.body;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['Content-Type'] = 'application/json';
    } else if (body != null) headers['Content-Type'] = opts.contentType ?? 'application/octet-stream';
    const maxRetries = opts.maxRetries ?? this.config.maxRetries;
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      let failure: MlflowError;
      const timeout = AbortSignal.timeout(this.config.timeoutMs);
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
      let res: RawResponse | undefined;
      this.requestCount++;
      try {
        res = await this.send(url, { method, headers, body }, signal);
      } catch (err) {
        if (opts.signal?.aborted) throw new MlflowError(`${method} ${endpoint}: aborted`, endpoint, 0, 'ABORTED');
        // undici's `request` rejects with the socket or TLS error itself (fetch wrapped it in `cause`).
        const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
        const tls = TLS_CERT_ERROR.test(e.code ?? '') ? { code: e.code!, message: e.message } : e.cause;
        const code = tls?.code ?? '';
        if (TLS_CERT_ERROR.test(code)) {
          // Retrying cannot fix a certificate: fail at once, saying what to change. The error stays
          // retryable for the tracker (status 0), so the points wait in the spool for `sync`.
          throw new MlflowError(
            this.redact(
              `${method} ${this.config.trackingUri}${endpoint}: the server's TLS certificate is not trusted (${code}: ${tls?.message ?? 'certificate rejected'}). ` +
                'Give Node the CA that signed it (NODE_EXTRA_CA_CERTS=/path/to/ca.pem), or set MLFLOW_TRACKING_INSECURE_TLS=true to skip certificate verification',
            ),
            endpoint,
            0,
            'TLS_CERTIFICATE',
          );
        }
        const why = timeout.aborted ? `no answer within ${this.config.timeoutMs} ms` : (e.code ?? e.cause?.code ?? e.cause?.message ?? e.message);
        failure = new MlflowError(this.redact(`${method} ${this.config.trackingUri}${endpoint}: connection failed (${why})`), endpoint, 0);
      }
      if (res) {
        status = res.status;
        if (status >= 200 && status < 300) {
          if (res.text.trim() === '') return {} as T;
          try {
            return JSON.parse(res.text) as T;
          } catch {
            return { text: res.text } as T;
          }
        }
        failure = this.errorFrom(method, endpoint, res);
        if (!RETRY_STATUSES.has(status)) throw failure;
      }
      if (attempt >= maxRetries) throw failure!;
      const retryAfter = res ? parseRetryAfter(res.header('retry-after')) : undefined;
      const backoff = this.config.backoffFactor * 1000 * 2 ** attempt + Math.random() * this.config.backoffJitter * 1000;
      const waitMs = Math.min(BACKOFF_MAX_MS, retryAfter ?? backoff);
      if (waited + waitMs > this.config.maxRetryTotalMs) throw failure!;
      this.options.onRetry?.({ endpoint, attempt: attempt + 1, waitMs, status, error: failure!.message });
      waited += waitMs;
      try {
        await this.sleep(waitMs, opts.signal);
      } catch {
        // Stopped while waiting to retry: say what was failing, not only that it stopped.
        throw new MlflowError(`${failure!.message} (stopped after ${attempt + 1} attempt${attempt === 0 ? '' : 's'})`, endpoint, 0, 'ABORTED');
      }
    }
  }

  /** JSON errors are `{error_code, message}`; auth and artifact errors may be plain text or HTML. */
  private errorFrom(method: string, endpoint: string, res: RawResponse): MlflowError {
    let code: string | undefined;
    let message: string;
    try {
      const j = JSON.parse(res.text) as { error_code?: string; message?: string; detail?: unknown };
      code = j.error_code;
      message = j.message ?? (j.detail != null ? JSON.stringify(j.detail) : res.text);
    } catch {
      const plain = res.text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
      message = plain.length > 300 ? plain.slice(0, 300) + '…' : plain || '(empty body)';
    }
    const hint =
      res.status === 401 ? ' — check MLFLOW_TRACKING_TOKEN or MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD'
      : res.status === 403 ? ' — the credentials lack permission for this experiment or run'
      : '';
    return new MlflowError(
      this.redact(`${method} ${endpoint} failed: HTTP ${res.status}${code ? ` ${code}` : ''}: ${message}${hint}`),
      endpoint,
      res.status,
      code,
    );
  }

  // ---- experiments ----

  async getExperimentByName(name: string, signal?: AbortSignal): Promise<MlflowExperiment | undefined> {
    try {
      const r = await this.request<{ experiment: MlflowExperiment }>('/api/2.0/mlflow/experiments/get-by-name', {
        query: { experiment_name: name },
        signal,
      });
      return r.experiment;
    } catch (e) {
      if (e instanceof MlflowError && (e.errorCode === 'RESOURCE_DOES_NOT_EXIST' || e.status === 404)) return undefined;
      throw e;
    }
  }

  async createExperiment(name: string, signal?: AbortSignal): Promise<string> {
    const r = await this.request<{ experiment_id: string }>('/api/2.0/mlflow/experiments/create', { json: { name }, signal });
    return r.experiment_id;
  }

  /** Gets or creates; safe when two processes race (the loser sees RESOURCE_ALREADY_EXISTS, HTTP 400). */
  async getOrCreateExperiment(name: string, signal?: AbortSignal): Promise<string> {
    const found = await this.getExperimentByName(name, signal);
    if (found) {
      if (found.lifecycle_stage === 'deleted')
        throw new MlflowError(`experiment "${name}" is deleted on the server: restore it or choose another experiment (--experiment or MLFLOW_EXPERIMENT_NAME)`, 'experiments/get-by-name', 400, 'INVALID_STATE');
      return found.experiment_id;
    }
    try {
      return await this.createExperiment(name, signal);
    } catch (e) {
      if (e instanceof MlflowError && e.errorCode === 'RESOURCE_ALREADY_EXISTS') {
        const again = await this.getExperimentByName(name, signal);
        if (again) return again.experiment_id;
      }
      throw e;
    }
  }

  /** The server's active experiments (id and name), every page. */
  async searchExperiments(signal?: AbortSignal): Promise<Array<{ id: string; name: string }>> {
    const out: Array<{ id: string; name: string }> = [];
    let pageToken: string | undefined;
    do {
      const r = await this.request<{ experiments?: Array<{ experiment_id: string; name: string }>; next_page_token?: string }>('/api/2.0/mlflow/experiments/search', {
        json: { max_results: 1000, view_type: 'ACTIVE_ONLY', page_token: pageToken },
        signal,
      });
      for (const e of r.experiments ?? []) out.push({ id: e.experiment_id, name: e.name });
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  // ---- runs ----

  async createRun(
    args: { experimentId: string; runName?: string; startTime?: number; tags?: Record<string, string> },
    signal?: AbortSignal,
  ): Promise<MlflowRunInfo> {
    const r = await this.request<{ run: MlflowRun }>('/api/2.0/mlflow/runs/create', {
      json: {
        experiment_id: args.experimentId,
        run_name: args.runName,
        start_time: args.startTime ?? Date.now(),
        tags: Object.entries(args.tags ?? {}).map(([key, value]) => ({ key, value })),
      },
      signal,
    });
    return normalizeInfo(r.run.info);
  }

  async updateRun(runId: string, status: MlflowRunInfo['status'], endTime?: number, signal?: AbortSignal): Promise<void> {
    await this.request('/api/2.0/mlflow/runs/update', {
      json: { run_id: runId, run_uuid: runId, status, end_time: endTime ?? Date.now() },
      signal,
    });
  }

  async getRun(runId: string, signal?: AbortSignal): Promise<MlflowRun> {
    const r = await this.request<{ run: MlflowRun }>('/api/2.0/mlflow/runs/get', { query: { run_id: runId }, signal });
    return { ...r.run, info: normalizeInfo(r.run.info) };
  }

  /**
   * Searches runs. `filter` uses MLflow's search syntax, e.g. `tags.x = 'y'`. All pages, unless
   * `limit` asks for the first few (with `orderBy`, e.g. `['attributes.start_time DESC']`).
   */
  async searchRuns(experimentIds: string[], filter = '', signal?: AbortSignal, opts: { orderBy?: string[]; limit?: number } = {}): Promise<MlflowRun[]> {
    const out: MlflowRun[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.request<{ runs?: MlflowRun[]; next_page_token?: string }>('/api/2.0/mlflow/runs/search', {
        json: { experiment_ids: experimentIds, filter, max_results: Math.min(1000, opts.limit ?? 1000), order_by: opts.orderBy, page_token: pageToken },
        signal,
      });
      for (const run of r.runs ?? []) out.push({ ...run, info: normalizeInfo(run.info) });
      pageToken = r.next_page_token || undefined;
    } while (pageToken && (opts.limit == null || out.length < opts.limit));
    return opts.limit == null ? out : out.slice(0, opts.limit);
  }

  async setTag(runId: string, key: string, value: string, signal?: AbortSignal): Promise<void> {
    await this.request('/api/2.0/mlflow/runs/set-tag', { json: { run_id: runId, run_uuid: runId, key, value }, signal });
  }

  /** Logs a batch of any size: split at the server's limits into as few requests as possible. */
  async logBatch(runId: string, batch: Partial<LogBatch>, signal?: AbortSignal): Promise<number> {
    const parts = splitLogBatch(batch, this.options.batchLimits);
    for (const p of parts) await this.request('/api/2.0/mlflow/runs/log-batch', { json: { run_id: runId, ...p }, signal });
    return parts.length;
  }

  /** The full history of one metric (all pages). */
  async getMetricHistory(runId: string, key: string, signal?: AbortSignal): Promise<WireMetric[]> {
    const out: WireMetric[] = [];
    let pageToken: string | undefined;
    do {
      const r = await this.request<{ metrics?: WireMetric[]; next_page_token?: string }>('/api/2.0/mlflow/metrics/get-history', {
        query: { run_id: runId, metric_key: key, max_results: 25000, page_token: pageToken },
        signal,
      });
      out.push(...(r.metrics ?? []));
      pageToken = r.next_page_token || undefined;
    } while (pageToken);
    return out;
  }

  // ---- artifacts (servers started with artifact serving) ----

  /**
   * The proxied-artifact path of a run: `mlflow-artifacts:/1/<run>/artifacts` becomes
   * `/api/2.0/mlflow-artifacts/artifacts/1/<run>/artifacts`. Other artifact stores (s3:, file:)
   * are written by the Python client directly; this plugin needs artifact serving.
   */
  artifactEndpoint(info: Pick<MlflowRunInfo, 'artifact_uri'>, artifactPath: string): string {
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(info.artifact_uri);
    if (!m)
      throw new MlflowError(
        `the run's artifact store is ${this.redact(info.artifact_uri)}: start the server with --serve-artifacts (artifact proxying) so artifacts can be sent and read over HTTP`,
        'mlflow-artifacts',
        400,
        'ARTIFACTS_NOT_SERVED',
      );
    const base = m[1].replace(/^\/+|\/+$/g, '');
    const rel = artifactPath.split(/[\\/]+/).filter(Boolean).map(encodeURIComponent).join('/');
    return `/api/2.0/mlflow-artifacts/artifacts/${base.split('/').map(encodeURIComponent).join('/')}/${rel}`;
  }

  async uploadArtifact(info: Pick<MlflowRunInfo, 'artifact_uri'>, localPath: string, artifactPath: string, signal?: AbortSignal): Promise<void> {
    const body = await readFile(localPath);
    await this.request(this.artifactEndpoint(info, artifactPath), { method: 'PUT', body, signal });
  }

  async listArtifacts(runId: string, path?: string, signal?: AbortSignal): Promise<Array<{ path: string; is_dir: boolean; file_size?: number }>> {
    const r = await this.request<{ files?: Array<{ path: string; is_dir: boolean; file_size?: number }> }>('/api/2.0/mlflow/artifacts/list', {
      query: { run_id: runId, path },
      signal,
    });
    return r.files ?? [];
  }

  async downloadArtifact(info: Pick<MlflowRunInfo, 'artifact_uri'>, artifactPath: string, signal?: AbortSignal): Promise<string> {
    const r = await this.request<unknown>(this.artifactEndpoint(info, artifactPath), { method: 'GET', signal });
    return typeof r === 'object' && r != null && 'text' in r ? String((r as { text: string }).text) : JSON.stringify(r);
  }
}

function normalizeInfo(info: MlflowRunInfo): MlflowRunInfo {
  return { ...info, run_id: info.run_id ?? info.run_uuid };
}
