/**
 * The TuningReport: the one contract between the SDK, the trackers, the reporters and the action
 * (see DESIGN.md). The zod schema is the single source: the TypeScript types are inferred from it
 * and `schema/tuning-report.schema.json` is generated from it.
 *
 * Conventions
 * - Numbers that can be non-finite in a curve (a loss that became NaN) are stored as `null`
 *   (JSON has no NaN); the stage's stop reason says why.
 * - Times are seconds (wall clock) unless the name says otherwise; timestamps are ISO 8601.
 * - This module imports nothing of the project.
 */
import { z } from 'zod';

export const SCHEMA_VERSION = '1.0' as const;

/** A value in a curve: a finite number, or null where the measurement was NaN/±Infinity. */
export const CurveValue = z.number().nullable();

/** One named series: y against x, equal lengths. */
export const Series = z
  .object({
    /** Stable identifier, e.g. `loss`, `smoothedLoss`, `valLoss`, `wd=1e-4`. */
    name: z.string(),
    /** Human label for legends; defaults to name. */
    label: z.string().optional(),
    /** What x is: `lr`, `step`, `epoch`, `seconds`. */
    x: z.string(),
    /** What y is: `loss`, `smoothedLoss`, `valLoss`, `valAccuracy`, `lr`, `momentum`. */
    y: z.string(),
    xs: z.array(z.number()),
    ys: z.array(CurveValue),
  })
  .refine((s) => s.xs.length === s.ys.length, { message: 'xs and ys must have the same length' });

export const StopReason = z.enum(['finished', 'diverged', 'non-finite', 'interrupted']);

export const Suggestion = z.object({
  /** The suggested learning rate. */
  lr: z.number().positive(),
  /** Index of the point in the sweep it came from. */
  index: z.number().int().nonnegative(),
  /** Smoothed loss at that point. */
  loss: z.number().nullable(),
  /** How it was found, in one sentence. */
  rule: z.string(),
});

/** Result of one LR range test (paper §4.1; Smith 2015 "Cyclical learning rates"). */
export const RangeTestResult = z.object({
  sweep: z.enum(['exponential', 'linear']),
  startLr: z.number().positive(),
  endLr: z.number().positive(),
  numIter: z.number().int().min(2),
  /** EMA factor of the smoothed loss (bias-corrected). */
  smoothing: z.number().min(0).lt(1),
  /** Divergence threshold: stop when smoothed loss exceeds best + factor × |best| scale. */
  divergeThreshold: z.number().positive(),
  momentum: z.number().nullable(),
  weightDecay: z.number().nullable(),
  batchSize: z.number().int().positive().nullable(),
  lr: z.array(z.number()),
  loss: z.array(CurveValue),
  smoothedLoss: z.array(CurveValue),
  /** Optional validation loss measured every k steps (the paper's variant). */
  valLoss: z
    .array(z.object({ index: z.number().int(), lr: z.number(), loss: CurveValue }))
    .default([]),
  stopReason: StopReason,
  /** Index of the point at which the sweep stopped (last recorded point), null if none. */
  stopIndex: z.number().int().nullable(),
  outcome: z.enum(['ok', 'low-confidence', 'insufficient-data']),
  /** Why the outcome is not `ok`. */
  outcomeReason: z.string().optional(),
  suggestions: z.object({
    steepest: Suggestion.nullable(),
    valley: Suggestion.nullable(),
    minimum: Suggestion.nullable(),
    /** Smith's bounds: max where the loss stops improving, min = max / 10. */
    smith: z.object({ maxLr: z.number(), minLr: z.number(), index: z.number().int(), rule: z.string() }).nullable(),
  }),
  /** The bounds handed to 1cycle, and which suggestion produced them. */
  chosen: z
    .object({ maxLr: z.number().positive(), minLr: z.number().positive(), rule: z.string() })
    .nullable(),
});

/** One compared candidate in a decision. */
export const Candidate = z.object({
  value: z.union([z.number(), z.string()]),
  /** The metric the rule compared (validation loss unless `metricName` says otherwise). */
  metric: z.number().nullable(),
  metricName: z.string(),
  /** Where the metric was read, e.g. `step 300` or `after 20 s`. */
  at: z.string().optional(),
  /** Spread of the metric over repeats when measured. */
  spread: z.number().optional(),
  note: z.string().optional(),
});

/** A decision: what was compared, the numbers, the winner and the rule that chose it. */
export const Decision = z.object({
  parameter: z.string(),
  candidates: z.array(Candidate),
  winner: z.union([z.number(), z.string()]).nullable(),
  rule: z.string(),
  /** One sentence for people, e.g. "WD 1e-4: val loss 0.081 at step 300 vs 0.093 for 1e-3". */
  summary: z.string(),
  confidence: z.enum(['high', 'low']),
  confidenceReason: z.string().optional(),
});

export const StageKind = z.enum([
  'lr-range-test',
  'batch-size',
  'momentum',
  'weight-decay',
  'final-training',
  'baseline',
]);

