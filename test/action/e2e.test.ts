/**
 * End-to-end: the committed bundle dist/index.js runs as a child process under the runner's
 * environment protocol (INPUT_* variables, GITHUB_EVENT_PATH, GITHUB_OUTPUT, GITHUB_STEP_SUMMARY,
 * RUNNER_ENVIRONMENT, GITHUB_API_URL) against a local GitHub that validates every request
 * against GitHub's OpenAPI description (fake-github.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseReport } from '../../src/report/index.js';
import { MlflowClient, resolveMlflowConfig } from '../../src/sdk/tracking/index.js';
import { freePort } from '../support/mlflow-server.js';
import { mlflowUrl, serverReady } from '../tracking/helpers.js';
import { FakeGitHub } from './fake-github.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BUNDLE = join(ROOT, 'dist/index.js');
const FIXTURES = join(ROOT, 'test/action/fixtures');
const FULL = join(ROOT, 'test/fixtures/full-report.json');
const BASE = join(ROOT, 'test/fixtures/base-report.json');
const TOKEN = 'ghs_e2eTestToken0123456789abcdefABCDEF';
const MARKER_KEY = 'default';

interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  dir: string;
}

/** Parses the runner's GITHUB_OUTPUT file format (`name<<delimiter\nvalue\ndelimiter`). */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]);
    out[m[1]] = value.join('\n');
  }
  return out;
}

let gh: FakeGitHub;

function runAction(opts: {
  inputs: Record<string, string>;
  event: string;
  eventName?: string;
  runner?: string;
  env?: Record<string, string>;
}): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'sc-action-e2e-'));
  const outputFile = join(dir, 'github_output');
  const summaryFile = join(dir, 'step_summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  // What the runner does: every input, defaults from action.yml applied, as INPUT_<NAME> with
  // the name upper-cased and dashes kept.
  const defaults: Record<string, string> = {
    mode: 'run', 'working-directory': '.', 'github-token': TOKEN, comment: 'update', 'report-key': MARKER_KEY,
    'fail-on': 'never', 'allow-fork-pull-requests': 'false', 'timeout-minutes': '0', 'artifact-pattern': 'superconverge-part-*',
  };
  const inputs = { ...defaults, ...opts.inputs };
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_EVENT_NAME: opts.eventName ?? 'pull_request',
    GITHUB_EVENT_PATH: isAbsolute(opts.event) ? opts.event : join(FIXTURES, opts.event),
    GITHUB_REPOSITORY: 'example/digits',
    GITHUB_REPOSITORY_OWNER: 'example',
    GITHUB_RUN_ID: '9001',
    GITHUB_SHA: '1111111111111111111111111111111111111111',
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: gh.url,
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: join(dir, 'runner-temp'),
    RUNNER_ENVIRONMENT: opts.runner ?? 'github-hosted',
    SUPERCONVERGE_RETRY_BASE_MS: '20',
    ...opts.env,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BUNDLE], { env, cwd: dir });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) =>
      resolvePromise({
        code,
        // what the runner shows: workflow-command data is %-escaped (%25 %0D %0A)
        stdout: stdout.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%'),
        stderr,
        outputs: parseOutputs(readFileSync(outputFile, 'utf8')),
        summary: readFileSync(summaryFile, 'utf8'),
        dir,
      }),
    );
  });
}

const copyReport = (file: string) => `cp '${file}' "$SUPERCONVERGE_OUT_DIR/report.json"`;
const markerOf = (body: string) => body.includes(`<!-- superconverge:report key=${MARKER_KEY} -->`);
/** The recommendations table's first row, as the Markdown reporter writes it. */
const MAX_LR_ROW = '| Max LR | **0.357** |';

beforeAll(async () => {
  expect(existsSync(BUNDLE), `${BUNDLE} is missing: run the build:action script`).toBe(true);
  gh = new FakeGitHub();
  await gh.start();
});
afterAll(async () => gh?.stop());
beforeEach(() => gh.reset());

