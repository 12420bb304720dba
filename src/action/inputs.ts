/**
 * The action's inputs, read from the runner's `INPUT_*` environment and validated before any work
 * starts, so a typo fails in the first second with a message naming the input (STYLE.md).
 */
import * as core from '@actions/core';
import { UserInputError } from '../errors.js';

export const COMMENT_MODES = ['update', 'create', 'off'] as const;
export const FAIL_ON = ['never', 'divergence', 'regression'] as const;
export const MODES = ['run', 'aggregate'] as const;

export type CommentMode = (typeof COMMENT_MODES)[number];
export type FailOn = (typeof FAIL_ON)[number];
export type Mode = (typeof MODES)[number];

export interface ActionInputs {
  mode: Mode;
  command: string;
  workingDirectory: string;
  mlflowTrackingUri: string;
  mlflowExperiment: string;
  githubToken: string;
  comment: CommentMode;
  reportKey: string;
  baseReport: string;
  failOn: FailOn;
  allowForkPullRequests: boolean;
  /** Minutes; 0 means no limit beyond the job's own. */
  timeoutMinutes: number;
  artifactName: string;
  artifactPattern: string;
  partialReports: string;
}

function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UserInputError(name, value, allowed.join(' | '), 'unknown value');
  }
  return value as T;
}

function bool(name: string, value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'false') return false;
  if (v === 'true') return true;
  throw new UserInputError(name, value, 'true | false', 'not a boolean');
}

/** A report key is written into an HTML comment marker: keep it to characters that cannot end it. */
const REPORT_KEY = /^[A-Za-z0-9._/-]{1,100}$/;

/** Reads and validates the inputs; `get` is injectable so tests can drive it without the runner. */
export function readInputs(get: (name: string) => string = (n) => core.getInput(n)): ActionInputs {
  const mode = oneOf('mode', get('mode') || 'run', MODES);
  const command = get('command').trim();
  if (mode === 'run' && command === '') {
    throw new UserInputError('command', command, 'a shell command, e.g. "npx superconverge tune tune.yml"', 'required in mode run');
  }
  const reportKey = get('report-key') || 'default';
  if (!REPORT_KEY.test(reportKey)) {
    throw new UserInputError('report-key', reportKey, 'letters, digits and . _ / - (1-100 characters)', 'invalid characters');
  }
  const timeoutText = get('timeout-minutes') || '0';
  const timeoutMinutes = Number(timeoutText);
  if (!Number.isFinite(timeoutMinutes) || timeoutMinutes < 0 || timeoutMinutes > 7 * 24 * 60) {
    throw new UserInputError('timeout-minutes', timeoutText, 'a number of minutes with 0 <= timeout-minutes <= 10080 (0 = no limit)', 'out of range');
  }
  return {
    mode,
    command,
    workingDirectory: get('working-directory') || '.',
    mlflowTrackingUri: get('mlflow-tracking-uri'),
    mlflowExperiment: get('mlflow-experiment'),
    githubToken: get('github-token'),
    comment: oneOf('comment', get('comment') || 'update', COMMENT_MODES),
    reportKey,
    baseReport: get('base-report'),
    failOn: oneOf('fail-on', get('fail-on') || 'never', FAIL_ON),
    allowForkPullRequests: bool('allow-fork-pull-requests', get('allow-fork-pull-requests')),
    timeoutMinutes,
    artifactName: get('artifact-name'),
    artifactPattern: get('artifact-pattern') || 'superconverge-part-*',
    partialReports: get('partial-reports'),
  };
}
