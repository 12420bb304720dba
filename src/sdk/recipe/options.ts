/**
 * The recipe's options: one zod schema is the single source for the API (`tune({...})`), the YAML
 * config (`superconverge tune config.yml`) and the published JSON Schema
 * (`schema/tune-config.schema.json`). Unknown keys are rejected everywhere.
 */
import { z } from 'zod';
import { CHOOSER_RULES, type ChooserRule, DEFAULT_CHOOSER } from '../range-test/analysis.js';
import type { Tracker } from '../tracking/types.js';
import type { TrainerFactory } from '../trainers/types.js';
import { BUDGET_PATTERN, budgetAllowed, budgetProblem } from './budget.js';

/** The stages in the paper's order (§5): LR, batch size, momentum, weight decay, then 1cycle. */
export const STAGE_IDS = ['lr', 'batch-size', 'momentum', 'weight-decay', 'lr-recheck', 'final', 'baseline'] as const;
export type StageId = (typeof STAGE_IDS)[number];

const positive = z.number().positive();
const momentumValue = z.number().min(0).lt(1);

/**
 * Largest seed: the seed feeds 32-bit generators (mulberry32 for the data order, the per-epoch
 * shuffles, seeded initialisers), so larger ones would alias smaller ones; 2^31 − 1 also suits
 * consumers that read it as a signed 32-bit integer. The CLI's --seed has the same range.
 */
export const MAX_SEED = 2 ** 31 - 1;
const seedError = `allowed: an integer from 0 to ${MAX_SEED} (the seed of 32-bit generators)`;
const seed = z.number({ error: seedError }).int({ error: seedError }).min(0, { error: seedError }).max(MAX_SEED, { error: seedError });

/**
 * The budget field: in the JSON Schema a positive number or a duration string; checked by the same
 * parser as the CLI's --budget (budget.ts), so both accept and refuse the same values with the same
 * words. `minSeconds`: 0 for the SDK (any positive budget), MIN_BUDGET_SECONDS for the config file.
 */
export function budgetSchema(minSeconds: number) {
  const error = (issue: { input?: unknown }) => `${budgetProblem(issue.input, minSeconds) ?? 'not a duration'}; allowed: ${budgetAllowed(minSeconds)}`;
  return z
    .union([z.number().positive({ error }), z.string().regex(BUDGET_PATTERN, { error })], { error })
    .superRefine(
      (value, ctx) => {
        const problem = budgetProblem(value, minSeconds);
        if (problem) ctx.addIssue({ code: 'custom', message: `${problem}; allowed: ${budgetAllowed(minSeconds)}` });
      },
      // Once: a value the union refused already has this message.
      { when: (payload) => payload.issues.length === 0 },
    );
}

export const LrStageSchema = z
  .strictObject({
    /** First LR of the sweep. Default 1e-5. */
    startLr: positive.default(1e-5),
    /** Last LR of the sweep. Default 10. */
    endLr: positive.default(10),
    /** Sweep length; default from the budget, else 100. */
    numIter: z.number().int().min(5).optional(),
    sweep: z.enum(['exponential', 'linear']).default('exponential'),
    /** Constant momentum during the range test (paper Fig. 8a uses constant momentum). Default 0.9. */
    momentum: momentumValue.default(0.9),
    /** How the curve becomes maxLr (src/sdk/range-test/analysis.ts). Default 'divergence/3'. */
    chooser: z.enum(CHOOSER_RULES as [ChooserRule, ...ChooserRule[]]).default(DEFAULT_CHOOSER),
  })
  .refine((o) => o.startLr < o.endLr, { message: 'startLr must be smaller than endLr', path: ['endLr'] });

