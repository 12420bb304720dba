import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { compile } from 'vega-lite';
import { UserInputError } from '../../src/errors.js';
import { logSpacedIndices } from '../../src/reporters/data.js';
import { renderPng, renderSvg } from '../../src/reporters/image.js';
import { MAX_POINTS, mermaidCharts, rangeTestChart } from '../../src/reporters/mermaid.js';
import { vegaLiteSpecs } from '../../src/reporters/vega.js';
import { clone, loadFixture } from './helpers.js';

const full = loadFixture('full-report');
const base = loadFixture('base-report');
const lrOnly = loadFixture('lr-only-report');

describe('Mermaid charts', () => {
  it('picks at most 100 log-spaced points from a 1,000-point linear sweep', () => {
    const xs = Array.from({ length: 1000 }, (_, i) => 1e-4 + (i * (1 - 1e-4)) / 999);
    const idx = logSpacedIndices(xs, MAX_POINTS);
    expect(idx.length).toBeLessThanOrEqual(100);
    expect(idx[0]).toBe(0);
    expect(idx.at(-1)).toBe(999);
    // Log-spaced: the upper decade (0.1–1) holds about a quarter of the points, not 90 %.
    const upper = idx.filter((i) => xs[i] >= 0.1).length;
    expect(upper).toBeGreaterThan(15);
    expect(upper).toBeLessThan(35);
  });

  it('labels the range-test categories with LRs and marks the chosen band with two full-height bars', () => {
    const r = clone(full);
    const rt = r.stages[0].rangeTest!;
    // A 400-point sweep must be cut to <= 100 categories.
    const n = 400;
    rt.lr = Array.from({ length: n }, (_, i) => 1e-5 * Math.pow(1e6, i / (n - 1)));
    rt.loss = rt.lr.map((lr) => 2.3 - Math.min(1.9, Math.max(0, Math.log10(lr / 1e-3))) + (lr > 1 ? 5 * lr : 0));
    rt.smoothedLoss = rt.loss;
    rt.stopIndex = n - 1;
    const chart = rangeTestChart(r)!;
    const cats = /x-axis "[^"]*" \[(.*)\]/.exec(chart.code)![1].split(', ');
    expect(cats.length).toBeLessThanOrEqual(100);
    expect(cats[0]).toBe('"1e-5"');
    expect(cats.at(-1)).toBe('"10"');
    const [bar, raw, smoothed] = [...chart.code.matchAll(/^ {2}(?:line|bar) \[(.*)\]$/gm)].map((m) => m[1].split(', ').map(Number));
    const yMax = Number(/--> (-?[0-9.]+)/.exec(chart.code)![1]);
    expect(bar.filter((v) => v === yMax)).toHaveLength(2);
    expect(raw).toHaveLength(cats.length);
    expect(smoothed).toHaveLength(cats.length);
    expect(Math.max(...raw)).toBeLessThanOrEqual(yMax); // divergence clipped to the axis
    expect(chart.legend).toContain('suggestions: steepest');
    expect(chart.legend).toContain('⬛ grey: chosen band: min LR 0.0357 to max LR 0.357');
  });

  it('draws only the charts whose data exist', () => {
    expect(mermaidCharts(full, base).map((c) => c.name)).toEqual([
      'lr-range-test',
      'batch-size',
      'momentum',
      'weight-decay',
      'final-training',
      'final-training-accuracy',
      'base-comparison',
    ]);
    expect(mermaidCharts(lrOnly).map((c) => c.name)).toEqual(['lr-range-test']);
  });

  it('resamples batch-size curves of different lengths onto the time range they share', () => {
    const r = clone(full);
    const stage = r.stages.find((s) => s.kind === 'batch-size')!;
    stage.series[2].xs = stage.series[2].xs.map((x) => x * 0.5); // this run stopped at 30 s
    const chart = mermaidCharts(r).find((c) => c.name === 'batch-size')!;
    const cats = /x-axis "[^"]*" \[(.*)\]/.exec(chart.code)![1].split(', ');
    expect(cats[0]).toBe('"0"');
    expect(cats.at(-1)).toBe('"30"');
    expect(chart.legend).toContain('🟦 blue: batch 64 · 🟧 orange: batch 128 · 🟩 green: batch 256');
  });
});

