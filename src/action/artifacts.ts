/**
 * Workflow artifacts: upload the run folder (report.json, charts, HTML page) so the comment can
 * link it, and in aggregate mode download the legs' partial reports.
 */
import * as core from '@actions/core';
import { DefaultArtifactClient } from '@actions/artifact';
import { relative } from 'node:path';
import { listFiles } from './files.js';

/** The artifact service needs these runner variables; they are absent outside a real job. */
export function artifactServiceAvailable(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env.ACTIONS_RUNTIME_TOKEN && env.ACTIONS_RESULTS_URL);
}

export interface UploadedArtifact {
  id: number;
  name: string;
  url: string;
}

export async function uploadRunFolder(
  name: string,
  dir: string,
  run: { serverUrl: string; owner: string; repo: string; runId: number },
): Promise<UploadedArtifact | null> {
  if (!artifactServiceAvailable()) {
    core.notice('superconverge: the artifact service is not available in this environment (ACTIONS_RUNTIME_TOKEN/ACTIONS_RESULTS_URL unset); the run folder was not uploaded.');
    return null;
  }
  const files = await listFiles(dir);
  if (files.length === 0) return null;
  core.info(`Uploading ${files.length} files as artifact "${name}": ${files.map((f) => relative(dir, f)).join(', ')}`);
  const client = new DefaultArtifactClient();
  const { id } = await client.uploadArtifact(name, files, dir, { retentionDays: 30 });
  if (id == null) return null;
  const url = `${run.serverUrl}/${run.owner}/${run.repo}/actions/runs/${run.runId}/artifacts/${id}`;
  return { id, name, url };
}

/** Glob-like match of artifact names: `*` matches any run of characters. */
export function matchesPattern(name: string, pattern: string): boolean {
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
  return re.test(name);
}

export interface FindBy {
  token: string;
  workflowRunId: number;
  repositoryOwner: string;
  repositoryName: string;
}

/**
 * Downloads the artifacts whose names match `pattern`, each into `<dir>/<name>/`: this run's, or
 * with `findBy` another run's (the run that triggered a `workflow_run`).
 */
export async function downloadMatching(pattern: string, dir: string, findBy?: FindBy): Promise<string[]> {
  if (!artifactServiceAvailable()) {
    core.notice('superconverge: the artifact service is not available (ACTIONS_RUNTIME_TOKEN/ACTIONS_RESULTS_URL unset); reading partial reports from `partial-reports` only.');
    return [];
  }
  const client = new DefaultArtifactClient();
  const { artifacts } = await client.listArtifacts({ latest: true, ...(findBy ? { findBy } : {}) });
  const names: string[] = [];
  for (const a of artifacts.filter((a) => matchesPattern(a.name, pattern))) {
    await client.downloadArtifact(a.id, { path: `${dir}/${a.name}`, ...(findBy ? { findBy } : {}) });
    names.push(a.name);
  }
  core.info(`Downloaded ${names.length} artifacts matching "${pattern}": ${names.join(', ') || '(none)'}`);
  return names;
}
