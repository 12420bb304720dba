/**
 * Logs a finished TuningReport onto its parent run: the recommendations as params and tags (so
 * runs can be searched and compared by them), report.json as an artifact, and each range test's
 * points with `lr` logged as its own metric at the same steps — the MLflow UI cannot use a float
 * as the step, so "x-axis = metric lr" is how it plots loss against learning rate.
 */
import type { RangeTestResult, TuningReport } from '../../report/schema.js';
import type { ParamValue, Tracker } from './types.js';

const RECOMMENDATION_KEYS = ['maxLr', 'minLr', 'momentumMax', 'momentumMin', 'weightDecay', 'batchSize', 'epochs', 'optimizer'] as const;

export interface LogReportOptions {
  /** Path of the written report.json, uploaded as an artifact. */
  reportPath?: string;
  /** Other files to upload (charts), with their artifact folder. */
  artifacts?: Array<{ path: string; artifactPath?: string }>;
  /**
   * Child run handles keyed by stage id: a stage's range test goes to its own run under plain
   * keys (`loss`, `smoothed_loss`, `lr`); stages without a run go to the parent, prefixed by id.
   */
  stageRuns?: Record<string, string>;
}

/** A short Markdown summary for `mlflow.note.content`. */
export function reportNote(report: TuningReport): string {
  const r = report.recommendations;
  const lines = [`**${report.title}** — ${report.status}`, ''];
  const fmt = (v: unknown): string => (v == null ? '—' : typeof v === 'number' ? String(Number(v.toPrecision(4))) : String(v));
  lines.push('| hyper-parameter | recommended | why |', '|---|---|---|');
  for (const k of RECOMMENDATION_KEYS) lines.push(`| ${k} | ${fmt(r[k])} | ${(r.why[k] ?? '').replace(/\|/g, '\\|')} |`);
  if (report.diagnosis) lines.push('', `Diagnosis: ${report.diagnosis.verdict} — ${report.diagnosis.reason}`);
  return lines.join('\n');
}

/** Range-test points as metric steps: step i carries loss, smoothed loss and lr of point i. */
export function logRangeTest(tracker: Tracker, run: string, rt: RangeTestResult, prefix = ''): number {
  const nan = (v: number | null | undefined): number => (v == null ? NaN : v);
  for (let i = 0; i < rt.lr.length; i++) {
    tracker.logMetrics(run, { [`${prefix}lr`]: rt.lr[i], [`${prefix}loss`]: nan(rt.loss[i]), [`${prefix}smoothedLoss`]: nan(rt.smoothedLoss[i]) }, i);
  }
  for (const v of rt.valLoss) tracker.logMetrics(run, { [`${prefix}valLoss`]: nan(v.loss) }, v.index);
  return rt.lr.length;
}

/**
 * What a tune's parent run carries: `recommended.<key>` params, and as tags (searchable in the MLflow
 * UI: `tags.superconverge.recommended.batchSize = '128'`) the recommendations, how each was chosen,
 * the status, the diagnosis and the Markdown note.
 */
export function reportParentEntities(report: TuningReport): { params: Record<string, ParamValue>; tags: Record<string, string> } {
  const rec = report.recommendations;
  const params: Record<string, ParamValue> = {};
  const tags: Record<string, string> = {
    'superconverge.reportId': report.id,
    'superconverge.status': report.status,
    'superconverge.schemaVersion': report.schemaVersion,
    'mlflow.note.content': reportNote(report),
  };
  for (const k of RECOMMENDATION_KEYS) {
    const v = rec[k];
    if (v == null) continue;
    params[`recommended.${k}`] = v;
    tags[`superconverge.recommended.${k}`] = String(v);
  }
  for (const [k, why] of Object.entries(rec.why)) tags[`superconverge.why.${k}`] = why;
  if (report.diagnosis) tags['superconverge.diagnosis'] = report.diagnosis.verdict;
  return { params, tags };
}

export function logTuningReport(tracker: Tracker, parentRun: string, report: TuningReport, options: LogReportOptions = {}): void {
  const { params, tags } = reportParentEntities(report);
  tracker.logParams(parentRun, params);
  tracker.setTags(parentRun, tags);
  for (const stage of report.stages) {
    const child = options.stageRuns?.[stage.id];
    const tests: Array<[string, RangeTestResult]> = [];
    if (stage.rangeTest) tests.push(['', stage.rangeTest]);
    for (const [cand, rt] of Object.entries(stage.rangeTests ?? {})) tests.push([`${cand}/`, rt]);
    for (const [sub, rt] of tests) logRangeTest(tracker, child ?? parentRun, rt, child ? sub : `${stage.id}/${sub}`);
  }
  if (options.reportPath) tracker.logArtifact(parentRun, options.reportPath);
  for (const a of options.artifacts ?? []) tracker.logArtifact(parentRun, a.path, a.artifactPath);
}
