/** The base branch's report, for the "what changed" column of the comment. */
import * as core from '@actions/core';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseReport, readReport, type TuningReport } from '../report/index.js';
import { resolveMlflowConfig } from '../sdk/tracking/config.js';
import { MlflowClient, type MlflowRun } from '../sdk/tracking/rest-client.js';
import type { PullRequestInfo } from './context.js';

/** What `base-report` may say besides a path. */
export const BASE_FROM_MLFLOW = 'mlflow';
export const NO_BASE = 'none';

export interface BaseLookup {
  /** The `base-report` input: a path, `mlflow`, `none`, or empty (MLflow when a tracking URI is set). */
  input: string;
  cwd: string;
  /** The report of this run: the base is the same tuning job (same title) on the base branch. */
  report: TuningReport;
  pullRequest: PullRequestInfo | null;
  trackingUri: string;
  experiment: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * `base-report` is a path to a report.json (for example downloaded from the base branch's last run
 * with actions/download-artifact), or `mlflow`: the report of the newest finished superconverge run
 * of the same title on the pull request's base branch (by the `mlflow.source.git.branch` tag; a run
 * at the base commit is preferred), from the MLflow experiment. Empty means `mlflow` when a tracking
 * URI is set. A missing base is normal on the first run: a notice, no base. A failure is a warning
 * (the comparison is a bonus, the tuning result stands).
 */
export async function loadBaseReport(o: BaseLookup): Promise<TuningReport | null> {
  const input = o.input.trim();
  // The keywords in any case (`None`, `MLflow`); a file of that name is given as ./none.
  const keyword = input.toLowerCase();
  if (keyword === NO_BASE) return null;
  const env = o.env ?? process.env;
  const trackingUri = o.trackingUri || env.MLFLOW_TRACKING_URI || '';
  if (keyword === BASE_FROM_MLFLOW || (input === '' && trackingUri !== '')) {
    if (!trackingUri) {
      core.warning(`superconverge: base-report ${BASE_FROM_MLFLOW} needs mlflow-tracking-uri (or MLFLOW_TRACKING_URI); no base comparison.`);
      return null;
    }
    if (!o.pullRequest?.baseRef) {
      core.info('superconverge: not a pull request (no base branch): no base comparison.');
      return null;
    }
    try {
      return await baseFromMlflow(o, trackingUri, o.pullRequest, env);
    } catch (e) {
      core.warning(`superconverge: the base report could not be read from MLflow: ${(e as Error).message}`);
      return null;
    }
  }
  if (input === '') return null;
  const file = resolve(o.cwd, input);
  if (!existsSync(file)) {
    core.notice(`superconverge: base-report ${file} does not exist; no base comparison.`);
    return null;
  }
  try {
    return await readReport(file);
  } catch (e) {
    core.warning(`superconverge: base-report ignored: ${(e as Error).message}`);
    return null;
  }
}

/** A string literal of MLflow's search syntax (either quote; a value holding both cannot be searched). */
function literal(value: string): string {
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  throw new Error(`cannot search MLflow for ${JSON.stringify(value)} (it holds both quote characters)`);
}

const tagOf = (run: MlflowRun, key: string) => run.data.tags?.find((t) => t.key === key)?.value;

async function baseFromMlflow(o: BaseLookup, trackingUri: string, pr: PullRequestInfo, env: NodeJS.ProcessEnv): Promise<TuningReport | null> {
  // A lookup for a bonus: a short retry budget, not the tracker's minutes.
  const config = resolveMlflowConfig({
    tracking: trackingUri,
    experimentName: o.experiment || undefined,
    env: { MLFLOW_HTTP_REQUEST_MAX_RETRIES: '2', MLFLOW_HTTP_REQUEST_TIMEOUT: '30', ...env },
  });
  const client = new MlflowClient(config);
  const experiment = await client.getExperimentByName(config.experimentName);
  if (!experiment) {
    core.notice(`superconverge: MLflow experiment "${config.experimentName}" does not exist yet; no base comparison.`);
    return null;
  }
  const filter = [
    `attributes.status = 'FINISHED'`,
    `tags.\`superconverge.kind\` = 'tune'`,
    `tags.\`mlflow.source.git.branch\` = ${literal(pr.baseRef)}`,
    `tags.\`mlflow.runName\` = ${literal(o.report.title)}`,
  ].join(' and ');
  const runs = await client.searchRuns([experiment.experiment_id], filter, undefined, { orderBy: ['attributes.start_time DESC'], limit: 50 });
  const run = runs.find((r) => pr.baseSha !== '' && tagOf(r, 'mlflow.source.git.commit') === pr.baseSha) ?? runs[0];
  if (!run) {
    core.notice(
      `superconverge: no finished run "${o.report.title}" of branch ${pr.baseRef} in MLflow experiment "${config.experimentName}"; no base comparison.`,
    );
    return null;
  }
  const text = await client.downloadArtifact(run.info, 'report.json');
  const base = parseReport(JSON.parse(text), `report.json of MLflow run ${run.info.run_id}`);
  const commit = tagOf(run, 'mlflow.source.git.commit');
  core.info(
    `superconverge: base report from MLflow run ${run.info.run_id} (${pr.baseRef}${commit ? ` at ${commit.slice(0, 7)}` : ''}` +
      `${commit && pr.baseSha && commit !== pr.baseSha ? `; the pull request's base is ${pr.baseSha.slice(0, 7)}` : ''}).`,
  );
  return base;
}
