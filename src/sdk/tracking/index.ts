/**
 * Tracking: where runs, params, metrics and artifacts go (DESIGN.md, the Tracker seam).
 * `createTracker` picks MLflow when the tracking URI is http(s), else the local run folder.
 */
import { isHttpTrackingUri, resolveMlflowConfig } from './config.js';
import { readEvents, type TrackingEvent } from './events.js';
import { UserInputError } from '../../errors.js';
import { LocalTracker } from './local.js';
import { MlflowTracker, type MlflowTrackerOptions } from './mlflow.js';
import { Replayer, experimentHoldingFolder, recordOfflineExperiment, recordedExperiments } from './replay.js';
import { type ClientOptions, MlflowClient } from './rest-client.js';
import type { Tracker } from './types.js';

export * from './types.js';
export * from './batch.js';
export * from './config.js';
export * from './events.js';
export * from './rest-client.js';
export { LocalTracker } from './local.js';
export { MlflowTracker, type MlflowTrackerOptions } from './mlflow.js';
export { Replayer, SYNC_STATE_FILE, RUN_KEY_TAG, recordedExperiments } from './replay.js';
export { systemTags, readGitInfo, type GitInfo, type SystemTagOptions } from './system-tags.js';
export { logTuningReport, logRangeTest, reportNote, reportParentEntities, type LogReportOptions } from './report.js';

export interface CreateTrackerOptions {
  /** The run folder (report.json goes beside events.jsonl). */
  runDir: string;
  /** Tracking URI; defaults to MLFLOW_TRACKING_URI. Anything not http(s) means the local folder. */
  tracking?: string;
  experimentName?: string;
  env?: NodeJS.ProcessEnv;
  mlflow?: MlflowTrackerOptions;
}

export function createTracker(o: CreateTrackerOptions): Tracker {
  const env = o.env ?? process.env;
  const uri = o.tracking ?? env.MLFLOW_TRACKING_URI;
  if (isHttpTrackingUri(uri)) {
    const config = resolveMlflowConfig({ tracking: uri, experimentName: o.experimentName, env });
    return new MlflowTracker(o.runDir, config, o.mlflow);
  }
  const local = new LocalTracker(o.runDir);
  // An experiment asked for without a server: `sync` sends the folder there later.
  const experiment = o.experimentName || env.MLFLOW_EXPERIMENT_NAME;
  if (experiment) recordOfflineExperiment(o.runDir, experiment);
  return local;
}

export interface SyncOptions {
  /** Tracking URI (default MLFLOW_TRACKING_URI). */
  trackingUri?: string;
  tracking?: string;
  experimentName?: string;
  env?: NodeJS.ProcessEnv;
  client?: ClientOptions;
  signal?: AbortSignal;
}

export interface SyncSummary {
  runDir: string;
  trackingUri: string;
  experimentName: string;
  /**
   * Where the experiment came from: the `experimentName` option (`--experiment`), the one the
   * folder was logged to (its cursor file), the one on the server that already holds the folder's
   * runs (no cursor), MLFLOW_EXPERIMENT_NAME, or the default.
   */
  experimentFrom: 'option' | 'recorded' | 'server' | 'environment' | 'default';
  experimentId: string | undefined;
  /** Events in the folder. */
  events: number;
  /** Events already on the server before this sync (skipped). */
  alreadySynced: number;
  /** Events sent now. */
  sent: number;
  /**
   * Metric events not sent because the server already had all their points (found by reading the
   * runs back when the cursor file did not know them, e.g. after it was deleted or a send was cut off).
   */
  foundOnServer: number;
  /** Events the server refused for good during this sync, with its reason. */
  rejected: Array<{ seq: number; error: string }>;
  /** Events refused earlier (during the run, or an earlier sync): not retried; their reasons are in mlflow-sync.json. */
  rejectedEarlier: number;
  /** Local run handle → MLflow run id. */
  runs: Record<string, string>;
  runUrl?: string;
}

/**
 * The experiment a folder was logged to: the one recorded for this server, else the one recorded
 * for another server (a name is the same everywhere); among several, the ones with events still
 * to send; undefined when nothing is recorded. Several candidates left: the caller must choose.
 */
function recordedExperiment(runDir: string, events: readonly TrackingEvent[], trackingUri: string): string | undefined {
  const all = recordedExperiments(runDir, events.map((e) => e.seq));
  const here = all.filter((r) => r.trackingUri === trackingUri);
  const pool = here.length > 0 ? here : all;
  let names = [...new Set(pool.map((r) => r.experimentName))];
  if (names.length > 1) {
    const pending = [...new Set(pool.filter((r) => r.pending > 0).map((r) => r.experimentName))];
    if (pending.length > 0) names = pending;
  }
  if (names.length > 1) {
    throw new UserInputError(
      '--experiment',
      '(not given)',
      `one of the experiments this folder was logged to: ${names.map((n) => `"${n}"`).join(', ')}`,
      'the run folder was logged to several experiments',
    );
  }
  return names[0];
}

/**
 * Replays a run folder (made offline, or whose server was down) to an MLflow server. Idempotent:
 * running it twice sends nothing the second time, and points the server already has (from a live
 * session cut short) are read back and not sent again.
 */
export async function syncRunDir(runDir: string, options: SyncOptions = {}): Promise<SyncSummary> {
  const events = readEvents(runDir);
  const config = resolveMlflowConfig({ tracking: options.trackingUri ?? options.tracking, experimentName: options.experimentName, env: options.env });
  const client = new MlflowClient(config, options.client);
  // The experiment: asked for; else the one the folder records; else (no cursor: lost, or never
  // written) the one on this server that already holds its runs; else the environment's or the default.
  let experimentName = options.experimentName;
  let experimentFrom: SyncSummary['experimentFrom'] = 'option';
  if (experimentName === undefined) {
    experimentName = recordedExperiment(runDir, events, config.trackingUri);
    experimentFrom = 'recorded';
  }
  if (experimentName === undefined) {
    experimentName = await experimentHoldingFolder(client, runDir, events, options.signal);
    experimentFrom = 'server';
  }
  if (experimentName === undefined) {
    experimentName = config.experimentName;
    experimentFrom = (options.env ?? process.env).MLFLOW_EXPERIMENT_NAME ? 'environment' : 'default';
  }
  const replayer = new Replayer(client, runDir, experimentName);
  const rejectedBefore = replayer.state.rejected.length;
  const alreadySynced = events.filter((e) => replayer.isAcked(e.seq)).length;
  replayer.rememberStarts(events);
  const { sent, foundOnServer } = await replayer.send(events, { searchBeforeCreate: true, signal: options.signal });
  const runs: Record<string, string> = {};
  for (const [h, r] of Object.entries(replayer.state.runs)) runs[h] = r.runId;
  const root = Object.entries(replayer.state.runs).find(([, r]) => !r.parent);
  return {
    runDir,
    trackingUri: config.trackingUri,
    experimentName,
    experimentFrom,
    experimentId: replayer.state.experimentId,
    events: events.length,
    alreadySynced,
    sent,
    foundOnServer,
    rejected: replayer.state.rejected.slice(rejectedBefore),
    rejectedEarlier: rejectedBefore,
    runs,
    runUrl: root && replayer.state.experimentId ? `${config.trackingUri}/#/experiments/${replayer.state.experimentId}/runs/${root[1].runId}` : undefined,
  };
}
