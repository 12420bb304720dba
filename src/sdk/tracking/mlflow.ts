/**
 * MlflowTracker: logs to an MLflow tracking server without ever holding up training.
 * Every call is written to the local run folder first (the spool), then queued; a background sender
 * ships the queue in `runs/log-batch` requests of up to 1000 metrics. When the server is slow or
 * down, the queue waits (bounded in memory: beyond it, events stay only in the spool and are
 * re-read when the server is back). `close()` flushes within a bounded wait; what is left is in
 * events.jsonl beyond the cursor, for the next tracker in this folder or `superconverge sync`.
 */
import { type MlflowConfig } from './config.js';
import { type TrackingEvent, readEvents } from './events.js';
import { LocalTracker } from './local.js';
import { Replayer, SYNC_STATE_FILE } from './replay.js';
import { type ClientOptions, MlflowClient } from './rest-client.js';
import { type TrackerLinks, syncHint } from './types.js';

export interface MlflowTrackerOptions {
  /** Longest time a point waits in the queue before a (possibly partial) batch is sent. */
  flushIntervalMs?: number;
  /** Metric values per request: a full batch is sent at once (MLflow's limit is 1000). */
  batchMetrics?: number;
  /** Wait bound of `close()` (default 10 s). */
  closeTimeoutMs?: number;
  /** Events kept in memory; beyond, they stay in the spool file until the server catches up. */
  maxQueue?: number;
  /** Longest pause between attempts while the server is unreachable. */
  maxOfflineBackoffMs?: number;
  client?: ClientOptions;
  /** Use this client (tests, benchmark) instead of building one from `config`. */
  mlflowClient?: MlflowClient;
  /** Reports a lost connection / recovery once per change (never with secrets). */
  onStatus?: (message: string) => void;
}

export class MlflowTracker extends LocalTracker {
  override readonly kind = 'mlflow';
  readonly client: MlflowClient;
  readonly replayer: Replayer;
  private queue: TrackingEvent[] = [];
  private queuedMetrics = 0;
  /** Events dropped from memory (still in the spool): re-read when the queue drains. */
  private spilled = false;
  private pumping: Promise<void> | undefined;
  private nextAttemptAt = 0;
  private failures = 0;
  private closed = false;
  /** A flush ran out of time and nothing has been sent since (see close). */
  private flushExpired = false;
  /** The outage was reported (at the client's first retry or the first failed send); reset when a send succeeds. */
  private outageReported = false;
  /** Refusals recorded before this process: `close()` reports only the new ones. */
  private rejectedAtStart = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly abort = new AbortController();
  lastError: string | undefined;
  private readonly opts: Required<Pick<MlflowTrackerOptions, 'flushIntervalMs' | 'batchMetrics' | 'closeTimeoutMs' | 'maxQueue' | 'maxOfflineBackoffMs'>> &
    MlflowTrackerOptions;

  constructor(runDir: string, config: MlflowConfig, options: MlflowTrackerOptions = {}) {
    super(runDir);
    this.opts = { flushIntervalMs: 10_000, batchMetrics: 1000, closeTimeoutMs: 10_000, maxQueue: 200_000, maxOfflineBackoffMs: 15_000, ...options };
    this.client =
      options.mlflowClient ??
      new MlflowClient(config, {
        ...options.client,
        onRetry: (info) => {
          options.client?.onRetry?.(info);
          // The client retries for up to two minutes before a send fails: say so at the first retry,
          // and keep the cause for the report's warning and the message at close.
          this.lastError = this.client.redact(info.error);
          if (!this.outageReported) {
            this.outageReported = true;
            this.opts.onStatus?.(`MLflow: ${this.lastError}; retrying, points are kept in the run folder meanwhile`);
          }
        },
      });
    this.replayer = new Replayer(this.client, runDir, config.experimentName);
    // The experiment on disk from the start: `sync` of a folder whose server never answered sends
    // to it, not to a default.
    this.replayer.save();
    this.rejectedAtStart = this.replayer.state.rejected.length;
    // Events of an earlier process in this folder that never reached this server go first.
    const earlier = this.log.existing;
    this.replayer.rememberStarts(earlier);
    for (const e of earlier) if (!this.replayer.isAcked(e.seq)) this.enqueue(e);
    this.onEvent = (e) => {
      if (this.queue.length >= this.opts.maxQueue) this.spilled = true;
      else if (!this.spilled) this.enqueue(e);
      if (e.type === 'start') {
        // On disk before the run is created: the run key hashes the folder's first line (replay.ts).
        this.log.flushSync();
        this.replayer.rememberStarts([e]);
        // Create the run on the server at once, in the background, so the links are known early
        // and `close()` has only the last batch left to send.
        void this.kick('starts');
      }
      if (this.queuedMetrics >= this.opts.batchMetrics) void this.kick('batch');
    };
    this.timer = setInterval(() => {
      const oldest = this.queue[0];
      if (oldest && Date.now() - oldest.t >= this.opts.flushIntervalMs) void this.kick('all');
    }, Math.min(1000, this.opts.flushIntervalMs));
    this.timer.unref();
  }

