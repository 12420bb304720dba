/**
 * Publishing a report: the Markdown for the comment and the job summary (through the reporters),
 * the one comment per pull request and report key, and the outputs.
 */
import * as core from '@actions/core';
import type { TuningReport } from '../report/index.js';
import { commentMarker, renderMarkdown } from '../reporters/markdown.js';
import type { RunContext } from './context.js';
import { COMMENT_LIMIT, isPermissionError, makeClient, upsertComment } from './github.js';
import type { CommentMode } from './inputs.js';

/** GitHub's job summary limit is 1 MiB per step; characters can be up to 4 bytes in UTF-8. */
export const SUMMARY_LIMIT = 1024 * 1024;

export interface Links {
  artifactUrl?: string;
  mlflowRunUrl?: string;
}

/** Keeps the body under `limit` UTF-16 units even if a renderer overshoots, and keeps the marker. */
function withMarker(body: string, marker: string, limit: number): string {
  let out = body.includes(marker) ? body : `${marker}\n${body}`;
  if (out.length > limit) {
    const note = '\n\n_(trimmed to fit GitHub\'s size limit)_\n';
    out = out.slice(0, limit - note.length - marker.length - 1) + note + marker;
  }
  return out;
}

export function renderComment(report: TuningReport, base: TuningReport | null, key: string, links: Links): string {
  const md = renderMarkdown(report, { base: base ?? undefined, flavor: 'comment', key, links, maxLength: COMMENT_LIMIT });
  return withMarker(md, commentMarker(key), COMMENT_LIMIT);
}

export function renderSummary(report: TuningReport, base: TuningReport | null, key: string, links: Links): string {
  const md = renderMarkdown(report, { base: base ?? undefined, flavor: 'summary', key, links, maxLength: SUMMARY_LIMIT / 4 });
  return md.length > SUMMARY_LIMIT / 4 ? md.slice(0, SUMMARY_LIMIT / 4) : md;
}

export interface CommentOutcome {
  url: string | null;
  /** A message for the summary when the comment was skipped. */
  note: string | null;
}

export async function publishComment(
  ctx: RunContext,
  mode: CommentMode,
  token: string,
  body: string,
  key: string,
): Promise<CommentOutcome> {
  if (!ctx.pullRequest) return { url: null, note: null };
  if (mode === 'off') return { url: null, note: null };
  if (!token) {
    const note = 'No github-token: the pull-request comment was skipped.';
    core.warning(note);
    return { url: null, note };
  }
  const client = makeClient(token);
  try {
    const c = await upsertComment(
      client,
      { owner: ctx.owner, repo: ctx.repo },
      ctx.pullRequest.number,
      body,
      commentMarker(key),
      mode,
    );
    core.info(`superconverge: ${c.action} comment ${c.url}`);
    return { url: c.url, note: null };
  } catch (e) {
    if (isPermissionError(e)) {
      // Fork PRs get a read-only token (DESIGN.md, GitHub facts): the summary carries the report.
      const note =
        `The token cannot write pull-request comments (HTTP ${(e as { status: number }).status}): the comment was skipped; ` +
        'the report is in this job summary. Grant `pull-requests: write` (same-repository pull requests), or for forks ' +
        'post the comment from a `workflow_run` workflow (see the action README).';
      core.warning(note);
      return { url: null, note };
    }
    throw e;
  }
}
