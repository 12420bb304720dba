/**
 * The action: inputs -> run command -> read report -> comment, summary, outputs, artifact.
 * Shaped like GitHub's typescript-action template: `index.ts` calls `run()`; every error ends in
 * `core.setFailed`; the work is done by the small modules beside this one.
 */
import * as core from '@actions/core';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UserInputError } from '../errors.js';
import { readReport, writeReport, type TuningReport } from '../report/index.js';
import { mergeReports } from '../report/merge.js';
import { downloadMatching, uploadRunFolder } from './artifacts.js';
import { loadBaseReport } from './base.js';
import { runCommand } from './command.js';
import { checkMayRunCommand, readRunContext, type RunContext } from './context.js';
import { findReportFiles, findRunReport } from './files.js';
import { readInputs, type ActionInputs } from './inputs.js';
import { mlflowRunUrl, recommendationOutputs, stripCredentials } from './outputs.js';
import { findPullRequestByHead, makeClient } from './github.js';
import { publishComment, renderComment, renderSummary, type Links } from './publish.js';
import { failureReason } from './verdict.js';

/** The variable the SDK and CLI read to know where to write their run folder. */
export const OUT_DIR_ENV = 'SUPERCONVERGE_OUT_DIR';

/** Tokens and MLflow credentials never appear in logs (the runner replaces them with ***). */
export function maskSecrets(inputs: ActionInputs, env: NodeJS.ProcessEnv = process.env): void {
  if (inputs.githubToken) core.setSecret(inputs.githubToken);
  for (const name of ['MLFLOW_TRACKING_TOKEN', 'MLFLOW_TRACKING_PASSWORD', 'DATABRICKS_TOKEN']) {
    const v = env[name];
    if (v) core.setSecret(v);
  }
  for (const uri of [inputs.mlflowTrackingUri, env.MLFLOW_TRACKING_URI ?? '']) {
    try {
      const u = new URL(uri);
      if (u.password) core.setSecret(decodeURIComponent(u.password));
      if (u.password) core.setSecret(u.password);
    } catch {
      /* not a URL */
    }
  }
}

/** The command's environment: where to write, which MLflow; never the action's own inputs (token). */
export function commandEnv(inputs: ActionInputs, outDir: string, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) if (!k.startsWith('INPUT_')) out[k] = v;
  out[OUT_DIR_ENV] = outDir;
  out.SUPERCONVERGE_REPORT_KEY = inputs.reportKey;
  if (inputs.mlflowTrackingUri) out.MLFLOW_TRACKING_URI = inputs.mlflowTrackingUri;
  if (inputs.mlflowExperiment) out.MLFLOW_EXPERIMENT_NAME = inputs.mlflowExperiment;
  return out;
}

