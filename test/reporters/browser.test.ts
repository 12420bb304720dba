/**
 * Checked as a person would see them: every Mermaid block of our Markdown rendered by the real
 * `mermaid` package, and the HTML page, in a real headless Chromium with no network. Screenshots
 * go to test-output/screenshots/ for a human to look at.
 */
import { writeFile } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/reporters/html.js';
import { renderMarkdown } from '../../src/reporters/markdown.js';
import { renderSvg } from '../../src/reporters/image.js';
import { vegaLiteSpecs } from '../../src/reporters/vega.js';
import { chromiumUnavailable, launchChromium, mermaidScriptPath, offlinePage, screenshotPath } from '../support/browser.js';
import { hostileReport, loadFixture, mermaidBlocks } from './helpers.js';

const skip = chromiumUnavailable();
const full = loadFixture('full-report');
const base = loadFixture('base-report');
const lrOnly = loadFixture('lr-only-report');

interface MermaidResult {
  ok: boolean;
  error?: string;
  errorDiagram?: boolean;
  /** Stroke colours of the drawn line plots, and how many bar rects the plot has. */
  lineColors?: string[];
  bars?: number;
  title?: string;
}

describe.skipIf(skip != null)('rendering in headless Chromium', () => {
  let browser: Browser;
  let mermaidPage: Page;
  let pageErrors: string[];
  let blocked: string[];

  beforeAll(async () => {
    browser = await launchChromium();
    const p = await offlinePage(browser, { width: 900, height: 600 });
    mermaidPage = p.page;
    pageErrors = p.errors;
    blocked = p.blocked;
    await mermaidPage.setContent('<!DOCTYPE html><html><body style="margin:0;background:white"><div id="out"></div></body></html>');
    await mermaidPage.addScriptTag({ path: mermaidScriptPath() });
    await mermaidPage.evaluate(() => (window as any).mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' }));
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** Renders one block as GitHub would (mermaid 11), shows it alone on the page, screenshots it. */
  async function renderMermaid(code: string, shot: string): Promise<MermaidResult> {
    const res: MermaidResult = await mermaidPage.evaluate(async (src) => {
      const m = (window as any).mermaid;
      const out = document.getElementById('out')!;
      out.innerHTML = '';
      try {
        await m.parse(src); // throws on a syntax error
        const { svg } = await m.render('chart' + Math.floor(Math.random() * 1e9), src);
        out.innerHTML = svg;
        const root = out.querySelector('svg')!;
        // Mermaid's error diagram ("Syntax error in text") is drawn instead of throwing in some paths.
        const errorDiagram = root.getAttribute('aria-roledescription') === 'error' || /Syntax error/i.test(root.textContent ?? '');
        const lineColors = Array.from(root.querySelectorAll('path'))
          .filter((p) => p.closest('[class*="line-plot"]'))
          .map((p) => (p.getAttribute('stroke') ?? '').toLowerCase());
        const bars = root.querySelectorAll('[class*="bar-plot"] rect').length;
        const title = root.querySelector('[class*="chart-title"] text, .chart-title text')?.textContent ?? '';
        return { ok: true, errorDiagram, lineColors, bars, title };
      } catch (e) {
        return { ok: false, error: String((e as Error)?.message ?? e) };
      }
    }, code);
    const el = await mermaidPage.$('#out svg');
    if (el) await el.screenshot({ path: await screenshotPath(shot) });
    return res;
  }

  it('renders every Mermaid block of the full report against its base, with the colours its legend names', async () => {
    const body = renderMarkdown(full, { base });
    const blocks = mermaidBlocks(body);
    expect(blocks).toHaveLength(7);
    for (const [i, code] of blocks.entries()) {
      const res = await renderMermaid(code, `mermaid-full-${i}.png`);
      expect(res.ok, `block ${i}: ${res.error}`).toBe(true);
      expect(res.errorDiagram, `block ${i}`).toBe(false);
      // Each `line [...]` is one drawn path, in the palette colour the legend names.
      const palette = /plotColorPalette":"([^"]+)"/.exec(code)![1].split(', ');
      const kinds = [...code.matchAll(/^ {2}(line|bar) \[/gm)].map((m) => m[1]);
      const expectedLineColors = kinds.flatMap((k, j) => (k === 'line' ? [palette[j].toLowerCase()] : []));
      expect(res.lineColors, `block ${i} line colours`).toEqual(expectedLineColors);
      if (kinds.includes('bar')) expect(res.bars).toBeGreaterThan(10);
    }
    // The legend under the range-test chart names the same colours.
    expect(body).toContain('🟦 blue: loss (raw) · 🟧 orange: smoothed loss');
    expect(pageErrors).toEqual([]);
    expect(blocked).toEqual([]);
  });

  it('renders the LR-only report and hostile reports without a Mermaid syntax error', async () => {
    const bodies = [renderMarkdown(lrOnly), ...[3, 7, 11].map((seed) => renderMarkdown(hostileReport(seed), { base }))];
    let n = 0;
    for (const [k, body] of bodies.entries())
      for (const [i, code] of mermaidBlocks(body).entries()) {
        const res = await renderMermaid(code, `mermaid-${k === 0 ? 'lr-only' : `hostile-${k}`}-${i}.png`);
        expect(res.ok, `body ${k} block ${i}: ${res.error}`).toBe(true);
        expect(res.errorDiagram).toBe(false);
        n++;
      }
    expect(n).toBeGreaterThanOrEqual(1 + 3 * 5);
    expect(pageErrors).toEqual([]);
  });

  it('detects a broken block: the check is not vacuous', async () => {
    const res = await renderMermaid('xychart-beta\n  x-axis [a, b\n  line [1, 2]', 'mermaid-broken.png');
    expect(res.ok && !res.errorDiagram).toBe(false);
  });

  it('renders every chart of the standalone HTML page offline', async () => {
    const page = renderHtml(full, { base });
    await writeFile(await screenshotPath('report-full.html'), page);
    const { page: p, errors, blocked: net } = await offlinePage(browser, { width: 1100, height: 900 });
    const dialogs: string[] = [];
    p.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await p.setContent(page, { waitUntil: 'load' });
    await p.waitForSelector('body[data-rendered="true"]', { timeout: 30_000 });
    const state = await p.evaluate(() => ({
      ...(window as any).__superconverge,
      svgs: document.querySelectorAll('.chart svg').length,
      marks: document.querySelectorAll('.chart svg path').length,
      title: document.querySelector('h1')?.textContent,
      rows: document.querySelectorAll('table')[0].querySelectorAll('tbody tr').length,
    }));
    expect(state.errors).toEqual([]);
    expect(state.total).toBe(6);
    expect(state.rendered).toBe(6);
    expect(state.svgs).toBe(6);
    expect(state.marks).toBeGreaterThan(50);
    expect(state.title).toBe('superconverge · MNIST digits CNN (pull request #42)');
    expect(state.rows).toBe(8);
    await p.screenshot({ path: await screenshotPath('report-full.png'), fullPage: true });
    expect(errors).toEqual([]);
    expect(net).toEqual([]);
    expect(dialogs).toEqual([]);
    await p.context().close();
  });

  it('shows hostile report text as text in the HTML page: no script runs, no element is injected', async () => {
    const r = hostileReport(5);
    const { page: p, errors } = await offlinePage(browser);
    const dialogs: string[] = [];
    p.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await p.setContent(renderHtml(r, { base }), { waitUntil: 'load' });
    await p.waitForSelector('body[data-rendered="true"]', { timeout: 30_000 });
    const state = await p.evaluate(() => ({
      scripts: document.querySelectorAll('script').length,
      imgs: document.querySelectorAll('img').length,
      openDetails: document.querySelectorAll('details[open]').length,
      rendered: (window as any).__superconverge.rendered,
      chartErrors: (window as any).__superconverge.errors,
    }));
    expect(dialogs).toEqual([]);
    expect(state.scripts).toBe(4); // vega, vega-lite, the specs, the runner
    expect(state.imgs).toBe(0);
    expect(state.openDetails).toBe(0);
    expect(state.chartErrors).toEqual([]);
    expect(state.rendered).toBeGreaterThanOrEqual(5);
    expect(errors).toEqual([]);
    await p.screenshot({ path: await screenshotPath('report-hostile.png'), fullPage: true });
    await p.context().close();
  });

  it('renders the static (inline SVG) page of the LR-only report', async () => {
    const specs = vegaLiteSpecs(lrOnly);
    const svgs: Record<string, string> = {};
    for (const [k, s] of Object.entries(specs)) svgs[k] = await renderSvg(s!);
    const { page: p, errors } = await offlinePage(browser);
    await p.setContent(renderHtml(lrOnly, { svgs }), { waitUntil: 'load' });
    const state = await p.evaluate(() => ({
      svgs: document.querySelectorAll('.chart svg').length,
      scripts: document.querySelectorAll('script').length,
      verdict: document.querySelector('.verdict')?.textContent,
    }));
    expect(state).toEqual({
      svgs: 1,
      scripts: 1,
      verdict: '⚠️ No learning rate recommended: range test insufficient-data: the loss became NaN after 9 of 100 steps: start the sweep at a lower LR (startLr 1e-5).',
    });
    expect(errors).toEqual([]);
    await p.screenshot({ path: await screenshotPath('report-lr-only.png'), fullPage: true });
    await p.context().close();
  });
});
