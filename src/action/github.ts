/**
 * GitHub REST calls: one octokit carrying retries (5xx), throttling (primary and secondary rate
 * limits) and pagination, and the "one comment per pull request and report key" logic.
 */
import * as core from '@actions/core';
import { getOctokit } from '@actions/github';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';

export type GitHubClient = ReturnType<typeof getOctokit>;

export interface ClientOptions {
  /** Base of retry back-off in ms (plugin default 1000). Env SUPERCONVERGE_RETRY_BASE_MS lowers it in tests. */
  retryBaseMs?: number;
  retries?: number;
}

export function makeClient(token: string, options: ClientOptions = {}): GitHubClient {
  const envBase = Number(process.env.SUPERCONVERGE_RETRY_BASE_MS);
  const base = options.retryBaseMs ?? (Number.isFinite(envBase) && envBase >= 0 ? envBase : 1000);
  return getOctokit(
    token,
    {
      retry: { retries: options.retries ?? 3, retryAfterBaseValue: base },
      throttle: {
        retryAfterBaseValue: base,
        fallbackSecondaryRateRetryAfter: 60,
        onRateLimit: (retryAfter: number, opts: any, _o: unknown, retryCount: number) => {
          core.warning(`GitHub rate limit hit on ${opts.method} ${opts.url}; retrying after ${retryAfter}s`);
          return retryCount < 2;
        },
        onSecondaryRateLimit: (retryAfter: number, opts: any, _o: unknown, retryCount: number) => {
          core.warning(`GitHub secondary rate limit on ${opts.method} ${opts.url}; retrying after ${retryAfter}s`);
          return retryCount < 2;
        },
      },
    },
    retry,
    throttling,
  );
}

export interface Repo {
  owner: string;
  repo: string;
}

export interface CommentRef {
  id: number;
  url: string;
}

/**
 * The login of the token's account, to only ever edit our own comments. The workflow token (an
 * app installation token) cannot call GET /user: then null, and comments by any bot qualify.
 */
export async function authenticatedLogin(client: GitHubClient): Promise<string | null> {
  try {
    const { data } = await client.rest.users.getAuthenticated();
    return data.login;
  } catch {
    return null;
  }
}

/** Finds our comment by its hidden marker through ALL pages (a busy PR has more than 100 comments). */
export async function findComment(
  client: GitHubClient,
  repo: Repo,
  issueNumber: number,
  marker: string,
  login: string | null,
): Promise<CommentRef | null> {
  const comments = await client.paginate(client.rest.issues.listComments, {
    ...repo,
    issue_number: issueNumber,
    per_page: 100,
  });
  // the latest one wins if an earlier run raced and left two
  for (let i = comments.length - 1; i >= 0; i--) {
    const c = comments[i];
    if (!c.body?.includes(marker)) continue;
    const ours = login ? c.user?.login === login : c.user?.type === 'Bot';
    if (ours) return { id: c.id, url: c.html_url };
  }
  return null;
}

export async function upsertComment(
  client: GitHubClient,
  repo: Repo,
  issueNumber: number,
  body: string,
  marker: string,
  mode: 'update' | 'create',
): Promise<CommentRef & { action: 'created' | 'updated' }> {
  if (mode === 'update') {
    const login = await authenticatedLogin(client);
    const existing = await findComment(client, repo, issueNumber, marker, login);
    if (existing) {
      const { data } = await client.rest.issues.updateComment({ ...repo, comment_id: existing.id, body });
      return { id: data.id, url: data.html_url, action: 'updated' };
    }
  }
  const { data } = await client.rest.issues.createComment({ ...repo, issue_number: issueNumber, body });
  return { id: data.id, url: data.html_url, action: 'created' };
}

/** A 403/404 on a write means the token cannot comment (fork PR, `permissions:` too narrow). */
export function isPermissionError(e: unknown): boolean {
  const status = (e as { status?: number })?.status;
  return status === 403 || status === 404;
}

/**
 * The open pull request whose head is `headSha` in `headRepo`: on `workflow_run` for a fork,
 * GitHub does not list the pull request, and an artifact must not be trusted to name it.
 */
export async function findPullRequestByHead(
  client: GitHubClient,
  repo: Repo,
  headSha: string,
  headRepo: string | null,
): Promise<{ number: number; baseRef: string; baseSha: string } | null> {
  const pulls = await client.paginate(client.rest.pulls.list, { ...repo, state: 'open', per_page: 100 });
  const hit = pulls.find((p) => p.head.sha === headSha && (headRepo == null || p.head.repo?.full_name === headRepo));
  return hit ? { number: hit.number, baseRef: hit.base.ref, baseSha: hit.base.sha } : null;
}
