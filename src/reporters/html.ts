/**
 * One standalone HTML page: works offline (no CDN) because the vega and vega-lite builds from
 * node_modules are inlined (~0.8 MB), or, when `svgs` are given, static inline SVG (no script).
 * Every text from the report is HTML-escaped; the specs are embedded as JSON with `<` escaped so
 * a name containing `</script>` cannot end the script element.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Stage, Training, TuningReport } from '../report/index.js';
import { baselineTraining, finalTraining, rangeTestOf } from './data.js';
import { PARAMS, verdict } from './markdown.js';
import { count, fmtNum, fmtPct, fmtSeconds, fmtValue, html, safeUrl, TRAINING_COLUMNS, trainingRows } from './text.js';
import { vegaLiteSpecs } from './vega.js';

export interface HtmlOptions {
  base?: TuningReport;
  /** Pre-rendered charts (name → SVG from `renderSvg`): a static page without any script. */
  svgs?: Record<string, string>;
}

let libs: { vega: string; vegaLite: string } | null = null;

/** The browser builds of vega and vega-lite, read once from node_modules. */
function vegaLibs(): { vega: string; vegaLite: string } {
  if (libs) return libs;
  const require = createRequire(import.meta.url);
  const vegaDir = dirname(require.resolve('vega'));
  const vlDir = dirname(require.resolve('vega-lite'));
  // A literal `</script` inside inlined code would end the element early.
  const read = (f: string) => readFileSync(f, 'utf8').replace(/<\/script/gi, '<\\/script');
  libs = { vega: read(join(vegaDir, 'vega.min.js')), vegaLite: read(join(vlDir, 'vega-lite.min.js')) };
  return libs;
}

