/**
 * Escaping and number formatting shared by the reporters. Every string that comes from a report
 * (titles, names, rules, messages) is untrusted: a PR comment must not be broken or injected by a
 * backtick, a `<script>`, a `-->` that closes our hidden marker, a `|` that splits a table cell,
 * an `@name` that pings someone, or a 70,000-character name that blows GitHub's 65,536 limit.
 */

/** Control characters and line breaks become spaces: report text is always one line. */
function oneLine(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ');
}

/** Cuts to at most `max` characters (code points kept whole), marking the cut with an ellipsis. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = Array.from(s.slice(0, max - 1)).join('');
  // A cut through a surrogate pair leaves a lone high surrogate: drop it.
  return cut.replace(/[\uD800-\uDBFF]$/, '') + '…';
}

/**
 * Markdown-inline text that renders literally both in Markdown and inside HTML blocks
 * (`<summary>`, table cells). Numeric character references are never parsed as syntax by
 * GitHub's Markdown, unlike backslash escapes which show up verbatim inside HTML blocks.
 */
const MD_SPECIAL = /[&<>"'`|*_[\]\\~#@!$]/g;
/** At the start of a line these would open a list, a heading's underline, or a quote. */
const MD_LEADING = /^[-+=>]/;
export function md(text: unknown, max = 200): string {
  return clip(oneLine(String(text ?? '')), max)
    .trim()
    .replace(MD_SPECIAL, (c) => `&#${c.charCodeAt(0)};`)
    .replace(MD_LEADING, (c) => `&#${c.charCodeAt(0)};`);
}

/** Text for HTML element content and attribute values. */
export function html(text: unknown, max = 2000): string {
  return clip(oneLine(String(text ?? '')), max).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/**
 * Text inside a Mermaid diagram (a title, a category label): Mermaid has no escape for `"` in its
 * xychart grammar, so only a safe alphabet is kept.
 */
export function mermaidText(text: unknown, max = 60): string {
  const s = oneLine(String(text ?? ''))
    .replace(/[^A-Za-z0-9 .,:;=+\-_/%()#×→]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return clip(s, max);
}

/** An http(s) URL safe for a Markdown link target or an href, or null. */
export function safeUrl(url: string | undefined | null): string | null {
  if (!url || url.length > 2000) return null;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return null;
  // URL.href percent-encodes spaces, quotes and angle brackets; parentheses would end a Markdown link.
  return u.href.replace(/[()<>"'`\s|]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** Relative path for a Markdown link (e.g. `charts/lr-range-test.png`), or null when unsafe. */
export function safeRelativePath(path: string): string | null {
  if (!/^[A-Za-z0-9._/-]{1,300}$/.test(path) || path.includes('..') || path.startsWith('/')) return null;
  return path;
}

/** A learning rate or any positive quantity spanning decades: `0.357`, `3.57e-5`, `1e-4`. */
export function fmtNum(x: number | null | undefined, digits = 3): string {
  if (x == null || !Number.isFinite(x)) return x == null ? '—' : String(x);
  if (x === 0) return '0';
  const a = Math.abs(x);
  // Counts (a batch of 2048, 1250 steps) are shown as they are, not as 2050.
  if (Number.isInteger(x) && a < 1e6) return String(x);
  if (a >= 1e-3 && a < 1e5) return String(Number(x.toPrecision(digits)));
  const [m, e] = x.toExponential(digits - 1).split('e');
  return `${String(Number(m))}e${e.replace('+', '')}`;
}

/** `1 epoch`, `36 epochs`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function fmtPct(x: number | null | undefined, digits = 1): string {
  return x == null || !Number.isFinite(x) ? '—' : `${(x * 100).toFixed(digits)}%`;
}

export function fmtSeconds(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return '—';
  if (s < 90) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  if (s < 5400) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** A hyper-parameter value of any type, for tables. */
export function fmtValue(v: number | string | boolean | null | undefined): string {
  if (typeof v === 'number') return fmtNum(v);
  if (v == null) return '—';
  return String(v);
}

/** Rows of a per-epoch training table (HTML and Markdown render the same columns). */
export const TRAINING_COLUMNS = ['Epoch', 'Step', 'Train loss', 'Val loss', 'Val accuracy', 'LR', 'Momentum', 'Time'];
export function trainingRows(history: readonly { epoch: number; step: number; trainLoss: number | null; valLoss: number | null; valAccuracy?: number | null; lr?: number; momentum?: number; seconds: number }[], limit: number): string[][] {
  return history.slice(0, limit).map((e) => [
    String(e.epoch),
    String(e.step),
    fmtNum(e.trainLoss, 4),
    fmtNum(e.valLoss, 4),
    fmtPct(e.valAccuracy ?? null),
    fmtNum(e.lr ?? null),
    fmtNum(e.momentum ?? null),
    fmtSeconds(e.seconds),
  ]);
}