export const EpochRecord = z.object({
  epoch: z.number().int().nonnegative(),
  step: z.number().int().nonnegative(),
  trainLoss: CurveValue,
  valLoss: CurveValue,
  valAccuracy: CurveValue.optional(),
  lr: z.number().optional(),
  momentum: z.number().optional(),
  seconds: z.number().nonnegative(),
});

/** A training run (final 1cycle training or the baseline). */
export const Training = z.object({
  name: z.string(),
  optimizer: z.string(),
  schedule: z.string(),
  epochs: z.number().int().nonnegative(),
  steps: z.number().int().nonnegative(),
  batchSize: z.number().int().positive(),
  hyperParameters: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])),
  history: z.array(EpochRecord),
  test: z
    .object({ loss: z.number().nullable(), accuracy: z.number().nullable(), n: z.number().int().nonnegative() })
    .nullable(),
  wallSeconds: z.number().nonnegative(),
});

export const Diagnosis = z.object({
  verdict: z.enum(['underfitting', 'overfitting', 'good-fit', 'diverged', 'unknown']),
  reason: z.string(),
  suggestion: z.string(),
});

export const Stage = z.object({
  id: z.string(),
  kind: StageKind,
  title: z.string(),
  status: z.enum(['complete', 'failed', 'skipped', 'interrupted']),
  wallSeconds: z.number().nonnegative(),
  /** Hyper-parameters the stage ran with. */
  params: z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()])).default({}),
  series: z.array(Series).default([]),
  rangeTest: RangeTestResult.optional(),
  /** Range tests run inside this stage (one per candidate), keyed by candidate. */
  rangeTests: z.record(z.string(), RangeTestResult).optional(),
  decision: Decision.optional(),
  training: Training.optional(),
  error: z.string().optional(),
  mlflowRunId: z.string().optional(),
});

export const Recommendations = z.object({
  maxLr: z.number().positive().nullable(),
  minLr: z.number().positive().nullable(),
  momentumMax: z.number().nullable(),
  momentumMin: z.number().nullable(),
  weightDecay: z.number().nonnegative().nullable(),
  batchSize: z.number().int().positive().nullable(),
  epochs: z.number().int().positive().nullable(),
  optimizer: z.string().nullable(),
  /** How each value was chosen, keyed like the values. */
  why: z.record(z.string(), z.string()).default({}),
});

export const Environment = z.object({
  backend: z.string(),
  device: z.string().optional(),
  node: z.string(),
  platform: z.string(),
  cpus: z.number().int().optional(),
  versions: z.record(z.string(), z.string()).default({}),
  git: z
    .object({ sha: z.string().optional(), branch: z.string().optional(), repoUrl: z.string().optional() })
    .optional(),
});

export const Links = z.object({
  mlflow: z
    .object({
      trackingUri: z.string(),
      experimentId: z.string(),
      runId: z.string(),
      runUrl: z.string().optional(),
      stageRuns: z.record(z.string(), z.string()).default({}),
    })
    .optional(),
  artifacts: z.array(z.object({ name: z.string(), url: z.string() })).default([]),
});

export const TuningReport = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  kind: z.literal('superconverge.tuning-report'),
  id: z.string(),
  title: z.string(),
  createdAt: z.string(),
  status: z.enum(['complete', 'partial', 'failed', 'interrupted']),
  tool: z.object({ name: z.literal('superconverge'), version: z.string() }),
  environment: Environment,
  /** The resolved configuration the run used (options after defaults). */
  config: z.record(z.string(), z.unknown()).default({}),
  stages: z.array(Stage),
  recommendations: Recommendations,
  final: Training.nullable().default(null),
  baseline: Training.nullable().default(null),
  diagnosis: Diagnosis.nullable().default(null),
  wallSeconds: z.number().nonnegative(),
  links: Links.default({ artifacts: [] }),
  warnings: z.array(z.string()).default([]),
});

export type CurveValue = z.infer<typeof CurveValue>;
export type Series = z.infer<typeof Series>;
export type StopReason = z.infer<typeof StopReason>;
export type Suggestion = z.infer<typeof Suggestion>;
export type RangeTestResult = z.infer<typeof RangeTestResult>;
export type Candidate = z.infer<typeof Candidate>;
export type Decision = z.infer<typeof Decision>;
export type StageKind = z.infer<typeof StageKind>;
export type EpochRecord = z.infer<typeof EpochRecord>;
export type Training = z.infer<typeof Training>;
export type Diagnosis = z.infer<typeof Diagnosis>;
export type Stage = z.infer<typeof Stage>;
export type Recommendations = z.infer<typeof Recommendations>;
export type Environment = z.infer<typeof Environment>;
export type Links = z.infer<typeof Links>;
export type TuningReport = z.infer<typeof TuningReport>;
/** The input form (defaults not yet applied), for code that builds reports. */
export type TuningReportInput = z.input<typeof TuningReport>;