describe('the action on a same-repository pull request', () => {
  it('creates one comment, then updates it in place among 150 earlier comments (all pages searched)', async () => {
    for (let i = 0; i < 150; i++) gh.addComment(42, `comment ${i}`, i % 3 ? 'octocat' : 'renovate[bot]', i % 3 ? 'User' : 'Bot');
    const first = await runAction({ inputs: { command: copyReport(FULL) }, event: 'pull_request.same-repo.json' });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const comments = gh.comments.get(42)!;
    expect(comments).toHaveLength(151);
    const ours = comments[150];
    expect(ours.login).toBe('github-actions[bot]');
    expect(markerOf(ours.body)).toBe(true);
    expect(first.outputs['comment-url']).toBe(`https://github.com/example/digits/pull/42#issuecomment-${ours.id}`);
    // the first run also paged through all 150 comments before deciding to create
    expect(gh.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/issues/42/comments')).map((r) => r.query.page ?? '1')).toEqual(['1', '2']);

    // push 100 more comments so ours sits on page 1 of 3 and a later page holds a human quote of the marker
    for (let i = 0; i < 100; i++) gh.addComment(42, `later ${i}`);
    gh.addComment(42, `quoting the bot: ${ours.body.slice(0, 200)}`, 'octocat', 'User');
    gh.requests = [];
    const second = await runAction({
      inputs: { command: copyReport(FULL), 'base-report': BASE },
      event: 'pull_request.same-repo.json',
    });
    expect(second.code).toBe(0);
    expect(gh.comments.get(42)).toHaveLength(252); // nothing created
    const patches = gh.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.path)).toEqual([`/repos/example/digits/issues/comments/${ours.id}`]);
    expect(gh.requests.filter((r) => r.method === 'POST')).toHaveLength(0);
    expect(gh.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/comments')).map((r) => r.query.page ?? '1')).toEqual(['1', '2', '3']);
    expect(second.outputs['comment-url']).toBe(first.outputs['comment-url']);
    expect(gh.requests.every((r) => r.authorization === `token ${TOKEN}`)).toBe(true);
    expect(gh.violations).toEqual([]);
  });

  it('writes the recommendations to the outputs file and the table to the summary, and masks the token', async () => {
    const r = await runAction({ inputs: { command: copyReport(FULL) }, event: 'pull_request.same-repo.json' });
    expect(r.code).toBe(0);
    const report = parseReport(JSON.parse(readFileSync(FULL, 'utf8')));
    expect(r.outputs).toMatchObject({
      'max-lr': '0.3573',
      'min-lr': '0.03573',
      'momentum-max': '0.95',
      'momentum-min': '0.85',
      'weight-decay': '0.0001',
      'batch-size': '128',
      epochs: '5',
      'mlflow-run-url': report.links.mlflow!.runUrl,
    });
    expect(r.outputs['report-path']).toMatch(/runner-temp\/superconverge-[^/]+\/report\.json$/);
    expect(JSON.parse(readFileSync(r.outputs['report-path'], 'utf8')).id).toBe(report.id);
    expect(r.summary).toContain('| Hyper-parameter | Value | How it was chosen |');
    expect(r.summary).toContain(MAX_LR_ROW);
    expect(r.summary).toContain('| Batch size | **128** |');
    expect(r.stdout).toContain(`::add-mask::${TOKEN}`);
    expect(gh.violations).toEqual([]);
  });

  it('retries a 502 from GitHub and still posts exactly one comment', async () => {
    gh.injections.push({ method: 'POST', path: /\/issues\/42\/comments$/, status: 502, times: 1, message: 'Bad Gateway' });
    const r = await runAction({ inputs: { command: copyReport(FULL) }, event: 'pull_request.same-repo.json' });
    expect(r.code).toBe(0);
    expect(gh.requests.filter((x) => x.method === 'POST').map((x) => x.status)).toEqual([502, 201]);
    expect(gh.comments.get(42)).toHaveLength(1);
    expect(gh.violations).toEqual([]);
  });

  it('waits out a secondary rate limit (403 with Retry-After) and retries', async () => {
    gh.injections.push({
      method: 'GET', path: /\/issues\/42\/comments$/, status: 403, times: 1,
      message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
      headers: { 'retry-after': '1' },
    });
    const r = await runAction({ inputs: { command: copyReport(FULL) }, event: 'pull_request.same-repo.json' });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('::warning::GitHub secondary rate limit on GET');
    expect(gh.requests.filter((x) => x.method === 'GET' && x.path.endsWith('/comments')).map((x) => x.status)).toEqual([403, 200]);
    expect(gh.comments.get(42)).toHaveLength(1);
  });

  it('trims a report whose Markdown would exceed 65,536 characters, and GitHub accepts it', async () => {
    // 500-epoch trainings, 50 long-noted candidates per decision, 50 long warnings: about 120 kB of Markdown in full
    const big = JSON.parse(readFileSync(FULL, 'utf8'));
    const longHistory = (t: any) => {
      const e = t.history[1];
      t.history = Array.from({ length: 500 }, (_, i) => ({ ...e, epoch: i + 1, step: (i + 1) * 60, seconds: i * 25 }));
    };
    longHistory(big.final);
    longHistory(big.baseline);
    for (const s of big.stages)
      if (s.decision) s.decision.candidates = Array.from({ length: 50 }, (_, i) => ({ value: i + 1, metric: 0.1 + i * 1e-3, metricName: 'valLoss', note: 'note '.repeat(60) }));
    big.warnings = Array.from({ length: 50 }, (_, i) => `warning ${i}: ${'x'.repeat(290)}`);
    const dir = mkdtempSync(join(tmpdir(), 'sc-big-'));
    const file = join(dir, 'big.json');
    writeFileSync(file, JSON.stringify(parseReport(big)));
    const r = await runAction({ inputs: { command: copyReport(file) }, event: 'pull_request.same-repo.json' });
    expect(r.code).toBe(0);
    const body = gh.comments.get(42)![0].body;
    expect(body.length).toBeLessThanOrEqual(65536);
    expect(body).toContain(MAX_LR_ROW); // the table survives the trimming
    expect(markerOf(body)).toBe(true);
    expect(gh.requests.filter((x) => x.status === 422)).toHaveLength(0);
    expect(r.summary.length).toBeGreaterThan(100_000); // the summary (1 MB limit) keeps it all
  });
});

