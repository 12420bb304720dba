/**
 * LocalTracker: the embedded default. Writes the run folder's append-only `events.jsonl` (see
 * events.ts) and copies artifacts into `tracking-artifacts/`. Needs no server; `syncRunDir` sends
 * the folder to MLflow later.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserInputError } from '../../errors.js';
import { ARTIFACTS_DIR, EventLog, type TrackingEvent, encodeMetrics } from './events.js';
import type { ParamValue, RunStatus, StartRunOptions, Tracker, TrackerLinks } from './types.js';

export class LocalTracker implements Tracker {
  readonly kind: string = 'local';
  readonly log: EventLog;
  private readonly runs = new Map<string, { name: string; ended: boolean }>();
  private counter: number;
  /** Called with every event after it is written (the MLflow tracker queues it). */
  protected onEvent: ((e: TrackingEvent) => void) | undefined;

  /** Writes the buffered events if the process exits without `close()` (a crash, process.exit). */
  private readonly onExit = (): void => this.log.flushSync();

  constructor(readonly runDir: string) {
    this.log = new EventLog(runDir);
    process.on('exit', this.onExit);
    for (const e of this.log.existing) if (e.type === 'start') this.runs.set(e.run, { name: e.name, ended: false });
    this.counter = this.runs.size;
  }

  private emit(e: Parameters<EventLog['append']>[0]): void {
    const event = this.log.append(e);
    this.onEvent?.(event);
  }

  private check(run: string, method: string): void {
    if (!this.runs.has(run)) throw new UserInputError(`${method}(run)`, run, 'a handle returned by startRun', 'unknown run handle');
  }

  startRun(name: string, options: StartRunOptions = {}): string {
    if (options.parent !== undefined) this.check(options.parent, 'startRun({ parent })');
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'run';
    // Handles are unique within the folder, also across processes that resume into it.
    const handle = `${++this.counter}-${slug}`;
    this.runs.set(handle, { name, ended: false });
    // Copies: the event log keeps these objects until it writes them (events.ts).
    this.emit({ type: 'start', run: handle, name, parent: options.parent, tags: { ...options.tags }, params: { ...options.params } });
    return handle;
  }

  logParams(run: string, params: Record<string, ParamValue>): void {
    this.check(run, 'logParams');
    if (Object.keys(params).length) this.emit({ type: 'params', run, params: { ...params } });
  }

  setTags(run: string, tags: Record<string, string>): void {
    this.check(run, 'setTags');
    if (Object.keys(tags).length) this.emit({ type: 'tags', run, tags: { ...tags } });
  }

  logMetrics(run: string, metrics: Record<string, number>, step: number, timestampMs?: number): void {
    this.check(run, 'logMetrics');
    // MLflow steps are 64-bit integers; the UI cannot use a float step (DESIGN.md).
    if (!Number.isInteger(step) || step < 0) throw new UserInputError('logMetrics(step)', step, 'an integer >= 0', 'not a valid step');
    // Called once per training step: one object copied, nothing encoded here (events.ts).
    const wire = encodeMetrics(metrics);
    if (wire) this.emit({ type: 'metrics', run, step, metrics: wire, t: timestampMs });
  }

  logArtifact(run: string, localPath: string, artifactPath = ''): void {
    this.check(run, 'logArtifact');
    // Copied now: the caller may overwrite the file (report.json is rewritten at each stage).
    const dir = join(this.runDir, ARTIFACTS_DIR);
    mkdirSync(dir, { recursive: true });
    const name = basename(localPath);
    const stored = `${ARTIFACTS_DIR}/${this.log.existing.length + Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${name}`;
    copyFileSync(localPath, join(this.runDir, stored));
    const target = [artifactPath.replace(/^\/+|\/+$/g, ''), name].filter(Boolean).join('/');
    this.emit({ type: 'artifact', run, file: stored, artifactPath: target });
  }

  endRun(run: string, status: RunStatus = 'FINISHED'): void {
    this.check(run, 'endRun');
    const r = this.runs.get(run)!;
    if (r.ended) return;
    r.ended = true;
    this.emit({ type: 'end', run, status });
  }

  async flush(): Promise<void> {
    this.log.flushSync();
  }

  async close(): Promise<void> {
    this.log.flushSync();
    process.off('exit', this.onExit);
  }

  links(): TrackerLinks | undefined {
    return undefined;
  }
}
