/**
 * A small, fast model for the recipe tests: softmax regression on seeded synthetic Gaussian
 * clusters, written in plain JS. Learning rate, momentum, weight decay (decoupled) and batch size
 * act on it as on a real network. A fake clock advances by a cost per step that grows with the
 * batch size (sub-linearly, like a GPU), so timings and budgets are deterministic.
 */
import type { Trainer, TrainerFactory, TrainerSettings } from '../../src/sdk/trainers/types.js';
import { mulberry32 } from '../../src/sdk/random.js';
export { mulberry32 };


function gauss(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
}

interface Split {
  x: Float64Array[];
  y: number[];
}

export interface ToyOptions {
  classes?: number;
  dims?: number;
  nTrain?: number;
  nVal?: number;
  nTest?: number;
  /** Cluster spread: larger = harder, noisier. */
  noise?: number;
  dataSeed?: number;
  /** Fake clock (ms) advanced per step by `stepCostMs(batchSize)`. */
  clock?: FakeClock;
  stepCostMs?: (batchSize: number) => number;
  evalCostMs?: number;
  /** Batch sizes above this throw an out-of-memory error at the first step. */
  oomAbove?: number;
  /** Fault injection: `throw` on the step number given (counted over the factory's lifetime). */
  throwOnStep?: number;
  /** Every loss is NaN. */
  nanLoss?: boolean;
  /** Losses are NaN from this global step on (counted over the factory's lifetime). */
  nanFromStep?: number;
  /** Counts of factory calls and steps, for assertions. */
  counters?: { trainers: number; steps: number };
}

export class FakeClock {
  ms = 0;
  now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

export function makeData(o: ToyOptions) {
  const classes = o.classes ?? 4;
  const dims = o.dims ?? 8;
  const rand = mulberry32(o.dataSeed ?? 7);
  const centers = Array.from({ length: classes }, () => Float64Array.from({ length: dims }, () => gauss(rand) * 1.5));
  const noise = o.noise ?? 1.6;
  const gen = (n: number): Split => {
    const x: Float64Array[] = [];
    const y: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = Math.floor(rand() * classes);
      x.push(Float64Array.from(centers[c], (v) => v + gauss(rand) * noise));
      y.push(c);
    }
    return { x, y };
  };
  return { classes, dims, train: gen(o.nTrain ?? 512), val: gen(o.nVal ?? 256), test: gen(o.nTest ?? 256) };
}

export function toyFactory(o: ToyOptions = {}): TrainerFactory {
  const data = makeData(o);
  let totalSteps = 0;
  return async (s: TrainerSettings) => {
    if (o.counters) o.counters.trainers++;
    return toyTrainer(data, s, o, () => ++totalSteps);
  };
}

function toyTrainer(data: ReturnType<typeof makeData>, s: TrainerSettings, o: ToyOptions, countStep: () => number): Trainer {
  const { classes, dims, train } = data;
  const P = classes * (dims + 1);
  const rand = mulberry32(s.seed);
  let w = Float64Array.from({ length: P }, () => gauss(rand) * 0.01);
  let v = new Float64Array(P);
  const n = train.y.length;
  let order = Array.from({ length: n }, (_, i) => i);
  let pos = 0;
  let epoch = 0;
  const shuffle = () => {
    const r = mulberry32(s.seed * 1000 + epoch);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  };
  shuffle();
  const logits = (x: Float64Array, out: Float64Array) => {
    for (let c = 0; c < classes; c++) {
      let z = w[c * (dims + 1) + dims];
      for (let d = 0; d < dims; d++) z += w[c * (dims + 1) + d] * x[d];
      out[c] = z;
    }
    let m = -Infinity;
    for (let c = 0; c < classes; c++) m = Math.max(m, out[c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += out[c] = Math.exp(out[c] - m);
    for (let c = 0; c < classes; c++) out[c] /= sum;
  };
  const p = new Float64Array(classes);
  const evalSplit = (split: Split) => {
    let loss = 0;
    let correct = 0;
    for (let i = 0; i < split.y.length; i++) {
      logits(split.x[i], p);
      loss -= Math.log(Math.max(p[split.y[i]], 1e-300));
      let arg = 0;
      for (let c = 1; c < classes; c++) if (p[c] > p[arg]) arg = c;
      if (arg === split.y[i]) correct++;
    }
    o.clock?.advance(o.evalCostMs ?? 2);
    return { loss: loss / split.y.length, accuracy: correct / split.y.length, n: split.y.length };
  };
  let stepsHere = 0;
  return {
    batchSize: s.batchSize,
    stepsPerEpoch: Math.ceil(n / s.batchSize),
    backend: 'toy-js',
    numExamples: n,
    async step({ lr, momentum }) {
      const global = countStep();
      if (o.counters) o.counters.steps++;
      stepsHere++;
      if (o.oomAbove != null && s.batchSize > o.oomAbove) throw new Error(`Out of memory: cannot allocate batch of ${s.batchSize}`);
      if (o.throwOnStep != null && global === o.throwOnStep) throw new Error('boom: user training loop crashed');
      o.clock?.advance(o.stepCostMs ? o.stepCostMs(s.batchSize) : 1 + s.batchSize / 64);
      const g = new Float64Array(P);
      let loss = 0;
      const b = Math.min(s.batchSize, n);
      for (let k = 0; k < b; k++) {
        if (pos >= n) {
          pos = 0;
          epoch++;
          shuffle();
        }
        const i = order[pos++];
        const x = train.x[i];
        logits(x, p);
        loss -= Math.log(Math.max(p[train.y[i]], 1e-300));
        for (let c = 0; c < classes; c++) {
          const d = p[c] - (c === train.y[i] ? 1 : 0);
          for (let j = 0; j < dims; j++) g[c * (dims + 1) + j] += d * x[j];
          g[c * (dims + 1) + dims] += d;
        }
      }
      for (let j = 0; j < P; j++) {
        v[j] = momentum * v[j] - lr * (g[j] / b);
        w[j] = w[j] * (1 - lr * s.weightDecay) + v[j];
      }
      return o.nanLoss || (o.nanFromStep != null && global >= o.nanFromStep) ? NaN : loss / b;
    },
    async evaluate(split = 'validation') {
      return evalSplit(split === 'test' ? data.test : data.val);
    },
    async weightsFinite() {
      return w.every(Number.isFinite);
    },
    async snapshot() {
      const saved = { w: w.slice(), v: v.slice(), order: order.slice(), pos, epoch, stepsHere };
      return { saved, dispose() {} } as never;
    },
    async restore(snap) {
      const saved = (snap as unknown as { saved: { w: Float64Array; v: Float64Array; order: number[]; pos: number; epoch: number; stepsHere: number } }).saved;
      w = saved.w.slice();
      v = saved.v.slice();
      order = saved.order.slice();
      pos = saved.pos;
      epoch = saved.epoch;
      stepsHere = saved.stepsHere;
    },
    dispose() {},
  } as Trainer;
}
