/** `superconverge tune <config>` and `superconverge range-test <config>`. */
import { UserInputError } from '../errors.js';
import { renderConsole, renderLocations } from '../reporters/index.js';
import { type StageId, type TuneOptions, tune, tuneOptionsFromConfig } from '../sdk/recipe/index.js';
import { readRunMeta } from '../sdk/recipe/persist.js';
import { createTracker } from '../sdk/tracking/index.js';
import { createProgressDisplay } from './progress.js';

export interface TuneCommandOptions {
  out?: string;
  resume?: string;
  budget?: string;
  seed?: number;
  /** Parsed by the option (parseStagesOption). */
  stages?: StageId[];
  trackingUri?: string;
  experiment?: string;
  signal?: AbortSignal;
}

export async function runTuneCommand(config: string | undefined, opts: TuneCommandOptions): Promise<void> {
  let options: TuneOptions;
  if (opts.resume) {
    // The stored settings are used as they were; the trainer module comes from the config the run
    // was started with (or the one given now, if it moved). A setting given now would be ignored:
    // refused rather than dropped without a word.
    const given = (['stages', 'budget', 'seed', 'out'] as const).filter((k) => opts[k] != null);
    if (given.length > 0)
      throw new UserInputError(
        `--${given[0]}`,
        opts[given[0]],
        `no ${given.map((k) => `--${k}`).join(', ')} with --resume: a resumed run keeps the settings stored in its folder (start a new run to change them)`,
        'ignored by --resume',
      );
    const meta = await readRunMeta(opts.resume);
    const file = config ?? meta.source?.file;
    if (!file) throw new UserInputError('config', config, 'the tune config the run was started with', 'the run folder does not record its config file');
    const fromConfig = await tuneOptionsFromConfig(file);
    options = { trainer: fromConfig.trainer, resume: opts.resume };
  } else {
    if (!config) throw new UserInputError('config', config, 'a tune config file (YAML or JSON), or --resume <run-dir>', 'missing');
    // Checked with the config (by its schema, before the module is loaded): --budget and --stages
    // were already checked on their own when parsed.
    options = await tuneOptionsFromConfig(config, { stages: opts.stages, budget: opts.budget, seed: opts.seed });
    // --out is relative to where the command runs, not to the config file
    if (opts.out != null) options.out = opts.out;
  }
  const display = createProgressDisplay();
  try {
    const { report, runDir } = await tune({
      ...options,
      signal: opts.signal,
      tracker: (runDir) => createTracker({ runDir, tracking: opts.trackingUri, experimentName: opts.experiment, mlflow: { onStatus: (m) => display.log(m) } }),
      onProgress: (e) => display.onProgress(e),
    });
    display.stop();
    process.stdout.write(`${renderConsole(report, { color: Boolean(process.stdout.isTTY) })}\n`);
    process.stdout.write(`${renderLocations(report, runDir)}\n`);
  } finally {
    display.stop();
  }
}
