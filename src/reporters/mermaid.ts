/**
 * Mermaid `xychart-beta` charts for Markdown (PR comments, job summaries). GitHub pins a
 * Mermaid 11.x: the bare `xychart` keyword needs 11.10+, so we emit `xychart-beta`. Mermaid's
 * xychart has no log axis, no scatter and no legend, hence:
 * - the x axis is categorical, labelled with the LR of log-spaced points of the sweep;
 * - at most ~100 points per series (GitHub renders slowly past that, and labels overlap);
 * - the legend is written under the chart, naming each line by its colour, which we pin with
 *   `plotColorPalette` so the words match the picture.
 */
import type { TuningReport } from '../report/index.js';
import {
  PALETTE,
  comparisonOf,
  evenIndices,
  finalTraining,
  finite,
  interpolate,
  logSpacedIndices,
  lossAxis,
  rangePoints,
  rangeTestOf,
  stageOf,
  type ChartName,
  type Curve,
} from './data.js';
import { fmtNum, md, mermaidText } from './text.js';

export const MAX_POINTS = 100;
/** More lines than colours we can name make an unreadable chart. */
const MAX_LINES = PALETTE.length;

export interface MermaidChart {
  name: ChartName | `${ChartName}-accuracy`;
  /** The Mermaid source, without the ``` fence. */
  code: string;
  /** The legend as Markdown (already escaped), written under the chart. */
  legend: string;
}

interface XyLine {
  label: string;
  values: number[];
  kind?: 'line' | 'bar';
  /** Overrides the palette colour (bars marking the chosen LR band are grey). */
  color?: string;
}

interface XyChart {
  title: string;
  xTitle: string;
  categories: string[];
  yTitle: string;
  yMin: number;
  yMax: number;
  lines: XyLine[];
}

/** A number as Mermaid reads it: plain decimal, no exponent (the grammar has none). */
function num(x: number): string {
  if (!Number.isFinite(x)) return '0';
  const s = Number(x.toPrecision(5)).toString();
  return s.includes('e') ? x.toFixed(12).replace(/0+$/, '').replace(/\.$/, '') : s;
}

/** The colour of each line: its own, or the next palette colour (lines with their own colour skip none). */
function colorsOf(lines: XyLine[]): { hex: string; emoji: string; name: string }[] {
  let k = 0;
  return lines.map((l) => (l.color ? { hex: l.color, emoji: '⬛', name: 'grey' } : PALETTE[k++ % PALETTE.length]));
}

/** Renders an xychart-beta block. Every text went through `mermaidText`. */
export function xyChart(c: XyChart): string {
  const palette = colorsOf(c.lines)
    .map((p) => p.hex)
    .join(', ');
  const init = { themeVariables: { xyChart: { plotColorPalette: palette } } };
  const cats = c.categories.map((x) => `"${mermaidText(x, 16)}"`).join(', ');
  const lines = c.lines.map((l) => `  ${l.kind ?? 'line'} [${l.values.map((v) => num(v)).join(', ')}]`);
  return [
    `%%{init: ${JSON.stringify(init)}}%%`,
    'xychart-beta',
    `  title "${mermaidText(c.title, 80)}"`,
    `  x-axis "${mermaidText(c.xTitle, 40)}" [${cats}]`,
    `  y-axis "${mermaidText(c.yTitle, 40)}" ${num(c.yMin)} --> ${num(c.yMax)}`,
    ...lines,
  ].join('\n');
}

function legendOf(lines: XyLine[], extra: string[] = []): string {
  const colors = colorsOf(lines);
  const items = lines.map((l, i) => `${colors[i].emoji} ${colors[i].name}: ${md(l.label, 80)}`);
  return `<sub>${[...items.length ? [items.join(' · ')] : [], ...extra].join('<br>')}</sub>`;
}

/** Fills gaps (nulls) by carrying the previous value, and clips into [lo, hi]. */
function fill(values: (number | null)[], lo: number, hi: number): number[] {
  let last: number | null = finite(values)[0] ?? lo;
  return values.map((v) => {
    if (v != null && Number.isFinite(v)) last = v;
    return Math.min(hi, Math.max(lo, last as number));
  });
}

function nearestCategory(xs: number[], x: number): number {
  let k = 0;
  xs.forEach((v, i) => {
    if (Math.abs(Math.log(v) - Math.log(x)) < Math.abs(Math.log(xs[k]) - Math.log(x))) k = i;
  });
  return k;
}

