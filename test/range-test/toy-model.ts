/**
 * A pure-JS model for testing the range test end to end without TensorFlow.js: linear regression
 * (4 features + bias, MSE/2) trained by SGD with momentum (PyTorch form v ← m·v + g, w ← w − lr·v)
 * on seeded synthetic data, mini-batches in a seeded order reshuffled every epoch.
 */
import { fromFunctions } from '../../src/sdk/trainers/functions.js';
import type { StepHyperParams, Trainer } from '../../src/sdk/trainers/types.js';

/** mulberry32: a tiny seeded PRNG whose whole state is one 32-bit integer (easy to snapshot). */
export function mulberry32(state: number): { next(): number; state: number } {
  const rng = {
    state: state >>> 0,
    next() {
      rng.state = (rng.state + 0x6d2b79f5) >>> 0;
      let t = rng.state;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
  return rng;
}

function gaussian(rng: { next(): number }): number {
  const u = Math.max(rng.next(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

export interface ToyOptions {
  seed?: number;
  n?: number;
  batchSize?: number;
  /** Added to every reported loss (e.g. −10 for a negative loss). */
  lossOffset?: number;
  /** Mimic the wasm backend (DESIGN.md): report min(loss, 2.3), and 2.3 for NaN/±Infinity. */
  clipLoss?: boolean;
  /** Throw from step() at this 0-based call. */
  throwAtStep?: number;
}

export interface ToyState {
  w: Float64Array;
  v: Float64Array;
  cursor: number;
  order: number[];
  rngState: number;
}

export function makeToy(opts: ToyOptions = {}) {
  const d = 4;
  const n = opts.n ?? 256;
  const batchSize = opts.batchSize ?? 32;
  const dataRng = mulberry32(opts.seed ?? 1);
  const trueW = [1.5, -2, 0.5, 1, 0.3];
  const X: number[][] = [];
  const Y: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = Array.from({ length: d }, () => gaussian(dataRng));
    X.push(x);
    Y.push(x.reduce((s, xi, j) => s + xi * trueW[j], trueW[d]) + 0.1 * gaussian(dataRng));
  }
  const valX = X.slice(0, 64);
  const valY = Y.slice(0, 64);
  const rng = mulberry32((opts.seed ?? 1) * 7919);
  const shuffled = () => {
    const order = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(rng.next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  };
  const state: ToyState = { w: new Float64Array(d + 1), v: new Float64Array(d + 1), cursor: 0, order: shuffled(), rngState: 0 };
  const predict = (x: number[]) => x.reduce((s, xi, j) => s + xi * state.w[j], state.w[d]);
  const mse = (xs: number[][], ys: number[]) => xs.reduce((s, x, i) => s + (predict(x) - ys[i]) ** 2, 0) / (2 * xs.length);

  const counters = { steps: 0, snapshots: 0, disposedSnapshots: 0, restores: 0, evaluations: 0, weightChecks: 0 };
  const stepsSeen: StepHyperParams[] = [];

  function step(hp: StepHyperParams): number {
    if (counters.steps === opts.throwAtStep) throw new Error(`toy step ${counters.steps} failed`);
    counters.steps++;
    stepsSeen.push({ ...hp });
    if (state.cursor + batchSize > n) {
      state.order = shuffled();
      state.cursor = 0;
    }
    const idx = state.order.slice(state.cursor, state.cursor + batchSize);
    state.cursor += batchSize;
    const g = new Float64Array(d + 1);
    let loss = 0;
    for (const i of idx) {
      const r = predict(X[i]) - Y[i];
      loss += r * r;
      for (let j = 0; j < d; j++) g[j] += (r * X[i][j]) / batchSize;
      g[d] += r / batchSize;
    }
    loss /= 2 * batchSize;
    for (let j = 0; j <= d; j++) {
      state.v[j] = hp.momentum * state.v[j] + g[j];
      state.w[j] -= hp.lr * state.v[j];
    }
    if (opts.clipLoss) loss = Number.isFinite(loss) ? Math.min(loss, 2.3) : 2.3;
    return loss + (opts.lossOffset ?? 0);
  }

  const fns = {
    step,
    evaluate: () => {
      counters.evaluations++;
      return { loss: mse(valX, valY) + (opts.lossOffset ?? 0), n: valX.length };
    },
    snapshot: (): ToyState => {
      counters.snapshots++;
      return { w: state.w.slice(), v: state.v.slice(), cursor: state.cursor, order: [...state.order], rngState: rng.state };
    },
    restore: (s: ToyState) => {
      counters.restores++;
      state.w = s.w.slice();
      state.v = s.v.slice();
      state.cursor = s.cursor;
      state.order = [...s.order];
      rng.state = s.rngState;
    },
    disposeSnapshot: () => {
      counters.disposedSnapshots++;
    },
    weightsFinite: () => {
      counters.weightChecks++;
      return state.w.every(Number.isFinite) && state.v.every(Number.isFinite);
    },
    batchSize,
    stepsPerEpoch: Math.floor(n / batchSize),
    backend: 'toy-js',
  };
  const trainer: Trainer = fromFunctions(fns);
  /** Full state as bytes, for bit-exact comparisons. */
  const fingerprint = () =>
    JSON.stringify({
      w: Array.from(new Uint8Array(state.w.buffer)),
      v: Array.from(new Uint8Array(state.v.buffer)),
      cursor: state.cursor,
      order: state.order,
      rng: rng.state,
    });
  return { trainer, fns, state, counters, stepsSeen, fingerprint, valLoss: () => mse(valX, valY), noiseFloor: 0.1 ** 2 / 2 };
}
