import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { checkMayRunCommand, readRunContext } from '../../src/action/context.js';
import { readInputs } from '../../src/action/inputs.js';
import { commandEnv } from '../../src/action/main.js';
import { mlflowRunUrl, stripCredentials } from '../../src/action/outputs.js';
import { matchesPattern } from '../../src/action/artifacts.js';

const inputsFrom = (map: Record<string, string>) => readInputs((n) => map[n] ?? '');

describe('readInputs', () => {
  it('applies the defaults and parses a fractional timeout', () => {
    const i = inputsFrom({ command: 'npx superconverge tune', 'timeout-minutes': '1.5' });
    expect(i).toMatchObject({ mode: 'run', comment: 'update', failOn: 'never', reportKey: 'default', allowForkPullRequests: false, timeoutMinutes: 1.5 });
  });

  it('names the input, the value and the allowed values when one is wrong', () => {
    expect(() => inputsFrom({ command: 'x', 'fail-on': 'sometimes' })).toThrow(UserInputError);
    expect(() => inputsFrom({ command: 'x', 'fail-on': 'sometimes' })).toThrow('fail-on: unknown value — got "sometimes"; allowed: never | divergence | regression');
    expect(() => inputsFrom({ command: 'x', 'allow-fork-pull-requests': 'yes' })).toThrow(/allow-fork-pull-requests.*true \| false/);
    expect(() => inputsFrom({ command: 'x', 'timeout-minutes': '-1' })).toThrow(/timeout-minutes/);
    expect(() => inputsFrom({ command: 'x', 'report-key': 'a key-->' })).toThrow(/report-key/);
    expect(() => inputsFrom({})).toThrow(/command: required in mode run/);
    expect(inputsFrom({ mode: 'aggregate' }).mode).toBe('aggregate'); // no command needed
  });
});

describe('readRunContext and checkMayRunCommand', () => {
  const ctxFor = (event: string, payload: unknown, runner: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'sc-ctx-'));
    writeFileSync(join(dir, 'event.json'), JSON.stringify(payload));
    return readRunContext({ GITHUB_EVENT_NAME: event, GITHUB_EVENT_PATH: join(dir, 'event.json'), GITHUB_REPOSITORY: 'example/digits', RUNNER_ENVIRONMENT: runner });
  };
  const pr = (head: string | null) => ({
    pull_request: { number: 3, head: { sha: 'abc', repo: head ? { full_name: head } : null }, base: { ref: 'main', repo: { full_name: 'example/digits' } } },
  });

  it('treats a different or deleted head repository as a fork', () => {
    expect(ctxFor('pull_request', pr('example/digits'), 'self-hosted').pullRequest?.fromFork).toBe(false);
    expect(ctxFor('pull_request', pr('Example/Digits'), 'self-hosted').pullRequest?.fromFork).toBe(false);
    expect(ctxFor('pull_request', pr('stranger/digits'), 'self-hosted').pullRequest?.fromFork).toBe(true);
    expect(ctxFor('pull_request', pr(null), 'self-hosted').pullRequest?.fromFork).toBe(true);
  });

  it('refuses forks on anything but GitHub-hosted runners unless allowed, and always under pull_request_target', () => {
    expect(checkMayRunCommand(ctxFor('pull_request', pr('stranger/digits'), 'self-hosted'), false).refused).toBe(true);
    expect(checkMayRunCommand(ctxFor('pull_request', pr('stranger/digits'), ''), false).refused).toBe(true);
    expect(checkMayRunCommand(ctxFor('pull_request', pr('stranger/digits'), 'github-hosted'), false).refused).toBe(false);
    expect(checkMayRunCommand(ctxFor('pull_request', pr('stranger/digits'), 'self-hosted'), true).refused).toBe(false);
    expect(checkMayRunCommand(ctxFor('pull_request', pr('example/digits'), 'self-hosted'), false).refused).toBe(false);
    expect(checkMayRunCommand(ctxFor('pull_request_target', pr('example/digits'), 'github-hosted'), true).refused).toBe(true);
  });
});

describe('helpers', () => {
  it('keeps the inputs (and the token) out of the command environment and adds the run-folder variable', () => {
    const env = commandEnv(inputsFrom({ command: 'x', 'mlflow-tracking-uri': 'http://m:5000', 'mlflow-experiment': 'e' }), '/tmp/out', {
      PATH: '/bin',
      'INPUT_GITHUB-TOKEN': 'ghs_secret',
    });
    expect(env).toEqual({
      PATH: '/bin',
      SUPERCONVERGE_OUT_DIR: '/tmp/out',
      SUPERCONVERGE_REPORT_KEY: 'default',
      MLFLOW_TRACKING_URI: 'http://m:5000',
      MLFLOW_EXPERIMENT_NAME: 'e',
    });
  });

  it('strips credentials from MLflow links', () => {
    expect(stripCredentials('https://user:p%40ss@mlflow.example.com/')).toBe('https://mlflow.example.com/');
    const report = { links: { mlflow: { trackingUri: 'https://u:pw@ml.example.com/', experimentId: '7', runId: 'r1', stageRuns: {} }, artifacts: [] } } as any;
    expect(mlflowRunUrl(report)).toBe('https://ml.example.com/#/experiments/7/runs/r1');
  });

  it('matches artifact names with * wildcards only', () => {
    expect(matchesPattern('superconverge-part-wd-1e-4', 'superconverge-part-*')).toBe(true);
    expect(matchesPattern('superconverge-partial', 'superconverge-part-*')).toBe(false);
    expect(matchesPattern('a.b', 'a?b')).toBe(false);
  });
});
