import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/run-cli.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'sc-cli-'));

/** A user error: exit 2, one clear message on stderr naming the option, no stack trace. */
function expectUsageError(r: { code: number | null; stderr: string }, ...mentions: (string | RegExp)[]) {
  expect(r.code, r.stderr).toBe(2);
  for (const m of mentions) expect(r.stderr).toMatch(m);
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/); // no stack frames
}

describe('superconverge CLI: help, version and bad input', () => {
  it('--version prints the package version and --help lists the commands', async () => {
    const v = await runCli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const h = await runCli(['--help']);
    expect(h.code).toBe(0);
    for (const c of ['demo', 'tune', 'range-test', 'report', 'sync', 'schema']) expect(h.stdout).toContain(c);
    const d = await runCli(['demo', '--help']);
    for (const o of ['--seed', '--out', '--epochs', '--budget']) expect(d.stdout).toContain(o);
  });

  it('rejects bad demo options before training: exit 2, the option, the value and the allowed range', async () => {
    expectUsageError(await runCli(['demo', '--seed', '-1']), '--seed', '"-1"', /an integer from 0/);
    expectUsageError(await runCli(['demo', '--epochs', '0']), '--epochs', /from 1 to 1000/);
    expectUsageError(await runCli(['demo', '--budget', 'soon']), '--budget', '"soon"', /'15m'/);
    expectUsageError(await runCli(['demo', '--backend', 'tpu']), '--backend', 'tpu');
    expectUsageError(await runCli(['demo', '--train-size', '9000']), '--train-size', '9000', /from 128 to 7000/);
    // fewer digits than one batch (128): refused up front, not as a failed calibration
    expectUsageError(await runCli(['demo', '--train-size', '100']), '--train-size', '"100"', /from 128 to 7000/);
    expectUsageError(await runCli(['demo', '--bogus']), /unknown option '--bogus'/);
    // an output folder that cannot be made (a file stands in the path)
    expectUsageError(await runCli(['demo', '--recipe', 'lr', '--out', '/etc/passwd/x']), '--out', '/etc/passwd/x', /a folder that can be created/);
  });

  it('rejects a bad tune config naming every bad field path, the value and what is allowed', async () => {
    const dir = tmp();
    const config = join(dir, 'tune.yml');
    writeFileSync(
      config,
      ['trainer:', '  module: ./nope.mjs', 'lr:', '  startLr: 10', '  endLr: 1', 'momentum:', '  values: []', 'weightDecay:', '  hint: medium', 'colour: blue'].join('\n'),
    );
    const r = await runCli(['tune', config]);
    expectUsageError(r, 'lr.endLr', 'startLr must be smaller than endLr', 'momentum.values', 'weightDecay.hint', '"medium"', 'colour', /unknown key/);
    expectUsageError(await runCli(['tune']), 'config', /--resume/);
    expectUsageError(await runCli(['tune', 'examples/tune.yml', '--stages', 'lr,colour']), '--stages', 'colour', /lr, batch-size, momentum/);
    expectUsageError(await runCli(['tune', '--resume', dir]), 'resume', /run\.json/);
  });

  it('sync refuses a folder that is not a run folder, and a missing tracking URI, naming what to set', async () => {
    const dir = tmp();
    expectUsageError(await runCli(['sync', dir, '--tracking-uri', 'http://127.0.0.1:9']), 'run-dir', 'not a run folder: no events.jsonl');
    writeFileSync(join(dir, 'events.jsonl'), '');
    expectUsageError(await runCli(['sync', dir], { env: { MLFLOW_TRACKING_URI: '' } }), '--tracking-uri or MLFLOW_TRACKING_URI', 'not set', /http:\/\/ or https:\/\//);
  });

  it('rejects a missing or invalid report and an unknown format', async () => {
    const dir = tmp();
    expectUsageError(await runCli(['report', join(dir, 'missing.json')]), 'missing.json', /cannot read/);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ schemaVersion: '1.0', kind: 'superconverge.tuning-report', stages: 'none' }));
    expectUsageError(await runCli(['report', bad]), 'bad.json is not a valid TuningReport', 'stages');
    expectUsageError(await runCli(['report', 'test/fixtures/full-report.json', '--format', 'md,gif']), '--format', 'gif', /md, html, svg, png, json/);
  });
});
