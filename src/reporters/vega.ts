/**
 * Vega-Lite specs of every chart the report has data for (the convention of DVC plots and the ML
 * tooling our users know). Data are inlined, so a spec is a self-contained file: it can be saved
 * next to report.json, opened in the Vega editor, rendered to SVG/PNG (image.ts) or embedded in
 * the HTML page. Colours match the Mermaid charts (data.ts PALETTE).
 */
import type { TopLevelSpec } from 'vega-lite';
import type { TuningReport } from '../report/index.js';
import {
  PALETTE,
  comparisonOf,
  finalTraining,
  finite,
  lossAxis,
  rangePoints,
  rangeTestOf,
  scheduleOf,
  stageOf,
  type ChartName,
  type Curve,
} from './data.js';
import { clip, count, fmtNum } from './text.js';

export type VegaLiteSpec = TopLevelSpec;

const WIDTH = 640;
const HEIGHT = 300;
export const FONT = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
const COLORS = PALETTE.map((p) => p.hex);

/** Readable at the width of a PR comment (GitHub shows images at ~880 px at most). */
const CONFIG = {
  font: FONT,
  background: 'white',
  padding: 12,
  title: { fontSize: 16, subtitleFontSize: 12, anchor: 'start', offset: 10 },
  axis: { labelFontSize: 12, titleFontSize: 13, gridColor: '#e6e6e6' },
  legend: { labelFontSize: 12, titleFontSize: 12, orient: 'bottom', direction: 'horizontal', columns: 4, labelLimit: 260 },
  header: { labelFontSize: 13, titleFontSize: 13 },
  view: { stroke: '#cccccc' },
} as const;

/** Labels in specs come from the report: clip them so a 70,000-character name cannot make a huge chart. */
const label = (s: string) => clip(String(s), 60);

/**
 * Flattens curves into rows {x, y, series}, dropping missing points (a gap, not a zero). With
 * `clamp`, y is held just outside the axis so the mark's clip hides it: resvg drops parts of a
 * stroke whose path runs far outside the canvas (seen with a diverging loss at -660 px).
 */
function rows(curves: Curve[], clamp?: { min: number; max: number }): { x: number; y: number; series: string }[] {
  const margin = clamp ? (clamp.max - clamp.min) * 0.02 : 0;
  return curves.flatMap((c) =>
    c.xs.flatMap((x, i) => {
      let y = c.ys[i];
      if (y == null || !Number.isFinite(y) || !Number.isFinite(x)) return [];
      if (clamp) y = Math.min(clamp.max + margin, Math.max(clamp.min - margin, y));
      return [{ x, y, series: label(c.label) }];
    }),
  );
}

function colorScale(names: string[]) {
  return { domain: names, range: names.map((_, i) => COLORS[i % COLORS.length]) };
}

