/**
 * Replays a run folder's events to MLflow exactly once. Used live (the MLflow tracker's background
 * sender) and offline (`syncRunDir`). Idempotence rests on three things:
 * - a cursor in the run folder (`mlflow-sync.json`): the event seqs already on the server and the
 *   server run id of each local run handle;
 * - runs tagged `superconverge.runKey`: a run created before the cursor was saved is found again
 *   by search instead of created twice;
 * - read-back: metrics of a run whose earlier send failed or was cut off are compared with
 *   `metrics/get-history` and only the missing points are sent (a lost response after a committed
 *   write must not double a point).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type WireMetric, type WireKeyValue } from './batch.js';
import { EVENTS_FILE, type TrackingEvent } from './events.js';
import { MlflowClient, MlflowError } from './rest-client.js';

export const SYNC_STATE_FILE = 'mlflow-sync.json';
export const RUN_KEY_TAG = 'superconverge.runKey';

/** MLflow 2.x limits (3.x allows more): values are cut rather than refused. */
const MAX_PARAM_VALUE = 500;
const MAX_TAG_VALUE = 5000;

interface ServerState {
  trackingUri: string;
  experimentName: string;
  experimentId?: string;
  runs: Record<string, { runId: string; artifactUri: string; name: string; parent?: string; stageId?: string }>;
  /** Every seq <= ackedThrough is on the server. */
  ackedThrough: number;
  /** Seqs above ackedThrough already on the server. */
  acked: number[];
  /** Events the server refused for good (4xx): skipped, kept here so a sync reports them. */
  rejected: Array<{ seq: number; error: string }>;
}

interface PendingRun {
  seqs: number[];
  metrics: WireMetric[];
  /** The event seq of each point of `metrics`. */
  metricSeqs: number[];
  params: Map<string, string>;
  tags: Map<string, string>;
}

interface StateFile {
  version: 1;
  servers: Record<string, ServerState>;
}

export interface SendResult {
  /** Events sent. */
  sent: number;
  /** Metric events not sent because reading the run back found every one of their points there. */
  foundOnServer: number;
}

export interface ReplayOptions {
  /** Look for an existing run (by run key) before creating one. */
  searchBeforeCreate: boolean;
  signal?: AbortSignal;
}

/**
 * The experiments a run folder was logged to (from its cursor file), with the tracking URI of each
 * and how many of the folder's events that server has not acknowledged. `sync` sends to the one
 * recorded rather than to a default: a run created in experiment A and completed in the default
 * one would be a second, partial copy.
 */
export function recordedExperiments(runDir: string, eventSeqs: readonly number[]): Array<{ trackingUri: string; experimentName: string; pending: number }> {
  return Object.values(readStateFile(runDir).servers).map((s) => {
    const acked = new Set(s.acked ?? []);
    const pending = eventSeqs.filter((q) => q > (s.ackedThrough ?? 0) && !acked.has(q)).length;
    return { trackingUri: s.trackingUri, experimentName: s.experimentName, pending };
  });
}

/**
 * Records the experiment of a folder logged without a server (no tracking URI, but an experiment
 * asked for), so that a later `sync` sends it there rather than to a default.
 */
export function recordOfflineExperiment(runDir: string, experimentName: string): void {
  const file = readStateFile(runDir);
  const key = `#${experimentName}`;
  if (file.servers[key]) return;
  file.servers[key] = newServerState('', experimentName);
  writeStateFile(runDir, file);
}

/** The cursor file; empty when missing or torn (it is rewritten whole on the next save). */
function readStateFile(runDir: string): StateFile {
  const p = join(runDir, SYNC_STATE_FILE);
  if (!existsSync(p)) return { version: 1, servers: {} };
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as StateFile;
  } catch {
    return { version: 1, servers: {} };
  }
}

/** Write-then-rename: a crash never leaves a torn cursor. */
function writeStateFile(runDir: string, file: StateFile): void {
  const p = join(runDir, SYNC_STATE_FILE);
  writeFileSync(`${p}.tmp`, JSON.stringify(file));
  renameSync(`${p}.tmp`, p);
}