  private enqueue(e: TrackingEvent): void {
    this.queue.push(e);
    if (e.type === 'metrics') this.queuedMetrics += countKeys(e.metrics);
  }

  /** Starts one background send unless one is running or the server is in back-off. */
  private kick(mode: 'batch' | 'all' | 'starts', ignoreBackoff = false): Promise<void> {
    if (this.pumping) return this.pumping;
    if (!ignoreBackoff && Date.now() < this.nextAttemptAt) return Promise.resolve();
    this.pumping = this.pumpOnce(mode).finally(() => {
      this.pumping = undefined;
      if (!this.closed && this.queuedMetrics >= this.opts.batchMetrics && Date.now() >= this.nextAttemptAt) void this.kick('batch');
    });
    return this.pumping;
  }

  private async pumpOnce(mode: 'batch' | 'all' | 'starts'): Promise<void> {
    // A prefix of whole events holding at most one request's worth of entities, so a steady stream
    // costs one request per `batchMetrics` points rather than an extra request for a remainder.
    let take = this.queue.length;
    if (mode === 'batch') {
      let n = 0;
      take = 0;
      for (const e of this.queue) {
        const k = entities(e);
        if (take > 0 && n + k > this.opts.batchMetrics) break;
        n += k;
        take++;
      }
    }
    const batch = this.queue.slice(0, take);
    try {
      if (mode === 'starts') await this.replayer.createRuns(batch, { searchBeforeCreate: false, signal: this.abort.signal });
      else await this.replayer.send(batch, { searchBeforeCreate: false, signal: this.abort.signal });
      if (this.outageReported) this.opts.onStatus?.(`MLflow: connection to ${this.client.config.trackingUri} is back; queued points sent`);
      this.failures = 0;
      this.outageReported = false;
      this.flushExpired = false;
      this.nextAttemptAt = 0;
      this.lastError = undefined;
    } catch (err) {
      this.failures++;
      this.lastError = this.client.redact(err instanceof Error ? err.message : String(err));
      if (!this.outageReported && !this.closed) this.opts.onStatus?.(`MLflow: ${this.lastError}; points are kept in the run folder and sent when the server answers`);
      this.outageReported = true;
      this.nextAttemptAt = Date.now() + Math.min(this.opts.maxOfflineBackoffMs, 500 * 2 ** (this.failures - 1));
    } finally {
      this.dropAcked();
    }
  }

  private dropAcked(): void {
    // What was sent is a prefix of the queue; events refused or cut off by an outage stay.
    let metrics = 0;
    const rest: TrackingEvent[] = [];
    for (const e of this.queue) {
      if (this.replayer.isAcked(e.seq)) continue;
      rest.push(e);
      if (e.type === 'metrics') metrics += countKeys(e.metrics);
    }
    this.queue = rest;
    this.queuedMetrics = metrics;
    if (this.spilled && this.queue.length === 0) {
      // Caught up: take the rest from the spool.
      this.log.flushSync();
      this.spilled = false;
      for (const e of readEvents(this.runDir)) if (!this.replayer.isAcked(e.seq)) this.enqueue(e);
    }
  }

