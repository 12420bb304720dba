/**
 * The tuning report as Markdown for a pull-request comment (or a job summary): a one-line
 * verdict, the recommended hyper-parameters in a table, Mermaid charts, each stage's details in a
 * collapsible block, links, and a hidden marker so the action can find and update its comment.
 *
 * GitHub refuses comment bodies over 65,536 characters: detail is trimmed first (stage details,
 * then charts, then whole stage sections), the verdict and the table never. The budget is
 * counted in UTF-8 bytes, which is never less than the character count, so both limits hold.
 */
import type { Stage, Training, TuningReport } from '../report/index.js';
import { UserInputError } from '../errors.js';
import { baselineTraining, finalTraining, rangePoints, rangeTestOf, stageOf, type ChartName } from './data.js';
import { baseComparisonChart, comparisonChart, finalTrainingCharts, mermaidBlock, rangeTestChart, type MermaidChart } from './mermaid.js';
import { count, fmtNum, fmtPct, fmtSeconds, fmtValue, md, safeRelativePath, safeUrl, TRAINING_COLUMNS, trainingRows } from './text.js';

/** GitHub's limit on an issue/PR comment body. */
export const COMMENT_LIMIT = 65_536;
/** GitHub's limit on a step's job summary (1 MiB), with room for what others append. */
export const SUMMARY_LIMIT = 1_000_000;

export interface MarkdownLinks {
  /** The workflow artifact holding report.html and the PNG charts. */
  artifactUrl?: string;
  mlflowRunUrl?: string;
  /** Chart name (`lr-range-test`, ...) → image URL (absolute, or relative like `charts/x.png`). */
  images?: Record<string, string>;
}

export interface MarkdownOptions {
  base?: TuningReport;
  flavor?: 'comment' | 'summary';
  /** Distinguishes several reports commented on one PR (matrix legs). */
  key?: string;
  links?: MarkdownLinks;
  maxLength?: number;
}

/** The key as it may appear in the marker: no `-->`, no spaces, bounded. */
export function sanitizeKey(key: string): string {
  const k = String(key)
    .replace(/[^A-Za-z0-9._/-]+/g, '_')
    .replace(/-{2,}/g, '-')
    .slice(0, 100);
  return k || 'default';
}

/** The hidden marker that identifies our comment: `<!-- superconverge:report key=... -->`. */
export function commentMarker(key = 'default'): string {
  return `<!-- superconverge:report key=${sanitizeKey(key)} -->`;
}

const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');

// ---------------------------------------------------------------------------------------------
// Verdict and table

export const PARAMS = [
  ['maxLr', 'Max LR'],
  ['minLr', 'Min LR'],
  ['momentumMax', 'Momentum max'],
  ['momentumMin', 'Momentum min'],
  ['weightDecay', 'Weight decay'],
  ['batchSize', 'Batch size'],
  ['epochs', 'Epochs'],
  ['optimizer', 'Optimizer'],
] as const;
type ParamKey = (typeof PARAMS)[number][0];

function testAccuracy(t: Training | null): number | null {
  return t?.test?.accuracy ?? null;
}

/** How the verdict marks text up: Markdown by default; the console passes plain text and colours. */
export interface VerdictStyle {
  text: (s: unknown, max: number) => string;
  strong: (s: string) => string;
}
const MD_STYLE: VerdictStyle = { text: md, strong: (s) => `**${s}**` };

