/**
 * Merging partial reports: the fan-out mode runs one part of the recipe per GPU runner (one
 * weight-decay value, one batch size, one stage) and each leg writes a partial TuningReport. This
 * module merges them into one report. Pure; imports only src/report.
 *
 * Rules
 * 1. Parts must have the same schemaVersion (else an Error naming both). Order of parts is kept.
 * 2. Stages are keyed by `id`. Distinct ids are concatenated in recipe order (lr-range-test,
 *    batch-size, momentum, weight-decay, final-training, baseline; then anything else in order of
 *    first appearance).
 * 3. Stages sharing an id (legs running different candidates of the same stage) merge:
 *    - series: union by name (first seen wins on a clash); rangeTests: union by key;
 *    - rangeTest, training, mlflowRunId: the first part's that has one;
 *    - status: the worst (failed > interrupted > skipped > complete), errors joined;
 *    - wallSeconds: the maximum (legs ran in parallel); params: shallow union, first wins;
 *    - decision: candidates unioned by value (first wins on a duplicate value), then the decision
 *      is RE-MADE with the recipe's rule: the lowest finite metric wins (all candidates must share
 *      one metricName — else the merged decision keeps no winner and says so), ties go to the
 *      earlier candidate; confidence is low when the runner-up is within the combined spread
 *      (sqrt(s1^2 + s2^2)), when only one candidate exists, or when metrics differ in name.
 * 4. Recommendations: start from the first non-null value of each field across parts (a
 *    disagreement between parts is reported in `warnings`); then, only where a stage's decision
 *    was merged from two or more parts and has a numeric winner whose `parameter` names a
 *    recommendation field (batchSize, momentumMin, weightDecay, ...), that field is set to the
 *    new winner and its `why` says it was re-decided across parts. Nothing else is recomputed:
 *    values that depend on training (epochs, maxLr from a range test) are taken as the legs wrote them.
 * 5. final, baseline, diagnosis: the first non-null (a second one adds a warning).
 * 6. status: 'failed' if any part failed, else 'interrupted' if any was interrupted, else
 *    'complete' if every part is complete, else 'partial'.
 * 7. environment, config, tool, title: the first part's (config shallow-merged, first wins);
 *    differing devices add a warning. createdAt: the latest. wallSeconds: the maximum.
 *    id: `merged-` + the part ids joined by `+`.
 * 8. links: mlflow from the first part that has it; artifacts unioned by name. warnings: unioned.
 */
import {
  SCHEMA_VERSION,
  type Candidate,
  type Decision,
  type Recommendations,
  type Stage,
  type TuningReport,
} from './schema.js';

const STAGE_ORDER = ['lr-range-test', 'batch-size', 'momentum', 'weight-decay', 'final-training', 'baseline'];
const STATUS_RANK: Record<Stage['status'], number> = { complete: 0, skipped: 1, interrupted: 2, failed: 3 };

const RECOMMENDATION_KEYS = [
  'maxLr',
  'minLr',
  'momentumMax',
  'momentumMin',
  'weightDecay',
  'batchSize',
  'epochs',
  'optimizer',
] as const satisfies readonly (keyof Recommendations)[];
type RecommendationKey = (typeof RECOMMENDATION_KEYS)[number];

/** Re-decides a merged comparison with the recipe's rule (see rule 3). */
export function remakeDecision(parameter: string, candidates: Candidate[], rule: string, label: string): Decision {
  const names = new Set(candidates.map((c) => c.metricName));
  if (names.size > 1) {
    return {
      parameter,
      candidates,
      winner: null,
      rule,
      summary: `${label}: the parts measured different metrics (${[...names].join(', ')}); no merged winner.`,
      confidence: 'low',
      confidenceReason: 'candidates were measured with different metrics',
    };
  }
  const ranked = candidates
    .map((c, i) => ({ c, i }))
    .filter((x) => x.c.metric != null && Number.isFinite(x.c.metric))
    .sort((a, b) => (a.c.metric as number) - (b.c.metric as number) || a.i - b.i);
  if (ranked.length === 0) {
    return {
      parameter,
      candidates,
      winner: null,
      rule,
      summary: `${label}: no candidate produced a finite ${[...names][0] ?? 'metric'}; no winner.`,
      confidence: 'low',
      confidenceReason: 'no finite metric',
    };
  }
  const best = ranked[0].c;
  const second = ranked[1]?.c;
  let confidence: Decision['confidence'] = 'high';
  let confidenceReason: string | undefined;
  let summary = `${label} ${best.value}: ${best.metricName} ${best.metric}`;
  if (second) {
    const diff = (second.metric as number) - (best.metric as number);
    const noise = Math.hypot(best.spread ?? 0, second.spread ?? 0);
    summary += ` vs ${second.metric} for ${second.value}`;
    if (diff <= noise) {
      confidence = 'low';
      confidenceReason = `difference ${diff.toPrecision(3)} is inside the spread ${noise.toPrecision(3)}`;
    }
  } else {
    confidence = 'low';
    confidenceReason = 'only one candidate has a finite metric';
  }
  return {
    parameter,
    candidates,
    winner: best.value,
    rule,
    summary: `${summary} (merged from partial reports).`,
    confidence,
    ...(confidenceReason ? { confidenceReason } : {}),
  };
}

function sameValue(a: Candidate['value'], b: Candidate['value']): boolean {
  return typeof a === 'number' && typeof b === 'number' ? Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b)) : a === b;
}

interface MergedStage {
  stage: Stage;
  /** How many parts contributed a decision to this stage. */
  decisionParts: number;
}

