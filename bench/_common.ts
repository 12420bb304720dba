/**
 * Helpers shared by the benchmarks (not a benchmark itself: bench/run.ts skips `_*.ts`).
 * The machines are shared and noisy: results carry the load average at the start and end of the run,
 * and comparisons are reported as medians with their spread.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { UserInputError } from '../src/errors.js';

export const resultsDir = join(import.meta.dirname, 'results');

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** [min, max] of a sample. */
export function spread(xs: readonly number[]): [number, number] {
  return xs.length ? [Math.min(...xs), Math.max(...xs)] : [NaN, NaN];
}

/** A positive number from the environment (flags of the benchmarks), checked before any work. */
export function envNumber(name: string, fallback: number, opts: { integer?: boolean; min?: number } = {}): number {
  const raw = process.env[name];
  if (raw == null || raw === '') return fallback;
  const value = Number(raw);
  const min = opts.min ?? 0;
  if (!Number.isFinite(value) || value < min || (opts.integer && !Number.isInteger(value))) {
    throw new UserInputError(name, raw, `${opts.integer ? 'an integer' : 'a number'} >= ${min}`);
  }
  return value;
}

export interface Machine {
  cpus: number;
  cpuModel: string;
  /** 1/5/15-minute load averages when the benchmark started and when it ended. */
  load: { start: number[]; end?: number[] };
  node: string;
  platform: string;
}

export function machine(): Machine {
  const c = cpus();
  return {
    cpus: c.length,
    cpuModel: c[0]?.model ?? 'unknown',
    load: { start: loadavg().map((x) => Number(x.toFixed(2))) },
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

/** Writes `bench/results/<name>.json` (the end load average is filled in here). */
export function writeResult(result: { name: string; target: string; met: boolean | null; machine: Machine } & Record<string, unknown>): string {
  mkdirSync(resultsDir, { recursive: true });
  result.machine.load.end = loadavg().map((x) => Number(x.toFixed(2)));
  const file = join(resultsDir, `${result.name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

export function readResult(name: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(join(resultsDir, `${name}.json`), 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** A Markdown table (also readable on a terminal). */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((x, c) => (x ?? '').padEnd(widths[c])).join(' | ')} |`;
  return [line(cells[0]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

export const fmtS = (s: number): string => (Number.isFinite(s) ? `${s.toFixed(1)} s` : '—');
export const fmtPct = (x: number | null | undefined, digits = 2): string => (x == null || !Number.isFinite(x) ? '—' : `${(100 * x).toFixed(digits)}%`);
export const fmtX = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(3)}×` : '—');

/** Lets the event loop run (synchronous backends never yield by themselves). */
export const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Samples the resident set size every `ms` (the peak of `process.resourceUsage().maxRSS` covers the whole process). */
export function rssSampler(ms = 100): { stop(): { peakMb: number; samples: number } } {
  let peak = process.memoryUsage.rss();
  let samples = 1;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
    samples++;
  }, ms);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      peak = Math.max(peak, process.memoryUsage.rss());
      return { peakMb: peak / 2 ** 20, samples };
    },
  };
}