/** One line that says what to do, or why nothing can be recommended. */
export function verdict(report: TuningReport, base?: TuningReport, style: VerdictStyle = MD_STYLE): string {
  const { text: t, strong: b } = style;
  const r = report.recommendations;
  const failed = report.stages.find((s) => s.status === 'failed');
  if (report.status === 'failed')
    return `❌ ${b('Tuning failed')}${failed ? ` in ${t(failed.title, 60)}: ${t(failed.error ?? 'no error message', 160)}` : ''}.`;
  if (r.maxLr == null) {
    const rt = rangeTestOf(report);
    const why = rt ? `range test ${t(rt.outcome, 30)}${rt.outcomeReason ? `: ${t(rt.outcomeReason, 200)}` : ''}` : 'no learning-rate range test in the report';
    return `⚠️ ${b('No learning rate recommended')}: ${why}.`;
  }
  const parts = [`max LR ${b(fmtNum(r.maxLr))}${r.minLr != null ? ` (min ${fmtNum(r.minLr)})` : ''}`];
  if (r.momentumMax != null && r.momentumMin != null) parts.push(`momentum ${fmtNum(r.momentumMax)}→${fmtNum(r.momentumMin)}`);
  if (r.weightDecay != null) parts.push(`weight decay ${fmtNum(r.weightDecay)}`);
  if (r.batchSize != null) parts.push(`batch ${r.batchSize}`);
  if (r.epochs != null) parts.push(count(r.epochs, 'epoch'));
  const acc = testAccuracy(finalTraining(report));
  const baselineAccuracy = testAccuracy(baselineTraining(report));
  const results: string[] = [];
  if (acc != null) {
    results.push(`test accuracy ${b(fmtPct(acc))}`);
    if (baselineAccuracy != null) results.push(`baseline ${fmtPct(baselineAccuracy)} (${signedPoints(acc - baselineAccuracy)})`);
    const prev = base ? testAccuracy(finalTraining(base)) : null;
    if (prev != null) results.push(`base branch ${fmtPct(prev)} (${signedPoints(acc - prev)})`);
  }
  // ✅ only for a complete run whose 1cycle is not behind the baseline it was compared with.
  const behind = acc != null && baselineAccuracy != null && acc < baselineAccuracy;
  const icon = report.status === 'complete' && !behind ? '✅' : '⚠️';
  const partial = report.status === 'complete' ? '' : ` (report ${t(report.status, 20)})`;
  return `${icon} ${b('1cycle')}${partial}: ${parts.join(', ')}${results.length ? ` — ${results.join(', ')}` : ''}.`;
}

function signedPoints(d: number): string {
  return `${d >= 0 ? '+' : '−'}${Math.abs(d * 100).toFixed(1)} pt`;
}

function change(now: number | string | null, before: number | string | null): string {
  if (now == null && before == null) return '—';
  if (before == null) return `new: ${md(fmtValue(now), 40)}`;
  if (now == null) return `was ${md(fmtValue(before), 40)}`;
  if (now === before) return 'unchanged';
  if (typeof now === 'number' && typeof before === 'number') {
    const rel = before !== 0 ? ` (${now > before ? '+' : '−'}${fmtNum(Math.abs((now - before) / before) * 100, 2)}%)` : '';
    return `${fmtNum(before)} → ${fmtNum(now)}${rel}`;
  }
  return `${md(fmtValue(before), 40)} → ${md(fmtValue(now), 40)}`;
}