/** Loss against LR: raw and smoothed, the chosen min/max LR as grey bars, the stop point in the legend. */
export function rangeTestChart(report: TuningReport, maxPoints = MAX_POINTS): MermaidChart | null {
  const rt = rangeTestOf(report);
  if (!rt) return null;
  const pts = rangePoints(rt);
  if (pts.length < 2) return null;
  const idx = logSpacedIndices(
    pts.map((p) => p.lr),
    maxPoints,
  );
  const shown = idx.map((i) => pts[i]);
  const axis = lossAxis(
    shown.flatMap((p) => [p.loss, p.smoothed]),
    finite(shown.map((p) => p.smoothed))[0] ?? null,
  );
  const lrs = shown.map((p) => p.lr);
  const lines: XyLine[] = [];
  const extra: string[] = [];
  if (rt.chosen) {
    // Bars of full height at the categories nearest to minLr and maxLr mark the band handed to 1cycle.
    const marks = new Set([nearestCategory(lrs, rt.chosen.minLr), nearestCategory(lrs, rt.chosen.maxLr)]);
    lines.push({
      label: `chosen band: min LR ${fmtNum(rt.chosen.minLr)} to max LR ${fmtNum(rt.chosen.maxLr)}`,
      values: lrs.map((_, i) => (marks.has(i) ? axis.max : axis.min)),
      kind: 'bar',
      color: '#c7c7c7',
    });
  }
  lines.push({ label: 'loss (raw)', values: fill(shown.map((p) => p.loss), axis.min, axis.max) });
  lines.push({ label: 'smoothed loss', values: fill(shown.map((p) => p.smoothed), axis.min, axis.max) });
  const s = rt.suggestions;
  const named = (
    [
      ['steepest', s.steepest?.lr],
      ['valley', s.valley?.lr],
      ['minimum', s.minimum?.lr],
      ['Smith max', s.smith?.maxLr],
    ] as const
  ).filter(([, v]) => v != null);
  if (named.length) extra.push(`suggestions: ${named.map(([k, v]) => `${k} ${fmtNum(v)}`).join(', ')}`);
  const last = pts[pts.length - 1];
  extra.push(`stopped at LR ${fmtNum(last.lr)} (step ${last.index + 1} of ${rt.numIter}, ${md(rt.stopReason, 20)})`);
  extra.push(
    `x: LR of ${shown.length} log-spaced points of ${pts.length}${axis.clipped ? `; losses above ${fmtNum(axis.max)} drawn at the top` : ''}`,
  );
  const code = xyChart({
    title: 'LR range test: loss vs learning rate',
    xTitle: 'learning rate (log-spaced)',
    categories: lrs.map((x) => fmtNum(x)),
    yTitle: 'loss',
    yMin: axis.min,
    yMax: axis.max,
    lines,
  });
  // The bar is drawn first so the lines sit on top.
  const legend = legendOf(lines, extra);
  return { name: 'lr-range-test', code, legend };
}

/** Curves resampled onto one grid of categories (the xychart has one x axis for all lines). */
function gridChart(
  name: MermaidChart['name'],
  title: string,
  xTitle: string,
  yTitle: string,
  curves: Curve[],
  logX: boolean,
  maxPoints: number,
  extra: string[] = [],
  zoomTail = false,
): MermaidChart | null {
  const usable = curves.filter((c) => finite(c.ys).length > 0).slice(0, MAX_LINES);
  if (usable.length === 0) return null;
  // The common range: every line defined on every category.
  const lo = Math.max(...usable.map((c) => c.xs[0]));
  const hi = Math.min(...usable.map((c) => c.xs[c.xs.length - 1]));
  if (!(hi > lo)) return null;
  const longest = Math.max(...usable.map((c) => c.xs.length));
  const n = Math.min(maxPoints, Math.max(2, longest));
  const grid = Array.from({ length: n }, (_, k) =>
    logX ? Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * k) / (n - 1)) : lo + ((hi - lo) * k) / (n - 1),
  );
  const values = usable.map((c) => grid.map((x) => interpolate(c.xs, c.ys, x, logX)));
  // Candidates differ at the end, not in the first fall from chance-level loss: when `zoomTail`,
  // the axis spans the last two thirds of the curves and the start is clipped at the top.
  const tail = zoomTail ? values.flatMap((v) => v.slice(Math.floor(v.length / 3))) : values.flat();
  const axis = lossAxis(tail, null);
  const clipped = zoomTail && finite(values.flat()).some((v) => v > axis.max);
  if (clipped) extra = [...extra, `y axis zoomed on the last two thirds; earlier values drawn at ${fmtNum(axis.max)}`];
  const lines = usable.map((c, i) => ({ label: c.label, values: fill(values[i], axis.min, axis.max) }));
  const fmtX = (x: number) => (logX ? fmtNum(x) : Number.isInteger(x) ? String(x) : fmtNum(x, 3));
  const code = xyChart({ title, xTitle, categories: grid.map(fmtX), yTitle, yMin: axis.min, yMax: axis.max, lines });
  const dropped = curves.length - usable.length;
  return {
    name,
    code,
    legend: legendOf(lines, dropped > 0 ? [...extra, `${dropped} more curves not drawn`] : extra),
  };
}

const X_TITLES: Record<string, string> = { step: 'step', seconds: 'wall time (s)', epoch: 'epoch', lr: 'learning rate' };
const Y_TITLES: Record<string, string> = { valLoss: 'validation loss', loss: 'loss', smoothedLoss: 'smoothed loss' };

