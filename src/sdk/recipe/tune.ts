/**
 * `tune(options)`: the paper's recipe (§5) as one resumable run — LR range test, batch size,
 * momentum, weight decay, an LR re-check where they changed its settings, and the final 1cycle
 * training — every decision explained in a TuningReport, within an optional time budget.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { z } from 'zod';
import { UserInputError, describeValue } from '../../errors.js';
import { type Stage, type TuningReport, type TuningReportInput, writeReport } from '../../report/index.js';
import { writeReportFiles } from '../../reporters/index.js';
import { readGitInfo, reportParentEntities, systemTags } from '../tracking/index.js';
import { type ParamValue, type Tracker, syncHint } from '../tracking/types.js';
import type { Trainer } from '../trainers/types.js';
import { BUDGET_SHARES, parseBudget, splitBudget } from './budget.js';
import { type Calibration, FactoryError, Interrupted, type RecipeState, type StageContext } from './context.js';
import { diagnoseFit } from './diagnose.js';
import { ConfigError, type ConfigIssue, StageFailedError, StageProblem, TuneInterruptedError } from './errors.js';
import { EtaEstimator } from './eta.js';
import { STAGE_IDS, type StageId, type TuneOptions, type TuneSettings, TuneSettingsSchema } from './options.js';
import { type RunMeta, readRunMeta, readStageRecords, resolveRunDir, writeRunMeta, writeStageCurves, writeStageRecord } from './persist.js';
import { baselineStage } from './stages/baseline.js';
import { batchSizeStage } from './stages/batch-size.js';
import { finalStage } from './stages/final.js';
import { lrRecheckStage, lrStage } from './stages/lr.js';
import { momentumStage } from './stages/momentum.js';
import { weightDecayStage } from './stages/weight-decay.js';

export interface TuneResult {
  report: TuningReport;
  runDir: string;
}

const STAGES: Record<StageId, (ctx: StageContext) => Promise<Partial<Stage>>> = {
  lr: lrStage,
  'batch-size': batchSizeStage,
  momentum: momentumStage,
  'weight-decay': weightDecayStage,
  'lr-recheck': lrRecheckStage,
  final: finalStage,
  baseline: baselineStage,
};

const TITLES: Record<StageId, string> = {
  lr: 'Learning rate',
  'batch-size': 'Batch size',
  momentum: 'Momentum',
  'weight-decay': 'Weight decay',
  'lr-recheck': 'Learning rate re-check',
  final: 'Final training',
  baseline: 'Baseline',
};

const KINDS: Record<StageId, Stage['kind']> = {
  lr: 'lr-range-test',
  'batch-size': 'batch-size',
  momentum: 'momentum',
  'weight-decay': 'weight-decay',
  'lr-recheck': 'lr-range-test',
  final: 'final-training',
  baseline: 'baseline',
};

function toolVersion(): string {
  try {
    // src/sdk/recipe and lib/sdk/recipe are both three levels below the package root.
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Zod issues → ConfigIssues naming the path, the value and what is allowed (`schema`: the one that parsed, for the allowed keys). */
export function configIssues(error: z.ZodError, input: unknown, schema: z.ZodType = TuneSettingsSchema): ConfigIssue[] {
  return error.issues.map((issue) => {
    const path = issue.path
      .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join('');
    let value: unknown = input;
    for (const p of issue.path) value = value == null ? undefined : (value as Record<PropertyKey, unknown>)[p];
    if (issue.code === 'unrecognized_keys') {
      const keys = (issue as { keys: string[] }).keys;
      const allowed = describeAllowedKeys(issue.path, schema);
      return { path: keys.map((k) => (path ? `${path}.${k}` : k)).join(', '), message: `unknown key${keys.length > 1 ? 's' : ''}${allowed ? `; allowed: ${allowed}` : ''}` };
    }
    // A field that was not given has no value to show: zod's missing required field, or a default
    // (a relation check passes the default it compared, in params.value).
    if (value === undefined) {
      const fallback = issue.code === 'custom' ? (issue.params as { value?: unknown } | undefined)?.value : undefined;
      const note = fallback !== undefined ? ` (not set: the default ${describeValue(fallback)})` : '';
      return { path: path || '(root)', message: `${issue.message}${note}` };
    }
    return { path: path || '(root)', message: issue.message, value };
  });
}

