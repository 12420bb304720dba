/**
 * The chart data every reporter draws, read from a TuningReport once: the range-test curve, the
 * comparison curves of each decision stage, the final training. Mermaid and Vega-Lite draw the
 * same data, so the picture in a PR comment and the one in the HTML page agree.
 */
import type { RangeTestResult, Series, Stage, StageKind, Training, TuningReport } from '../report/index.js';

/** Names of the charts, shared by Vega-Lite specs, image files (`charts/<name>.png`) and Mermaid. */
export const CHART_NAMES = [
  'lr-range-test',
  'batch-size',
  'momentum',
  'weight-decay',
  'final-training',
  'base-comparison',
] as const;
export type ChartName = (typeof CHART_NAMES)[number];

/** Colours of the lines, in order; the emoji and name let a legend written as text refer to them. */
export const PALETTE = [
  { hex: '#1f77b4', emoji: '🟦', name: 'blue' },
  { hex: '#ff7f0e', emoji: '🟧', name: 'orange' },
  { hex: '#2ca02c', emoji: '🟩', name: 'green' },
  { hex: '#d62728', emoji: '🟥', name: 'red' },
  { hex: '#9467bd', emoji: '🟪', name: 'purple' },
  { hex: '#8c564b', emoji: '🟫', name: 'brown' },
  { hex: '#e377c2', emoji: '🩷', name: 'pink' },
  { hex: '#7f7f7f', emoji: '⬜', name: 'grey' },
] as const;

export function stageOf(report: TuningReport, kind: StageKind): Stage | undefined {
  return report.stages.find((s) => s.kind === kind);
}

export function rangeTestOf(report: TuningReport): RangeTestResult | undefined {
  return stageOf(report, 'lr-range-test')?.rangeTest ?? report.stages.find((s) => s.rangeTest)?.rangeTest;
}

export interface RangePoint {
  index: number;
  lr: number;
  loss: number | null;
  smoothed: number | null;
}

/** The recorded points of a sweep, up to the stop point. */
export function rangePoints(rt: RangeTestResult): RangePoint[] {
  const n = Math.min(rt.lr.length, rt.stopIndex == null ? rt.lr.length : rt.stopIndex + 1);
  const out: RangePoint[] = [];
  for (let i = 0; i < n; i++) {
    const lr = rt.lr[i];
    if (!(lr > 0) || !Number.isFinite(lr)) continue;
    out.push({ index: i, lr, loss: rt.loss[i] ?? null, smoothed: rt.smoothedLoss[i] ?? null });
  }
  return out;
}

/**
 * At most `max` indices of `xs` (positive, increasing) whose values are close to log-spaced
 * targets: Mermaid has no log axis, so categories at log-spaced LRs stand in for one. First and
 * last point are always kept.
 */
export function logSpacedIndices(xs: number[], max: number): number[] {
  if (xs.length <= max) return xs.map((_, i) => i);
  const lo = Math.log(xs[0]);
  const hi = Math.log(xs[xs.length - 1]);
  const picked = new Set<number>();
  let j = 0;
  for (let k = 0; k < max; k++) {
    const target = lo + ((hi - lo) * k) / (max - 1);
    while (j + 1 < xs.length && Math.abs(Math.log(xs[j + 1]) - target) <= Math.abs(Math.log(xs[j]) - target)) j++;
    picked.add(j);
  }
  return [...picked].sort((a, b) => a - b);
}

/** At most `max` evenly spaced indices of an array of length n (first and last kept). */
export function evenIndices(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  const out = new Set<number>();
  for (let k = 0; k < max; k++) out.add(Math.round((k * (n - 1)) / (max - 1)));
  return [...out];
}

/** Linear interpolation of (xs, ys) at x; null outside the range or next to a missing value. */
export function interpolate(xs: number[], ys: (number | null)[], x: number, logX = false): number | null {
  const f = (v: number) => (logX ? Math.log(v) : v);
  if (xs.length === 0 || x < xs[0] || x > xs[xs.length - 1]) return null;
  let i = 0;
  while (i + 1 < xs.length && xs[i + 1] < x) i++;
  if (xs[i] === x || i + 1 >= xs.length) return ys[i] ?? null;
  const a = ys[i];
  const b = ys[i + 1];
  if (a == null || b == null) return null;
  const t = (f(x) - f(xs[i])) / (f(xs[i + 1]) - f(xs[i]));
  return a + (b - a) * t;
}