/** Loss against LR on a log axis: raw and smoothed loss, the chosen band, the suggestions, the stop point. */
export function rangeTestSpec(report: TuningReport): VegaLiteSpec | null {
  const rt = rangeTestOf(report);
  if (!rt) return null;
  const pts = rangePoints(rt);
  if (pts.length < 2) return null;
  const series = ['loss (raw)', 'smoothed loss'];
  const axis = lossAxis(
    pts.flatMap((p) => [p.loss, p.smoothed]),
    finite(pts.map((p) => p.smoothed))[0] ?? null,
  );
  const data = rows(
    [
      { label: series[0], xs: pts.map((p) => p.lr), ys: pts.map((p) => p.loss) },
      { label: series[1], xs: pts.map((p) => p.lr), ys: pts.map((p) => p.smoothed) },
    ],
    axis,
  );
  const clampY = (y: number | null) => (y == null ? axis.max : Math.min(axis.max, Math.max(axis.min, y)));
  const x = { field: 'x', type: 'quantitative', scale: { type: 'log', domain: [pts[0].lr, pts[pts.length - 1].lr] }, axis: { title: 'learning rate (log scale)', format: '~g', tickCount: 8 } } as const;
  const y = { field: 'y', type: 'quantitative', scale: { domain: [axis.min, axis.max], nice: false, zero: false }, axis: { title: 'loss' } } as const;
  const layers: any[] = [];
  if (rt.chosen) {
    layers.push({
      data: { values: [{ minLr: rt.chosen.minLr, maxLr: rt.chosen.maxLr, text: `chosen ${fmtNum(rt.chosen.minLr)}–${fmtNum(rt.chosen.maxLr)}` }] },
      layer: [
        {
          mark: { type: 'rect', color: '#2ca02c', opacity: 0.12 },
          encoding: { x: { field: 'minLr', type: 'quantitative' }, x2: { field: 'maxLr' } },
        },
        {
          mark: { type: 'text', align: 'left', baseline: 'top', dx: 4, dy: 4, fontSize: 12, color: '#1b6e1b' },
          encoding: { x: { field: 'minLr', type: 'quantitative' }, y: { datum: axis.max }, text: { field: 'text' } },
        },
      ],
    });
  }
  layers.push({
    data: { values: data },
    mark: { type: 'line', clip: true, interpolate: 'linear' },
    encoding: {
      x,
      y,
      color: { field: 'series', type: 'nominal', scale: colorScale(series), legend: { title: null } },
      strokeWidth: { condition: { test: "datum.series === 'smoothed loss'", value: 2.5 }, value: 1 },
      opacity: { condition: { test: "datum.series === 'smoothed loss'", value: 1 }, value: 0.55 },
    },
  });
  const s = rt.suggestions;
  const sugg = (
    [
      ['steepest', s.steepest],
      ['valley', s.valley],
      ['minimum', s.minimum],
    ] as const
  ).flatMap(([name, v]) => (v ? [{ name, lr: v.lr, loss: clampY(v.loss), text: `${name} ${fmtNum(v.lr)}` }] : []));
  if (sugg.length) {
    layers.push({
      data: { values: sugg },
      layer: [
        { mark: { type: 'rule', strokeDash: [4, 3], color: '#555555' }, encoding: { x: { field: 'lr', type: 'quantitative' } } },
        {
          mark: { type: 'point', filled: true, size: 70, color: '#d62728', clip: true },
          encoding: { x: { field: 'lr', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' } },
        },
        {
          mark: { type: 'text', angle: 270, align: 'left', baseline: 'bottom', dx: 6, dy: -3, fontSize: 12, color: '#333333' },
          encoding: { x: { field: 'lr', type: 'quantitative' }, y: { datum: axis.min }, text: { field: 'text' } },
        },
      ],
    });
  }
  const last = pts[pts.length - 1];
  layers.push({
    data: { values: [{ lr: last.lr, loss: clampY(last.smoothed ?? last.loss), text: `stop: ${rt.stopReason} at ${fmtNum(last.lr)}` }] },
    layer: [
      { mark: { type: 'point', shape: 'cross', size: 120, color: '#d62728', strokeWidth: 2.5 }, encoding: { x: { field: 'lr', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' } } },
      {
        mark: { type: 'text', align: 'right', baseline: 'top', dx: -8, dy: 6, fontSize: 12, color: '#d62728' },
        encoding: { x: { field: 'lr', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' }, text: { field: 'text' } },
      },
    ],
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'LR range test: loss vs learning rate',
      subtitle: `${rt.sweep} sweep ${fmtNum(rt.startLr)}→${fmtNum(rt.endLr)}, ${pts.length}/${rt.numIter} steps, outcome ${rt.outcome}${axis.clipped ? '; losses above the axis clipped' : ''}`,
    },
    width: WIDTH,
    height: HEIGHT,
    layer: layers,
    config: CONFIG,
  } as VegaLiteSpec;
}

const X_TITLES: Record<string, string> = { step: 'step', seconds: 'wall time (s)', epoch: 'epoch', lr: 'learning rate (log scale)' };
const Y_TITLES: Record<string, string> = { valLoss: 'validation loss', loss: 'loss', smoothedLoss: 'smoothed loss' };

/** One curve per candidate (WD, momentum, batch size), the winner drawn thicker. */
export function comparisonSpec(report: TuningReport, kind: 'batch-size' | 'momentum' | 'weight-decay'): VegaLiteSpec | null {
  const stage = stageOf(report, kind);
  if (!stage) return null;
  const cmp = comparisonOf(stage);
  if (!cmp) return null;
  // The curves part at the end, not in the first fall from chance-level loss: zoom there.
  const tail = cmp.curves.flatMap((c) => (cmp.logX ? c.ys : c.ys.slice(Math.floor(c.ys.length / 3))));
  const axis = lossAxis(tail, cmp.logX ? (finite(cmp.curves.map((c) => finite(c.ys)[0]))[0] ?? null) : null);
  const data = rows(cmp.curves, axis);
  if (data.length === 0) return null;
  const names = [...new Set(data.map((d) => d.series))];
  const winner = stage.decision?.winner;
  const winnerName = winner == null ? null : names.find((n) => n.endsWith(`=${winner}`) || n.endsWith(` ${winner}`) || n === String(winner)) ?? null;
  const what = { 'batch-size': 'Batch size', momentum: 'Momentum', 'weight-decay': 'Weight decay' }[kind];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${what}: ${Y_TITLES[cmp.y] ?? cmp.y} vs ${X_TITLES[cmp.x] ?? cmp.x}`,
      subtitle: stage.decision ? clip(stage.decision.summary, 120) : '',
    },
    width: WIDTH,
    height: HEIGHT,
    data: { values: data },
    mark: { type: 'line', clip: true },
    encoding: {
      x: { field: 'x', type: 'quantitative', scale: cmp.logX ? { type: 'log' } : { zero: true }, axis: { title: X_TITLES[cmp.x] ?? cmp.x, ...(cmp.logX ? { format: '~g' } : {}) } },
      y: { field: 'y', type: 'quantitative', scale: { domain: [axis.min, axis.max], nice: false, zero: false }, axis: { title: Y_TITLES[cmp.y] ?? cmp.y } },
      color: { field: 'series', type: 'nominal', scale: colorScale(names), legend: { title: null } },
      strokeWidth: winnerName ? { condition: { test: `datum.series === ${JSON.stringify(winnerName)}`, value: 3 }, value: 1.5 } : { value: 2 },
    },
    config: CONFIG,
  } as VegaLiteSpec;
}

/** Loss and accuracy per epoch, and under them the LR and momentum schedule (paper Fig. 1b). */
export function finalTrainingSpec(report: TuningReport): VegaLiteSpec | null {
  const t = finalTraining(report);
  if (!t || t.history.length < 2) return null;
  const panels: any[] = [];
  const h = t.history;
  const lossNames = ['train loss', 'validation loss'];
  const loss = rows([
    { label: lossNames[0], xs: h.map((e) => e.epoch), ys: h.map((e) => e.trainLoss) },
    { label: lossNames[1], xs: h.map((e) => e.epoch), ys: h.map((e) => e.valLoss) },
  ]);
  const epochAxis = { field: 'x', type: 'quantitative', axis: { title: 'epoch', tickMinStep: 1, format: 'd' } } as const;
  if (loss.length)
    panels.push({
      title: 'loss per epoch',
      width: WIDTH,
      height: 220,
      data: { values: loss },
      mark: { type: 'line', point: true },
      encoding: {
        x: epochAxis,
        y: { field: 'y', type: 'quantitative', axis: { title: 'loss' } },
        color: { field: 'series', type: 'nominal', scale: colorScale(lossNames), legend: { title: null, orient: 'top-right', direction: 'vertical' } },
      },
    });
  const acc = rows([{ label: 'validation accuracy', xs: h.map((e) => e.epoch), ys: h.map((e) => e.valAccuracy ?? null) }]);
  if (acc.length)
    panels.push({
      title: `validation accuracy per epoch${t.test?.accuracy != null ? ` (test ${(t.test.accuracy * 100).toFixed(1)}%)` : ''}`,
      width: WIDTH,
      height: 160,
      data: { values: acc },
      mark: { type: 'line', point: true, color: COLORS[2] },
      encoding: { x: epochAxis, y: { field: 'y', type: 'quantitative', scale: { zero: false }, axis: { title: 'accuracy', format: '.1%' } } },
    });
  const sched = scheduleOf(report);
  const schedLayers: any[] = [];
  if (sched.lr)
    schedLayers.push({
      data: { values: rows([sched.lr]) },
      mark: { type: 'line', color: COLORS[0], strokeWidth: 2 },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: { nice: false }, axis: { title: 'step' } },
        y: { field: 'y', type: 'quantitative', axis: { title: 'learning rate', titleColor: COLORS[0], format: '~g' } },
      },
    });
  if (sched.momentum)
    schedLayers.push({
      data: { values: rows([sched.momentum]) },
      mark: { type: 'line', color: COLORS[1], strokeWidth: 2, strokeDash: [6, 3] },
      encoding: {
        x: { field: 'x', type: 'quantitative', scale: { nice: false }, axis: { title: 'step' } },
        y: { field: 'y', type: 'quantitative', scale: { zero: false }, axis: { title: 'momentum', titleColor: COLORS[1], orient: 'right' } },
      },
    });
  if (schedLayers.length)
    panels.push({
      title: 'schedule: learning rate (solid, left axis) and momentum (dashed, right axis)',
      width: WIDTH,
      height: 140,
      layer: schedLayers,
      resolve: { scale: { y: 'independent' } },
    });
  if (panels.length === 0) return null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `Final training: ${clip(t.name, 60)}`, subtitle: `${clip(t.optimizer, 40)}, ${clip(t.schedule, 40)}, ${count(t.epochs, 'epoch')}, batch ${t.batchSize}` },
    vconcat: panels,
    config: CONFIG,
  } as VegaLiteSpec;
}

/** This report against its base branch: range-test curves and validation loss per epoch. */
export function baseComparisonSpec(report: TuningReport, base: TuningReport): VegaLiteSpec | null {
  const names = ['this report', 'base'];
  const panels: any[] = [];
  const a = rangeTestOf(report);
  const b = rangeTestOf(base);
  if (a && b) {
    const pa = rangePoints(a);
    const pb = rangePoints(b);
    const axis = lossAxis(
      [...pa, ...pb].map((p) => p.smoothed),
      Math.max(finite(pa.map((p) => p.smoothed))[0] ?? 0, finite(pb.map((p) => p.smoothed))[0] ?? 0),
    );
    const data = rows(
      [
        { label: names[0], xs: pa.map((p) => p.lr), ys: pa.map((p) => p.smoothed) },
        { label: names[1], xs: pb.map((p) => p.lr), ys: pb.map((p) => p.smoothed) },
      ],
      axis,
    );
    const chosen = [
      ...(a.chosen ? [{ series: names[0], lr: a.chosen.maxLr }] : []),
      ...(b.chosen ? [{ series: names[1], lr: b.chosen.maxLr }] : []),
    ];
    panels.push({
      title: 'LR range test: smoothed loss (dashed rules: chosen max LR)',
      width: WIDTH,
      height: 240,
      layer: [
        {
          data: { values: data },
          mark: { type: 'line', clip: true, strokeWidth: 2 },
          encoding: {
            x: { field: 'x', type: 'quantitative', scale: { type: 'log' }, axis: { title: 'learning rate (log scale)', format: '~g' } },
            y: { field: 'y', type: 'quantitative', scale: { domain: [axis.min, axis.max], nice: false, zero: false }, axis: { title: 'smoothed loss' } },
            color: { field: 'series', type: 'nominal', scale: colorScale(names), legend: { title: null } },
          },
        },
        ...(chosen.length
          ? [
              {
                data: { values: chosen },
                mark: { type: 'rule', strokeDash: [5, 3], strokeWidth: 1.5 },
                encoding: { x: { field: 'lr', type: 'quantitative' }, color: { field: 'series', type: 'nominal', scale: colorScale(names) } },
              },
            ]
          : []),
      ],
    });
  }
  const ta = finalTraining(report);
  const tb = finalTraining(base);
  if (ta && tb && ta.history.length > 1 && tb.history.length > 1) {
    panels.push({
      title: 'final training: validation loss per epoch',
      width: WIDTH,
      height: 200,
      data: {
        values: rows([
          { label: names[0], xs: ta.history.map((e) => e.epoch), ys: ta.history.map((e) => e.valLoss) },
          { label: names[1], xs: tb.history.map((e) => e.epoch), ys: tb.history.map((e) => e.valLoss) },
        ]),
      },
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'x', type: 'quantitative', axis: { title: 'epoch', tickMinStep: 1, format: 'd' } },
        y: { field: 'y', type: 'quantitative', scale: { type: 'log' }, axis: { title: 'validation loss (log scale)', format: '~g' } },
        color: { field: 'series', type: 'nominal', scale: colorScale(names), legend: { title: null } },
      },
    });
  }
  if (panels.length === 0) return null;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'This report vs base', subtitle: `${clip(report.title, 50)} vs ${clip(base.title, 50)}` },
    vconcat: panels,
    resolve: { scale: { color: 'shared' } },
    config: CONFIG,
  } as VegaLiteSpec;
}

/** Every chart whose data exist, keyed by chart name (also the image file name). */
export function vegaLiteSpecs(report: TuningReport, base?: TuningReport): Partial<Record<ChartName, VegaLiteSpec>> {
  const out: Partial<Record<ChartName, VegaLiteSpec>> = {};
  const put = (name: ChartName, spec: VegaLiteSpec | null) => {
    if (spec) out[name] = spec;
  };
  put('lr-range-test', rangeTestSpec(report));
  put('batch-size', comparisonSpec(report, 'batch-size'));
  put('momentum', comparisonSpec(report, 'momentum'));
  put('weight-decay', comparisonSpec(report, 'weight-decay'));
  put('final-training', finalTrainingSpec(report));
  if (base) put('base-comparison', baseComparisonSpec(report, base));
  return out;
}
