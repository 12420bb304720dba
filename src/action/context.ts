/**
 * What the workflow run is: which event, which pull request, whether its head comes from a fork,
 * and whether this runner may execute its code. Pure functions of the event payload and env, so
 * the security rules are testable without a runner.
 */
import { readFileSync } from 'node:fs';

export interface PullRequestInfo {
  number: number;
  headSha: string;
  headRepo: string | null;
  baseRepo: string;
  baseRef: string;
  /** The base branch's commit the pull request was compared with ('' when the event does not say). */
  baseSha: string;
  /** Head repository differs from the base one (or was deleted): its code is untrusted. */
  fromFork: boolean;
}

export interface RunContext {
  eventName: string;
  owner: string;
  repo: string;
  runId: number;
  serverUrl: string;
  sha: string;
  ref: string;
  pullRequest: PullRequestInfo | null;
  /** 'github-hosted' | 'self-hosted' (the runner sets RUNNER_ENVIRONMENT). */
  runnerEnvironment: string;
  /** On `workflow_run`: the run that triggered this one (its artifacts hold the report). */
  workflowRun: { id: number; headSha: string; headRepo: string | null; fromFork: boolean } | null;
}

export function readRunContext(env: NodeJS.ProcessEnv = process.env): RunContext {
  const [owner = '', repo = ''] = (env.GITHUB_REPOSITORY ?? '').split('/');
  let payload: any = {};
  if (env.GITHUB_EVENT_PATH) {
    try {
      payload = JSON.parse(readFileSync(env.GITHUB_EVENT_PATH, 'utf8'));
    } catch {
      payload = {};
    }
  }
  const pr = payload.pull_request;
  let pullRequest: PullRequestInfo | null = null;
  if (pr && typeof pr.number === 'number') {
    const headRepo: string | null = pr.head?.repo?.full_name ?? null;
    const baseRepo: string = pr.base?.repo?.full_name ?? `${owner}/${repo}`;
    pullRequest = {
      number: pr.number,
      headSha: pr.head?.sha ?? '',
      headRepo,
      baseRepo,
      baseRef: pr.base?.ref ?? '',
      baseSha: pr.base?.sha ?? '',
      fromFork: headRepo === null || headRepo.toLowerCase() !== baseRepo.toLowerCase() || pr.head?.repo?.fork === true,
    };
  }
  const wr = payload.workflow_run;
  let workflowRun: RunContext['workflowRun'] = null;
  if (wr && typeof wr.id === 'number') {
    const headRepo: string | null = wr.head_repository?.full_name ?? null;
    const baseRepo = payload.repository?.full_name ?? `${owner}/${repo}`;
    const fromFork = headRepo === null || headRepo.toLowerCase() !== String(baseRepo).toLowerCase();
    workflowRun = { id: wr.id, headSha: wr.head_sha ?? '', headRepo, fromFork };
    // GitHub lists the pull request only when its head is in this repository (never for forks).
    const listed = Array.isArray(wr.pull_requests) ? wr.pull_requests[0] : undefined;
    if (!pullRequest && listed && typeof listed.number === 'number') {
      pullRequest = {
        number: listed.number,
        headSha: wr.head_sha ?? '',
        headRepo,
        baseRepo,
        baseRef: listed.base?.ref ?? '',
        baseSha: listed.base?.sha ?? '',
        fromFork,
      };
    }
  }
  return {
    workflowRun,
    eventName: env.GITHUB_EVENT_NAME ?? '',
    owner,
    repo,
    runId: Number(env.GITHUB_RUN_ID ?? 0),
    serverUrl: env.GITHUB_SERVER_URL ?? 'https://github.com',
    sha: env.GITHUB_SHA ?? '',
    ref: env.GITHUB_REF ?? '',
    pullRequest,
    runnerEnvironment: env.RUNNER_ENVIRONMENT ?? 'unknown',
  };
}

export type Refusal = { refused: true; reason: string } | { refused: false };

/**
 * May the action run `command` here? Refuses:
 * - under `pull_request_target`: the job holds a write token and secrets, so running code from
 *   the pull request would hand them to its author (GitHub Security Lab, "Preventing pwn requests");
 * - for a fork's pull request on a runner that is not GitHub-hosted, unless explicitly allowed:
 *   a self-hosted runner is not wiped between jobs, so a fork could leave a persistent payload
 *   on the machine, read other jobs' data or reach the internal network.
 */
export function checkMayRunCommand(ctx: RunContext, allowForkPullRequests: boolean): Refusal {
  if (ctx.eventName === 'pull_request_target') {
    return {
      refused: true,
      reason:
        'superconverge does not run `command` under `pull_request_target`: that event runs with a write token and ' +
        'the repository secrets, so executing code from the pull request would hand them to its author. ' +
        'Run the tuning on `pull_request` and post the comment from a separate `workflow_run` workflow ' +
        '(see the action README, "Pull requests from forks").',
    };
  }
  if (ctx.eventName === 'workflow_run' && ctx.workflowRun?.fromFork) {
    return {
      refused: true,
      reason:
        'superconverge does not run `command` under `workflow_run` triggered by a fork: this job has a write token ' +
        'and secrets. Use `mode: aggregate` here, which only reads the report artifact as data.',
    };
  }
  const pr = ctx.pullRequest;
  if (pr && pr.fromFork && ctx.runnerEnvironment !== 'github-hosted' && !allowForkPullRequests) {
    return {
      refused: true,
      reason:
        `Refusing to run \`command\` for pull request #${pr.number} from the fork ${pr.headRepo ?? '(deleted repository)'} ` +
        `on a ${ctx.runnerEnvironment === 'unknown' ? 'non-GitHub-hosted' : ctx.runnerEnvironment} runner. ` +
        'A self-hosted runner is not reset between jobs: code from a fork could persist on the machine, read ' +
        'other jobs\' data and credentials, or reach your internal network. Review the change, then either run ' +
        'the tuning on a GitHub-hosted runner, or set `allow-fork-pull-requests: true` on an ephemeral, isolated runner.',
    };
  }
  return { refused: false };
}
