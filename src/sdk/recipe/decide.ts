/**
 * Pure decision logic shared by the stages: compare candidates by validation loss, estimate the
 * noise, say when a decision is low-confidence, and the weight-decay grid arithmetic (paper §4.4, §5).
 */
import type { Candidate, Decision } from '../../report/schema.js';

/** A validation-loss point of a short run. */
export interface ValPoint {
  step: number;
  seconds: number;
  loss: number;
  accuracy?: number;
}

/**
 * Noise of a curve's last points: the residual standard deviation around a straight line through
 * them (a still-falling curve is not noise). Zero with fewer than 3 finite points.
 */
export function tailNoise(points: readonly number[], last = 4): number {
  const ys = points.slice(-last).filter((y) => Number.isFinite(y));
  const n = ys.length;
  if (n < 3) return 0;
  const xm = (n - 1) / 2;
  const ym = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (i - xm) * (ys[i] - ym);
    sxx += (i - xm) ** 2;
  }
  const slope = sxy / sxx;
  let ssr = 0;
  for (let i = 0; i < n; i++) ssr += (ys[i] - (ym + slope * (i - xm))) ** 2;
  return Math.sqrt(ssr / (n - 2));
}

export interface Measured {
  value: number;
  /** The compared metric; null when the run diverged (NaN/Inf). */
  metric: number | null;
  /** Noise estimate of the metric (see tailNoise). */
  noise: number;
  at?: string;
  note?: string;
}

/** `1e-4`, `0.95`, `3e-4`: short, stable labels for values in sentences and keys. */
export function fmt(x: number | null | undefined): string {
  if (x == null || !Number.isFinite(x)) return 'n/a';
  if (x === 0) return '0';
  const a = Math.abs(x);
  // Counts (a batch of 2048, 1250 steps) are shown as they are, not as 2050.
  if (Number.isInteger(x) && a < 1e6) return String(x);
  if (a < 1e-2 || a >= 1e4) return Number(x.toPrecision(3)).toExponential().replace('e+', 'e');
  return String(Number(x.toPrecision(3)));
}

/**
 * The winner is the lowest metric (diverged candidates lose); ties go to the earlier candidate.
 * Confidence is low when the runner-up is within one standard deviation of the difference
 * (sqrt(noise₁² + noise₂²)): the ranking could flip with another seed.
 */
export function decideByValLoss(args: {
  parameter: string;
  label: string;
  measured: readonly Measured[];
  metricName?: string;
  ruleDetail?: string;
  /**
   * A default to keep when the data cannot tell (the paper's usual value, e.g. momentum 0.95): if
   * the best is not better than it by more than the noise, the default wins. A short run's noise
   * must not move a hyper-parameter away from a sound default.
   */
  prefer?: { value: number; why: string };
}): Decision & { winnerValue: number | null } {
  const metricName = args.metricName ?? 'valLoss';
  const ranked = args.measured
    .map((m, i) => ({ m, i }))
    .filter((x) => x.m.metric != null && Number.isFinite(x.m.metric))
    .sort((a, b) => (a.m.metric as number) - (b.m.metric as number) || a.i - b.i);
  const candidates: Candidate[] = args.measured.map((m) => ({
    value: m.value,
    metric: m.metric,
    metricName,
    ...(m.at ? { at: m.at } : {}),
    spread: m.noise,
    ...(m.note ? { note: m.note } : m.metric == null ? { note: 'diverged (non-finite loss)' } : {}),
  }));
  const rule =
    `lowest validation loss at the end of the short run${args.ruleDetail ? ` (${args.ruleDetail})` : ''}; diverged runs lose` +
    (args.prefer ? `; within the noise, ${args.prefer.why} is kept` : '');
  if (ranked.length === 0) {
    return {
      parameter: args.parameter,
      candidates,
      winner: null,
      winnerValue: null,
      rule,
      summary: `${args.label}: every candidate diverged; no winner.`,
      confidence: 'low',
      confidenceReason: 'no candidate produced a finite validation loss',
    };
  }
  let best = ranked[0].m;
  const preferred = args.prefer ? ranked.find((x) => x.m.value === args.prefer!.value)?.m : undefined;
  let keptDefault = false;
  if (preferred && preferred !== best && (preferred.metric as number) - (best.metric as number) <= Math.hypot(best.noise, preferred.noise)) {
    best = preferred;
    keptDefault = true;
  }
  const second = ranked.find((x) => x.m !== best)?.m;
  let confidence: 'high' | 'low' = 'high';
  let confidenceReason: string | undefined;
  let summary = `${args.label} ${fmt(best.value)}: val loss ${fmt(best.metric)}${best.at ? ` at ${best.at}` : ''}`;
  if (second) {
    const diff = (second.metric as number) - (best.metric as number);
    const noise = Math.hypot(best.noise, second.noise);
    summary += ` vs ${fmt(second.metric)} for ${fmt(second.value)}`;
    if (keptDefault) {
      confidence = 'low';
      confidenceReason = `${fmt(second.value)} was not better than the default ${fmt(best.value)} by more than the noise ${fmt(noise)}`;
      summary += ` (inside the noise: kept ${args.prefer!.why})`;
    } else if (diff <= noise) {
      confidence = 'low';
      confidenceReason = `difference ${fmt(diff)} is inside the noise ${fmt(noise)} (spread of the last validation points)`;
      summary += ' (inside the noise: low confidence)';
    }
  } else if (args.measured.length === 1) {
    confidence = 'low';
    confidenceReason = 'only one candidate was run';
  }
  return {
    parameter: args.parameter,
    candidates,
    winner: best.value,
    winnerValue: best.value,
    rule,
    summary: summary + '.',
    confidence,
    ...(confidenceReason ? { confidenceReason } : {}),
  };
}

/** Rounds to one significant figure (3.16e-4 → 3e-4), as the paper reports weight decay. */
export function oneSignificantFigure(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  return Number(x.toPrecision(1));
}

export type ProblemHint = 'complex' | 'simple';

/**
 * Paper §4.4/§5: complex data or deep nets want small weight decay (1e-4, 1e-5, 1e-6, 0); small
 * data or shallow nets want larger (1e-2, 1e-3, 1e-4).
 */
export function weightDecayGrid(hint: ProblemHint): number[] {
  return hint === 'complex' ? [1e-4, 1e-5, 1e-6, 0] : [1e-2, 1e-3, 1e-4];
}

/**
 * One bisection of the exponent between the two best values (1e-4 and 1e-3 → 3e-4, i.e. 10^-3.5 =
 * 3.16e-4 at one significant figure). Null when a value is 0 (no exponent) or the midpoint rounds
 * onto a value already run.
 */
export function bisectExponent(a: number, b: number, alreadyRun: readonly number[]): number | null {
  if (!(a > 0) || !(b > 0) || a === b) return null;
  const mid = oneSignificantFigure(Math.sqrt(a * b));
  if (alreadyRun.some((v) => Math.abs(v - mid) <= 1e-12 * Math.max(v, mid))) return null;
  return mid;
}