/** The recommended hyper-parameters: value, how it was chosen, and the change against the base. */
export function recommendationsTable(report: TuningReport, base?: TuningReport): string {
  const r = report.recommendations;
  const head = base ? '| Hyper-parameter | Value | How it was chosen | vs base |\n|---|---|---|---|' : '| Hyper-parameter | Value | How it was chosen |\n|---|---|---|';
  const rows = PARAMS.map(([key, label]) => {
    const v = r[key as ParamKey];
    const value = typeof v === 'string' ? md(v, 40) : fmtValue(v);
    const why = r.why[key] != null ? md(r.why[key], 160) : v == null ? 'not measured' : '—';
    const cells = [label, value === '—' ? '—' : `**${value}**`, why];
    if (base) cells.push(change(v, base.recommendations[key as ParamKey]));
    return `| ${cells.join(' | ')} |`;
  });
  return [head, ...rows].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Sections

/** A section in four sizes: full, without the collapsible details, a one-line stub, nothing. */
interface Section {
  levels: string[];
}

function details(summary: string, body: string): string {
  return `<details><summary>${summary}</summary>\n\n${body.trim()}\n\n</details>\n`;
}

function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function imageLine(name: ChartName, links: MarkdownLinks | undefined): string {
  const raw = links?.images?.[name];
  if (!raw) return '';
  const url = safeUrl(raw) ?? safeRelativePath(raw);
  return url ? `[![${name} chart](${url})](${url})\n` : '';
}

function mlflowStageUrl(report: TuningReport, stage: Stage): string | null {
  const m = report.links.mlflow;
  if (!m || !stage.mlflowRunId) return null;
  const base = safeUrl(m.trackingUri);
  if (!base) return null;
  return safeUrl(
    `${base.replace(/\/+$/, '')}/#/experiments/${encodeURIComponent(m.experimentId)}/runs/${encodeURIComponent(stage.mlflowRunId)}`,
  );
}

function stageStatusLine(stage: Stage): string {
  const icon = { complete: '✅', failed: '❌', skipped: '⏭️', interrupted: '⏸️' }[stage.status];
  const err = stage.error ? `: ${md(stage.error, 300)}` : '';
  return `${icon} ${md(stage.status, 20)} in ${fmtSeconds(stage.wallSeconds)}${err}`;
}

function paramsLine(params: Stage['params']): string {
  const entries = Object.entries(params).slice(0, 20);
  return entries.length ? `Ran with ${entries.map(([k, v]) => `${md(k, 40)} = ${md(fmtValue(v), 40)}`).join(', ')}.` : '';
}

function sectionFor(
  heading: string,
  charts: MermaidChart[],
  imageNames: ChartName[],
  detailTitle: string,
  detailBody: string,
  stage: Stage | undefined,
  report: TuningReport,
  links: MarkdownLinks | undefined,
): Section {
  const h = `### ${heading}\n`;
  const status = stage ? `${stageStatusLine(stage)}${(() => {
    const u = mlflowStageUrl(report, stage);
    return u ? ` · [MLflow run](${u})` : '';
  })()}\n\n` : '';
  const chartText = charts.map(mermaidBlock).join('\n');
  const images = imageNames.map((n) => imageLine(n, links)).join('');
  const full = `${h}${status}${chartText}${images}${detailBody ? '\n' + details(detailTitle, detailBody) : ''}`;
  const noDetails = `${h}${status}${chartText}${images}${detailBody ? '\n<sub>details trimmed to fit the comment size limit</sub>\n' : ''}`;
  const stub = `${h}${status}<sub>chart and details trimmed to fit the comment size limit</sub>\n`;
  return { levels: [full, noDetails, stub, ''] };
}

function rangeTestSection(report: TuningReport, links: MarkdownLinks | undefined, maxPoints: number): Section | null {
  const stage = stageOf(report, 'lr-range-test') ?? report.stages.find((s) => s.rangeTest);
  const rt = stage?.rangeTest;
  if (!stage || !rt) return null;
  const chart = rangeTestChart(report, maxPoints);
  const s = rt.suggestions;
  const rows: string[][] = [];
  for (const [name, sug] of [['steepest', s.steepest], ['valley', s.valley], ['minimum', s.minimum]] as const)
    if (sug) rows.push([name, fmtNum(sug.lr), fmtNum(sug.loss), md(sug.rule, 160)]);
  if (s.smith) rows.push(['smith', `${fmtNum(s.smith.minLr)} – ${fmtNum(s.smith.maxLr)}`, '—', md(s.smith.rule, 160)]);
  const pts = rangePoints(rt);
  const body = [
    `Outcome: **${md(rt.outcome, 30)}**${rt.outcomeReason ? ` — ${md(rt.outcomeReason, 300)}` : ''}.`,
    `Sweep: ${md(rt.sweep, 20)} from ${fmtNum(rt.startLr)} to ${fmtNum(rt.endLr)} over ${rt.numIter} steps; stopped (${md(rt.stopReason, 20)}) after ${pts.length} points; momentum ${fmtNum(rt.momentum)}, weight decay ${fmtNum(rt.weightDecay)}, batch ${fmtValue(rt.batchSize)}.`,
    rt.chosen ? `Chosen for 1cycle: **${fmtNum(rt.chosen.minLr)} – ${fmtNum(rt.chosen.maxLr)}** (${md(rt.chosen.rule, 160)}).` : 'No bounds chosen.',
    rows.length ? table(['Suggestion', 'LR', 'Smoothed loss', 'Rule'], rows) : '',
    pts.length
      ? details(
          `All ${pts.length} points`,
          table(
            ['#', 'LR', 'Loss', 'Smoothed'],
            pts.map((p) => [String(p.index), fmtNum(p.lr), fmtNum(p.loss, 4), fmtNum(p.smoothed, 4)]),
          ),
        )
      : '',
  ]
    .filter(Boolean)
    .join('\n\n');
  return sectionFor(md(stage.title, 80), chart ? [chart] : [], ['lr-range-test'], `${md(stage.title, 80)}: details`, body, stage, report, links);
}

function decisionSection(
  report: TuningReport,
  kind: 'batch-size' | 'momentum' | 'weight-decay',
  links: MarkdownLinks | undefined,
  maxPoints: number,
): Section | null {
  const stage = stageOf(report, kind);
  if (!stage) return null;
  const chart = comparisonChart(report, kind, maxPoints);
  const d = stage.decision;
  const parts: string[] = [];
  if (d) {
    parts.push(`**${md(d.summary, 300)}**`);
    parts.push(`Rule: ${md(d.rule, 200)}. Confidence: **${md(d.confidence, 10)}**${d.confidenceReason ? ` (${md(d.confidenceReason, 200)})` : ''}.`);
    parts.push(
      table(
        [md(d.parameter, 40), md(d.candidates[0]?.metricName ?? 'metric', 40), 'At', 'Spread', 'Note'],
        d.candidates.slice(0, 50).map((c) => [
          `${c.value === d.winner ? '🏆 ' : ''}${md(fmtValue(c.value), 40)}`,
          fmtNum(c.metric, 4),
          md(c.at ?? '—', 40),
          c.spread != null ? fmtNum(c.spread, 2) : '—',
          md(c.note ?? '', 120),
        ]),
      ),
    );
  }
  const p = paramsLine(stage.params);
  if (p) parts.push(p);
  return sectionFor(md(stage.title, 80), chart ? [chart] : [], [kind], `${md(stage.title, 80)}: candidates`, parts.join('\n\n'), stage, report, links);
}

function trainingTable(t: Training): string {
  return table(TRAINING_COLUMNS, trainingRows(t.history, 500));
}

function trainingLine(t: Training): string {
  const test = t.test ? `test accuracy **${fmtPct(t.test.accuracy)}**, test loss ${fmtNum(t.test.loss, 4)} (n = ${t.test.n})` : 'no test set';
  return `${md(t.name, 80)}: ${md(t.optimizer, 40)}, ${md(t.schedule, 40)}, ${count(t.epochs, 'epoch')} (${count(t.steps, 'step')}, batch ${t.batchSize}) in ${fmtSeconds(t.wallSeconds)} — ${test}.`;
}

function finalSection(report: TuningReport, links: MarkdownLinks | undefined, maxPoints: number): Section | null {
  const t = finalTraining(report);
  if (!t) return null;
  const stage = stageOf(report, 'final-training');
  const charts = finalTrainingCharts(report, maxPoints);
  const baseline = baselineTraining(report);
  const lines = [trainingLine(t)];
  if (baseline) lines.push(`Baseline — ${trainingLine(baseline)}`);
  if (report.diagnosis)
    lines.push(`Diagnosis: **${md(report.diagnosis.verdict, 20)}** — ${md(report.diagnosis.reason, 300)}. ${md(report.diagnosis.suggestion.replace(/\.$/, ''), 300)}.`);
  const body = [
    paramsLine(t.hyperParameters),
    trainingTable(t),
    baseline && baseline.history.length ? details(`Baseline history (${md(baseline.name, 60)})`, trainingTable(baseline)) : '',
  ]
    .filter(Boolean)
    .join('\n\n');
  const heading = md(stage?.title ?? 'Final training', 80);
  const s = sectionFor(heading, charts, ['final-training'], `${heading}: per epoch`, body, stage, report, links);
  // The result lines are short and say what the training achieved: keep them above the fold.
  const summary = lines.join('\n\n') + '\n\n';
  s.levels = s.levels.map((l, i) => (i < 3 ? l.replace(`### ${heading}\n`, `### ${heading}\n${summary}`) : l));
  return s;
}

function baseSection(report: TuningReport, base: TuningReport, links: MarkdownLinks | undefined, maxPoints: number): Section {
  const chart = baseComparisonChart(report, base, maxPoints);
  const who = (r: TuningReport) =>
    [r.environment.git?.branch, r.environment.git?.sha?.slice(0, 10)].filter(Boolean).map((x) => md(x, 60)).join(' @ ') || md(r.id, 60);
  const acc = (r: TuningReport) => fmtPct(testAccuracy(finalTraining(r)));
  const body = table(
    ['', 'This report', 'Base'],
    [
      ['Report', who(report), who(base)],
      ['Created', md(report.createdAt, 40), md(base.createdAt, 40)],
      ['Status', md(report.status, 20), md(base.status, 20)],
      ['Test accuracy', acc(report), acc(base)],
      ['Wall time', fmtSeconds(report.wallSeconds), fmtSeconds(base.wallSeconds)],
    ],
  );
  return sectionFor('This report vs base', chart ? [chart] : [], ['base-comparison'], 'Base comparison: details', body, undefined, report, links);
}

function otherStagesSection(report: TuningReport): Section | null {
  const shown = new Set(['lr-range-test', 'batch-size', 'momentum', 'weight-decay', 'final-training', 'baseline']);
  const rest = report.stages.filter((s) => !shown.has(s.kind) || s.status === 'failed' || s.status === 'skipped');
  if (rest.length === 0) return null;
  const body = rest.slice(0, 50).map((s) => `- ${md(s.title, 80)}: ${stageStatusLine(s)}`).join('\n');
  const full = `### Other stages\n${body}\n`;
  return { levels: [full, full, '', ''] };
}

function warningsSection(report: TuningReport): Section | null {
  if (report.warnings.length === 0) return null;
  const list = report.warnings.slice(0, 50).map((w) => `- ${md(w, 300)}`).join('\n');
  const more = report.warnings.length > 50 ? `\n- … ${report.warnings.length - 50} more` : '';
  return { levels: [details(`⚠️ ${report.warnings.length} warning${report.warnings.length > 1 ? 's' : ''}`, list + more), `<sub>⚠️ ${report.warnings.length} warnings (trimmed)</sub>\n`, '', ''] };
}

function linksLine(report: TuningReport, links: MarkdownLinks | undefined): string {
  const out: string[] = [];
  const mlflow = safeUrl(links?.mlflowRunUrl ?? report.links.mlflow?.runUrl);
  if (mlflow) out.push(`[MLflow run](${mlflow})`);
  const artifact = safeUrl(links?.artifactUrl);
  if (artifact) out.push(`[charts and HTML report](${artifact})`);
  for (const a of report.links.artifacts.slice(0, 10)) {
    const u = safeUrl(a.url);
    if (u && u !== artifact) out.push(`[${md(a.name, 60)}](${u})`);
  }
  return out.join(' · ');
}

function metaLine(report: TuningReport): string {
  const g = report.environment.git;
  const bits = [
    g?.branch ? `branch ${md(g.branch, 60)}` : '',
    g?.sha ? `commit ${md(g.sha.slice(0, 12), 12)}` : '',
    `backend ${md(report.environment.backend, 30)}${report.environment.device ? ` (${md(report.environment.device, 40)})` : ''}`,
    `${report.stages.length} stage${report.stages.length === 1 ? '' : 's'} in ${fmtSeconds(report.wallSeconds)}`,
  ].filter(Boolean);
  return `<sub>${bits.join(' · ')}</sub>`;
}

// ---------------------------------------------------------------------------------------------

/** Renders the report; see the module comment for the size rule. */
export function renderMarkdown(report: TuningReport, opts: MarkdownOptions = {}): string {
  const flavor = opts.flavor ?? 'comment';
  if (flavor !== 'comment' && flavor !== 'summary') throw new UserInputError('flavor', flavor, "'comment' or 'summary'");
  const limit = opts.maxLength ?? (flavor === 'comment' ? COMMENT_LIMIT : SUMMARY_LIMIT);
  if (!Number.isInteger(limit) || limit < 4000 || limit > (flavor === 'comment' ? COMMENT_LIMIT : SUMMARY_LIMIT))
    throw new UserInputError(
      'maxLength',
      opts.maxLength,
      `an integer from 4000 to ${flavor === 'comment' ? COMMENT_LIMIT : SUMMARY_LIMIT}`,
      'out of range for this flavor',
    );
  const base = opts.base;
  const links = opts.links;
  const maxPoints = 100;

  const links1 = linksLine(report, links);
  const head = [
    flavor === 'comment' ? commentMarker(opts.key) : '',
    `## superconverge · ${md(report.title, 120)}`,
    '',
    verdict(report, base),
    '',
    recommendationsTable(report, base),
    '',
    metaLine(report) + (links1 ? `\n\n${links1}` : ''),
    '',
  ]
    .filter((l, i) => i > 0 || l)
    .join('\n');

  const sections = [
    rangeTestSection(report, links, maxPoints),
    decisionSection(report, 'batch-size', links, maxPoints),
    decisionSection(report, 'momentum', links, maxPoints),
    decisionSection(report, 'weight-decay', links, maxPoints),
    finalSection(report, links, maxPoints),
    base ? baseSection(report, base, links, maxPoints) : null,
    otherStagesSection(report),
    warningsSection(report),
  ].filter((s): s is Section => s != null);

  const footer = `\n<sub>superconverge ${md(report.tool.version, 20)} · report ${md(report.id, 80)} · ${md(report.createdAt, 40)}</sub>\n`;
  const trimmedNote = '\n<sub>✂️ Trimmed to fit the size limit: the full report is in the job summary and the HTML artifact.</sub>\n';

  const level = sections.map(() => 0);
  const assemble = (trimmed: boolean) =>
    head + '\n' + sections.map((s, i) => s.levels[level[i]]).filter(Boolean).join('\n') + (trimmed ? trimmedNote : '') + footer;
  let body = assemble(false);
  // Degrade the last sections first, one level at a time: details, then charts, then the section.
  for (let lv = 1; lv < 4 && byteLength(body) > limit; lv++) {
    for (let i = sections.length - 1; i >= 0 && byteLength(body) > limit; i--) {
      level[i] = lv;
      body = assemble(true);
    }
  }
  if (byteLength(body) > limit) {
    // Unreachable with bounded fields; kept so the limit is a guarantee, not a hope. The head
    // (verdict + table) is bounded by construction (every field clipped), so only the footer goes.
    body = head + trimmedNote;
  }
  return body;
}
