/**
 * The `superconverge` command: demo, tune, range-test, report, sync, schema.
 *
 * Exit codes: 0 success; 1 failure (a stage failed, a server refused); 2 bad input (an option, a
 * config field — the message names it, no stack trace); 130 interrupted (Ctrl-C / SIGTERM; what was
 * finished is on disk and `tune --resume <dir>` continues).
 */
import { createRequire } from 'node:module';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { UserInputError } from '../errors.js';
import { ReportValidationError } from '../report/index.js';
import { MIN_BUDGET_SECONDS, parseBudget } from '../sdk/recipe/budget.js';
import { MAX_SEED, STAGE_IDS, type StageId } from '../sdk/recipe/options.js';
import { isHttpTrackingUri } from '../sdk/tracking/config.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

export const EXIT = { ok: 0, failure: 1, usage: 2, interrupted: 130 } as const;

/** Signals an interrupted run: the CLI exits 130. */
export class InterruptedError extends Error {
  constructor(message = 'interrupted') {
    super(message);
    this.name = 'InterruptedError';
  }
}

export function parseInteger(option: string, min: number, max = Number.MAX_SAFE_INTEGER) {
  return (raw: string): number => {
    const n = Number(raw);
    if (!/^[+-]?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${option}: got ${JSON.stringify(raw)}; allowed: an integer from ${min} to ${max}.`);
    }
    return n;
  };
}

/**
 * A time budget option ('90s', '15m', '1h30m' or seconds), checked at parse time by the parser of
 * the config's `budget` field, with the same limits, and kept as given.
 */
export function parseBudgetOption(option: string) {
  return (raw: string): string => {
    try {
      parseBudget(raw, option, MIN_BUDGET_SECONDS);
    } catch (e) {
      if (!(e instanceof UserInputError)) throw e;
      throw new InvalidArgumentError(`${e.message}.`);
    }
    return raw;
  };
}

/**
 * --tracking-uri: an http(s) URL. MLFLOW_TRACKING_URI may name a local store of the Python client
 * (file:./mlruns), which means "no server" here; a flag given on purpose with a typo in it
 * (htp://, a bare host:port) would silently log nowhere.
 */
export function parseTrackingUriOption(option: string) {
  return (raw: string): string => {
    if (!isHttpTrackingUri(raw.trim())) throw new InvalidArgumentError(`${option}: got ${JSON.stringify(raw)}; allowed: an http:// or https:// MLflow tracking server URL, e.g. http://127.0.0.1:5000.`);
    return raw.trim();
  };
}

/** --experiment: an MLflow experiment name (the server refuses an empty one). */
export function parseExperimentOption(option: string) {
  return (raw: string): string => {
    if (raw.trim() === '') throw new InvalidArgumentError(`${option}: got ${JSON.stringify(raw)}; allowed: a non-empty MLflow experiment name.`);
    return raw;
  };
}

/** --stages: a comma-separated subset of the stages, checked at parse time ('' is not "all"). */
export function parseStagesOption(option: string) {
  return (raw: string): StageId[] => {
    const list = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    const unknown = list.filter((s) => !(STAGE_IDS as readonly string[]).includes(s));
    const problem = unknown.length > 0 ? `unknown stage${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}` : list.length === 0 ? 'no stage given' : null;
    if (problem) throw new InvalidArgumentError(`${option}: ${problem} — got ${JSON.stringify(raw)}; allowed: a comma-separated list of ${STAGE_IDS.join(', ')}.`);
    return list as StageId[];
  };
}

/**
 * Maps SIGINT/SIGTERM to an AbortSignal for the duration of `work`. A second Ctrl-C exits at once.
 */
export async function withInterrupts<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let count = 0;
  const onSignal = (name: NodeJS.Signals) => {
    count += 1;
    if (count > 1) process.exit(EXIT.interrupted);
    process.stderr.write(`\n${name}: stopping after the current step; finished stages are kept (Ctrl-C again to quit now)\n`);
    controller.abort(new InterruptedError(`${name} received`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function buildProgram(): Command {
  const program = new Command();
  program
    .name('superconverge')
    .description(
      "Leslie Smith's disciplined approach to hyper-parameters (arXiv 1803.09820) for TensorFlow.js:\n" +
        'LR range test, 1cycle, batch size, momentum and weight decay — logged to MLflow, reported on pull requests.',
    )
    .version(version, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('demo')
    .description(
      'Tune and train a small CNN on the real MNIST digits (the whole recipe, then 1cycle training and an Adam baseline).',
    )
    .option('--seed <n>', 'random seed (data split, initialisation, shuffling)', parseInteger('--seed', 0, MAX_SEED), 42)
    .option('--out <dir>', 'output root: the run goes to <dir>/<timestamp>/ (default ./superconverge-out), or exactly SUPERCONVERGE_OUT_DIR')
    .option('--epochs <n>', 'epochs of the final 1cycle training and of the baseline', parseInteger('--epochs', 1, 1000))
    .option('--budget <time>', 'time budget of the whole recipe (tuning stages and the final training; the baseline comes on top), e.g. 90s, 8m, 1h (default: 7m)', parseBudgetOption('--budget'))
    .addOption(
      new Option('--recipe <which>', 'which stages to run: full (LR, batch size, momentum, weight decay) or lr (range test only)')
        .choices(['full', 'lr'])
        .default('full'),
    )
    .option('--no-baseline', 'skip the constant-LR Adam baseline')
    .option('--train-size <n>', 'training digits, at least one batch (128) and at most 7000: 1,000 validation and 2,000 test digits of the 10,000 are held out (default: 7000)', parseInteger('--train-size', 128, 7000))
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']).default('auto'))
    .option('--resume <dir>', 'continue an interrupted demo run folder')
    .option('--tracking-uri <uri>', 'MLflow tracking server (default: MLFLOW_TRACKING_URI; none: the local run folder only)', parseTrackingUriOption('--tracking-uri'))
    .option('--experiment <name>', 'MLflow experiment (default: MLFLOW_EXPERIMENT_NAME, else superconverge)', parseExperimentOption('--experiment'))
    .action(async (opts) => {
      const { runDemo } = await import('../demo/run.js');
      await withInterrupts((signal) => runDemo({ ...opts, signal }));
    });

  program
    .command('tune')
    .description('Run the recipe on your own model, described by a YAML config (see examples/ and schema/tune-config.schema.json).')
    .argument('[config]', 'the tune config (YAML or JSON)')
    .option('--out <dir>', 'output root (a <timestamp>/ folder is made inside), or SUPERCONVERGE_OUT_DIR')
    .option('--resume <dir>', 'continue an interrupted run folder: finished stages are skipped')
    .option('--budget <time>', 'time budget, e.g. 15m (overrides the config)', parseBudgetOption('--budget'))
    .option('--seed <n>', 'random seed (overrides the config)', parseInteger('--seed', 0, MAX_SEED))
    .option('--stages <list>', `comma-separated subset of stages to run, e.g. lr,momentum (of ${STAGE_IDS.join(', ')})`, parseStagesOption('--stages'))
    .option('--tracking-uri <uri>', 'MLflow tracking server (default: MLFLOW_TRACKING_URI; none: the local run folder only)', parseTrackingUriOption('--tracking-uri'))
    .option('--experiment <name>', 'MLflow experiment (default: MLFLOW_EXPERIMENT_NAME, else superconverge)', parseExperimentOption('--experiment'))
    .action(async (config: string | undefined, opts) => {
      const { runTuneCommand } = await import('./tune.js');
      await withInterrupts((signal) => runTuneCommand(config, { ...opts, signal }));
    });

  program
    .command('range-test')
    .description('Only the LR range test of a tune config (same config file as `tune`).')
    .argument('<config>', 'the tune config (YAML or JSON)')
    .option('--out <dir>', 'output root: the run goes to <dir>/<timestamp>/')
    .option('--seed <n>', 'random seed', parseInteger('--seed', 0, MAX_SEED))
    .action(async (config: string, opts) => {
      const { runTuneCommand } = await import('./tune.js');
      await withInterrupts((signal) => runTuneCommand(config, { ...opts, stages: ['lr'], signal }));
    });

  program
    .command('report')
    .description('Render a report.json as Markdown, HTML, SVG/PNG charts or JSON.')
    .argument('<report>', 'path to report.json')
    .option('--base <report>', 'the base branch report.json to compare against')
    .option('--format <list>', 'comma-separated: md, html, svg, png, json', 'md,html,svg')
    .option('--out <dir>', 'output folder (default: beside the report)')
    .action(async (file: string, opts) => {
      const { runReportCommand } = await import('./report.js');
      await runReportCommand(file, opts);
    });

  program
    .command('sync')
    .description('Send a local run folder (made offline or while the server was down) to MLflow; points already there are not sent twice.')
    .argument('<run-dir>', 'the run folder (holds events.jsonl)')
    .option('--tracking-uri <uri>', 'MLflow tracking URI (default: MLFLOW_TRACKING_URI)', parseTrackingUriOption('--tracking-uri'))
    .option('--experiment <name>', 'MLflow experiment (default: the one the folder was logged to; for a folder that recorded none MLFLOW_EXPERIMENT_NAME, else superconverge)', parseExperimentOption('--experiment'))
    .action(async (dir: string, opts) => {
      const { runSyncCommand } = await import('./sync.js');
      await runSyncCommand(dir, opts);
    });

  program
    .command('schema')
    .description('Print a JSON Schema: the TuningReport (report.json) or the tune config.')
    .addOption(new Option('--of <which>', 'which schema').choices(['report', 'config']).default('report'))
    .action(async (opts: { of: 'report' | 'config' }) => {
      if (opts.of === 'report') {
        const { reportJsonSchema } = await import('../report/index.js');
        process.stdout.write(JSON.stringify(reportJsonSchema(), null, 2) + '\n');
      } else {
        const { readFile } = await import('node:fs/promises');
        const file = new URL('../../schema/tune-config.schema.json', import.meta.url);
        process.stdout.write(await readFile(file, 'utf8'));
      }
    });

  return program;
}

/** Runs the CLI and returns the exit code (never calls process.exit on the normal path). */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    return reportError(error);
  }
}

/** The process entry (bin/superconverge.js and the tests' runner): main, then the exit code. */
export function run(argv: string[] = process.argv): Promise<void> {
  // A reader that stops early (`superconverge report r.json --format json | head`) is not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    process.exit(process.exitCode ?? EXIT.ok);
  });
  return main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(error);
      process.exitCode = EXIT.failure;
    },
  );
}

export function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // help and version are "errors" with code 0 in exitOverride mode
    if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT.ok;
    return EXIT.usage; // commander already printed the message
  }
  const e = error as Error & { exitCode?: number; code?: string };
  if (error instanceof UserInputError || error instanceof ReportValidationError || e?.name === 'ConfigError' || e?.name === 'UserInputError') {
    process.stderr.write(`error: ${e.message}\n`);
    return EXIT.usage;
  }
  if (error instanceof InterruptedError || e?.name === 'InterruptedError' || e?.name === 'AbortError') {
    process.stderr.write(`interrupted: ${e.message}\n`);
    return EXIT.interrupted;
  }
  if (typeof e?.exitCode === 'number' && e.exitCode !== 0) {
    process.stderr.write(`error: ${e.message}\n`);
    return e.exitCode;
  }
  process.stderr.write(`error: ${e?.message ?? String(error)}\n`);
  if (process.env.SUPERCONVERGE_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
  return EXIT.failure;
}
