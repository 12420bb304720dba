/**
 * MLflow configuration read the way the official client reads it (environment variables), plus the
 * redaction that keeps secrets out of logs, errors and reports.
 */
import { UserInputError } from '../../errors.js';

export type MlflowAuth =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'basic'; username: string; password: string };

export interface MlflowConfig {
  /** Tracking server base URL without credentials and without a trailing slash. */
  trackingUri: string;
  auth: MlflowAuth;
  /** `MLFLOW_TRACKING_INSECURE_TLS`: skip TLS certificate verification (self-signed servers). */
  insecureTls: boolean;
  experimentName: string;
  /** `MLFLOW_HTTP_REQUEST_MAX_RETRIES` (official default 7). */
  maxRetries: number;
  /** `MLFLOW_HTTP_REQUEST_TIMEOUT` in seconds (official default 120), kept here in ms. */
  timeoutMs: number;
  /** `MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR` (official default 2): wait factor × 2^(attempt-1) s. */
  backoffFactor: number;
  /** `MLFLOW_HTTP_REQUEST_BACKOFF_JITTER` (official default 1): up to this many seconds added. */
  backoffJitter: number;
  /** Upper bound of all retry waits of one request, so a retry loop is bounded in total. */
  maxRetryTotalMs: number;
}

export const DEFAULT_EXPERIMENT_NAME = 'superconverge';

/** True when `uri` is a tracking URI this plugin sends to (http or https). */
export function isHttpTrackingUri(uri: string | undefined): uri is string {
  return typeof uri === 'string' && /^https?:\/\//i.test(uri.trim());
}

function envNumber(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw == null || raw.trim() === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min) throw new UserInputError(name, raw, `a number >= ${min}`, 'not a valid number');
  return n;
}

function envBool(raw: string | undefined): boolean {
  return raw != null && /^(1|true|yes|on)$/i.test(raw.trim());
}

/**
 * Resolves the configuration. `tracking` (the option) wins over `MLFLOW_TRACKING_URI`.
 * Credentials embedded in the URI (`https://user:pass@host`) become Basic auth and are removed from
 * the URI so that the URI can be printed and stored in report.json.
 */
export function resolveMlflowConfig(
  options: { tracking?: string; experimentName?: string; env?: NodeJS.ProcessEnv } = {},
): MlflowConfig {
  const env = options.env ?? process.env;
  if (options.experimentName !== undefined && options.experimentName.trim() === '')
    throw new UserInputError('experiment (--experiment)', options.experimentName, 'a non-empty MLflow experiment name', 'empty');
  const raw = (options.tracking ?? env.MLFLOW_TRACKING_URI ?? '').trim();
  if (!isHttpTrackingUri(raw))
    throw new UserInputError(
      'tracking URI (--tracking-uri or MLFLOW_TRACKING_URI)',
      raw,
      'an http:// or https:// MLflow tracking server URI',
      raw ? 'not an http(s) URI' : 'not set',
    );
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UserInputError('tracking', redactUri(raw), 'an http:// or https:// MLflow tracking server URI', 'not a URL');
  }
  let auth: MlflowAuth = { kind: 'none' };
  if (url.username || url.password) {
    auth = { kind: 'basic', username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    url.username = '';
    url.password = '';
  }
  if (env.MLFLOW_TRACKING_USERNAME || env.MLFLOW_TRACKING_PASSWORD)
    auth = { kind: 'basic', username: env.MLFLOW_TRACKING_USERNAME ?? '', password: env.MLFLOW_TRACKING_PASSWORD ?? '' };
  // The official client prefers the token when both are set.
  if (env.MLFLOW_TRACKING_TOKEN) auth = { kind: 'bearer', token: env.MLFLOW_TRACKING_TOKEN };
  const trackingUri = url.toString().replace(/\/+$/, '');
  return {
    trackingUri,
    auth,
    insecureTls: envBool(env.MLFLOW_TRACKING_INSECURE_TLS),
    // An empty MLFLOW_EXPERIMENT_NAME counts as unset (as an empty MLFLOW_TRACKING_URI does).
    experimentName: options.experimentName ?? (env.MLFLOW_EXPERIMENT_NAME || undefined) ?? DEFAULT_EXPERIMENT_NAME,
    maxRetries: Math.floor(envNumber(env, 'MLFLOW_HTTP_REQUEST_MAX_RETRIES', 7, 0)),
    timeoutMs: envNumber(env, 'MLFLOW_HTTP_REQUEST_TIMEOUT', 120, 0.001) * 1000,
    backoffFactor: envNumber(env, 'MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR', 2, 0),
    backoffJitter: envNumber(env, 'MLFLOW_HTTP_REQUEST_BACKOFF_JITTER', 1, 0),
    maxRetryTotalMs: 120_000,
  };
}

/** Removes `user:pass@` from a URI. */
export function redactUri(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1***@');
}

/** The secret strings of a configuration (for redaction). */
export function secretsOf(auth: MlflowAuth): string[] {
  const out: string[] = [];
  if (auth.kind === 'bearer') out.push(auth.token);
  if (auth.kind === 'basic') {
    if (auth.password) out.push(auth.password, Buffer.from(`${auth.username}:${auth.password}`).toString('base64'));
  }
  return out.filter((s) => s.length >= 3);
}

/** Replaces every secret (and URI credentials) in `text` by `***`. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = redactUri(text).replace(/(https?:\/\/)[^/@\s]*@/gi, '$1***@');
  for (const s of secrets) out = out.split(s).join('***');
  out = out.replace(/(authorization["']?\s*[:=]\s*["']?(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+/gi, '$1***');
  return out;
}

export function authHeader(auth: MlflowAuth): string | undefined {
  if (auth.kind === 'bearer') return `Bearer ${auth.token}`;
  if (auth.kind === 'basic') return `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return undefined;
}