function describeAllowedKeys(path: readonly PropertyKey[], root: z.ZodType): string {
  let schema: unknown = root;
  for (const p of path) {
    const shape = unwrap(schema)?.shape as Record<string, unknown> | undefined;
    schema = shape?.[String(p)];
  }
  const shape = unwrap(schema)?.shape as Record<string, unknown> | undefined;
  return shape ? Object.keys(shape).join(', ') : '';
}

function unwrap(schema: unknown): { shape?: unknown } | undefined {
  let s = schema as { shape?: unknown; unwrap?: () => unknown; def?: { innerType?: unknown; in?: unknown } } | undefined;
  for (let i = 0; i < 5 && s && !s.shape; i++) s = (s.def?.innerType ?? s.def?.in) as typeof s;
  return s;
}

/** Validates the serialisable part of tune options (the same schema as the config file). */
export function parseTuneSettings(input: unknown, source = 'tune options'): TuneSettings {
  const r = TuneSettingsSchema.safeParse(input);
  if (!r.success) throw new ConfigError(source, configIssues(r.error, input));
  return r.data;
}

async function calibrate(options: TuneOptions, settings: TuneSettings, clock: () => number): Promise<Calibration> {
  let trainer: Trainer | undefined;
  try {
    trainer = await options.trainer({ batchSize: settings.start.batchSize, weightDecay: 0, seed: settings.seed, optimizer: settings.optimizer });
    // One warm-up step (kernel compilation, allocation), then three timed ones at a tiny LR.
    const lr = settings.lr.startLr;
    let loss = await trainer.step({ lr, momentum: 0.9 });
    const t0 = clock();
    for (let i = 0; i < 3; i++) loss = await trainer.step({ lr, momentum: 0.9 });
    const stepSeconds = (clock() - t0) / 3000;
    if (!Number.isFinite(loss)) throw new StageProblem(`the trainer returned a non-finite loss (${loss}) at a learning rate of ${lr}: check the model and the loss function`);
    let evalSeconds = 0;
    if (trainer.evaluate) {
      const t1 = clock();
      await trainer.evaluate('validation');
      evalSeconds = (clock() - t1) / 1000;
    }
    const n = (trainer as Trainer & { numExamples?: number }).numExamples;
    return { stepSeconds, evalSeconds, stepsPerEpoch: trainer.stepsPerEpoch, numExamples: typeof n === 'number' ? n : null, backend: trainer.backend };
  } finally {
    trainer?.dispose();
  }
}

function checkBatchSizes(settings: TuneSettings, n: number | null): void {
  if (n == null) return;
  const check = (option: string, b: number | undefined) => {
    if (b != null && b > n) throw new UserInputError(option, b, `a batch size <= ${n}, the size of the training set`, 'batch size larger than the data set');
  };
  check('start.batchSize', settings.start.batchSize);
  // The batch-size stage's own sizes matter only when it runs.
  if (!settings.stages.includes('batch-size')) return;
  check('batchSize.start', settings.batchSize.start);
  settings.batchSize.candidates?.forEach((b, i) => check(`batchSize.candidates[${i}]`, b));
}

function initialState(settings: TuneSettings, c: Calibration): RecipeState {
  const s = settings.start;
  const maxLr = s.maxLr ?? null;
  const why: Record<string, string> = {};
  if (s.maxLr != null) why.maxLr = 'given (start.maxLr)';
  return {
    maxLr,
    minLr: s.minLr ?? (maxLr != null ? maxLr / 10 : null),
    batchSize: s.batchSize,
    momentumMax: s.momentumMax ?? 0.95,
    momentumMin: s.momentumMin ?? Math.min(settings.momentum.min, s.momentumMax ?? 0.95),
    weightDecay: s.weightDecay ?? (settings.weightDecay.hint === 'complex' ? 1e-4 : 1e-3),
    epochs: settings.final.epochs ?? null,
    lrTestedAt: null,
    stepSeconds: c.stepSeconds,
    evalSeconds: c.evalSeconds,
    stepsPerEpoch: c.stepsPerEpoch,
    numExamples: c.numExamples,
    why,
  };
}

