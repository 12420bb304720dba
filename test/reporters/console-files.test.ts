import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import { parseReport } from '../../src/report/index.js';
import { renderConsole, writeReportFiles } from '../../src/reporters/index.js';
import { hostileReport, loadFixture } from './helpers.js';

const full = loadFixture('full-report');
const base = loadFixture('base-report');

describe('renderConsole', () => {
  it('prints the verdict, the table, the stages and a sparkline, without colour by default', () => {
    const out = renderConsole(full);
    expect(out).not.toContain('\u001b');
    const lines = out.split('\n');
    expect(lines[0]).toBe('superconverge · MNIST digits CNN (pull request #42)');
    expect(lines[1]).toBe(
      '✅ 1cycle: max LR 0.357 (min 0.0357), momentum 0.95→0.85, weight decay 1e-4, batch 128, 5 epochs — test accuracy 98.2%, baseline 97.2% (+1.0 pt).',
    );
    expect(lines).toContain('  Max LR           0.357         LR range test: minimum-loss LR 1.072 / 3');
    expect(out).toContain('✔ Weight decay');
    expect(out).toContain('WD 1e-4: val loss 0.064 at step 300 vs 0.069 for the runner-up');
    const spark = /Range test {2}1e-5 (\S+) 4\.33/.exec(out)![1];
    expect(spark.length).toBe(48);
    // Flat, then falling to the minimum, then up again: the lowest bar sits in the last third.
    expect(spark.indexOf('▁')).toBeGreaterThan(30);
    expect(spark[0]).not.toBe('▁');
  });

  it('colours with ANSI codes on request and strips control characters from report text', () => {
    expect(renderConsole(full, { color: true })).toContain('\u001b[1msuperconverge');
    const out = renderConsole(hostileReport(4));
    expect(out).not.toContain('\u001b');
    expect(out).not.toContain('\u0007');
    expect(out.split('\n').every((l) => l.length < 1000)).toBe(true);
  });
});

describe('writeReportFiles', () => {
  it('writes report.md, report.html, report.json and an SVG, a PNG and a spec per chart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sc-report-'));
    try {
      const files = await writeReportFiles(full, dir, { base, scale: 1 });
      const rel = files.map((f) => relative(dir, f));
      expect(rel.filter((f) => f.endsWith('.png'))).toHaveLength(6);
      expect(rel.filter((f) => f.endsWith('.svg'))).toHaveLength(6);
      expect(rel).toContain('charts/lr-range-test.vl.json');
      expect(rel.slice(-3)).toEqual(['report.md', 'report.html', 'report.json']);
      for (const f of files) expect(existsSync(f)).toBe(true);
      const png = PNG.sync.read(readFileSync(join(dir, 'charts/final-training.png')));
      expect(png.width).toBeGreaterThan(600);
      const md = readFileSync(join(dir, 'report.md'), 'utf8');
      expect(md).toContain('[![lr-range-test chart](charts/lr-range-test.png)](charts/lr-range-test.png)');
      expect(md).not.toContain('superconverge:report key'); // summary flavour
      expect(parseReport(JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')))).toEqual(full);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes only the formats asked for and rejects unknown ones before writing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sc-report-'));
    try {
      const files = await writeReportFiles(loadFixture('lr-only-report'), dir, { formats: ['md', 'json'] });
      expect(files.map((f) => relative(dir, f))).toEqual(['report.md', 'report.json']);
      await expect(writeReportFiles(full, join(dir, 'x'), { formats: ['pdf' as 'md'] })).rejects.toThrow(UserInputError);
      expect(existsSync(join(dir, 'x'))).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('numbers in text', () => {
  it('shows counts exactly and other values to 3 significant figures', async () => {
    const { fmtNum } = await import('../../src/reporters/text.js');
    const { fmt } = await import('../../src/sdk/recipe/decide.js');
    // a batch of 2048 was shown as "Batch 2050" in the decision and the console table
    for (const f of [fmtNum, fmt]) {
      expect(f(2048)).toBe('2048');
      expect(f(12500)).toBe('12500');
      expect(f(0.357142)).toBe('0.357');
      expect(f(2048.4)).toBe('2050');
    }
    expect(fmtNum(3.5714e-5)).toBe('3.57e-5');
    const { count } = await import('../../src/reporters/text.js');
    expect([count(1, 'epoch'), count(36, 'epoch'), count(0, 'step')]).toEqual(['1 epoch', '36 epochs', '0 steps']);
    expect(fmt(0.0005)).toBe('5e-4');
    const { decideByValLoss } = await import('../../src/sdk/recipe/decide.js');
    const d = decideByValLoss({ parameter: 'batchSize', label: 'Batch', measured: [{ value: 2048, metric: 0.1, noise: 0 }, { value: 4096, metric: 0.2, noise: 0 }] });
    expect(d.summary).toMatch(/^Batch 2048: val loss 0\.1 .*vs 0\.2 for 4096\.$/);
  });
});