/** Artifact names may not contain / \ : * ? " < > |. */
export function artifactNameFor(inputs: ActionInputs): string {
  return (inputs.artifactName || `superconverge-${inputs.reportKey}`).replace(/[/\\:*?"<>|]/g, '-');
}

async function writeSummary(parts: string[]): Promise<void> {
  if (!process.env.GITHUB_STEP_SUMMARY) {
    core.info(parts.join('\n\n'));
    return;
  }
  await core.summary.addRaw(parts.join('\n\n'), true).write();
}

async function newOutDir(): Promise<string> {
  const root = process.env.RUNNER_TEMP || tmpdir();
  await mkdir(root, { recursive: true });
  return mkdtemp(join(root, 'superconverge-'));
}

/** On `workflow_run` from a fork, find the pull request through the API, not from the artifact. */
async function resolveWorkflowRunPullRequest(ctx: RunContext, inputs: ActionInputs): Promise<void> {
  const wr = ctx.workflowRun;
  if (ctx.pullRequest || !wr || !wr.headSha || !inputs.githubToken || inputs.comment === 'off') return;
  try {
    const found = await findPullRequestByHead(makeClient(inputs.githubToken), { owner: ctx.owner, repo: ctx.repo }, wr.headSha, wr.headRepo);
    if (found != null) {
      ctx.pullRequest = { ...found, headSha: wr.headSha, headRepo: wr.headRepo, baseRepo: `${ctx.owner}/${ctx.repo}`, fromFork: wr.fromFork };
    } else {
      core.info(`superconverge: no open pull request has head ${wr.headSha}; summary and outputs only.`);
    }
  } catch (e) {
    core.warning(`superconverge: could not look up the pull request of run ${wr.id}: ${(e as Error).message}`);
  }
}

interface Produced {
  report: TuningReport;
  reportPath: string;
  runFolder: string;
  /** A failure to report after publishing (the command's exit code). */
  deferredFailure: string | null;
}

async function produceByCommand(inputs: ActionInputs, ctx: RunContext, cwd: string): Promise<Produced | null> {
  const refusal = checkMayRunCommand(ctx, inputs.allowForkPullRequests);
  if (refusal.refused) {
    core.error(refusal.reason);
    await writeSummary(['## superconverge: tuning not run', `> [!CAUTION]\n> ${refusal.reason}`]);
    core.setFailed(refusal.reason);
    return null;
  }
  const outDir = await newOutDir();
  const result = await runCommand(inputs.command, {
    cwd,
    env: commandEnv(inputs, outDir),
    timeoutMinutes: inputs.timeoutMinutes,
  });
  let deferredFailure: string | null = null;
  if (result.timedOut) deferredFailure = `command timed out after ${inputs.timeoutMinutes} minutes`;
  else if (result.exitCode !== 0)
    deferredFailure = `command failed (${result.signal ? `signal ${result.signal}` : `exit code ${result.exitCode}`})`;
  const found = await findRunReport(outDir);
  if (!found) {
    const msg =
      `${deferredFailure ? `${deferredFailure}; ` : ''}no report.json was written under ${OUT_DIR_ENV}=${outDir}. ` +
      'The command must run superconverge (CLI or SDK), which writes its run folder there.';
    await writeSummary(['## superconverge: no report', msg]);
    core.setFailed(msg);
    return null;
  }
  if (found.others.length) core.warning(`several reports found; using ${found.file} (also: ${found.others.join(', ')})`);
  const report = await readReport(found.file);
  return { report, reportPath: found.file, runFolder: join(found.file, '..'), deferredFailure };
}

async function produceByAggregate(inputs: ActionInputs, ctx: RunContext, cwd: string): Promise<Produced | null> {
  const downloadDir = await newOutDir();
  // On workflow_run the reports are the triggering run's artifacts: data only, never executed.
  const findBy = ctx.workflowRun
    ? { token: inputs.githubToken, workflowRunId: ctx.workflowRun.id, repositoryOwner: ctx.owner, repositoryName: ctx.repo }
    : undefined;
  await downloadMatching(inputs.artifactPattern, downloadDir, findBy);
  const dirs = [downloadDir, ...(inputs.partialReports ? [resolve(cwd, inputs.partialReports)] : [])];
  const files = (await Promise.all(dirs.map((d) => findReportFiles(d).catch(() => [] as string[])))).flat();
  if (files.length === 0) {
    const msg = `aggregate: no partial report.json found (artifact-pattern "${inputs.artifactPattern}"${inputs.partialReports ? `, partial-reports "${inputs.partialReports}"` : ''}).`;
    await writeSummary(['## superconverge: nothing to aggregate', msg]);
    core.setFailed(msg);
    return null;
  }
  core.info(`aggregate: merging ${files.length} partial reports:\n  ${files.join('\n  ')}`);
  const parts = await Promise.all(files.map((f) => readReport(f)));
  const merged = mergeReports(parts);
  const runFolder = await newOutDir();
  const reportPath = join(runFolder, 'report.json');
  await writeReport(reportPath, merged);
  // The merged folder is uploaded as the artifact: give it the readable Markdown too (charts and
  // the HTML page need the CLI: `superconverge report report.json`).
  await writeFile(join(runFolder, 'report.md'), renderSummary(merged, null, inputs.reportKey, {}));
  return { report: merged, reportPath, runFolder, deferredFailure: null };
}

export async function run(): Promise<void> {
  try {
    const inputs = readInputs();
    maskSecrets(inputs);
    const ctx = readRunContext();
    const cwd = resolve(process.env.GITHUB_WORKSPACE || process.cwd(), inputs.workingDirectory);

    const produced =
      inputs.mode === 'aggregate' ? await produceByAggregate(inputs, ctx, cwd) : await produceByCommand(inputs, ctx, cwd);
    if (!produced) return;
    await resolveWorkflowRunPullRequest(ctx, inputs);
    const { report, reportPath, runFolder, deferredFailure } = produced;
    const base = await loadBaseReport({
      input: inputs.baseReport,
      cwd,
      report,
      pullRequest: ctx.pullRequest,
      trackingUri: inputs.mlflowTrackingUri,
      experiment: inputs.mlflowExperiment,
    });

    const artifact = await uploadRunFolder(artifactNameFor(inputs), runFolder, ctx).catch((e: Error) => {
      core.warning(`superconverge: artifact upload failed: ${e.message}`);
      return null;
    });
    const mlflowUrl = mlflowRunUrl(report);
    const links: Links = {
      ...(artifact ? { artifactUrl: artifact.url } : {}),
      ...(mlflowUrl ? { mlflowRunUrl: mlflowUrl } : {}),
    };

    // The comment first, so the summary can say why it was skipped; the summary is written
    // whatever happened to the comment (it needs no permission).
    let commentError: unknown = null;
    let comment = { url: null as string | null, note: null as string | null };
    try {
      comment = await publishComment(ctx, inputs.comment, inputs.githubToken, renderComment(report, base, inputs.reportKey, links), inputs.reportKey);
    } catch (e) {
      commentError = e;
    }
    const summaryParts = [renderSummary(report, base, inputs.reportKey, links)];
    if (comment.note) summaryParts.push(`> [!WARNING]\n> ${comment.note}`);
    if (commentError) summaryParts.push(`> [!WARNING]\n> The pull-request comment failed: ${(commentError as Error).message}`);
    await writeSummary(summaryParts);

    for (const [name, value] of Object.entries(recommendationOutputs(report))) core.setOutput(name, value);
    core.setOutput('report-path', reportPath);
    core.setOutput('mlflow-run-url', mlflowUrl ? stripCredentials(mlflowUrl) : '');
    core.setOutput('comment-url', comment.url ?? '');

    if (commentError) throw commentError;
    if (deferredFailure) {
      core.setFailed(deferredFailure);
      return;
    }
    const failure = failureReason(inputs.failOn, report, base);
    if (failure) core.setFailed(failure);
  } catch (e) {
    const message = e instanceof UserInputError ? `Invalid input: ${e.message}` : (e as Error).message;
    core.setFailed(message);
  }
}
