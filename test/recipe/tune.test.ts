import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  StageFailedError,
  TuneInterruptedError,
  exitCodeFor,
  loadTuneConfig,
  tune,
  type ProgressEvent,
  type TuneOptions,
} from '../../src/sdk/recipe/index.js';
import { UserInputError } from '../../src/errors.js';
import { fmt } from '../../src/sdk/recipe/decide.js';
import { LocalTracker } from '../../src/sdk/tracking/index.js';
import { FakeClock, toyFactory, type ToyOptions } from './toy.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'sc-tune-'));

/** Small, fast settings: every stage runs, short runs of 12 steps. */
function base(clock: FakeClock, toy: ToyOptions = {}, over: Partial<TuneOptions> = {}): TuneOptions {
  return {
    trainer: toyFactory({ clock, ...toy }),
    clock: clock.now,
    out: tmp(),
    lr: { numIter: 60 },
    batchSize: { max: 256, rangeTestIters: 40, secondsPerCandidate: 0.05 },
    momentum: { steps: 12 },
    weightDecay: { steps: 12 },
    final: { epochs: 3 },
    reportFormats: [],
    ...over,
  };
}

/** The report without what depends on when it ran. */
function timeless(report: unknown): unknown {
  return JSON.parse(JSON.stringify(report), (k, v) => (['wallSeconds', 'createdAt', 'id', 'out'].includes(k) ? undefined : v));
}

