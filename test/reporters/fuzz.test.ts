import { describe, expect, it } from 'vitest';
import { COMMENT_LIMIT, renderMarkdown } from '../../src/reporters/markdown.js';
import { hostileReport, loadFixture, mermaidBlocks } from './helpers.js';

/** The only HTML tags our Markdown writes; anything else came from a report and got through. */
const OUR_TAGS = new Set(['details', 'summary', 'sub', 'br']);

/** Lines a Mermaid xychart block may contain (every text went through the safe alphabet). */
const MERMAID_LINE = [
  /^%%\{init: \{"themeVariables":\{"xyChart":\{"plotColorPalette":"[#0-9a-f, ]+"\}\}\}\}%%$/,
  /^xychart-beta$/,
  /^ {2}title "[^"`\n]*"$/,
  /^ {2}x-axis "[^"`\n]*" \[("[^"`\n]*"(, )?)+\]$/,
  /^ {2}y-axis "[^"`\n]*" -?[0-9.]+ --> -?[0-9.]+$/,
  /^ {2}(line|bar) \[(-?[0-9.]+(, )?)+\]$/,
];

/** Checks that a body is valid for GitHub and that nothing from the report escaped its cell. */
function checkBody(body: string, limit: number) {
  expect(Buffer.byteLength(body, 'utf8')).toBeLessThanOrEqual(limit);
  expect(body.startsWith('<!-- superconverge:report key=default -->\n')).toBe(true);
  // Exactly one HTML comment: ours. A `-->` from a name would close it, a `<!--` would hide the rest.
  expect(body.split('<!--').length - 1).toBe(1);
  expect(body.split('-->').length - 1).toBe(1 + (body.match(/ --> -?[0-9.]+$/gm)?.length ?? 0));
  const outside = body.replace(/```mermaid\n[\s\S]*?\n```/g, '');
  for (const m of outside.matchAll(/<\/?([A-Za-z][A-Za-z0-9-]*)/g)) expect(OUR_TAGS.has(m[1].toLowerCase()), `tag <${m[1]}>`).toBe(true);
  // The words may stay as text; what must not exist is a link or image pointing there.
  expect(outside).not.toMatch(/\]\(\s*javascript:/i);
  expect(outside).not.toMatch(/@octocat/);
  expect(outside).not.toContain('\u001b');
  expect(outside).not.toContain('`'); // no code span or fence can open outside our Mermaid blocks
  // Fences balanced, and every Mermaid line matches the grammar we emit.
  expect((body.match(/^```/gm) ?? []).length % 2).toBe(0);
  for (const block of mermaidBlocks(body))
    for (const line of block.split('\n')) expect(MERMAID_LINE.some((re) => re.test(line)), `mermaid line: ${line.slice(0, 120)}`).toBe(true);
  // Tables: every row has as many cell separators as its header.
  const lines = body.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!lines[i].startsWith('|') || !lines[i + 1]?.startsWith('|---')) continue;
    const cols = lines[i].split('|').length;
    for (let j = i + 1; j < lines.length && lines[j].startsWith('|'); j++) expect(lines[j].split('|').length, lines[j].slice(0, 200)).toBe(cols);
  }
  // The verdict and the recommendations table are always there.
  expect(lines.some((l) => /^(✅|⚠️|❌) \*\*/.test(l))).toBe(true);
  expect(body).toContain('| Max LR | **0.357** |');
  expect(body).toContain('| Optimizer | **');
  expect(body.match(/<details>/g)?.length ?? 0).toBe(body.match(/<\/details>/g)?.length ?? 0);
}

describe('Markdown with hostile report text', () => {
  it('stays valid, escaped and under 65,536 characters for 40 seeded hostile reports', () => {
    const base = loadFixture('base-report');
    for (let seed = 1; seed <= 40; seed++) {
      const r = hostileReport(seed);
      const body = renderMarkdown(r, { base: seed % 2 ? base : undefined, links: { mlflowRunUrl: 'https://mlflow.example.com/#/runs/1', images: { 'lr-range-test': 'javascript:alert(1)' } } });
      try {
        checkBody(body, COMMENT_LIMIT);
      } catch (e) {
        throw new Error(`seed ${seed}: ${(e as Error).message}`);
      }
    }
  });

  it('keeps a 70,000-character title to one short line', () => {
    const r = loadFixture('full-report');
    r.title = '`'.repeat(70_000);
    const body = renderMarkdown(r);
    const heading = body.split('\n')[1];
    expect(heading.startsWith('## superconverge · &#96;&#96;')).toBe(true);
    expect(heading.length).toBeLessThan(120 * 5 + 30);
    checkBody(body, COMMENT_LIMIT);
  });

  it('trims a report with thousands of long candidates below the limit without touching verdict and table', () => {
    const r = hostileReport(99);
    for (const s of r.stages)
      if (s.decision) s.decision.candidates = Array.from({ length: 400 }, (_, i) => ({ value: i, metric: 0.1 + i / 1000, metricName: 'valLoss', note: '<|'.repeat(5000) }));
    r.warnings = Array.from({ length: 500 }, () => 'w'.repeat(1000));
    const body = renderMarkdown(r);
    checkBody(body, COMMENT_LIMIT);
    expect(body).toContain('Trimmed to fit the size limit');
  });
});
