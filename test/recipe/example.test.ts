import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTuneConfig, tune, tuneOptionsFromConfig } from '../../src/sdk/recipe/index.js';
import { readReport } from '../../src/report/index.js';

describe('examples/tune.yml end to end', () => {
  it('tunes the example trainer on real digits within its budget and writes a valid report', async () => {
    const loaded = await loadTuneConfig('examples/tune.yml');
    expect(loaded.settings.budget).toBe('20s');
    const options = await tuneOptionsFromConfig('examples/tune.yml');
    const out = mkdtempSync(join(tmpdir(), 'sc-example-'));
    const t0 = performance.now();
    const { report, runDir } = await tune({ ...options, out });
    const seconds = (performance.now() - t0) / 1000;
    console.log(`example: ${seconds.toFixed(1)} s`, JSON.stringify(report.recommendations), JSON.stringify(report.final?.test), report.diagnosis?.verdict);
    expect(report.status).toBe('complete');
    expect(report.stages.map((s) => s.id)).toEqual(['lr', 'batch-size', 'momentum', 'weight-decay', 'lr-recheck', 'final']);
    expect([32, 64, 128]).toContain(report.recommendations.batchSize);
    expect(report.final!.test!.n).toBe(1500);
    // softmax regression on digits: well above chance, below a CNN
    expect(report.final!.test!.accuracy!).toBeGreaterThan(0.8);
    const onDisk = await readReport(join(runDir, 'report.json'));
    expect(onDisk.recommendations).toEqual(report.recommendations);
    expect(existsSync(join(runDir, 'stages', 'final.json'))).toBe(true);
    expect(readFileSync(join(runDir, 'curves', 'lr.csv'), 'utf8').split('\n')[0]).toBe('series,x,y,xValue,yValue');
    // the charts, the Markdown and the HTML page are written beside report.json
    for (const f of ['report.md', 'report.html', 'charts/lr-range-test.svg', 'charts/lr-range-test.png', 'charts/final-training.png']) {
      expect(existsSync(join(runDir, f)), f).toBe(true);
    }
    expect(readFileSync(join(runDir, 'report.md'), 'utf8')).toContain('charts/lr-range-test.png');
  });
});