function newServerState(trackingUri: string, experimentName: string): ServerState {
  return { trackingUri, experimentName, runs: {}, ackedThrough: 0, acked: [], rejected: [] };
}

/**
 * The experiment on the server that already holds this folder's first run (found by its run key
 * tag), or undefined. For a folder whose cursor file was lost: sending it to another experiment
 * would make a second copy.
 */
export async function experimentHoldingFolder(client: MlflowClient, runDir: string, events: readonly TrackingEvent[], signal?: AbortSignal): Promise<string | undefined> {
  const first = events.find((e) => e.type === 'start');
  if (!first) return undefined;
  const experiments = await client.searchExperiments(signal);
  const key = `${folderKey(runDir)}/${first.run}`;
  // runs/search takes a list of experiments; chunks keep each request small.
  for (let i = 0; i < experiments.length; i += 100) {
    const chunk = experiments.slice(i, i + 100);
    const [run] = await client.searchRuns(chunk.map((e) => e.id), `tags.\`${RUN_KEY_TAG}\` = '${key}'`, signal, { limit: 1 });
    if (run) return chunk.find((e) => e.id === run.info.experiment_id)?.name;
  }
  return undefined;
}

export function folderKey(runDir: string): string {
  const file = join(runDir, EVENTS_FILE);
  const first = existsSync(file) ? firstLine(file) : runDir;
  return createHash('sha1').update(first).digest('hex').slice(0, 12);
}