  /**
   * Sends everything queued, waiting at most `timeoutMs` (default 10 s). It awaits the send in
   * flight, then sends all the rest in one round, without polling; only an unreachable server
   * makes it wait for the back-off, within the deadline.
   */
  override async flush(timeoutMs = this.opts.closeTimeoutMs): Promise<void> {
    this.log.flushSync();
    const deadline = Date.now() + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<'expired'>((r) => (timer = setTimeout(() => r('expired'), timeoutMs)));
    try {
      while (this.queue.length > 0 || this.spilled || this.pumping) {
        if ((await Promise.race([this.pumping ?? this.kick('all', true), expired])) === 'expired') return;
        if (this.failures > 0 && this.queue.length > 0) {
          // Server unreachable: wait for the back-off rather than spinning, within the deadline.
          const pause = Math.min(this.nextAttemptAt, deadline) - Date.now();
          if (pause > 0 && (await Promise.race([new Promise<void>((r) => setTimeout(r, pause)), expired])) === 'expired') return;
          if (Date.now() >= deadline) return;
        }
      }
    } finally {
      clearTimeout(timer);
      // The loop ends early only when time ran out with something still unsent.
      this.flushExpired = this.queue.length > 0 || this.spilled || Boolean(this.pumping);
    }
  }

  /**
   * Flushes within `closeTimeoutMs`, then stops; unsent events stay in the spool for `sync`. When
   * a flush just before (the recipe's wait for its run links) already spent its time on a server
   * that does not answer, and nothing was sent since, close does not wait a second time.
   */
  override async close(): Promise<void> {
    if (this.closed) return;
    await this.flush(this.flushExpired ? 0 : this.opts.closeTimeoutMs);
    const unsent = this.queue.length > 0 || this.spilled ? this.pendingCount : 0;
    if (unsent > 0) {
      this.opts.onStatus?.(
        `MLflow: ${unsent} event${unsent === 1 ? '' : 's'} not sent${this.lastError ? ` (${this.lastError})` : ''}; ${syncHint(this.runDir)} once the server answers`,
      );
    }
    const refused = this.replayer.state.rejected.slice(this.rejectedAtStart);
    if (refused.length > 0) {
      // Not retried (a 4xx): the run is incomplete on the server although the folder has it all.
      const kinds = new Map<string, number>();
      for (const r of refused) kinds.set(r.error, (kinds.get(r.error) ?? 0) + 1);
      const [first, n] = [...kinds.entries()].sort((a, b) => b[1] - a[1])[0];
      const others = kinds.size > 1 ? ` (${n} of them; the other reasons are in ${SYNC_STATE_FILE})` : '';
      this.opts.onStatus?.(`MLflow refused ${refused.length} event${refused.length === 1 ? '' : 's'} for good: ${first}${others}`);
    }
    this.closed = true;
    clearInterval(this.timer);
    this.abort.abort(new Error('tracker closed'));
    if (this.pumping) await this.pumping.catch(() => undefined);
    this.replayer.save();
    await super.close();
  }

  /** Events not yet on the server (0 after a successful flush). */
  get pendingCount(): number {
    return readEvents(this.runDir).filter((e) => !this.replayer.isAcked(e.seq)).length;
  }

  override links(): TrackerLinks | undefined {
    const s = this.replayer.state;
    if (!s.experimentId) return undefined;
    const entries = Object.entries(s.runs);
    const root = entries.find(([, r]) => !r.parent);
    if (!root) return undefined;
    const [rootHandle, rootRun] = root;
    const stageRuns: Record<string, string> = {};
    for (const [, r] of entries) if (r.parent === rootHandle) stageRuns[r.stageId ?? r.name] = r.runId;
    return {
      trackingUri: this.client.config.trackingUri,
      experimentId: s.experimentId,
      runId: rootRun.runId,
      runUrl: `${this.client.config.trackingUri}/#/experiments/${s.experimentId}/runs/${rootRun.runId}`,
      stageRuns,
    };
  }
}

/** Own keys of a small record, without building the array `Object.keys` makes. */
function countKeys(o: object): number {
  let n = 0;
  for (const k in o) if (Object.hasOwn(o, k)) n++;
  return n;
}

/** Entities an event adds to a log-batch request (metrics, params, tags). */
function entities(e: TrackingEvent): number {
  return e.type === 'metrics' ? countKeys(e.metrics)
    : e.type === 'params' ? countKeys(e.params)
    : e.type === 'tags' ? countKeys(e.tags)
    : e.type === 'start' ? countKeys(e.params)
    : 0;
}
