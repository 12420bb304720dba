/**
 * The Tracker seam (DESIGN.md): where runs, params, metrics, tags and artifacts go. Every method
 * that logs returns at once (work is queued); `flush`/`close` wait a bounded time.
 * Implementations: the local run folder (default, also the spool) and MLflow.
 */

export type ParamValue = string | number | boolean;
export type RunStatus = 'FINISHED' | 'FAILED' | 'KILLED';

export interface StartRunOptions {
  /** Parent run handle: makes a nested run (`mlflow.parentRunId`). */
  parent?: string;
  tags?: Record<string, string>;
  params?: Record<string, ParamValue>;
}

export interface TrackerLinks {
  trackingUri: string;
  experimentId: string;
  runId: string;
  runUrl?: string;
  /** Stage run ids keyed by stage id. */
  stageRuns: Record<string, string>;
}

export interface Tracker {
  readonly kind: string;
  /** Starts a run and returns its handle (a stable local key, not necessarily a server id). */
  startRun(name: string, options?: StartRunOptions): string;
  logParams(run: string, params: Record<string, ParamValue>): void;
  setTags(run: string, tags: Record<string, string>): void;
  /** Metrics at an integer step; NaN/±Infinity are allowed. */
  logMetrics(run: string, metrics: Record<string, number>, step: number, timestampMs?: number): void;
  /** Uploads a file (copied at call time) under `artifactPath` of the run. */
  logArtifact(run: string, localPath: string, artifactPath?: string): void;
  endRun(run: string, status?: RunStatus): void;
  /** Sends what is queued, waiting at most `timeoutMs`. */
  flush(timeoutMs?: number): Promise<void>;
  /** Flushes within a bounded wait, spools the rest, releases resources. */
  close(): Promise<void>;
  /** Links to the server's runs, when there is a server. */
  links(): TrackerLinks | undefined;
  /** Why the server was last unreachable (redacted), until a send succeeds; none for the local folder. */
  readonly lastError?: string;
}

/** How to send what a run folder's spool still holds. */
export function syncHint(runDir: string): string {
  return `they are kept in ${runDir}/events.jsonl: send them with \`superconverge sync ${runDir}\``;
}