function mergeStage(into: MergedStage, s: Stage): void {
  const t = into.stage;
  if (STATUS_RANK[s.status] > STATUS_RANK[t.status]) t.status = s.status;
  if (s.error) t.error = t.error ? `${t.error}; ${s.error}` : s.error;
  t.wallSeconds = Math.max(t.wallSeconds, s.wallSeconds);
  t.params = { ...s.params, ...t.params };
  const names = new Set(t.series.map((x) => x.name));
  for (const x of s.series) if (!names.has(x.name)) t.series.push(x);
  if (s.rangeTests) t.rangeTests = { ...s.rangeTests, ...(t.rangeTests ?? {}) };
  t.rangeTest ??= s.rangeTest;
  t.training ??= s.training;
  t.mlflowRunId ??= s.mlflowRunId;
  if (s.decision) {
    into.decisionParts++;
    if (!t.decision) {
      t.decision = s.decision;
    } else {
      const cands = [...t.decision.candidates];
      for (const c of s.decision.candidates) if (!cands.some((d) => sameValue(d.value, c.value))) cands.push(c);
      t.decision = remakeDecision(t.decision.parameter, cands, t.decision.rule, t.title);
    }
  }
}

function clone<T>(x: T): T {
  return structuredClone(x);
}

export function mergeReports(parts: TuningReport[]): TuningReport {
  if (parts.length === 0) throw new Error('mergeReports: no partial reports to merge');
  for (const p of parts) {
    if (p.schemaVersion !== SCHEMA_VERSION) {
      throw new Error(`mergeReports: report ${p.id} has schemaVersion ${p.schemaVersion}; expected ${SCHEMA_VERSION}`);
    }
  }
  const warnings: string[] = [];
  const first = parts[0];

  // stages (rules 2, 3)
  const byId = new Map<string, MergedStage>();
  for (const p of parts) {
    for (const s of p.stages) {
      const m = byId.get(s.id);
      if (m) mergeStage(m, clone(s));
      else byId.set(s.id, { stage: clone(s), decisionParts: s.decision ? 1 : 0 });
    }
  }
  const rank = (s: Stage) => {
    const i = STAGE_ORDER.indexOf(s.kind);
    return i < 0 ? STAGE_ORDER.length : i;
  };
  const merged = [...byId.values()].map((m, i) => ({ m, i }));
  merged.sort((a, b) => rank(a.m.stage) - rank(b.m.stage) || a.i - b.i);
  const stages = merged.map((x) => x.m.stage);

  // recommendations (rule 4)
  const recommendations: Recommendations = {
    maxLr: null, minLr: null, momentumMax: null, momentumMin: null, weightDecay: null,
    batchSize: null, epochs: null, optimizer: null, why: {},
  };
  for (const key of RECOMMENDATION_KEYS) {
    for (const p of parts) {
      const v = p.recommendations[key];
      if (v == null) continue;
      const current = recommendations[key];
      if (current == null) {
        (recommendations as any)[key] = v;
        const why = p.recommendations.why[key];
        if (why) recommendations.why[key] = why;
      } else if (current !== v) {
        warnings.push(`parts disagree on ${key}: kept ${current} from the first part, ignored ${v} from ${p.id}`);
      }
    }
  }
  for (const { m } of merged) {
    const d = m.stage.decision;
    if (m.decisionParts < 2 || !d) continue;
    const key = d.parameter as RecommendationKey;
    if (!(RECOMMENDATION_KEYS as readonly string[]).includes(key)) continue;
    if (key === 'optimizer' ? typeof d.winner !== 'string' : typeof d.winner !== 'number') continue;
    (recommendations as any)[key] = d.winner;
    recommendations.why[key] = `${d.rule} (re-decided across ${m.decisionParts} partial reports)`;
  }

  // final, baseline, diagnosis (rule 5)
  const firstNonNull = <K extends 'final' | 'baseline' | 'diagnosis'>(k: K): TuningReport[K] => {
    const have = parts.filter((p) => p[k] != null);
    if (have.length > 1) warnings.push(`${have.length} parts have a ${k}; kept the one from ${have[0].id}`);
    return have.length ? clone(have[0][k]) : null;
  };

  // status (rule 6)
  const statuses = parts.map((p) => p.status);
  const status: TuningReport['status'] = statuses.includes('failed')
    ? 'failed'
    : statuses.includes('interrupted')
      ? 'interrupted'
      : statuses.every((s) => s === 'complete')
        ? 'complete'
        : 'partial';

  const devices = [...new Set(parts.map((p) => p.environment.device ?? p.environment.backend))];
  if (devices.length > 1) warnings.push(`parts ran on different devices: ${devices.join(', ')}; timings are not comparable`);

  const artifacts: TuningReport['links']['artifacts'] = [];
  for (const p of parts) for (const a of p.links.artifacts) if (!artifacts.some((b) => b.name === a.name)) artifacts.push(a);
  const mlflow = parts.find((p) => p.links.mlflow)?.links.mlflow;

  const allWarnings: string[] = [];
  for (const w of [...parts.flatMap((p) => p.warnings), ...warnings]) if (!allWarnings.includes(w)) allWarnings.push(w);

  return {
    schemaVersion: SCHEMA_VERSION,
    kind: first.kind,
    id: `merged-${parts.map((p) => p.id).join('+')}`,
    title: first.title,
    createdAt: parts.map((p) => p.createdAt).sort().at(-1) as string,
    status,
    tool: clone(first.tool),
    environment: clone(first.environment),
    config: Object.assign({}, ...parts.map((p) => clone(p.config)).reverse()),
    stages,
    recommendations,
    final: firstNonNull('final'),
    baseline: firstNonNull('baseline'),
    diagnosis: firstNonNull('diagnosis'),
    wallSeconds: Math.max(...parts.map((p) => p.wallSeconds)),
    links: { ...(mlflow ? { mlflow: clone(mlflow) } : {}), artifacts },
    warnings: allWarnings,
  };
}