/** The first line of a file, reading no further than it (a spool holds megabytes of points). */
function firstLine(file: string): string {
  const fd = openSync(file, 'r');
  try {
    const chunks: Buffer[] = [];
    const buf = Buffer.alloc(4096);
    for (let pos = 0; ; ) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      const nl = buf.subarray(0, n).indexOf(10);
      chunks.push(Buffer.from(buf.subarray(0, nl >= 0 ? nl : n)));
      if (nl >= 0 || n === 0) break;
      pos += n;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export class Replayer {
  readonly state: ServerState;
  private readonly stateKey: string;
  /** The whole cursor file (other servers' cursors are kept as they are). */
  private readonly file: StateFile;
  private dirty = false;
  private readonly ackedSet: Set<number>;
  /** Runs whose metrics must be read back before sending (earlier send failed or unknown). */
  private readonly uncertain = new Set<string>();
  private folderId: string | undefined;
  /** Start events seen so far (a run's start may have been sent in an earlier call). */
  private readonly starts = new Map<string, Extract<TrackingEvent, { type: 'start' }>>();

  constructor(
    readonly client: MlflowClient,
    readonly runDir: string,
    readonly experimentName: string,
  ) {
    this.stateKey = `${client.config.trackingUri}#${experimentName}`;
    const file = readStateFile(runDir);
    this.file = file;
    this.state = file.servers[this.stateKey] ?? newServerState(client.config.trackingUri, experimentName);
    this.ackedSet = new Set(this.state.acked);
    // Runs created by an earlier process: what reached the server is unknown until read back.
    for (const handle of Object.keys(this.state.runs)) this.uncertain.add(handle);
  }

  save(): void {
    this.dirty = false;
    this.state.acked = [...this.ackedSet].sort((a, b) => a - b);
    this.file.servers[this.stateKey] = this.state;
    writeStateFile(this.runDir, this.file);
  }

  isAcked(seq: number): boolean {
    return seq <= this.state.ackedThrough || this.ackedSet.has(seq);
  }

  private ack(seqs: Iterable<number>): void {
    for (const s of seqs) if (s > this.state.ackedThrough) this.ackedSet.add(s);
    while (this.ackedSet.has(this.state.ackedThrough + 1)) {
      this.ackedSet.delete(this.state.ackedThrough + 1);
      this.state.ackedThrough++;
    }
  }

  /** Marks the events before the first of `events` as known (live mode starts after them). */
  rememberStarts(events: readonly TrackingEvent[]): void {
    for (const e of events) if (e.type === 'start') this.starts.set(e.run, e);
  }

  async experimentId(signal?: AbortSignal): Promise<string> {
    if (!this.state.experimentId) {
      this.state.experimentId = await this.client.getOrCreateExperiment(this.experimentName, signal);
      this.save();
    }
    return this.state.experimentId;
  }

  /**
   * Sends the events not yet acknowledged, in order. Throws on the first retryable failure
   * (what succeeded before it stays acknowledged); events the server refuses for good are
   * recorded in `state.rejected` and skipped so they cannot block the rest.
   */
  async send(events: readonly TrackingEvent[], opts: ReplayOptions): Promise<SendResult> {
    const todo = events.filter((e) => !this.isAcked(e.seq));
    this.rememberStarts(todo);
    if (todo.length === 0) return { sent: 0, foundOnServer: 0 };
    const signal = opts.signal;
    await this.experimentId(signal);
    const pending = new Map<string, PendingRun>();
    let sent = 0;
    let foundOnServer = 0;
    /** Metric events of the batch in hand whose every point the read-back found on the server. */
    let found = new Set<number>();
    const guard = async (seqs: number[], fn: () => Promise<void>): Promise<void> => {
      found = new Set();
      try {
        await fn();
        foundOnServer += found.size;
        sent += seqs.length - found.size;
        this.ack(seqs);
      } catch (err) {
        if (err instanceof MlflowError && !err.retryable && err.errorCode !== 'ABORTED') {
          for (const seq of seqs) this.state.rejected.push({ seq, error: err.message });
          this.ack(seqs);
          return;
        }
        throw err;
      } finally {
        this.dirty = true;
      }
    };
    const flushRun = async (run: string): Promise<void> => {
      const p = pending.get(run);
      if (!p) return;
      pending.delete(run);
      const { runId } = await this.ensureRun(run, opts);
      await guard(p.seqs, async () => {
        let metrics = p.metrics;
        if (this.uncertain.has(run)) {
          const missing = await this.missingOnServer(runId, metrics, signal);
          const stillToSend = new Set(missing.map((i) => p.metricSeqs[i]));
          found = new Set(p.metricSeqs.filter((seq) => !stillToSend.has(seq)));
          metrics = missing.map((i) => p.metrics[i]);
        }
        this.uncertain.add(run);
        await this.client.logBatch(
          runId,
          {
            metrics,
            params: [...p.params].map(([key, value]) => ({ key, value })),
            tags: [...p.tags].map(([key, value]) => ({ key, value })),
          },
          signal,
        );
        this.uncertain.delete(run);
      });
    };
    try {
      await this.sendInOrder(todo, pending, opts, flushRun, guard);
      for (const run of [...pending.keys()]) await flushRun(run);
    } finally {
      // One cursor write per send, also when it stops half-way.
      if (this.dirty) this.save();
    }
    return { sent, foundOnServer };
  }

  private async sendInOrder(
    todo: TrackingEvent[],
    pending: Map<string, PendingRun>,
    opts: ReplayOptions,
    flushRun: (run: string) => Promise<void>,
    guard: (seqs: number[], fn: () => Promise<void>) => Promise<void>,
  ): Promise<void> {
    const signal = opts.signal;
    for (const e of todo) {
      if (e.type === 'start') {
        await this.ensureRun(e.run, opts);
        const p = this.pendingOf(pending, e.run);
        p.seqs.push(e.seq);
        for (const [k, v] of Object.entries(e.params)) p.params.set(k, String(v).slice(0, MAX_PARAM_VALUE));
      } else if (e.type === 'params' || e.type === 'tags' || e.type === 'metrics') {
        const p = this.pendingOf(pending, e.run);
        p.seqs.push(e.seq);
        if (e.type === 'params') for (const [k, v] of Object.entries(e.params)) p.params.set(k, String(v).slice(0, MAX_PARAM_VALUE));
        else if (e.type === 'tags') for (const [k, v] of Object.entries(e.tags)) p.tags.set(k, String(v).slice(0, MAX_TAG_VALUE));
        else {
          for (const [key, value] of Object.entries(e.metrics)) {
            p.metrics.push({ key, value, timestamp: e.t, step: e.step });
            p.metricSeqs.push(e.seq);
          }
        }
      } else if (e.type === 'artifact') {
        await flushRun(e.run);
        const info = await this.ensureRun(e.run, opts);
        await guard([e.seq], () => this.client.uploadArtifact({ artifact_uri: info.artifactUri }, join(this.runDir, e.file), e.artifactPath, signal));
      } else if (e.type === 'end') {
        await flushRun(e.run);
        const info = await this.ensureRun(e.run, opts);
        await guard([e.seq], () => this.client.updateRun(info.runId, e.status, e.t, signal));
      }
    }
  }

  /** Creates the server runs of these start events now (their data goes with the next batch). */
  async createRuns(events: readonly TrackingEvent[], opts: ReplayOptions): Promise<void> {
    this.rememberStarts(events);
    for (const e of events) if (e.type === 'start' && !this.state.runs[e.run]) await this.ensureRun(e.run, opts);
  }

  private pendingOf(pending: Map<string, PendingRun>, run: string): PendingRun {
    let p = pending.get(run);
    if (!p) pending.set(run, (p = { seqs: [], metrics: [], metricSeqs: [], params: new Map(), tags: new Map() }));
    return p;
  }

  /** The indices of the points of `metrics` the server does not have yet (and no duplicates within the batch). */
  private async missingOnServer(runId: string, metrics: WireMetric[], signal?: AbortSignal): Promise<number[]> {
    const id = (m: WireMetric): string => `${m.key}\u0000${m.step}\u0000${m.timestamp}\u0000${String(m.value)}`;
    const have = new Set<string>();
    for (const key of new Set(metrics.map((m) => m.key))) {
      for (const m of await this.client.getMetricHistory(runId, key, signal)) have.add(id(normalizeWire(m)));
    }
    const out: number[] = [];
    metrics.forEach((m, i) => {
      const k = id(normalizeWire(m));
      if (have.has(k)) return;
      have.add(k);
      out.push(i);
    });
    return out;
  }

  private async ensureRun(handle: string, opts: ReplayOptions): Promise<{ runId: string; artifactUri: string }> {
    const known = this.state.runs[handle];
    if (known) return known;
    const start = this.starts.get(handle);
    if (!start) throw new Error(`run ${handle}: its start event is missing from ${EVENTS_FILE}`);
    const experimentId = await this.experimentId(opts.signal);
    this.folderId ??= folderKey(this.runDir);
    const runKey = `${this.folderId}/${handle}`;
    let parentId: string | undefined;
    if (start.parent) parentId = (await this.ensureRun(start.parent, opts)).runId;
    let info: { runId: string; artifactUri: string } | undefined;
    if (opts.searchBeforeCreate) {
      const found = await this.client.searchRuns([experimentId], `tags.\`${RUN_KEY_TAG}\` = '${runKey}'`, opts.signal);
      if (found[0]) {
        info = { runId: found[0].info.run_id, artifactUri: found[0].info.artifact_uri };
        this.uncertain.add(handle);
      }
    }
    if (!info) {
      const tags: Record<string, string> = {};
      for (const [k, v] of Object.entries(start.tags)) tags[k] = String(v).slice(0, MAX_TAG_VALUE);
      tags['mlflow.runName'] ??= start.name;
      tags[RUN_KEY_TAG] = runKey;
      if (parentId) tags['mlflow.parentRunId'] = parentId;
      const created = await this.client.createRun({ experimentId, runName: start.name, startTime: start.t, tags }, opts.signal);
      info = { runId: created.run_id, artifactUri: created.artifact_uri };
    }
    this.state.runs[handle] = { ...info, name: start.name, parent: start.parent, stageId: start.tags['superconverge.stageId'] };
    this.save();
    return info;
  }
}

function normalizeWire(m: WireMetric | { key: string; value: unknown; timestamp: number | string; step?: number | string }): WireMetric {
  let v = m.value as number | string;
  // Servers return ±Infinity as ±1.7976931348623157e308 (float max) and NaN as "NaN".
  if (v === 1.7976931348623157e308) v = 'Infinity';
  if (v === -1.7976931348623157e308) v = '-Infinity';
  return { key: m.key, value: v as WireMetric['value'], timestamp: Number(m.timestamp), step: Number(m.step ?? 0) };
}

export type { WireKeyValue };
