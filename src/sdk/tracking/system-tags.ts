/**
 * MLflow's system tags (`mlflow.*`), so that superconverge runs look like runs logged by the
 * Python client: name, source, git commit/branch/repo, user, and the Markdown note of the run.
 */
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { basename } from 'node:path';
import { redactUri } from './config.js';

export interface GitInfo {
  sha?: string;
  branch?: string;
  repoUrl?: string;
}

function git(args: string[], cwd: string): string | undefined {
  try {
    const out = execFileSync('git', args, { cwd, encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

/** Commit, branch and remote URL of the checkout at `cwd` (credentials removed from the URL). */
export function readGitInfo(cwd = process.cwd()): GitInfo {
  const sha = git(['rev-parse', 'HEAD'], cwd);
  if (!sha) return {};
  const branch = git(['rev-parse', '--abbrev-ref', 'HEAD'], cwd);
  const remote = git(['config', '--get', 'remote.origin.url'], cwd);
  return {
    sha,
    branch: branch && branch !== 'HEAD' ? branch : (process.env.GITHUB_HEAD_REF || process.env.GITHUB_REF_NAME || undefined),
    // A remote like https://user:token@host/repo would leak a token into MLflow.
    repoUrl: remote ? redactUri(remote).replace('***@', '') : undefined,
  };
}

export interface SystemTagOptions {
  runName: string;
  /** Markdown shown on the run's page (`mlflow.note.content`). */
  note?: string;
  /** Defaults to the script being run. */
  sourceName?: string;
  /** MLflow SourceType: LOCAL, JOB (CI), NOTEBOOK, PROJECT, UNKNOWN. */
  sourceType?: 'LOCAL' | 'JOB' | 'NOTEBOOK' | 'PROJECT' | 'UNKNOWN';
  cwd?: string;
  git?: GitInfo;
  user?: string;
}

export function systemTags(o: SystemTagOptions): Record<string, string> {
  const g = o.git ?? readGitInfo(o.cwd);
  let user = o.user;
  if (user == null) {
    try {
      user = process.env.GITHUB_ACTOR || userInfo().username;
    } catch {
      user = 'unknown';
    }
  }
  const tags: Record<string, string> = {
    'mlflow.runName': o.runName,
    'mlflow.source.name': o.sourceName ?? (process.argv[1] ? basename(process.argv[1]) : 'superconverge'),
    'mlflow.source.type': o.sourceType ?? (process.env.CI ? 'JOB' : 'LOCAL'),
    'mlflow.user': user,
  };
  if (g.sha) tags['mlflow.source.git.commit'] = g.sha;
  if (g.branch) tags['mlflow.source.git.branch'] = g.branch;
  if (g.repoUrl) tags['mlflow.source.git.repoURL'] = g.repoUrl;
  if (o.note) tags['mlflow.note.content'] = o.note;
  return tags;
}