export const BatchSizeStageSchema = z.strictObject({
  /** First size of the doubling search; default the starting batch size. */
  start: z.number().int().positive().optional(),
  /** Cap of the doubling search (a memory cap in examples). Default 4096 or the training-set size. */
  max: z.number().int().positive().default(4096),
  /** Resident memory (MB) above which a size counts as not fitting. */
  memoryCapMb: z.number().positive().optional(),
  /** Steps run at each size while probing (the first is a warm-up, not timed). Default 3. */
  probeSteps: z.number().int().min(2).default(3),
  /** Sizes to compare at equal wall-clock time; default the largest 4 that fit. */
  candidates: z.array(z.number().int().positive()).min(1, 'at least one batch size').optional(),
  /** Wall-clock seconds of each candidate's short 1cycle run; default from the budget, else one epoch at the start size. */
  secondsPerCandidate: positive.optional(),
  /** Range-test length of each candidate; default from the budget, else 60. */
  rangeTestIters: z.number().int().min(5).optional(),
});

export const MomentumStageSchema = z.strictObject({
  /** Constant momentum of each short run (paper §5: 0.99, 0.97, 0.95, 0.9). */
  values: z.array(momentumValue).min(1, 'at least one momentum value').default([0.99, 0.97, 0.95, 0.9]),
  /** Lower end of the recommended cyclical momentum (paper: 0.85, or 0.8). */
  min: momentumValue.default(0.85),
  /** Steps of each short run; default from the budget, else one epoch. */
  steps: z.number().int().min(4).optional(),
});

export const WeightDecayStageSchema = z.strictObject({
  /**
   * `complex` (complex data or a deep net): 1e-4, 1e-5, 1e-6, 0. `simple` (small data or a shallow
   * net): 1e-2, 1e-3, 1e-4 (paper §4.4). Ignored when `values` is given.
   */
  hint: z.enum(['complex', 'simple']).default('simple'),
  values: z.array(z.number().min(0)).min(1, 'at least one weight decay').optional(),
  /** One bisection of the exponent between the two best values. Default true. */
  bisect: z.boolean().default(true),
  /** Steps of each short run; default from the budget, else one epoch. */
  steps: z.number().int().min(4).optional(),
});

/**
 * A baseline to compare the final training with: the usual default (Adam at a constant LR of 1e-3)
 * for the same epochs and batch size, no weight decay. Runs only when this section is given.
 */
export const BaselineStageSchema = z.strictObject({
  optimizer: z.enum(['sgd', 'adam']).default('adam'),
  /** Constant learning rate. Default 1e-3 (Adam's usual default). */
  lr: positive.default(1e-3),
  /** Momentum for SGD, β1 for Adam. Default 0.9. */
  momentum: momentumValue.default(0.9),
  /** Default: the final training's epochs. */
  epochs: z.number().int().positive().optional(),
});

export const FinalStageSchema = z.strictObject({
  /** Epochs of the final 1cycle run; default from the budget, else 5. */
  epochs: z.number().int().positive().optional(),
  /** Fraction of the steps in the annihilation tail. Default 0.1. */
  annihilationPct: z.number().min(0).lt(1).default(0.1),
});

/** Values to start from, and to use for the stages that do not run (`stages:` subset, fan-out). */
export const StartSchema = z.strictObject({
  maxLr: positive.optional(),
  minLr: positive.optional(),
  batchSize: z.number().int().positive().default(64),
  momentumMax: momentumValue.optional(),
  momentumMin: momentumValue.optional(),
  /** Weight decay during the LR and batch-size stages; default 1e-4 (complex hint) or 1e-3 (simple). */
  weightDecay: z.number().min(0).optional(),
});

/** Top of the cyclical momentum when neither the momentum stage nor start.momentumMax sets it (tune.ts initialState). */
const DEFAULT_MOMENTUM_MAX = 0.95;

/**
 * The relations between fields that each field's own rule cannot see: a min above its max would
 * train an inverted 1cycle, a batch-size search starting above its cap runs no size at all. A min
 * equal to its max is allowed: a constant LR or momentum, which the 1cycle schedule handles.
 * Relations with a stage's defaults are checked only when that stage runs.
 */