describe('the action on pull requests from forks', () => {
  it('refuses to run the command on a self-hosted runner, explains why, and calls no API', async () => {
    const r = await runAction({
      inputs: { command: `touch "$GITHUB_WORKSPACE/ran" && ${copyReport(FULL)}` },
      event: 'pull_request.fork.json',
      runner: 'self-hosted',
    });
    expect(r.code).toBe(1);
    expect(existsSync(join(r.dir, 'ran'))).toBe(false);
    expect(r.stdout).toMatch(/::error::Refusing to run `command` for pull request #7 from the fork stranger\/digits/);
    expect(r.summary).toContain('allow-fork-pull-requests');
    expect(r.summary).toContain('self-hosted');
    expect(gh.requests).toHaveLength(0);
  });

  it('runs on a self-hosted runner when allow-fork-pull-requests is true', async () => {
    const r = await runAction({
      inputs: { command: copyReport(FULL), 'allow-fork-pull-requests': 'true' },
      event: 'pull_request.fork.json',
      runner: 'self-hosted',
    });
    expect(r.code).toBe(0);
    expect(gh.comments.get(7)).toHaveLength(1);
  });

  it('with a read-only token (403) skips the comment with a warning, writes the summary and stays green', async () => {
    gh.readOnly = true;
    const r = await runAction({ inputs: { command: copyReport(FULL) }, event: 'pull_request.fork.json', runner: 'github-hosted' });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/::warning::The token cannot write pull-request comments \(HTTP 403\)/);
    expect(gh.requests.filter((x) => x.method === 'POST').map((x) => x.status)).toEqual([403]); // not retried
    expect(r.summary).toContain(MAX_LR_ROW);
    expect(r.summary).toContain('cannot write pull-request comments');
    expect(r.outputs['max-lr']).toBe('0.3573');
    expect(r.outputs['comment-url']).toBe('');
    expect(gh.violations).toEqual([]);
  });
});