/** JSON safe inside <script>: `<`, U+2028/9 escaped. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const plain = { text: (s: unknown, max: number) => html(s, max), strong: (s: string) => `<strong>${s}</strong>` };

function table(head: string[], rows: string[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

function trainingTable(t: Training): string {
  return table(TRAINING_COLUMNS, trainingRows(t.history, 1000));
}

function stageBlock(stage: Stage): string {
  const parts = [`<p class="status ${html(stage.status, 20)}">${html(stage.status, 20)} in ${fmtSeconds(stage.wallSeconds)}${stage.error ? ` — ${html(stage.error, 500)}` : ''}</p>`];
  const d = stage.decision;
  if (d) {
    parts.push(`<p><strong>${html(d.summary, 300)}</strong><br>Rule: ${html(d.rule, 300)}. Confidence: ${html(d.confidence, 10)}${d.confidenceReason ? ` (${html(d.confidenceReason, 300)})` : ''}.</p>`);
    parts.push(
      table(
        [html(d.parameter, 40), html(d.candidates[0]?.metricName ?? 'metric', 40), 'At', 'Spread', 'Note'],
        d.candidates.slice(0, 100).map((c) => [
          `${c.value === d.winner ? '🏆 ' : ''}${html(fmtValue(c.value), 40)}`,
          fmtNum(c.metric, 4),
          html(c.at ?? '—', 60),
          c.spread != null ? fmtNum(c.spread, 2) : '—',
          html(c.note ?? '', 200),
        ]),
      ),
    );
  }
  const rt = stage.rangeTest;
  if (rt) {
    const s = rt.suggestions;
    const rows = (
      [
        ['steepest', s.steepest],
        ['valley', s.valley],
        ['minimum', s.minimum],
      ] as const
    ).flatMap(([n, v]) => (v ? [[n, fmtNum(v.lr), fmtNum(v.loss), html(v.rule, 200)]] : []));
    parts.push(
      `<p>Outcome: <strong>${html(rt.outcome, 30)}</strong>${rt.outcomeReason ? ` — ${html(rt.outcomeReason, 400)}` : ''}. Stopped: ${html(rt.stopReason, 20)}. ${
        rt.chosen ? `Chosen for 1cycle: <strong>${fmtNum(rt.chosen.minLr)} – ${fmtNum(rt.chosen.maxLr)}</strong> (${html(rt.chosen.rule, 200)}).` : 'No bounds chosen.'
      }</p>`,
    );
    if (rows.length) parts.push(table(['Suggestion', 'LR', 'Smoothed loss', 'Rule'], rows));
  }
  if (stage.training) parts.push(`<details><summary>History</summary>${trainingTable(stage.training)}</details>`);
  const params = Object.entries(stage.params);
  if (params.length) parts.push(`<p class="params">Ran with ${params.slice(0, 30).map(([k, v]) => `${html(k, 40)} = ${html(fmtValue(v), 40)}`).join(', ')}.</p>`);
  return `<section class="stage"><h3>${html(stage.title, 120)}</h3>${parts.join('\n')}</section>`;
}

const CSS = `
body{font-family:"DejaVu Sans",system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:980px;padding:0 1rem;color:#1f2328;line-height:1.45}
h1{font-size:1.5rem;margin-bottom:.25rem}.meta{color:#59636e;font-size:.85rem}
.verdict{font-size:1.1rem;padding:.75rem 1rem;border-left:4px solid #2da44e;background:#f6f8fa;margin:1rem 0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}th,td{border:1px solid #d1d9e0;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}.chart{margin:1rem 0;overflow-x:auto}.chart svg{max-width:100%;height:auto}
.stage{border-top:1px solid #d1d9e0;margin-top:1.5rem}.status.failed{color:#cf222e}.params{color:#59636e;font-size:.85rem}
.warn{color:#9a6700}`;

/** Renders the report as one self-contained HTML document. */
export function renderHtml(report: TuningReport, opts: HtmlOptions = {}): string {
  const { base, svgs } = opts;
  const specs = vegaLiteSpecs(report, base);
  const r = report.recommendations;
  const recRows = PARAMS.map(([key, label]) => {
    const v = r[key];
    const row = [label, `<strong>${html(fmtValue(v), 60)}</strong>`, html(r.why[key] ?? (v == null ? 'not measured' : '—'), 300)];
    if (base) {
      const was = base.recommendations[key];
      row.push(was === v ? 'unchanged' : `${html(fmtValue(was), 60)} → ${html(fmtValue(v), 60)}`);
    }
    return row;
  });
  const names = Object.keys(specs);
  const charts = names
    .map((name) => {
      const svg = svgs?.[name];
      // An SVG from our own renderer; a script element in it would be ours to strip, never to run.
      const inner = svg ? svg.replace(/<script[\s\S]*?<\/script>/gi, '') : '';
      return `<div class="chart" id="chart-${name}" data-chart="${name}">${inner}</div>`;
    })
    .join('\n');
  const final = finalTraining(report);
  const baseline = baselineTraining(report);
  const rt = rangeTestOf(report);
  const links: string[] = [];
  const mlflow = safeUrl(report.links.mlflow?.runUrl);
  if (mlflow) links.push(`<a href="${html(mlflow)}">MLflow run</a>`);
  for (const a of report.links.artifacts.slice(0, 20)) {
    const u = safeUrl(a.url);
    if (u) links.push(`<a href="${html(u)}">${html(a.name, 80)}</a>`);
  }
  const g = report.environment.git;
  const meta = [
    g?.branch ? `branch ${html(g.branch, 80)}` : '',
    g?.sha ? `commit ${html(g.sha.slice(0, 12), 12)}` : '',
    `backend ${html(report.environment.backend, 40)}`,
    `${html(report.createdAt, 40)}`,
    `wall time ${fmtSeconds(report.wallSeconds)}`,
    `superconverge ${html(report.tool.version, 20)}`,
  ].filter(Boolean);
  const results = [
    final ? `<li>Final: ${html(final.name, 80)} — test accuracy <strong>${fmtPct(final.test?.accuracy)}</strong>, ${count(final.epochs, 'epoch')} in ${fmtSeconds(final.wallSeconds)}</li>` : '',
    baseline ? `<li>Baseline: ${html(baseline.name, 80)} — test accuracy ${fmtPct(baseline.test?.accuracy)}, ${count(baseline.epochs, 'epoch')} in ${fmtSeconds(baseline.wallSeconds)}</li>` : '',
    base ? `<li>Base report: ${html(base.title, 120)} — test accuracy ${fmtPct(finalTraining(base)?.test?.accuracy)}</li>` : '',
    report.diagnosis ? `<li>Diagnosis: <strong>${html(report.diagnosis.verdict, 20)}</strong> — ${html(report.diagnosis.reason, 400)}. ${html(report.diagnosis.suggestion, 400)}</li>` : '',
    rt && rt.outcome !== 'ok' ? `<li class="warn">Range test ${html(rt.outcome, 30)}: ${html(rt.outcomeReason ?? '', 400)}</li>` : '',
  ].filter(Boolean);
  const warnings = report.warnings.length
    ? `<section><h2>Warnings</h2><ul>${report.warnings.slice(0, 100).map((w) => `<li class="warn">${html(w, 500)}</li>`).join('')}</ul></section>`
    : '';
  const interactive = !svgs;
  const script = interactive
    ? (() => {
        const { vega, vegaLite } = vegaLibs();
        return `<script>${vega}</script>
<script>${vegaLite}</script>
<script type="application/json" id="specs">${scriptJson(specs)}</script>
<script>
(async () => {
  const specs = JSON.parse(document.getElementById('specs').textContent);
  window.__superconverge = { rendered: 0, errors: [], total: Object.keys(specs).length };
  for (const [name, spec] of Object.entries(specs)) {
    const el = document.getElementById('chart-' + name);
    try {
      const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'svg', container: el, hover: true });
      await view.runAsync();
      window.__superconverge.rendered++;
    } catch (e) {
      window.__superconverge.errors.push(name + ': ' + (e && e.message || e));
      el.textContent = 'Chart ' + name + ' failed to render: ' + (e && e.message || e);
    }
  }
  document.body.dataset.rendered = 'true';
})();
</script>`;
      })()
    : `<script>window.__superconverge = { rendered: ${names.filter((n) => svgs[n]).length}, errors: [], total: ${names.length} }; document.body.dataset.rendered = 'true';</script>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; img-src data:">
<title>superconverge · ${html(report.title, 120)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>superconverge · ${html(report.title, 200)}</h1>
<p class="meta">${meta.join(' · ')}${links.length ? ` · ${links.join(' · ')}` : ''}</p>
<p class="verdict">${verdict(report, base, plain)}</p>
<h2>Recommended hyper-parameters</h2>
${table(base ? ['Hyper-parameter', 'Value', 'How it was chosen', 'vs base'] : ['Hyper-parameter', 'Value', 'How it was chosen'], recRows)}
${results.length ? `<ul>${results.join('')}</ul>` : ''}
<h2>Charts</h2>
${charts || '<p>No chart: the report has no curves.</p>'}
<h2>Stages</h2>
${report.stages.slice(0, 100).map(stageBlock).join('\n')}
${warnings}
${script}
</body>
</html>
`;
}