function flattenParams(obj: unknown, prefix = '', out: Record<string, ParamValue> = {}): Record<string, ParamValue> {
  if (obj == null) return out;
  if (typeof obj !== 'object') {
    out[prefix] = obj as ParamValue;
    return out;
  }
  if (Array.isArray(obj)) {
    out[prefix] = obj.join(',');
    return out;
  }
  for (const [k, v] of Object.entries(obj)) flattenParams(v, prefix ? `${prefix}.${k}` : k, out);
  return out;
}

/**
 * Runs the recipe. Resolves with the report and the run folder; rejects with ConfigError /
 * UserInputError (bad options, before any work), StageFailedError (a stage failed: finished stages
 * are kept) or TuneInterruptedError (the signal fired: exit 130, resume later).
 */
export async function tune(options: TuneOptions): Promise<TuneResult> {
  let created: Tracker | undefined;
  try {
    return await runTune(options, (t) => (created = t));
  } finally {
    // A tracker tune made for itself is closed here: queued points are flushed within a bounded
    // wait and the rest stays in the run folder's spool for `superconverge sync`.
    await created?.close();
  }
}

async function runTune(options: TuneOptions, onTrackerCreated: (t: Tracker) => void): Promise<TuneResult> {
  if (typeof options?.trainer !== 'function') {
    throw new UserInputError('trainer', options?.trainer, 'a TrainerFactory: (settings) => Promise<Trainer>', 'not a function');
  }
  const { trainer: _t, resume, signal, onProgress, tracker: trackerOption, clock: clockOption, source, reportFormats, ...rest } = options;
  const clock = clockOption ?? (() => performance.now());
  const tStart = clock();
  let meta: RunMeta | undefined;
  let settings: TuneSettings;
  let runDir: string;
  if (resume) {
    meta = await readRunMeta(resume);
    settings = parseTuneSettings(meta.settings, join(resume, 'run.json'));
    runDir = resume;
  } else {
    settings = parseTuneSettings(rest);
    runDir = resolveRunDir(settings.out);
  }
  try {
    await mkdir(join(runDir, 'stages'), { recursive: true });
  } catch (e) {
    throw new UserInputError('out (--out)', settings.out ?? runDir, 'a folder that can be created and written', (e as Error).message);
  }
  let tracker: Tracker | undefined;
  if (typeof trackerOption === 'function') {
    tracker = trackerOption(runDir);
    onTrackerCreated(tracker);
  } else tracker = trackerOption;
  const git = readGitInfo();
  const budgetSeconds = settings.budget != null ? parseBudget(settings.budget) : null;
  const ids = STAGE_IDS.filter((id) => settings.stages.includes(id) && (id !== 'baseline' || settings.baseline != null));

  const warnings: string[] = [];
  const stages: Stage[] = [];
  let state: RecipeState | undefined;
  let calibrationSeconds = 0;
  const parent = tracker?.startRun(settings.title, {
    tags: {
      ...systemTags({ runName: settings.title, git }),
      'superconverge.kind': 'tune',
      'superconverge.runDir': runDir,
      ...(resume ? { 'superconverge.resumedFrom': resume } : {}),
    },
  });

  const buildReport = (status: TuningReport['status']): TuningReportInput => {
    const s = state;
    const final = stages.find((x) => x.id === 'final' && x.status === 'complete')?.training ?? null;
    const baseline = stages.find((x) => x.id === 'baseline' && x.status === 'complete')?.training ?? null;
    return {
      schemaVersion: '1.0',
      kind: 'superconverge.tuning-report',
      id: basename(runDir),
      title: settings.title,
      createdAt: meta?.createdAt ?? new Date().toISOString(),
      status,
      tool: { name: 'superconverge', version: toolVersion() },
      environment: {
        backend: meta?.calibration.backend ?? 'unknown',
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        cpus: cpus().length,
        versions: { superconverge: toolVersion() },
        ...(git.sha ? { git } : {}),
      },
      config: { ...(settings as unknown as Record<string, unknown>), ...(meta?.source ? { source: meta.source } : {}) },
      stages,
      recommendations: {
        maxLr: s?.maxLr ?? null,
        minLr: s?.minLr ?? null,
        momentumMax: s?.momentumMax ?? null,
        momentumMin: s?.momentumMin ?? null,
        weightDecay: s?.weightDecay ?? null,
        batchSize: s?.batchSize ?? null,
        epochs: s?.epochs ?? null,
        optimizer: settings.optimizer,
        why: s?.why ?? {},
      },
      final,
      baseline,
      diagnosis: final ? diagnoseFit(final.history) : null,
      wallSeconds: (clock() - tStart) / 1000 + calibrationSeconds,
      ...(tracker?.links() ? { links: { mlflow: tracker.links(), artifacts: [] } } : {}),
      warnings,
    };
  };
  const save = (status: TuningReport['status']) => writeReport(join(runDir, 'report.json'), buildReport(status));
  const endParent = (status: 'FINISHED' | 'FAILED' | 'KILLED') => {
    if (!tracker || !parent) return;
    // A run that failed before its first report (calibration) has none to upload.
    if (existsSync(join(runDir, 'report.json'))) tracker.logArtifact(parent, join(runDir, 'report.json'));
    tracker.endRun(parent, status);
  };

  // Calibration: step and evaluation time, steps per epoch, data-set size. Stored, so a resumed run
  // plans with the same numbers as the run it continues.
  if (!meta) {
    const t0 = clock();
    try {
      const calibration = await calibrate(options, settings, clock);
      meta = { format: 'superconverge.tune-run', version: 1, createdAt: new Date().toISOString(), settings, calibration, ...(source ? { source } : {}) };
    } catch (e) {
      const cause = e instanceof FactoryError || e instanceof StageProblem ? e.message : `the trainer threw: ${(e as Error)?.message ?? String(e)}`;
      endParent('FAILED');
      throw new StageFailedError('calibration', cause, runDir, undefined, e);
    }
    calibrationSeconds = (clock() - t0) / 1000;
    checkBatchSizes(settings, meta.calibration.numExamples);
    await writeRunMeta(runDir, meta);
  }
  const records = resume ? await readStageRecords(runDir) : {};
  state = initialState(settings, meta.calibration);
  const remainingBudget = budgetSeconds != null ? Math.max(0, budgetSeconds - calibrationSeconds) : null;
  const budgets = remainingBudget != null ? splitBudget(remainingBudget, ids) : null;

  const totalShare = ids.reduce((s, id) => s + BUDGET_SHARES[id], 0);
  let doneShare = 0;
  const eta = new EtaEstimator(ids, budgets);
  const emit = (e: Omit<Parameters<NonNullable<TuneOptions['onProgress']>>[0], 'fraction' | 'elapsedSeconds' | 'etaSeconds' | 'stageCount'>) => {
    if (!onProgress) return;
    const fraction = Math.min(1, (doneShare + BUDGET_SHARES[e.stage] * (e.type === 'stage-end' ? 0 : e.stageFraction)) / totalShare);
    const elapsedSeconds = (clock() - tStart) / 1000;
    const etaSeconds = eta.estimate(e.stage, e.stageFraction, elapsedSeconds);
    try {
      onProgress({ ...e, stageCount: ids.length, fraction, elapsedSeconds, etaSeconds });
    } catch {
      // A failing progress display must not fail the training.
    }
  };

  for (const [i, id] of ids.entries()) {
    const stageIndex = i + 1;
    const done = records[id];
    if (done) {
      stages.push(done.stage);
      state = structuredClone(done.state);
      doneShare += BUDGET_SHARES[id];
      emit({ type: 'stage-end', stage: id, stageIndex, stageFraction: 1, status: 'resumed', message: `${TITLES[id]}: finished earlier, kept` });
      continue;
    }
    if (signal?.aborted) {
      const report = await save('interrupted');
      endParent('KILLED');
      throw new TuneInterruptedError(undefined, runDir, report);
    }
    const run = tracker?.startRun(id, { ...(parent ? { parent } : {}), tags: { 'superconverge.stage': id } });
    const working: RecipeState = structuredClone(state);
    const ctx: StageContext = {
      id,
      factory: options.trainer,
      settings,
      state: working,
      budgetSeconds: budgets?.[id] ?? null,
      clock,
      signal,
      tracker,
      run,
      progress: (f, message) => emit({ type: 'progress', stage: id, stageIndex, stageFraction: Math.max(0, Math.min(1, f)), ...(message ? { message } : {}) }),
      warn: (m) => warnings.push(m),
    };
    const t0 = clock();
    eta.stageStarted(id, (t0 - tStart) / 1000);
    emit({ type: 'stage-start', stage: id, stageIndex, stageFraction: 0, message: TITLES[id] });
    let partial: Partial<Stage>;
    try {
      partial = await STAGES[id](ctx);
    } catch (e) {
      const wallSeconds = (clock() - t0) / 1000;
      if (e instanceof Interrupted || (signal?.aborted && !(e instanceof StageProblem))) {
        stages.push({ id, kind: KINDS[id], title: TITLES[id], status: 'interrupted', wallSeconds, params: {}, series: [] });
        if (run) tracker?.endRun(run, 'KILLED');
        const report = await save('interrupted');
        endParent('KILLED');
        emit({ type: 'stage-end', stage: id, stageIndex, stageFraction: 0, status: 'interrupted' });
        throw new TuneInterruptedError(id, runDir, report);
      }
      const cause =
        e instanceof StageProblem || e instanceof FactoryError
          ? e.message
          : e instanceof UserInputError
            ? `invalid setting: ${e.message}`
            : `the trainer threw: ${(e as Error)?.message ?? describeValue(e)}`;
      stages.push({ id, kind: KINDS[id], title: TITLES[id], status: 'failed', wallSeconds, params: {}, series: [], error: cause });
      if (run) {
        tracker?.setTags(run, { 'superconverge.error': cause.slice(0, 4000) });
        tracker?.endRun(run, 'FAILED');
      }
      const report = await save('failed');
      endParent('FAILED');
      emit({ type: 'stage-end', stage: id, stageIndex, stageFraction: 0, status: 'failed', message: cause });
      throw new StageFailedError(id, cause, runDir, report, e);
    }
    const stage: Stage = {
      id,
      kind: partial.kind ?? KINDS[id],
      title: partial.title ?? TITLES[id],
      status: partial.status ?? 'complete',
      wallSeconds: (clock() - t0) / 1000,
      params: partial.params ?? {},
      series: partial.series ?? [],
      ...(partial.rangeTest ? { rangeTest: partial.rangeTest } : {}),
      ...(partial.rangeTests ? { rangeTests: partial.rangeTests } : {}),
      ...(partial.decision ? { decision: partial.decision } : {}),
      ...(partial.training ? { training: partial.training } : {}),
      ...(run && tracker?.links()?.stageRuns?.[id] ? { mlflowRunId: tracker.links()!.stageRuns[id] } : {}),
    };
    state = working;
    stages.push(stage);
    eta.stageEnded(id, stage.wallSeconds);
    // Persist as the stage ends: a crash or Ctrl-C later keeps it (resume skips it).
    await writeStageRecord(runDir, { stage, state });
    await writeStageCurves(runDir, stage);
    if (run && tracker) {
      tracker.logParams(run, flattenParams(stage.params));
      if (stage.decision) {
        tracker.setTags(run, {
          'superconverge.decision.parameter': stage.decision.parameter,
          'superconverge.decision.winner': String(stage.decision.winner),
          'superconverge.decision.confidence': stage.decision.confidence,
          'superconverge.decision.summary': stage.decision.summary,
        });
      }
      tracker.endRun(run, 'FINISHED');
    }
    doneShare += BUDGET_SHARES[id];
    await save('partial');
    emit({ type: 'stage-end', stage: id, stageIndex, stageFraction: 1, status: stage.status === 'skipped' ? 'skipped' : 'complete', message: stage.decision?.summary });
  }

  // Wait (bounded) for the server to have the runs, so report.json can link them.
  if (tracker) await tracker.flush(10_000).catch(() => undefined);
  if (tracker?.lastError) warnings.push(`MLflow: ${tracker.lastError}; points not sent: ${syncHint(runDir)}`);
  const report = await save('complete');
  // The charts, the Markdown and the HTML page beside report.json, uploaded with it.
  const formats = reportFormats ?? ['md', 'html', 'svg', 'png'];
  if (formats.length > 0) {
    try {
      const written = await writeReportFiles(report, runDir, { formats });
      if (parent && tracker)
        for (const file of written) {
          const folder = dirname(relative(runDir, file));
          tracker.logArtifact(parent, file, folder === '.' ? undefined : folder);
        }
    } catch (e) {
      warnings.push(`the charts could not be written: ${(e as Error).message}`);
    }
  }
  if (parent && tracker) {
    const { params, tags } = reportParentEntities(report);
    tracker.logParams(parent, params);
    tracker.setTags(parent, tags);
  }
  endParent('FINISHED');
  return { report, runDir };
}