export interface Curve {
  label: string;
  xs: number[];
  ys: (number | null)[];
}

export interface Comparison {
  stage: Stage;
  /** What x means: `step`, `seconds`, `epoch`, `lr`. */
  x: string;
  /** What y means: `valLoss`, `smoothedLoss`, ... */
  y: string;
  curves: Curve[];
  /** True when the curves are range tests (x is the LR, drawn on a log axis). */
  logX: boolean;
}

const seriesLabel = (s: Series) => s.label ?? s.name;

/**
 * The curves a decision stage compared: its series of validation loss (one per candidate), or,
 * when the stage ran one range test per candidate (paper §4.3, WD and momentum), their smoothed
 * losses against the LR.
 */
export function comparisonOf(stage: Stage): Comparison | null {
  const preferred = ['valLoss', 'loss', 'smoothedLoss'];
  const ys = [...new Set(stage.series.map((s) => s.y))].sort(
    (a, b) => (preferred.indexOf(a) + 1 || 99) - (preferred.indexOf(b) + 1 || 99),
  );
  const wanted = ys.find((y) => y !== 'lr' && y !== 'momentum');
  if (wanted) {
    const series = stage.series.filter((s) => s.y === wanted && s.xs.length > 0);
    if (series.length > 0)
      return {
        stage,
        x: series[0].x,
        y: wanted,
        logX: series[0].x === 'lr',
        curves: series.map((s) => ({ label: seriesLabel(s), xs: s.xs, ys: s.ys })),
      };
  }
  if (stage.rangeTests && Object.keys(stage.rangeTests).length > 0) {
    return {
      stage,
      x: 'lr',
      y: 'smoothedLoss',
      logX: true,
      curves: Object.entries(stage.rangeTests).map(([key, rt]) => {
        const pts = rangePoints(rt);
        return { label: key, xs: pts.map((p) => p.lr), ys: pts.map((p) => p.smoothed) };
      }),
    };
  }
  return null;
}

/** The schedule series (LR and momentum against step) of the final training, from the stage or the history. */
export function scheduleOf(report: TuningReport): { lr: Curve | null; momentum: Curve | null } {
  const stage = stageOf(report, 'final-training');
  const pick = (y: 'lr' | 'momentum'): Curve | null => {
    const s = stage?.series.find((x) => x.y === y && x.xs.length > 0);
    if (s) return { label: seriesLabel(s), xs: s.xs, ys: s.ys };
    const h = report.final?.history.filter((e) => e[y] != null) ?? [];
    return h.length > 0 ? { label: y, xs: h.map((e) => e.step), ys: h.map((e) => e[y] as number) } : null;
  };
  return { lr: pick('lr'), momentum: pick('momentum') };
}

export function finalTraining(report: TuningReport): Training | null {
  return report.final ?? stageOf(report, 'final-training')?.training ?? null;
}

export function baselineTraining(report: TuningReport): Training | null {
  return report.baseline ?? stageOf(report, 'baseline')?.training ?? null;
}

/** Finite values only. */
export function finite(values: (number | null | undefined)[]): number[] {
  return values.filter((v): v is number => v != null && Number.isFinite(v));
}

/**
 * The loss range worth drawing: a diverging sweep ends far above the interesting part, so the
 * axis stops a little above the starting loss (as fastai's plot does) and higher values are clipped.
 */
export function lossAxis(values: (number | null)[], start: number | null): { min: number; max: number; clipped: boolean } {
  const v = finite(values);
  if (v.length === 0) return { min: 0, max: 1, clipped: false };
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  const cap = start != null && Number.isFinite(start) ? start + Math.max((start - lo) * 0.5, Math.abs(start) * 0.25) : hi;
  const max = Math.min(hi, cap);
  const pad = (max - lo) * 0.05 || Math.abs(lo) * 0.05 || 0.05;
  return { min: lo - pad, max: max + pad, clipped: hi > max + pad };
}