describe('the action outside pull requests and on failures', () => {
  it('on push writes the summary and outputs and makes no GitHub call', async () => {
    const r = await runAction({ inputs: { command: copyReport(FULL) }, event: 'push.json', eventName: 'push' });
    expect(r.code).toBe(0);
    expect(gh.requests).toHaveLength(0);
    expect(r.outputs['batch-size']).toBe('128');
    expect(r.summary).toContain(MAX_LR_ROW);
  });

  it('refuses to run the command under pull_request_target', async () => {
    const r = await runAction({ inputs: { command: `touch "$GITHUB_WORKSPACE/ran"` }, event: 'pull_request.same-repo.json', eventName: 'pull_request_target' });
    expect(r.code).toBe(1);
    expect(existsSync(join(r.dir, 'ran'))).toBe(false);
    expect(r.stdout).toContain('does not run `command` under `pull_request_target`');
  });

  it('rejects an unknown input value before running anything', async () => {
    const r = await runAction({ inputs: { command: `touch "$GITHUB_WORKSPACE/ran"`, comment: 'sometimes' }, event: 'push.json', eventName: 'push' });
    expect(r.code).toBe(1);
    expect(existsSync(join(r.dir, 'ran'))).toBe(false);
    expect(r.stdout).toContain('::error::Invalid input: comment: unknown value — got "sometimes"; allowed: update | create | off');
  });

  it('stops a command that exceeds timeout-minutes and fails the step', async () => {
    const started = Date.now();
    const r = await runAction({ inputs: { command: 'sleep 30', 'timeout-minutes': '0.01' }, event: 'push.json', eventName: 'push' });
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('command exceeded timeout-minutes (0.01)');
  });

  it('fails with fail-on regression when accuracy dropped against the base report, after publishing', async () => {
    const worse = JSON.parse(readFileSync(FULL, 'utf8'));
    worse.final.test.accuracy = 0.95;
    const dir = mkdtempSync(join(tmpdir(), 'sc-worse-'));
    writeFileSync(join(dir, 'r.json'), JSON.stringify(worse));
    const r = await runAction({
      inputs: { command: copyReport(join(dir, 'r.json')), 'base-report': BASE, 'fail-on': 'regression' },
      event: 'pull_request.same-repo.json',
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/::error::fail-on regression: test accuracy 95\.00% is below the base's/);
    expect(gh.comments.get(42)).toHaveLength(1); // published before failing
    expect(r.outputs['max-lr']).toBe('0.3573');
  });
});

const ML_URL = mlflowUrl();

describe.skipIf(!ML_URL)('the base report from MLflow (a real server)', () => {
  const BASE_SHA = '2222222222222222222222222222222222222222'; // pull_request.same-repo.json's base.sha
  const title = parseReport(JSON.parse(readFileSync(FULL, 'utf8'))).title;
  const experiment = `action-base-${Date.now()}`;
  let t = Date.now() - 3_600_000;

  /** A finished (or not) tune parent run with a report.json whose final test accuracy is `accuracy`. */
  async function logRun(c: MlflowClient, experimentId: string, o: { branch: string; commit: string; accuracy: number; status?: 'FINISHED' | 'FAILED'; name?: string }) {
    const report = JSON.parse(readFileSync(BASE, 'utf8'));
    report.final.test.accuracy = o.accuracy;
    const dir = mkdtempSync(join(tmpdir(), 'sc-base-'));
    writeFileSync(join(dir, 'report.json'), JSON.stringify(report));
    t += 60_000; // each run newer than the one before
    const name = o.name ?? title;
    const info = await c.createRun({
      experimentId,
      runName: name,
      startTime: t,
      tags: { 'superconverge.kind': 'tune', 'mlflow.source.git.branch': o.branch, 'mlflow.source.git.commit': o.commit, 'mlflow.runName': name },
    });
    await c.uploadArtifact(info, join(dir, 'report.json'), 'report.json');
    await c.updateRun(info.run_id, o.status ?? 'FINISHED', t + 1000);
    return info.run_id;
  }

  beforeAll(async () => {
    await serverReady(ML_URL);
    const c = new MlflowClient(resolveMlflowConfig({ tracking: ML_URL, experimentName: experiment, env: {} }));
    const id = await c.getOrCreateExperiment(experiment);
    // Oldest first: the base commit's run, then newer runs the lookup must pass over or prefer.
    await logRun(c, id, { branch: 'main', commit: BASE_SHA, accuracy: 0.971 });
    await logRun(c, id, { branch: 'main', commit: '3'.repeat(40), accuracy: 0.933 });
    await logRun(c, id, { branch: 'smaller-cnn', commit: '1'.repeat(40), accuracy: 0.944 });
    await logRun(c, id, { branch: 'main', commit: BASE_SHA, accuracy: 0.955, status: 'FAILED' });
    await logRun(c, id, { branch: 'main', commit: BASE_SHA, accuracy: 0.966, name: 'another tuning job' });
  });

  const inputs = (extra: Record<string, string> = {}) => ({ command: copyReport(FULL), 'mlflow-tracking-uri': ML_URL, 'mlflow-experiment': experiment, ...extra });

  it("compares with the finished run of the same title at the pull request's base commit, with no base-report input", async () => {
    const r = await runAction({ inputs: inputs(), event: 'pull_request.same-repo.json' });
    expect(r.code).toBe(0);
    const body = gh.comments.get(42)![0].body;
    expect(body).toContain('| Hyper-parameter | Value | How it was chosen | vs base |');
    expect(body).toContain('base branch 97.1% (+1.1 pt)');
    expect(r.summary).toContain('base branch 97.1% (+1.1 pt)');
    expect(r.stdout).toMatch(/base report from MLflow run [0-9a-f]+ \(main at 2222222\)/);
    expect(gh.violations).toEqual([]);
  });

  it('takes the newest finished run of the base branch when none is at the base commit', async () => {
    const event = JSON.parse(readFileSync(join(FIXTURES, 'pull_request.same-repo.json'), 'utf8'));
    event.pull_request.base.sha = '4'.repeat(40);
    const file = join(mkdtempSync(join(tmpdir(), 'sc-event-')), 'event.json');
    writeFileSync(file, JSON.stringify(event));
    const r = await runAction({ inputs: inputs({ 'base-report': 'MLflow' }), event: file }); // keywords in any case
    expect(r.code).toBe(0);
    expect(gh.comments.get(42)![0].body).toContain('base branch 93.3% (+4.9 pt)');
    expect(r.stdout).toMatch(/\(main at 3333333; the pull request's base is 4444444\)/);
  });

  it('base-report none turns it off; an unknown experiment or a dead server is a notice or a warning, never a failure', async () => {
    const off = await runAction({ inputs: inputs({ 'base-report': ' None ' }), event: 'pull_request.same-repo.json' });
    expect(off.code).toBe(0);
    expect(gh.comments.get(42)![0].body).not.toContain('vs base');
    gh.reset();
    const unknown = await runAction({ inputs: inputs({ 'mlflow-experiment': 'no-such-experiment' }), event: 'pull_request.same-repo.json' });
    expect(unknown.code).toBe(0);
    expect(unknown.stdout).toContain('::notice::superconverge: MLflow experiment "no-such-experiment" does not exist yet; no base comparison.');
    gh.reset();
    const dead = `http://127.0.0.1:${await freePort()}`;
    const down = await runAction({ inputs: inputs({ 'mlflow-tracking-uri': dead }), event: 'pull_request.same-repo.json', env: { MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR: '0.01' } });
    expect(down.code).toBe(0);
    expect(down.stdout).toMatch(/::warning::superconverge: the base report could not be read from MLflow: .*127\.0\.0\.1/);
    expect(gh.comments.get(42)).toHaveLength(1);
    expect(gh.comments.get(42)![0].body).not.toContain('vs base');
  });
});

describe('aggregate mode', () => {
  it('merges partial reports from legs into one comment with the re-decided weight decay', async () => {
    const full = JSON.parse(readFileSync(FULL, 'utf8'));
    const leg = (id: string, values: number[]) => {
      const r = structuredClone(full);
      r.id = id;
      r.status = 'partial';
      const wd = r.stages.find((s: any) => s.id === 'weight-decay');
      wd.decision.candidates = wd.decision.candidates.filter((c: any) => values.includes(c.value));
      const best = [...wd.decision.candidates].sort((a: any, b: any) => a.metric - b.metric)[0];
      wd.decision.winner = best.value;
      r.stages = [wd];
      r.final = null;
      r.recommendations.weightDecay = best.value;
      return r;
    };
    const dir = mkdtempSync(join(tmpdir(), 'sc-parts-'));
    for (const [name, values] of [['superconverge-part-a', [0.001, 0.00001]], ['superconverge-part-b', [0.0001, 0]]] as const) {
      mkdirSync(join(dir, 'parts', name), { recursive: true });
      writeFileSync(join(dir, 'parts', name, 'report.json'), JSON.stringify(leg(name, [...values])));
    }
    const r = await runAction({
      inputs: { mode: 'aggregate', 'partial-reports': join(dir, 'parts') },
      event: 'pull_request.same-repo.json',
    });
    expect(r.code).toBe(0);
    expect(r.outputs['weight-decay']).toBe('0.0001'); // leg a alone said 1e-5
    const merged = JSON.parse(readFileSync(r.outputs['report-path'], 'utf8'));
    expect(merged.id).toBe('merged-superconverge-part-a+superconverge-part-b');
    expect(merged.stages[0].decision.candidates).toHaveLength(4);
    expect(readFileSync(join(r.outputs['report-path'], '../report.md'), 'utf8')).toContain('| Weight decay | **1e-4** |');
    expect(gh.comments.get(42)).toHaveLength(1);
    expect(gh.violations).toEqual([]);
  });
});

describe('the comment from a workflow_run (the safe pattern for forks)', () => {
  const partsDir = () => {
    const dir = mkdtempSync(join(tmpdir(), 'sc-wr-'));
    mkdirSync(join(dir, 'superconverge-part-1'), { recursive: true });
    writeFileSync(join(dir, 'superconverge-part-1', 'report.json'), readFileSync(FULL));
    return dir;
  };

  it('posts on the pull request GitHub lists for a same-repository run', async () => {
    const r = await runAction({
      inputs: { mode: 'aggregate', 'partial-reports': partsDir() },
      event: 'workflow_run.same-repo.json',
      eventName: 'workflow_run',
    });
    expect(r.code).toBe(0);
    expect(gh.comments.get(42)).toHaveLength(1);
    expect(gh.requests.some((x) => x.path.endsWith('/pulls'))).toBe(false);
    expect(gh.violations).toEqual([]);
  });

  it('finds a fork\'s pull request by head SHA through the API and comments there', async () => {
    gh.pulls = [
      { number: 5, headSha: '3333333333333333333333333333333333333333', headRepo: 'someone-else/digits' },
      { number: 7, headSha: '3333333333333333333333333333333333333333', headRepo: 'stranger/digits' },
    ];
    const r = await runAction({
      inputs: { mode: 'aggregate', 'partial-reports': partsDir() },
      event: 'workflow_run.fork.json',
      eventName: 'workflow_run',
    });
    expect(r.code).toBe(0);
    expect(gh.comments.get(7)).toHaveLength(1);
    expect(gh.comments.get(5)).toBeUndefined();
    expect(gh.requests.find((x) => x.path === '/repos/example/digits/pulls')?.query).toEqual({ state: 'open', per_page: '100' });
    expect(gh.violations).toEqual([]);
  });

  it('refuses mode run under a workflow_run triggered by a fork', async () => {
    const r = await runAction({ inputs: { command: `touch "$GITHUB_WORKSPACE/ran"` }, event: 'workflow_run.fork.json', eventName: 'workflow_run' });
    expect(r.code).toBe(1);
    expect(existsSync(join(r.dir, 'ran'))).toBe(false);
    expect(r.stdout).toContain('Use `mode: aggregate` here');
  });
});