describe('tune: the stages', () => {
  it('probes batch sizes by doubling, never reports one that did not run, and compares at equal wall-clock time', async () => {
    const clock = new FakeClock();
    // cost per step grows with the batch: 0.5 ms + 1 ms per 32 examples
    const { report } = await tune(base(clock, { oomAbove: 128, stepCostMs: (b) => 0.5 + b / 32, nTrain: 1024 }, { stages: ['lr', 'batch-size'], start: { batchSize: 16 } }));
    const stage = report.stages.find((s) => s.id === 'batch-size')!;
    expect(stage.params.largestFit).toBe(128);
    expect(String(stage.params.largestFitWhy)).toMatch(/256 did not fit \(out of memory.*halved back to 128, which ran/);
    expect(stage.params.probed).toBe('16:ok 1 ms/step, 32:ok 1.5 ms/step, 64:ok 2.5 ms/step, 128:ok 4.5 ms/step, 256:no');
    // default candidates: the largest 4 that fit; each had its own range test but 16, which the lr
    // stage tested at the same weight decay: it keeps that (longer) test's bounds
    expect(stage.decision!.candidates.map((c) => c.value)).toEqual([16, 32, 64, 128]);
    expect(Object.keys(stage.rangeTests!).sort()).toEqual(['128', '32', '64']);
    const lrStage = report.stages.find((s) => s.id === 'lr')!;
    expect(stage.decision!.candidates[0].note).toBe(`maxLr ${fmt(lrStage.rangeTest!.chosen!.maxLr)} from the lr stage's range test (same batch size and weight decay)`);
    expect(stage.decision!.candidates[1].note).toMatch(/from its own range test/);
    // equal wall-clock: 0.05 s each, so steps ∝ 1 / cost per step
    const secs = stage.series.filter((s) => s.name.startsWith('batch=')).map((s) => s.xs[s.xs.length - 1]);
    for (const s of secs) {
      expect(s).toBeGreaterThan(0.045);
      expect(s).toBeLessThanOrEqual(0.05 + 1e-9);
    }
    expect(stage.decision!.candidates[0].at).toBe('0.05 s (50 steps)');
    expect(stage.decision!.candidates[3].at).toBe('0.0495 s (11 steps)');
    expect(report.recommendations.batchSize).toBe(stage.decision!.winner);
    // maxLr and minLr are explained by the same range test
    const winner = stage.decision!.winner as number;
    const rule = winner === 16 ? lrStage.rangeTest!.chosen!.rule : stage.rangeTests![String(winner)].chosen!.rule;
    expect(report.recommendations.why.maxLr).toContain(rule);
    expect(report.recommendations.why.minLr).toContain(`(${rule})`);
    expect(report.recommendations.why.maxLr).toContain(winner === 16 ? 'LR range test at batch 16' : `at the chosen batch ${winner} (batch-size stage)`);
  });

  it('bisects the weight-decay exponent between the two best and re-runs the LR test when WD changed it', async () => {
    const clock = new FakeClock();
    const { report } = await tune(base(clock, {}, { weightDecay: { values: [1e-2, 1e-3, 1e-4], steps: 12 } }));
    const wd = report.stages.find((s) => s.id === 'weight-decay')!;
    expect(wd.decision!.candidates.map((c) => c.value).slice(0, 3)).toEqual([1e-2, 1e-3, 1e-4]);
    expect(wd.decision!.candidates).toHaveLength(4);
    const bis = wd.decision!.candidates[3];
    expect(bis.note).toMatch(/bisection of the exponent/);
    expect([3e-3, 3e-4]).toContain(bis.value);
    expect(report.recommendations.weightDecay).toBe(wd.decision!.winner);
    const recheck = report.stages.find((s) => s.id === 'lr-recheck')!;
    if (report.recommendations.weightDecay !== 1e-3) {
      expect(recheck.status).toBe('complete');
      expect(recheck.rangeTest!.weightDecay).toBe(report.recommendations.weightDecay);
    } else {
      expect(recheck.status).toBe('skipped');
    }
    const m = report.stages.find((s) => s.id === 'momentum')!;
    expect(m.decision!.candidates.map((c) => c.value)).toEqual([0.99, 0.97, 0.95, 0.9]);
    expect(report.recommendations.momentumMax).toBe(m.decision!.winner);
    expect(report.recommendations.momentumMin).toBe(0.85);
    expect(report.final!.epochs).toBe(3);
    expect(report.final!.history).toHaveLength(3);
    expect(report.final!.test!.n).toBe(256);
    expect(report.diagnosis!.verdict).toMatch(/underfitting|overfitting|good-fit/);
  });

  it('runs a subset of stages from given values (one grid point, for fan-out)', async () => {
    const clock = new FakeClock();
    const { report } = await tune(base(clock, {}, { stages: ['weight-decay'], start: { maxLr: 0.5, batchSize: 64 }, weightDecay: { values: [1e-3], steps: 12 } }));
    expect(report.stages.map((s) => s.id)).toEqual(['weight-decay']);
    expect(report.stages[0].decision!.candidates).toHaveLength(1);
    expect(report.stages[0].decision!.confidence).toBe('low');
    expect(report.recommendations).toMatchObject({ maxLr: 0.5, minLr: 0.05, weightDecay: 1e-3, batchSize: 64 });
  });
});

describe('tune: the baseline', () => {
  it('trains the configured baseline for the final epochs at a constant LR, outside the budget, and reports it beside the final run', async () => {
    const clock = new FakeClock();
    const { report } = await tune(base(clock, {}, { stages: ['lr', 'final', 'baseline'], baseline: { optimizer: 'sgd', lr: 0.01, momentum: 0.5 } }));
    expect(report.stages.map((s) => s.id)).toEqual(['lr', 'final', 'baseline']);
    const b = report.baseline!;
    expect(b.name).toBe('baseline');
    expect(b.epochs).toBe(report.final!.epochs);
    expect(b.history).toHaveLength(3);
    expect(b.history.every((h) => h.lr === 0.01 && h.momentum === 0.5)).toBe(true);
    expect(b.hyperParameters).toEqual({ lr: 0.01, momentum: 0.5, weightDecay: 0 });
    expect(b.test?.n).toBeGreaterThan(0);
    // a small constant LR trains less far than 1cycle at the range test's maxLr in the same epochs
    expect(b.history[2].valLoss!).toBeGreaterThan(report.final!.history[2].valLoss!);
  });

  it('runs no baseline when the settings have no baseline section', async () => {
    const { report } = await tune(base(new FakeClock(), {}, { stages: ['lr', 'final', 'baseline'] }));
    expect(report.stages.map((s) => s.id)).toEqual(['lr', 'final']);
    expect(report.baseline).toBeNull();
  });
});

describe('tune: budget and progress', () => {
  it('scales every stage so the whole recipe fits the budget, with progress and an ETA', async () => {
    for (const seconds of [8, 30]) {
      const clock = new FakeClock();
      const events: { stage: string; fraction: number; eta: number | null; type: string }[] = [];
      const { report } = await tune({
        trainer: toyFactory({ clock, nTrain: 1024 }),
        clock: clock.now,
        out: tmp(),
        budget: seconds,
        reportFormats: [],
        onProgress: (e) => events.push({ stage: e.stage, fraction: e.fraction, eta: e.etaSeconds, type: e.type }),
      });
      const used = clock.ms / 1000;
      expect(used).toBeLessThanOrEqual(seconds * 1.1);
      expect(used).toBeGreaterThan(seconds * 0.7);
      // the final training gets about half, the tuning stages together at most as much
      const final = report.stages.find((s) => s.id === 'final')!.wallSeconds;
      const tuning = report.stages.filter((s) => s.id !== 'final').reduce((a, s) => a + s.wallSeconds, 0);
      expect(final).toBeGreaterThan(seconds * 0.4);
      expect(tuning).toBeLessThanOrEqual(final * 1.1);
      expect(report.recommendations.epochs).toBe(report.final!.epochs);
      const fractions = events.map((e) => e.fraction);
      expect(fractions.every((f, i) => i === 0 || f >= fractions[i - 1] - 1e-12)).toBe(true);
      expect(fractions[fractions.length - 1]).toBeCloseTo(1, 9);
      expect(events.some((e) => e.stage === 'weight-decay' && e.type === 'progress' && e.eta != null && e.eta > 0)).toBe(true);
    }
  });
});

describe('tune: the ETA', () => {
  type EtaEvent = { at: number; eta: number | null; stage: string; type: string; stageFraction: number };
  const record = (clock: FakeClock, events: EtaEvent[]) => (e: ProgressEvent) =>
    events.push({ at: clock.ms / 1000, eta: e.etaSeconds, stage: e.stage, type: e.type, stageFraction: e.stageFraction });
  const WITH_BASELINE: Partial<TuneOptions> = {
    stages: ['lr', 'batch-size', 'momentum', 'weight-decay', 'lr-recheck', 'final', 'baseline'],
    baseline: { optimizer: 'sgd', lr: 0.01, momentum: 0.9 },
  };

  /** The ETAs that are more than `within`× off the time really left (judged while > 10% of the span is left). */
  function offEtas(events: EtaEvent[], end: number, budgeted: boolean, within: number): string[] {
    const untilFinal = events.slice(0, events.findIndex((e) => e.stage === 'final'));
    if (!budgeted) expect(untilFinal.map((e) => e.eta)).toEqual(untilFinal.map(() => null));
    // Without a budget the span starts at the final training, after its first 5% (too few steps to time).
    const from = budgeted ? 0 : events[untilFinal.length].at;
    const judged = events
      .slice(budgeted ? 0 : untilFinal.length)
      .filter((e) => e.type === 'progress' && end - e.at > 0.1 * (end - from) && (budgeted || e.stage !== 'final' || e.stageFraction >= 0.05));
    expect(judged.length).toBeGreaterThan(20);
    return judged
      .map((e) => ({ ...e, left: end - e.at, ratio: (e.eta ?? NaN) / (end - e.at) }))
      .filter((e) => !(e.ratio >= 1 / within && e.ratio <= within))
      .map((e) => `${e.stage} at ${e.at.toFixed(2)} s: ETA ${e.eta?.toFixed(2)} s for ${e.left.toFixed(2)} s left`);
  }

  // A budget too small for the stages' minimum step counts: the tuning stages overrun their shares
  // (as the demo's 40-step range test does on a 30 s budget), so progress by budget share is not
  // progress in time. Each ETA is compared with the time that was really left.
  it.each([
    { name: 'a budget far below the stages\' minimums', budget: 0.5, baseline: true, within: 3 },
    { name: 'a budget a little below them', budget: 3, baseline: true, within: 2 },
    { name: 'a budget the stages can keep', budget: 20, baseline: false, within: 2 },
    // Without a budget nothing plans the stages' seconds: no ETA until the final training's own rate.
    { name: 'no budget (fixed step counts)', budget: undefined, baseline: true, within: 2 },
  ])('stays within $within× of the time really left with $name', async ({ budget, baseline, within }) => {
    const clock = new FakeClock();
    const events: EtaEvent[] = [];
    await tune({
      trainer: toyFactory({ clock, nTrain: 1024 }),
      clock: clock.now,
      out: tmp(),
      ...(budget != null ? { budget } : {}),
      ...(baseline ? WITH_BASELINE : {}),
      reportFormats: [],
      onProgress: record(clock, events),
    });
    expect(offEtas(events, clock.ms / 1000, budget != null, within)).toEqual([]);
  });

  it('after a resume, counts only the stages still to run', async () => {
    const clock = new FakeClock();
    const ac = new AbortController();
    const settings = { budget: 3, ...WITH_BASELINE, out: tmp(), reportFormats: [] as [] };
    const stopOn = (e: ProgressEvent) => e.type === 'stage-end' && e.stage === 'weight-decay' && ac.abort();
    const err = (await tune({ trainer: toyFactory({ clock, nTrain: 1024 }), clock: clock.now, signal: ac.signal, onProgress: stopOn, ...settings }).catch((e) => e)) as TuneInterruptedError;
    expect(err).toBeInstanceOf(TuneInterruptedError);
    const again = new FakeClock();
    const events: EtaEvent[] = [];
    await tune({ trainer: toyFactory({ clock: again, nTrain: 1024 }), clock: again.now, resume: err.runDir, reportFormats: [], onProgress: record(again, events) });
    expect(events.filter((e) => e.type === 'stage-end' && e.stageFraction === 1 && e.at === 0).map((e) => e.stage)).toEqual(['lr', 'batch-size', 'momentum', 'weight-decay']);
    expect(offEtas(events.filter((e) => e.at > 0 || e.stage === 'lr-recheck'), again.ms / 1000, true, 1.5)).toEqual([]);
  });
});

describe('tune: resume and interruption', () => {
  it('an interruption after each stage, then resume, gives the same report as an uninterrupted run', async () => {
    const uninterrupted = (await tune(base(new FakeClock()))).report;
    expect(uninterrupted.status).toBe('complete');
    const ids = uninterrupted.stages.map((s) => s.id);
    for (const stop of ids.slice(0, -1)) {
      const ac = new AbortController();
      const first = base(new FakeClock(), {}, { signal: ac.signal, onProgress: (e) => e.type === 'stage-end' && e.stage === stop && ac.abort() });
      const err = (await tune(first).catch((e) => e)) as TuneInterruptedError;
      expect(err).toBeInstanceOf(TuneInterruptedError);
      expect(exitCodeFor(err)).toBe(130);
      expect(err.report!.status).toBe('interrupted');
      expect(existsSync(join(err.runDir, 'stages', `${stop}.json`))).toBe(true);
      const counters = { trainers: 0, steps: 0 };
      const clock = new FakeClock();
      const resumed = await tune({ trainer: toyFactory({ clock, counters }), clock: clock.now, resume: err.runDir, reportFormats: [] });
      expect(timeless(resumed.report), `interrupted after ${stop}`).toEqual(timeless(uninterrupted));
      expect(resumed.runDir).toBe(err.runDir);
    }
  });

  it('an abort in the middle of a stage discards that stage and keeps the finished ones', async () => {
    const ac = new AbortController();
    const err = (await tune(base(new FakeClock(), {}, { signal: ac.signal, onProgress: (e) => e.stage === 'momentum' && e.stageFraction > 0.3 && ac.abort() })).catch((e) => e)) as TuneInterruptedError;
    expect(err).toBeInstanceOf(TuneInterruptedError);
    expect(err.stageId).toBe('momentum');
    expect(err.report!.stages.map((s) => `${s.id}:${s.status}`)).toEqual(['lr:complete', 'batch-size:complete', 'momentum:interrupted']);
    expect(existsSync(join(err.runDir, 'stages', 'momentum.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(err.runDir, 'report.json'), 'utf8')).status).toBe('interrupted');
  });

  it('writes exactly SUPERCONVERGE_OUT_DIR when set', async () => {
    const dir = join(tmp(), 'fixed');
    process.env.SUPERCONVERGE_OUT_DIR = dir;
    try {
      const { runDir } = await tune(base(new FakeClock(), {}, { stages: ['lr'] }));
      expect(runDir).toBe(dir);
      expect(existsSync(join(dir, 'report.json'))).toBe(true);
    } finally {
      delete process.env.SUPERCONVERGE_OUT_DIR;
    }
  });
});

describe('tune: bad input and faults', () => {
  const writeConfig = (text: string) => {
    const f = join(tmp(), 'tune.yml');
    writeFileSync(f, text);
    return f;
  };

  it('a YAML syntax error names the line and shows it with a caret under the column', async () => {
    const err = (await loadTuneConfig(writeConfig('title: x\n  seed: 1\n')).catch((e) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0].path).toBe('line 1');
    expect(err.issues[0].message).toBe('not valid YAML: Nested mappings are not allowed in compact mappings at line 1, column 8\n      title: x\n             ^');
  });

  it('rejects unknown keys, wrong types and empty grids in a config, naming every path and value', async () => {
    const f = writeConfig(['trainer: { module: ./t.mjs }', 'momentum:', '  valuez: [0.9]', '  values: [0.9, "high"]', 'weightDecay: { values: [] }', 'seed: -1'].join('\n'));
    const err = (await loadTuneConfig(f).catch((e) => e)) as ConfigError;
    expect(err).toBeInstanceOf(ConfigError);
    expect(exitCodeFor(err)).toBe(2);
    const byPath = Object.fromEntries(err.issues.map((i) => [i.path, i]));
    expect(byPath['momentum.valuez'].message).toMatch(/unknown key; allowed: values, min, steps/);
    expect(byPath['momentum.values[1]'].value).toBe('high');
    expect(byPath['momentum.values[1]'].message).toMatch(/expected number/);
    expect(byPath['weightDecay.values'].message).toBe('at least one weight decay');
    expect(byPath['seed'].value).toBe(-1);
    expect(err.message).toMatch(/momentum\.values\[1\]: .* \(got "high"\)/);
  });

  it('rejects a batch size larger than the data set before any stage runs', async () => {
    const counters = { trainers: 0, steps: 0 };
    const o = base(new FakeClock(), { counters, nTrain: 300 }, { batchSize: { candidates: [64, 1000] } });
    const err = await tune(o).catch((e) => e);
    expect(err).toBeInstanceOf(UserInputError);
    expect(err.message).toBe('batchSize.candidates[1]: batch size larger than the data set — got 1000; allowed: a batch size <= 300, the size of the training set');
    expect(counters.trainers).toBe(1); // only the calibration trainer
    // without the batch-size stage its candidates are not used, and not checked
    const without = await tune(base(new FakeClock(), { nTrain: 300 }, { stages: ['lr', 'final'], batchSize: { candidates: [64, 1000] } }));
    expect(without.report.status).toBe('complete');
  });

  it('a trainer that throws fails its stage with the cause, keeps finished stages, exit code 1', async () => {
    // calibration 4 steps + lr 60 steps; the crash falls in the batch-size stage
    const o = base(new FakeClock(), { throwOnStep: 70 });
    const err = (await tune(o).catch((e) => e)) as StageFailedError;
    expect(err).toBeInstanceOf(StageFailedError);
    expect(exitCodeFor(err)).toBe(1);
    expect(err.stageId).toBe('batch-size');
    expect(err.message).toMatch(/stage "batch-size" failed: the trainer threw: boom: user training loop crashed/);
    expect(existsSync(join(err.runDir, 'stages', 'lr.json'))).toBe(true);
    const onDisk = JSON.parse(readFileSync(join(err.runDir, 'report.json'), 'utf8'));
    expect(onDisk.status).toBe('failed');
    expect(onDisk.stages.map((s: { id: string; status: string }) => `${s.id}:${s.status}`)).toEqual(['lr:complete', 'batch-size:failed']);
  });

  it('NaN losses end with a message naming the stage and the cause', async () => {
    const atStart = (await tune(base(new FakeClock(), { nanLoss: true })).catch((e) => e)) as StageFailedError;
    expect(atStart).toBeInstanceOf(StageFailedError);
    expect(atStart.stageId).toBe('calibration');
    expect(atStart.message).toMatch(/non-finite loss \(NaN\)/);
    // with a tracker too: the parent run ends FAILED and the cause is not hidden by the missing report
    const tracked = (await tune({ ...base(new FakeClock(), { nanLoss: true }), tracker: (dir) => new LocalTracker(dir) }).catch((e) => e)) as StageFailedError;
    expect(tracked).toBeInstanceOf(StageFailedError);
    expect(tracked.stageId).toBe('calibration');
    expect(tracked.message).toMatch(/non-finite loss \(NaN\)/);
    const events = readFileSync(join(tracked.runDir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; status?: string });
    expect(events.map((e) => e.type)).toEqual(['start', 'end']);
    expect(events[1].status).toBe('FAILED');
    // NaN from the momentum stage on: every momentum run diverges
    const later = (await tune(base(new FakeClock(), { nanFromStep: 4 + 60 + 1 }, { stages: ['lr', 'momentum'] })).catch((e) => e)) as StageFailedError;
    expect(later.stageId).toBe('momentum');
    expect(later.message).toMatch(/every momentum run diverged/);
    expect(existsSync(join(later.runDir, 'stages', 'lr.json'))).toBe(true);
  });

  it('stages that need maxLr without the lr stage are a config error before anything runs, naming start.maxLr', async () => {
    const err = await tune(base(new FakeClock(), {}, { stages: ['momentum', 'final'] })).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(exitCodeFor(err)).toBe(2);
    expect(err.message).toMatch(/start\.maxLr: required: the momentum, final stages need a max LR and the lr stage does not run; allowed: a positive number, or add lr to stages/);
    // the re-check runs before the final training and gives it one
    const ok = await tune(base(new FakeClock(), {}, { stages: ['lr-recheck', 'final'] }));
    expect(ok.report.final!.hyperParameters.maxLr).toBe(ok.report.stages[0].rangeTest!.chosen!.maxLr);
  });
});

describe('tune: settings that contradict each other, and what the stages say when nothing can run', () => {
  const writeConfig = (lines: string[], files: Record<string, string> = {}) => {
    const dir = tmp();
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const f = join(dir, 'tune.yml');
    writeFileSync(f, lines.join('\n'));
    return f;
  };
  const issuesOf = (err: unknown) => {
    expect(err).toBeInstanceOf(ConfigError);
    expect(exitCodeFor(err)).toBe(2);
    return (err as ConfigError).issues.map((i) => ('value' in i ? `${i.path}: ${i.message} (got ${JSON.stringify(i.value)})` : `${i.path}: ${i.message}`));
  };

  it('refuses a batch-size search that starts above its cap or candidates above it, before calibration', async () => {
    const counters = { trainers: 0, steps: 0 };
    const o = base(new FakeClock(), { counters }, { start: { maxLr: 0.1 }, batchSize: { start: 512, max: 64, candidates: [128, 256] } });
    expect(issuesOf(await tune(o).catch((e) => e))).toEqual([
      'batchSize.start: above batchSize.max (64): the doubling search would start above its cap; allowed: at most 64 (got 512)',
      'batchSize.candidates[0]: above batchSize.max (64): the search never runs a size above its cap; allowed: at most 64 (got 128)',
      'batchSize.candidates[1]: above batchSize.max (64): the search never runs a size above its cap; allowed: at most 64 (got 256)',
    ]);
    expect(counters.trainers).toBe(0);
    // without batchSize.start the search starts at start.batchSize: a max below it is the mistake
    const low = await tune(base(new FakeClock(), {}, { batchSize: { max: 16 } })).catch((e) => e);
    expect(issuesOf(low)).toEqual(['batchSize.max: below start.batchSize (64), where the doubling search starts; allowed: at least 64, or set a smaller batchSize.start (got 16)']);
    // a max left at its default is named as such; and the relation matters only when the stage runs
    const big = await tune(base(new FakeClock(), {}, { start: { batchSize: 8192 }, batchSize: {} })).catch((e) => e);
    expect(issuesOf(big)).toEqual(['batchSize.max: below start.batchSize (8192), where the doubling search starts; allowed: at least 8192, or set a smaller batchSize.start (not set: the default 4096)']);
    const { report } = await tune(base(new FakeClock(), {}, { stages: ['lr'], start: { batchSize: 128 }, batchSize: { max: 64 } }));
    expect(report.status).toBe('complete');
  });

  it('refuses a min above its max (an inverted 1cycle), and takes a min equal to its max as a constant', async () => {
    const inverted = await tune(base(new FakeClock(), {}, { stages: ['final'], start: { maxLr: 0.01, minLr: 0.1, momentumMax: 0.8, momentumMin: 0.95 } })).catch((e) => e);
    expect(issuesOf(inverted)).toEqual([
      'start.minLr: above start.maxLr (0.01): 1cycle goes from minLr up to maxLr and back; allowed: at most 0.01 (equal: a constant LR) (got 0.1)',
      'start.momentumMin: above start.momentumMax (0.8): cyclical momentum goes from momentumMax down to momentumMin as the LR rises; allowed: at most 0.8 (equal: constant momentum) (got 0.95)',
    ]);
    // start.momentumMin alone is checked against the default top, 0.95, when no momentum stage replaces both
    const alone = await tune(base(new FakeClock(), {}, { stages: ['final'], start: { maxLr: 0.1, momentumMin: 0.97 } })).catch((e) => e);
    expect(issuesOf(alone)).toEqual([
      'start.momentumMin: above the default start.momentumMax (0.95): cyclical momentum goes from momentumMax down to momentumMin as the LR rises; allowed: at most 0.95 (equal: constant momentum) (got 0.97)',
    ]);
    const { report } = await tune(base(new FakeClock(), {}, { stages: ['final'], start: { maxLr: 0.1, minLr: 0.1, momentumMax: 0.9, momentumMin: 0.9 } }));
    expect(report.recommendations).toMatchObject({ maxLr: 0.1, minLr: 0.1, momentumMax: 0.9, momentumMin: 0.9 });
    expect(report.final!.history.every((h) => h.momentum === 0.9)).toBe(true);
  });

  it('refuses a momentum.min that no momentum could be above: every candidate, or the fixed top without the stage', async () => {
    const all = await tune(base(new FakeClock(), {}, { momentum: { min: 0.99 } })).catch((e) => e);
    expect(issuesOf(all)).toEqual([
      'momentum.min: not below any of momentum.values (0.99, 0.97, 0.95, 0.9): the momentum would be constant whichever value won; allowed: below 0.99, the largest value (paper: 0.85 or 0.8) (got 0.99)',
    ]);
    const fixed = await tune(base(new FakeClock(), {}, { stages: ['final'], start: { maxLr: 0.1, momentumMax: 0.9 }, momentum: { min: 0.92 } })).catch((e) => e);
    expect(issuesOf(fixed)).toEqual([
      'momentum.min: above start.momentumMax (0.9), the top of the cycle when the momentum stage does not run; allowed: at most 0.9 (equal: constant momentum), or set start.momentumMin (got 0.92)',
    ]);
    // below the largest value: a smaller winner is used as constant momentum, as the report says
    const { report } = await tune(base(new FakeClock(), {}, { stages: ['lr', 'momentum'], momentum: { values: [0.99, 0.9], min: 0.95, steps: 12 } }));
    const winner = report.recommendations.momentumMax!;
    expect(report.recommendations.momentumMin).toBe(Math.min(0.95, winner));
  });

  it('says why the batch-size stage found nothing to run instead of failing on a missing size', async () => {
    // the start size itself over the memory cap: no size ran (was a TypeError on `largest`)
    const capped = (await tune(base(new FakeClock(), {}, { stages: ['lr', 'batch-size'], batchSize: { memoryCapMb: 1 } })).catch((e) => e)) as StageFailedError;
    expect(capped).toBeInstanceOf(StageFailedError);
    expect(capped.message).toMatch(/^stage "batch-size" failed: batch size 64 \(the start of the search\) does not fit: resident memory \d+ MB > memoryCapMb 1\. Finished stages/);
    // every candidate above the largest size that ran (out of memory above 128): each one named
    const oom = (await tune(base(new FakeClock(), { oomAbove: 128 }, { stages: ['lr', 'batch-size'], batchSize: { max: 1024, candidates: [256, 512] } })).catch((e) => e)) as StageFailedError;
    expect(oom).toBeInstanceOf(StageFailedError);
    expect(oom.message).toMatch(
      /^stage "batch-size" failed: no batch-size candidate could run \(256: not run, larger than the largest batch that fits \(128\); 512: not run, larger than the largest batch that fits \(128\)\)\. /,
    );
  });

  it('lists every config problem at once: the missing trainer section and module, the budget, the seed', async () => {
    const missing = await loadTuneConfig(writeConfig(['budget: true', 'seed: 4294967296'])).catch((e) => e);
    expect(issuesOf(missing)).toEqual([
      'seed: allowed: an integer from 0 to 2147483647 (the seed of 32-bit generators) (got 4294967296)',
      "budget: not a number of seconds or a duration string; allowed: seconds (e.g. 900) or a duration of h, m and s parts without spaces ('90s', '15m', '1h30m'; parts add up: '1h90m' is 2h30m), from 10 s to 7 days (168h) (got true)",
      'trainer: required: a section naming the module that trains your model, trainer: { module: ./trainer.mjs } (a path relative to the config file; optional kind: factory|tfjs and export: default)',
    ]);
    const f = writeConfig(['trainer: { module: ./nope.mjs }', 'budget: 5m 3s']);
    const dir = join(f, '..');
    expect(issuesOf(await loadTuneConfig(f).catch((e) => e))).toEqual([
      "budget: not a duration; allowed: seconds (e.g. 900) or a duration of h, m and s parts without spaces ('90s', '15m', '1h30m'; parts add up: '1h90m' is 2h30m), from 10 s to 7 days (168h) (got \"5m 3s\")",
      `trainer.module: no such file: ${join(dir, 'nope.mjs')} (resolved from the config file's folder ${dir}); allowed: the path of the trainer module, relative to the config file, e.g. ./trainer.mjs (got "./nope.mjs")`,
    ]);
    // the config's budget follows --budget: 10 s to 7 days (the SDK's tune() also takes shorter ones, for a fake clock)
    const long = await loadTuneConfig(writeConfig(['trainer: { module: ./t.mjs }', 'budget: 1e9'], { 't.mjs': 'export default () => {};\n' })).catch((e) => e);
    expect(issuesOf(long)).toEqual([
      "budget: longer than 7 days (1000000000 s); allowed: seconds (e.g. 900) or a duration of h, m and s parts without spaces ('90s', '15m', '1h30m'; parts add up: '1h90m' is 2h30m), from 10 s to 7 days (168h) (got 1000000000)",
    ]);
    const ok = await loadTuneConfig(writeConfig(['trainer: { module: ./t.mjs }', 'budget: 1h90m', 'seed: 2147483647'], { 't.mjs': 'export default () => {};\n' }));
    expect(ok.settings).toMatchObject({ budget: '1h90m', seed: 2147483647 });
    const seedApi = await tune(base(new FakeClock(), {}, { seed: 2 ** 31 })).catch((e) => e);
    expect(issuesOf(seedApi)).toEqual(['seed: allowed: an integer from 0 to 2147483647 (the seed of 32-bit generators) (got 2147483648)']);
  });
});
