/**
 * Schedule pieces as pure functions of progress, after fastai's `callback/schedule.py`:
 * a `Sched` maps a position `p ∈ [0, 1]` inside its phase to a value, and a whole policy is a
 * `piecewise` combination of such pieces. No step counters, no state.
 */

/** A value as a function of progress `p ∈ [0, 1]` through one phase. */
export type Sched = (p: number) => number;

/** Linear from `start` (p = 0) to `end` (p = 1): `start + p·(end − start)`. */
export function schedLin(start: number, end: number): Sched {
  return (p) => (end - start) * p + start;
}

/**
 * Half-cosine from `start` to `end`: `end + (start − end)/2 · (1 + cos(π·p))`.
 * Written as torch's `_annealing_cos` (exact at both ends: cos(0) = 1, cos(π) = −1), which is
 * the same curve as fastai's `SchedCos` to rounding.
 */
export function schedCos(start: number, end: number): Sched {
  return (p) => end + ((start - end) / 2) * (Math.cos(Math.PI * p) + 1);
}

/** Constant `value` (e.g. momentum held during annihilation). */
export function schedConst(value: number): Sched {
  return () => value;
}

/**
 * Pieces over consecutive intervals `[edges[i], edges[i+1]]` of a position (progress or steps).
 * A position belongs to the first interval whose end it does not exceed (ends inclusive, as torch's
 * OneCycleLR), the last interval takes everything beyond. Inside an interval the piece gets
 * `p = (pos − start)/(end − start)` clamped to [0, 1]; a zero-length interval gives `p = 1` (its end
 * value) instead of torch's 0/0 = NaN.
 */
export function piecewise(edges: readonly number[], scheds: readonly Sched[]): Sched {
  if (edges.length !== scheds.length + 1) throw new RangeError('piecewise: need one more edge than pieces');
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i] >= edges[i - 1])) throw new RangeError(`piecewise: edges must not decrease (edge ${i})`);
  }
  const last = scheds.length - 1;
  return (pos) => {
    let i = 0;
    while (i < last && pos > edges[i + 1]) i++;
    const width = edges[i + 1] - edges[i];
    const p = width > 0 ? Math.min(1, Math.max(0, (pos - edges[i]) / width)) : 1;
    return scheds[i](p);
  };
}
