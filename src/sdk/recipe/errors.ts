/**
 * Errors of the recipe runner, each with the exit code the CLI should use:
 * a config mistake 2, a stage that failed 1, an interruption (Ctrl-C / SIGTERM) 130.
 */
import { UserInputError, describeValue } from '../../errors.js';
import type { TuningReport } from '../../report/schema.js';

export interface ConfigIssue {
  /** Field path, e.g. `momentum.values[2]`. */
  path: string;
  /** What was wrong and what is allowed. */
  message: string;
  value?: unknown;
}

/** A tune config that does not validate: every issue, each naming its field path and value. */
export class ConfigError extends UserInputError {
  readonly exitCode = 2;
  constructor(
    readonly source: string,
    readonly issues: ConfigIssue[],
  ) {
    const first = issues[0] ?? { path: '(root)', message: 'invalid' };
    super(first.path, first.value, first.message);
    this.name = 'ConfigError';
    this.message =
      `${source}: invalid tune config (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n` +
      issues
        .map((i) => `  - ${i.path || '(root)'}: ${i.message}${'value' in i ? ` (got ${describeValue(i.value)})` : ''}`)
        .join('\n');
  }
}

/** Base of the errors `tune` rejects with after work started: the run folder keeps what finished. */
export class TuneError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly runDir: string,
    readonly report: TuningReport | undefined,
    readonly stageId: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'TuneError';
  }
}

/** A stage failed (trainer threw, NaN losses, impossible settings): the finished stages stay on disk. */
export class StageFailedError extends TuneError {
  constructor(stageId: string, cause: string, runDir: string, report: TuningReport | undefined, original?: unknown) {
    super(`stage "${stageId}" failed: ${cause}. Finished stages are kept in ${runDir}; fix the cause and resume with --resume ${runDir}`, 1, runDir, report, stageId, { cause: original });
    this.name = 'StageFailedError';
  }
}

/** The AbortSignal fired: what finished is written; resume continues. Exit code 130 like a shell. */
export class TuneInterruptedError extends TuneError {
  constructor(stageId: string | undefined, runDir: string, report: TuningReport | undefined) {
    super(`interrupted${stageId ? ` during stage "${stageId}"` : ''}; finished stages are in ${runDir}; continue with --resume ${runDir}`, 130, runDir, report, stageId);
    this.name = 'TuneInterruptedError';
  }
}

/** Thrown inside a stage when a measurement makes it impossible to go on (caught by the runner). */
export class StageProblem extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StageProblem';
  }
}

/** Exit code for any error out of `tune`/`loadTuneConfig`: 2 for bad input, 130 interrupted, 1 otherwise. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof TuneError) return error.exitCode;
  if (error instanceof UserInputError) return 2;
  return 1;
}
