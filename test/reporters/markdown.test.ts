import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { COMMENT_LIMIT, commentMarker, renderMarkdown, verdict } from '../../src/reporters/markdown.js';
import { clone, loadFixture, mermaidBlocks } from './helpers.js';

const GOLDEN = join(import.meta.dirname, 'golden');
const full = loadFixture('full-report');
const base = loadFixture('base-report');
const lrOnly = loadFixture('lr-only-report');
const LINKS = {
  artifactUrl: 'https://github.com/example/digits/actions/runs/123/artifacts/456',
  images: { 'lr-range-test': 'https://example.com/charts/lr-range-test.png' },
};

/** Compares with the committed golden file; `UPDATE_GOLDEN=1 npx vitest run test/reporters` rewrites it. */
function golden(name: string, actual: string) {
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
    if (process.env.CI === 'true' && !existsSync(file)) throw new Error(`golden file ${name} missing under CI`);
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

describe('renderMarkdown', () => {
  it('matches the golden comment for the full report against its base', () => {
    golden('full-vs-base.comment.md', renderMarkdown(full, { base, links: LINKS }));
  });

  it('matches the golden comment for the LR-only report', () => {
    golden('lr-only.comment.md', renderMarkdown(lrOnly));
  });

  it('marks the verdict ⚠️, not ✅, when 1cycle ended behind its baseline', () => {
    const behind = clone(full);
    behind.baseline!.test!.accuracy = behind.final!.test!.accuracy! + 0.01;
    const line = verdict(behind);
    expect(line.startsWith('⚠️ ')).toBe(true);
    expect(line).toMatch(/\(−1\.0 pt\)/);
    expect(verdict(full).startsWith('✅ ')).toBe(true);
  });

  it('starts with the hidden marker, then the one-line verdict, then the table', () => {
    const body = renderMarkdown(full, { base, key: 'mnist gpu-1' });
    const lines = body.split('\n');
    expect(lines[0]).toBe('<!-- superconverge:report key=mnist_gpu-1 -->');
    const verdict = lines.find((l) => l.startsWith('✅'))!;
    expect(verdict).toContain('max LR **0.357** (min 0.0357)');
    expect(verdict).toContain('momentum 0.95→0.85');
    expect(verdict).toContain('test accuracy **98.2%**, baseline 97.2% (+1.0 pt), base branch 97.6% (+0.6 pt)');
    const tableStart = lines.indexOf('| Hyper-parameter | Value | How it was chosen | vs base |');
    expect(tableStart).toBeGreaterThan(lines.indexOf(verdict));
    const rows = lines.slice(tableStart + 2, tableStart + 10);
    expect(rows[0]).toBe('| Max LR | **0.357** | LR range test: minimum-loss LR 1.072 / 3 | 0.235 → 0.357 (+52%) |');
    expect(rows[4]).toBe('| Weight decay | **1e-4** | lowest validation loss among the weight-decay candidates | 0.001 → 1e-4 (−90%) |');
    expect(rows[5]).toContain('| Batch size | **128** |');
    expect(rows[5]).toContain('64 → 128 (+100%)');
    expect(rows[2]).toContain('unchanged');
  });

  it('has no "vs base" column without a base report', () => {
    const body = renderMarkdown(full);
    expect(body).toContain('| Hyper-parameter | Value | How it was chosen |\n|---|---|---|\n');
    expect(body).not.toContain('vs base');
  });

  it('puts each stage in a collapsible block and a Mermaid chart per curve set', () => {
    const body = renderMarkdown(full, { base });
    expect(body.match(/<details><summary>/g)!.length).toBeGreaterThanOrEqual(6);
    expect(body).toContain('<details><summary>LR range test: details</summary>');
    expect(body).toContain('<details><summary>Weight decay: candidates</summary>');
    const blocks = mermaidBlocks(body);
    // range test, batch size, momentum, weight decay, final loss, final accuracy, base comparison
    expect(blocks).toHaveLength(7);
    for (const b of blocks) expect(b.split('\n')[1]).toBe('xychart-beta');
    expect(body.match(/<details>/g)!.length).toBe(body.match(/<\/details>/g)!.length);
  });

  it('links MLflow runs, the artifact and the chart images when URLs are given', () => {
    const body = renderMarkdown(full, { links: LINKS });
    expect(body).toContain('[MLflow run](http://mlflow.internal:5000/#/experiments/7/runs/a1b2c3d4e5f6)');
    expect(body).toContain('[MLflow run](http://mlflow.internal:5000/#/experiments/7/runs/a1b2c3d4e5f6-range)');
    expect(body).toContain('[charts and HTML report](https://github.com/example/digits/actions/runs/123/artifacts/456)');
    expect(body).toContain('[![lr-range-test chart](https://example.com/charts/lr-range-test.png)](https://example.com/charts/lr-range-test.png)');
    const unsafe = renderMarkdown(full, { links: { artifactUrl: 'javascript:alert(1)', mlflowRunUrl: 'http://x/a) [evil](http://e' } });
    expect(unsafe).not.toContain('javascript:');
    expect(unsafe).toContain('[MLflow run](http://x/a%29%20[evil]%28http://e)');
  });

  it('says why nothing is recommended for an insufficient-data range test', () => {
    const body = renderMarkdown(lrOnly);
    expect(body.split('\n')[3]).toBe(
      '⚠️ **No learning rate recommended**: range test insufficient-data: the loss became NaN after 9 of 100 steps: start the sweep at a lower LR (startLr 1e-5).',
    );
    expect(body.match(/\| not measured \|/g)).toHaveLength(8);
  });

  it('trims details first, then charts, keeping verdict and table, to fit maxLength', () => {
    const fullBody = renderMarkdown(full, { base });
    const small = renderMarkdown(full, { base, maxLength: 12_000 });
    expect(Buffer.byteLength(small)).toBeLessThanOrEqual(12_000);
    expect(fullBody.length).toBeGreaterThan(12_000);
    const head = fullBody.slice(0, fullBody.indexOf('### '));
    expect(small.startsWith(head)).toBe(true); // marker, verdict and table intact
    expect(small).toContain('Trimmed to fit the size limit');
    expect(small).toContain('details trimmed to fit the comment size limit');
    // The first section keeps its chart longest: it is degraded last.
    expect(small).toContain('xychart-beta');
    const tiny = renderMarkdown(full, { base, maxLength: 4_000 });
    expect(Buffer.byteLength(tiny)).toBeLessThanOrEqual(4_000);
    expect(tiny.startsWith(head)).toBe(true);
    expect(mermaidBlocks(tiny)).toHaveLength(0);
  });

  it('writes a summary flavour without the marker and with a 1 MiB budget', () => {
    const r = clone(full);
    // 3,000 warnings of 300 characters: too long for a comment, fine for a summary.
    r.warnings = Array.from({ length: 3000 }, (_, i) => `warning ${i} `.padEnd(300, 'x'));
    const summary = renderMarkdown(r, { flavor: 'summary' });
    expect(summary).not.toContain('superconverge:report');
    expect(summary).toContain('3000 warnings');
    const comment = renderMarkdown(r);
    expect(comment.length).toBeLessThanOrEqual(COMMENT_LIMIT);
  });

  it('rejects a maxLength outside what GitHub accepts, naming the option', () => {
    expect(() => renderMarkdown(full, { maxLength: 70_000 })).toThrow(UserInputError);
    expect(() => renderMarkdown(full, { maxLength: 70_000 })).toThrow(/maxLength: .* got 70000; allowed: an integer from 4000 to 65536/);
    expect(() => renderMarkdown(full, { flavor: 'tweet' as 'comment' })).toThrow(/flavor/);
  });
});

describe('commentMarker', () => {
  it('is a hidden HTML comment whose key cannot close it early', () => {
    expect(commentMarker()).toBe('<!-- superconverge:report key=default -->');
    expect(commentMarker('a --> b <script>')).toBe('<!-- superconverge:report key=a_-_b_script_ -->');
    expect(commentMarker('x'.repeat(500)).length).toBe('<!-- superconverge:report key= -->'.length + 100);
    expect(commentMarker('')).toBe('<!-- superconverge:report key=default -->');
  });
});
