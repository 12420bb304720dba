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

  it('checks --budget and the config\'s budget with one parser: the same values refused with the same words, exit 2', async () => {
    const dir = tmp();
    const allowed = "allowed: seconds (e.g. 900) or a duration of h, m and s parts without spaces ('90s', '15m', '1h30m'; parts add up: '1h90m' is 2h30m), from 10 s to 7 days (168h)";
    const cases: [string, string, string][] = [
      ['1e9', 'budget: 1e9', 'longer than 7 days (1000000000 s)'],
      ['999999999h', 'budget: 999999999h', 'longer than 7 days (3599999996400 s)'],
      ['0.001s', 'budget: 0.001s', "shorter than 10 s (0.001 s): too short for calibration and the stages' minimum steps"],
      ['5m 3s', 'budget: 5m 3s', 'not a duration'],
      ['1 2 3', 'budget: "1 2 3"', 'not a duration'],
    ];
    writeFileSync(join(dir, 't.mjs'), 'export default () => {};\n');
    for (const [flag, yaml, problem] of cases) {
      // on the command line, 1e9 is text (refused as such); in YAML it is a number (refused as too long)
      const cli = flag === '1e9' ? 'not a duration' : problem;
      const r = await runCli(['tune', 'examples/tune.yml', '--budget', flag]);
      expectUsageError(r, `--budget: ${cli} — got ${JSON.stringify(flag)}; ${allowed}.`);
      const config = join(dir, `budget-${cases.findIndex((c) => c[0] === flag)}.yml`);
      writeFileSync(config, ['trainer: { module: ./t.mjs }', yaml].join('\n'));
      const value = flag === '1e9' ? '1000000000' : JSON.stringify(flag);
      expectUsageError(await runCli(['tune', config]), `  - budget: ${problem}; ${allowed} (got ${value})`);
    }
    expectUsageError(await runCli(['demo', '--budget', '0.001s']), `--budget: shorter than 10 s (0.001 s)`);
    writeFileSync(join(dir, 'true.yml'), 'trainer: { module: ./t.mjs }\nbudget: true\n');
    expectUsageError(await runCli(['tune', join(dir, 'true.yml')]), `  - budget: not a number of seconds or a duration string; ${allowed} (got true)`);
    // the seed: a 32-bit generator's range on the command line and in the config
    expectUsageError(await runCli(['tune', 'examples/tune.yml', '--seed', '2147483648']), '--seed: got "2147483648"; allowed: an integer from 0 to 2147483647.');
    writeFileSync(join(dir, 'seed.yml'), 'trainer: { module: ./t.mjs }\nseed: 4294967296\n');
    expectUsageError(await runCli(['tune', join(dir, 'seed.yml')]), '  - seed: allowed: an integer from 0 to 2147483647 (the seed of 32-bit generators) (got 4294967296)');
  });

  it('refuses --stages without a stage, a missing trainer section or module, and contradicting fields, each named', async () => {
    const all = 'allowed: a comma-separated list of lr, batch-size, momentum, weight-decay, lr-recheck, final, baseline.';
    expectUsageError(await runCli(['tune', 'examples/tune.yml', '--stages', '']), `--stages: no stage given — got ""; ${all}`);
    expectUsageError(await runCli(['tune', 'examples/tune.yml', '--stages', ' , ']), `--stages: no stage given — got " , "; ${all}`);
    const dir = tmp();
    const config = join(dir, 'tune.yml');
    writeFileSync(config, 'title: no trainer\n');
    expectUsageError(
      await runCli(['tune', config]),
      '  - trainer: required: a section naming the module that trains your model, trainer: { module: ./trainer.mjs } (a path relative to the config file; optional kind: factory|tfjs and export: default)\n',
    );
    writeFileSync(config, ['trainer: { module: ./missing.mjs }', 'start: { maxLr: 0.01, minLr: 0.1 }', 'batchSize: { start: 512, max: 64, candidates: [128, 256] }'].join('\n'));
    const r = await runCli(['tune', config]);
    expectUsageError(
      r,
      `${config}: invalid tune config (5 problems):\n`,
      '  - start.minLr: above start.maxLr (0.01): 1cycle goes from minLr up to maxLr and back; allowed: at most 0.01 (equal: a constant LR) (got 0.1)\n',
      '  - batchSize.start: above batchSize.max (64): the doubling search would start above its cap; allowed: at most 64 (got 512)\n',
      '  - batchSize.candidates[1]: above batchSize.max (64): the search never runs a size above its cap; allowed: at most 64 (got 256)\n',
      `  - trainer.module: no such file: ${join(dir, 'missing.mjs')} (resolved from the config file's folder ${dir}); allowed: the path of the trainer module, relative to the config file, e.g. ./trainer.mjs (got "./missing.mjs")`,
    );
    expect(r.stderr).not.toMatch(/imported from|lib\/sdk|src\/sdk/);
  });

  it('refuses a --tracking-uri that is not http(s) and an empty --experiment, on every command that takes them', async () => {
    for (const cmd of [['demo'], ['tune', 'examples/tune.yml'], ['sync', '.']]) {
      for (const uri of ['htp://127.0.0.1:5000', '127.0.0.1:5000']) {
        expectUsageError(await runCli([...cmd, '--tracking-uri', uri]), `--tracking-uri: got ${JSON.stringify(uri)}; allowed: an http:// or https:// MLflow tracking server URL`);
      }
      expectUsageError(await runCli([...cmd, '--experiment', ' ']), '--experiment: got " "; allowed: a non-empty MLflow experiment name.');
    }
  });

  it('checks --stages with the config, and refuses settings that --resume would ignore', async () => {
    // examples/tune.yml runs from the lr stage; alone, the final training has no max LR to start from
    expectUsageError(await runCli(['tune', 'examples/tune.yml', '--stages', 'final']), 'start.maxLr: required: the final stage needs a max LR and the lr stage does not run');
    const dir = tmp();
    expectUsageError(
      await runCli(['tune', '--resume', dir, '--seed', '7', '--budget', '30s']),
      /--budget: ignored by --resume — got "30s"; allowed: no --budget, --seed with --resume: a resumed run keeps the settings stored in its folder/,
    );
  });

  it('a reader that stops early (| head) ends the output quietly, exit 0, no stack trace', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/cli.ts', 'report', 'test/fixtures/full-report.json', '--format', 'md', '--out', tmp()], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    // read the first chunk, then close the pipe as `head -c 10` would
    await new Promise<void>((r) => child.stdout.once('data', () => (child.stdout.destroy(), r())));
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect(stderr).not.toMatch(/EPIPE|\n\s+at .+:\d+:\d+/);
    expect(code).toBe(0);
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
