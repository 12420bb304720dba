/**
 * Reporters: a TuningReport rendered as Markdown (PR comment, job summary), Mermaid, Vega-Lite,
 * SVG/PNG, a standalone HTML page and a console table. They read the report only: no SDK, no
 * TensorFlow.js, no re-running of anything.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TuningReport } from '../report/index.js';
import { UserInputError } from '../errors.js';
import { renderHtml } from './html.js';
import { renderSvg, svgToPng } from './image.js';
import { renderMarkdown } from './markdown.js';
import { vegaLiteSpecs } from './vega.js';

export { CHART_NAMES, type ChartName } from './data.js';
export { renderMarkdown, commentMarker, verdict, recommendationsTable, COMMENT_LIMIT, SUMMARY_LIMIT, type MarkdownOptions, type MarkdownLinks } from './markdown.js';
export { mermaidCharts, mermaidBlock, xyChart, type MermaidChart } from './mermaid.js';
export { vegaLiteSpecs, type VegaLiteSpec } from './vega.js';
export { renderSvg, renderPng, svgToPng, type PngOptions } from './image.js';
export { renderHtml, type HtmlOptions } from './html.js';
export { renderConsole, renderLocations, type ConsoleOptions } from './console.js';

export const REPORT_FORMATS = ['md', 'html', 'svg', 'png', 'json'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface WriteReportOptions {
  base?: TuningReport;
  /** Default: all of md, html, svg, png, json. */
  formats?: ReportFormat[];
  /** PNG pixel density (default 2). */
  scale?: number;
}

/**
 * Writes the report's files into `outDir`: report.md (job-summary flavour, images linked as
 * charts/<name>.png when PNGs are written), report.html, charts/<name>.svg|png|vl.json and
 * report.json. Returns the paths written, in that order.
 */
export async function writeReportFiles(report: TuningReport, outDir: string, opts: WriteReportOptions = {}): Promise<string[]> {
  const formats = opts.formats ?? [...REPORT_FORMATS];
  for (const f of formats)
    if (!(REPORT_FORMATS as readonly string[]).includes(f)) throw new UserInputError('format', f, REPORT_FORMATS.join(', '));
  const want = new Set(formats);
  const written: string[] = [];
  const charts = join(outDir, 'charts');
  await mkdir(outDir, { recursive: true });
  const specs = vegaLiteSpecs(report, opts.base);
  const svgs: Record<string, string> = {};
  if (want.has('svg') || want.has('png')) {
    await mkdir(charts, { recursive: true });
    for (const [name, spec] of Object.entries(specs)) {
      const svg = await renderSvg(spec!);
      svgs[name] = svg;
      if (want.has('svg')) {
        const file = join(charts, `${name}.svg`);
        await writeFile(file, svg);
        written.push(file);
        // The spec next to its picture: open it in the Vega editor to explore the data.
        const specFile = join(charts, `${name}.vl.json`);
        await writeFile(specFile, JSON.stringify(spec, null, 2) + '\n');
        written.push(specFile);
      }
      if (want.has('png')) {
        const file = join(charts, `${name}.png`);
        await writeFile(file, await svgToPng(svg, opts.scale ?? 2));
        written.push(file);
      }
    }
  }
  if (want.has('md')) {
    const images = want.has('png') ? Object.fromEntries(Object.keys(specs).map((n) => [n, `charts/${n}.png`])) : undefined;
    const file = join(outDir, 'report.md');
    await writeFile(file, renderMarkdown(report, { base: opts.base, flavor: 'summary', links: { images } }));
    written.push(file);
  }
  if (want.has('html')) {
    const file = join(outDir, 'report.html');
    await writeFile(file, renderHtml(report, { base: opts.base }));
    written.push(file);
  }
  if (want.has('json')) {
    const file = join(outDir, 'report.json');
    await writeFile(file, JSON.stringify(report, null, 2) + '\n');
    written.push(file);
  }
  return written;
}
