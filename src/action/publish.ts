/**
 * Publishing a report: the Markdown for the comment and the job summary (through the reporters),
 * the one comment per pull request and report key, and the outputs.
 */
import * as core from '@actions/core';
import type { TuningReport } from '../report/index.js';
// Only the Markdown reporter: it is pure. PNG (resvg's native binary) and the HTML page (reads
// vega's files from node_modules at run time) cannot live in a single-file bundle; the CLI writes
// them into the run folder, which the action uploads as they are.
import { COMMENT_LIMIT, SUMMARY_LIMIT, commentMarker, renderMarkdown } from '../reporters/markdown.js';
import type { RunContext } from './context.js';
import { isPermissionError, makeClient, upsertComment } from './github.js';
import type { CommentMode } from './inputs.js';

/** Room left in the job summary for the action's own notes (comment skipped, ...). */
const SUMMARY_NOTES = 8_000;

export interface Links {
  artifactUrl?: string;
  mlflowRunUrl?: string;
}

/**
 * The reporter trims to the limit and writes the marker (its rules: detail first, never the
 * verdict or the table); this guard only makes sure the marker the action searches for is there.
 */
function withMarker(body: string, marker: string): string {
  return body.includes(marker) ? body : `${marker}\n${body}`;
}

export function renderComment(report: TuningReport, base: TuningReport | null, key: string, links: Links): string {
  const marker = commentMarker(key);
  const md = renderMarkdown(report, { base: base ?? undefined, flavor: 'comment', key, links, maxLength: COMMENT_LIMIT - marker.length - 1 });
  return withMarker(md, marker);
}

export function renderSummary(report: TuningReport, base: TuningReport | null, key: string, links: Links): string {
  return renderMarkdown(report, { base: base ?? undefined, flavor: 'summary', key, links, maxLength: SUMMARY_LIMIT - SUMMARY_NOTES });
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