function checkRelations(input: unknown, ctx: z.RefinementCtx): void {
  const section = (v: unknown): Record<string, unknown> => (v != null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const issue = (path: (string | number)[], message: string, value?: number) =>
    ctx.addIssue({ code: 'custom', path, message, ...(value != null ? { params: { value } } : {}) });
  const s = section(input);
  const start = section(s.start);
  const runs = (id: StageId) => Array.isArray(s.stages) && s.stages.includes(id);

  const maxLr = num(start.maxLr);
  const minLr = num(start.minLr);
  if (maxLr != null && minLr != null && minLr > maxLr)
    issue(['start', 'minLr'], `above start.maxLr (${maxLr}): 1cycle goes from minLr up to maxLr and back; allowed: at most ${maxLr} (equal: a constant LR)`);

  // Without the momentum stage, start.momentumMax (else 0.95) is the top of the cycle.
  const momentumMax = num(start.momentumMax);
  const top = momentumMax ?? DEFAULT_MOMENTUM_MAX;
  const topName = momentumMax != null ? 'start.momentumMax' : 'the default start.momentumMax';
  const momentumMin = num(start.momentumMin);
  if (momentumMin != null && momentumMin > top && (momentumMax != null || !runs('momentum')))
    issue(['start', 'momentumMin'], `above ${topName} (${top}): cyclical momentum goes from momentumMax down to momentumMin as the LR rises; allowed: at most ${top} (equal: constant momentum)`);
  const m = section(s.momentum);
  const floor = num(m.min);
  const values = Array.isArray(m.values) ? m.values.filter((v): v is number => num(v) != null) : [];
  if (floor != null && runs('momentum') && values.length > 0 && floor >= Math.max(...values)) {
    // The stage uses a winner at or below momentum.min as constant momentum: with a floor at or
    // above every value there would be no cycle whichever value won.
    issue(['momentum', 'min'], `not below any of momentum.values (${values.join(', ')}): the momentum would be constant whichever value won; allowed: below ${Math.max(...values)}, the largest value (paper: 0.85 or 0.8)`);
  } else if (floor != null && !runs('momentum') && momentumMin == null && floor > top) {
    issue(['momentum', 'min'], `above ${topName} (${top}), the top of the cycle when the momentum stage does not run; allowed: at most ${top} (equal: constant momentum), or set start.momentumMin`);
  }

  // batch-size, momentum, weight decay and the final training start from a max LR: the lr stage's,
  // the re-check's (it runs before the final training only), or start.maxLr.
  if (maxLr == null && !runs('lr')) {
    const needing = (['batch-size', 'momentum', 'weight-decay', 'final'] as const).filter((id) => runs(id) && !(id === 'final' && runs('lr-recheck')));
    if (needing.length > 0)
      issue(['start', 'maxLr'], `required: the ${needing.join(', ')} stage${needing.length > 1 ? 's need' : ' needs'} a max LR and the lr stage does not run; allowed: a positive number, or add lr to stages`);
  }

  if (runs('batch-size')) {
    const b = section(s.batchSize);
    const cap = num(b.max);
    const given = num(b.start);
    const from = given ?? num(start.batchSize);
    if (cap != null && from != null && from > cap) {
      if (given != null) issue(['batchSize', 'start'], `above batchSize.max (${cap}): the doubling search would start above its cap; allowed: at most ${cap}`);
      else issue(['batchSize', 'max'], `below start.batchSize (${from}), where the doubling search starts; allowed: at least ${from}, or set a smaller batchSize.start`, cap);
    }
    if (cap != null && Array.isArray(b.candidates))
      b.candidates.forEach((c, i) => {
        if (num(c) != null && c > cap) issue(['batchSize', 'candidates', i], `above batchSize.max (${cap}): the search never runs a size above its cap; allowed: at most ${cap}`);
      });
  }
}

/** Everything about a tune that is data (serialisable, stored in the run folder for resume). */
export const TuneSettingsSchema = z.strictObject({
  title: z.string().min(1).default('superconverge tune'),
  seed: seed.default(42),
  optimizer: z.enum(['sgd', 'adam']).default('sgd'),
  /** Whole-recipe time budget: seconds or '90s', '15m', '1h30m'. */
  budget: budgetSchema(0).optional(),
  /** Run only these stages (in the paper's order whatever the order given). */
  stages: z.array(z.enum(STAGE_IDS)).min(1, 'at least one stage').default([...STAGE_IDS]),
  start: StartSchema.default({ batchSize: 64 }),
  lr: LrStageSchema.default({ startLr: 1e-5, endLr: 10, sweep: 'exponential', momentum: 0.9, chooser: DEFAULT_CHOOSER }),
  batchSize: BatchSizeStageSchema.default({ max: 4096, probeSteps: 3 }),
  momentum: MomentumStageSchema.default({ values: [0.99, 0.97, 0.95, 0.9], min: 0.85 }),
  weightDecay: WeightDecayStageSchema.default({ hint: 'simple', bisect: true }),
  final: FinalStageSchema.default({ annihilationPct: 0.1 }),
  /** Optional baseline training (not part of the budget); see BaselineStageSchema. */
  baseline: BaselineStageSchema.optional(),
  /** Parent folder of the run folder `<out>/<timestamp>/` (SUPERCONVERGE_OUT_DIR overrides). */
  out: z.string().min(1).default('superconverge-out'),
})
  // Run even when a field failed, so that every problem is listed at once (the checks read only
  // the fields that have the right type).
  .superRefine(checkRelations, { when: () => true });

export type TuneSettings = z.output<typeof TuneSettingsSchema>;
export type TuneSettingsInput = z.input<typeof TuneSettingsSchema>;

/** A progress event: the stage, its progress and an ETA for the whole recipe. */
export interface ProgressEvent {
  type: 'stage-start' | 'progress' | 'stage-end';
  stage: StageId;
  /** 1-based position among the stages that run. */
  stageIndex: number;
  stageCount: number;
  /** Progress of the stage in [0, 1]. */
  stageFraction: number;
  /** Progress of the whole recipe in [0, 1] (weighted by the stages' budget shares). */
  fraction: number;
  elapsedSeconds: number;
  /**
   * Seconds left: with a budget, the current stage's rate plus the later stages' planned seconds
   * (the tuning stages' scaled by how much they overran so far); without one, null until the final
   * training, whose rate gives it.
   */
  etaSeconds: number | null;
  message?: string;
  /** On stage-end: the stage's status. */
  status?: 'complete' | 'failed' | 'skipped' | 'interrupted' | 'resumed';
}

/** `tune(options)`: the settings plus what cannot be serialised. */
export interface TuneOptions extends TuneSettingsInput {
  /** Builds a fresh trainer for given settings (batch size, weight decay, seed, optimizer). */
  trainer: TrainerFactory;
  /** Continue the run in this folder: finished stages are skipped, the stored settings are used. */
  resume?: string;
  /** Stops cleanly between steps: finished stages are kept; tune rejects with TuneInterruptedError. */
  signal?: AbortSignal;
  onProgress?: (event: ProgressEvent) => void;
  /**
   * Where runs, params, metrics and decisions go. A function is called with the run folder once it
   * is known (e.g. `(dir) => createTracker({ runDir: dir })`), and tune closes that tracker at the end.
   */
  tracker?: Tracker | ((runDir: string) => Tracker);
  /** Files written beside report.json at the end (and uploaded to MLflow). Default md, html, svg, png; [] for none. */
  reportFormats?: ('md' | 'html' | 'svg' | 'png')[];
  /** Milliseconds clock for step timings and budgets; default performance.now. */
  clock?: () => number;
  /** The config as the user wrote it, stored in the report next to the resolved settings. */
  source?: { file?: string; config?: unknown };
}
