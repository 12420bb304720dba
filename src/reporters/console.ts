/**
 * The report as a terminal table for the CLI: the verdict, the recommended hyper-parameters,
 * one line per stage and a sparkline of the range test. Report text is stripped of control
 * characters (an ESC in a name could otherwise drive the terminal).
 */
import { join } from 'node:path';
import type { TuningReport } from '../report/index.js';
import { finite, logSpacedIndices, rangePoints, rangeTestOf } from './data.js';
import { PARAMS, verdict } from './markdown.js';
import { clip, fmtNum, fmtSeconds, fmtValue } from './text.js';

export interface ConsoleOptions {
  /** ANSI colours (default: off; the CLI passes `process.stdout.isTTY`). */
  color?: boolean;
  /** Width of the sparkline in characters (default 48). */
  width?: number;
}

/** One line of plain, printable text. */
function plain(s: unknown, max: number): string {
  // eslint-disable-next-line no-control-regex
  return clip(String(s ?? '').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ').trim(), max);
}

const BARS = '▁▂▃▄▅▆▇█';

/** A sparkline of the smoothed loss against log-spaced LRs (clipped above the start loss). */
export function sparkline(values: (number | null)[], width: number): string {
  const v = finite(values);
  if (v.length === 0) return '';
  const lo = Math.min(...v);
  const hi = Math.min(Math.max(...v), v[0] + (v[0] - lo) * 0.5 || Math.max(...v));
  const idx = values.length <= width ? values.map((_, i) => i) : Array.from({ length: width }, (_, k) => Math.round((k * (values.length - 1)) / (width - 1)));
  return idx
    .map((i) => {
      const y = values[i];
      if (y == null || !Number.isFinite(y)) return ' ';
      const t = hi > lo ? (Math.min(y, hi) - lo) / (hi - lo) : 0;
      return BARS[Math.min(BARS.length - 1, Math.round(t * (BARS.length - 1)))];
    })
    .join('');
}

export function renderConsole(report: TuningReport, opts: ConsoleOptions = {}): string {
  const c = opts.color === true;
  const paint = (code: string) => (s: string) => (c ? `\u001b[${code}m${s}\u001b[0m` : s);
  const bold = paint('1');
  const dim = paint('2');
  const green = paint('32');
  const yellow = paint('33');
  const red = paint('31');
  const width = Math.max(8, Math.min(200, opts.width ?? 48));

  const lines: string[] = [];
  lines.push(bold(`superconverge · ${plain(report.title, 100)}`));
  lines.push(verdict(report, undefined, { text: plain, strong: bold }));
  lines.push('');

  const r = report.recommendations;
  const rows = PARAMS.map(([key, label]) => [label, fmtValue(r[key]), plain(r.why[key] ?? (r[key] == null ? 'not measured' : ''), 90)]);
  const w0 = Math.max(15, ...rows.map((x) => x[0].length));
  const w1 = Math.max(5, ...rows.map((x) => x[1].length));
  lines.push(`  ${bold('Hyper-parameter'.padEnd(w0))}  ${bold('Value'.padEnd(w1))}  ${bold('How it was chosen')}`);
  lines.push(`  ${'─'.repeat(w0)}  ${'─'.repeat(w1)}  ${'─'.repeat(17)}`);
  for (const [label, value, why] of rows)
    lines.push(`  ${label.padEnd(w0)}  ${(value === '—' ? dim : green)(value.padEnd(w1))}  ${dim(why)}`);
  lines.push('');

  lines.push(bold('Stages'));
  const icon = { complete: green('✔'), failed: red('✖'), skipped: dim('–'), interrupted: yellow('‖') };
  const tw = Math.max(10, ...report.stages.map((s) => Math.min(40, plain(s.title, 40).length)));
  for (const s of report.stages.slice(0, 100)) {
    let what = '';
    if (s.decision) what = plain(s.decision.summary, 100);
    else if (s.rangeTest) {
      const rt = s.rangeTest;
      what = rt.chosen ? `${rt.outcome}: chosen ${fmtNum(rt.chosen.minLr)}–${fmtNum(rt.chosen.maxLr)}, stop ${rt.stopReason}` : `${rt.outcome}: ${plain(rt.outcomeReason ?? rt.stopReason, 90)}`;
    } else if (s.training?.test) what = `test accuracy ${((s.training.test.accuracy ?? NaN) * 100).toFixed(1)}%`;
    if (s.error) what = red(plain(s.error, 100));
    lines.push(`  ${icon[s.status]} ${plain(s.title, 40).padEnd(tw)}  ${fmtSeconds(s.wallSeconds).padStart(11)}  ${what}`);
  }

  const rt = rangeTestOf(report);
  if (rt) {
    const pts = rangePoints(rt);
    if (pts.length >= 2) {
      const idx = logSpacedIndices(
        pts.map((p) => p.lr),
        width,
      );
      const line = sparkline(
        idx.map((i) => pts[i].smoothed),
        width,
      );
      lines.push('');
      lines.push(`${bold('Range test')}  ${fmtNum(pts[0].lr)} ${line} ${fmtNum(pts[pts.length - 1].lr)}  ${dim('(smoothed loss vs log LR)')}`);
    }
  }
  for (const w of report.warnings.slice(0, 20)) lines.push(yellow(`⚠ ${plain(w, 200)}`));
  return lines.join('\n') + '\n';
}

/** Where a finished run's results are: the report files and, when it was tracked, the MLflow run. */
export function renderLocations(report: TuningReport, runDir: string): string {
  const lines = [`report: ${join(runDir, 'report.json')} (with report.html, report.md and charts/)`];
  const url = report.links.mlflow?.runUrl;
  if (url) lines.push(`MLflow run: ${url}`);
  return lines.join('\n');
}