describe('Vega-Lite specs', () => {
  it('has every chart of a full report against its base, and only the range test for the LR-only report', () => {
    expect(Object.keys(vegaLiteSpecs(full, base))).toEqual(['lr-range-test', 'batch-size', 'momentum', 'weight-decay', 'final-training', 'base-comparison']);
    expect(Object.keys(vegaLiteSpecs(full))).not.toContain('base-comparison');
    expect(Object.keys(vegaLiteSpecs(lrOnly))).toEqual(['lr-range-test']);
  });

  it('compiles every spec without a Vega-Lite warning', () => {
    for (const [name, spec] of Object.entries(vegaLiteSpecs(full, base))) {
      const warnings: string[] = [];
      const logger = {
        level: () => logger,
        warn: (...a: unknown[]) => (warnings.push(a.join(' ')), logger),
        info: () => logger,
        debug: () => logger,
        error: (...a: unknown[]) => (warnings.push(a.join(' ')), logger),
      };
      compile(spec!, { logger: logger as any });
      expect(warnings, name).toEqual([]);
    }
  });

  it('draws the range test on a log axis with the suggestions named, the band shaded and the stop labelled', async () => {
    const spec = vegaLiteSpecs(full)['lr-range-test']!;
    const svg = await renderSvg(spec);
    for (const text of ['steepest 0.1', 'valley 0.351', 'minimum 1.07', 'chosen 0.0357–0.357', 'stop: diverged at 4.33', 'learning rate (log scale)'])
      expect(svg).toContain(text);
    expect(JSON.stringify(spec)).toContain('"type":"log"');
    expect(svg).toContain('font-family="DejaVu Sans');
  });

  it('puts the LR and momentum schedule in a panel under the final-training loss', async () => {
    const svg = await renderSvg(vegaLiteSpecs(full)['final-training']!);
    const pos = (t: string) => svg.indexOf(t);
    expect(pos('loss per epoch')).toBeGreaterThan(0);
    expect(pos('schedule: learning rate')).toBeGreaterThan(pos('loss per epoch'));
    expect(svg).toContain('momentum');
    expect(svg).toContain('validation accuracy per epoch (test 98.2%)');
  });
});

describe('PNG rendering', () => {
  it('renders a readable, non-blank PNG of the range test at 2x', async () => {
    const spec = vegaLiteSpecs(full)['lr-range-test']!;
    const svg = await renderSvg(spec);
    const w = Number(/width="([0-9.]+)"/.exec(svg)![1]);
    const h = Number(/height="([0-9.]+)"/.exec(svg)![1]);
    const png = PNG.sync.read(await renderPng(spec, { scale: 2 }));
    expect(png.width).toBe(Math.round(w * 2));
    expect(png.height).toBe(Math.round(h * 2));
    expect(png.width).toBeGreaterThan(1200); // readable in a PR comment
    let dark = 0;
    let orange = 0;
    const colors = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4) {
      const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
      if (r + g + b < 200) dark++; // text and axes
      if (Math.abs(r - 0xff) < 10 && Math.abs(g - 0x7f) < 12 && Math.abs(b - 0x0e) < 16) orange++; // smoothed loss
      colors.add((r << 16) | (g << 8) | b);
    }
    const total = png.width * png.height;
    expect(dark / total).toBeGreaterThan(0.005); // text was drawn: fonts loaded
    expect(orange).toBeGreaterThan(1500);
    expect(colors.size).toBeGreaterThan(50);
  });

  it('rejects a scale outside 0.25–8, naming the option', async () => {
    await expect(renderPng(vegaLiteSpecs(full)['lr-range-test']!, { scale: 20 })).rejects.toThrow(UserInputError);
    await expect(renderPng(vegaLiteSpecs(full)['lr-range-test']!, { scale: 20 })).rejects.toThrow(/^scale: too large — got 20/);
  });
});