/** One chart per decision stage that has curves: batch size, momentum, weight decay. */
export function comparisonChart(report: TuningReport, kind: 'batch-size' | 'momentum' | 'weight-decay', maxPoints = MAX_POINTS): MermaidChart | null {
  const stage = stageOf(report, kind);
  if (!stage) return null;
  const cmp = comparisonOf(stage);
  if (!cmp) return null;
  const what = { 'batch-size': 'Batch size', momentum: 'Momentum', 'weight-decay': 'Weight decay' }[kind];
  const winner = stage.decision?.winner;
  const extra = winner != null ? [`winner: ${md(String(winner), 40)}`] : [];
  return gridChart(
    kind,
    `${what}: ${Y_TITLES[cmp.y] ?? cmp.y} vs ${X_TITLES[cmp.x] ?? cmp.x}`,
    X_TITLES[cmp.x] ?? cmp.x,
    Y_TITLES[cmp.y] ?? cmp.y,
    cmp.curves,
    cmp.logX,
    maxPoints,
    extra,
    !cmp.logX,
  );
}

/** Train and validation loss per epoch of the final training (accuracy in a second chart). */
export function finalTrainingCharts(report: TuningReport, maxPoints = MAX_POINTS): MermaidChart[] {
  const t = finalTraining(report);
  if (!t || t.history.length < 2) return [];
  const h = evenIndices(t.history.length, maxPoints).map((i) => t.history[i]);
  const out: MermaidChart[] = [];
  const lossLines: XyLine[] = [];
  const axis = lossAxis(h.flatMap((e) => [e.trainLoss, e.valLoss]), null);
  if (finite(h.map((e) => e.trainLoss)).length) lossLines.push({ label: 'train loss', values: fill(h.map((e) => e.trainLoss), axis.min, axis.max) });
  if (finite(h.map((e) => e.valLoss)).length) lossLines.push({ label: 'validation loss', values: fill(h.map((e) => e.valLoss), axis.min, axis.max) });
  const categories = h.map((e) => String(e.epoch));
  if (lossLines.length)
    out.push({
      name: 'final-training',
      code: xyChart({ title: 'Final training: loss per epoch', xTitle: 'epoch', categories, yTitle: 'loss', yMin: axis.min, yMax: axis.max, lines: lossLines }),
      legend: legendOf(lossLines),
    });
  const acc = h.map((e) => e.valAccuracy ?? null);
  if (finite(acc).length >= 2) {
    const lo = Math.max(0, Math.min(...finite(acc)) - 0.02);
    const hi = Math.min(1, Math.max(...finite(acc)) + 0.01);
    const lines = [{ label: 'validation accuracy', values: fill(acc, lo, hi) }];
    out.push({
      name: 'final-training-accuracy',
      code: xyChart({ title: 'Final training: validation accuracy per epoch', xTitle: 'epoch', categories, yTitle: 'accuracy', yMin: lo, yMax: hi, lines }),
      legend: legendOf(lines),
    });
  }
  return out;
}

/** This report against its base: smoothed range-test loss on a shared log-spaced LR grid. */
export function baseComparisonChart(report: TuningReport, base: TuningReport, maxPoints = MAX_POINTS): MermaidChart | null {
  const a = rangeTestOf(report);
  const b = rangeTestOf(base);
  if (a && b) {
    const pa = rangePoints(a);
    const pb = rangePoints(b);
    const chart = gridChart(
      'base-comparison',
      'Range test: this report vs base',
      'learning rate (log-spaced)',
      'smoothed loss',
      [
        { label: 'this report (smoothed loss)', xs: pa.map((p) => p.lr), ys: pa.map((p) => p.smoothed) },
        { label: 'base (smoothed loss)', xs: pb.map((p) => p.lr), ys: pb.map((p) => p.smoothed) },
      ],
      true,
      maxPoints,
      ['x: the LR range both sweeps covered'],
    );
    if (chart) return chart;
  }
  const ta = finalTraining(report);
  const tb = finalTraining(base);
  if (ta && tb && ta.history.length > 1 && tb.history.length > 1) {
    return gridChart(
      'base-comparison',
      'Final training: validation loss, this report vs base',
      'epoch',
      'validation loss',
      [
        { label: 'this report', xs: ta.history.map((e) => e.epoch), ys: ta.history.map((e) => e.valLoss) },
        { label: 'base', xs: tb.history.map((e) => e.epoch), ys: tb.history.map((e) => e.valLoss) },
      ],
      false,
      maxPoints,
      ['x: the epochs both runs trained'],
    );
  }
  return null;
}

/** Every chart the report has data for, in reading order. */
export function mermaidCharts(report: TuningReport, base?: TuningReport, maxPoints = MAX_POINTS): MermaidChart[] {
  const out: MermaidChart[] = [];
  const push = (c: MermaidChart | null) => c && out.push(c);
  push(rangeTestChart(report, maxPoints));
  push(comparisonChart(report, 'batch-size', maxPoints));
  push(comparisonChart(report, 'momentum', maxPoints));
  push(comparisonChart(report, 'weight-decay', maxPoints));
  out.push(...finalTrainingCharts(report, maxPoints));
  if (base) push(baseComparisonChart(report, base, maxPoints));
  return out;
}

/** The fenced block plus its legend, as it goes into Markdown. */
export function mermaidBlock(chart: MermaidChart): string {
  return '```mermaid\n' + chart.code + '\n```\n' + chart.legend + '\n';
}
