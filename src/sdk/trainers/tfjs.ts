/**
 * The TensorFlow.js adapter of the Trainer seam.
 *
 * The optimizer update is our own (a few tf ops on the model's variables) rather than
 * `tf.train.momentum` / `tf.train.adam`, because:
 * - `MomentumOptimizer.setMomentum()` does not change the update in tfjs 4.22 (it multiplies by a
 *   scalar made in the constructor), and cyclical momentum (paper §3.3) needs momentum per batch;
 * - snapshot/restore must copy the optimizer state bit-exactly, and tfjs's `optimizer.setWeights`
 *   leaks the previous state;
 * - weight decay is applied where we choose (see `weightDecayMode`).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { UserInputError, checkNumber } from '../../errors.js';
import type { EvalResult, StepHyperParams, Trainer, TrainerFactory, TrainerSettings, TrainerSnapshot } from './types.js';
import { seededPermutation } from '../random.js';

export type LossName = 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'binaryCrossentropy' | 'meanSquaredError';
/** A loss of (yTrue, yPred) returning a scalar mean over the batch. */
export type LossFn = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

export interface TensorData {
  xTrain: tf.Tensor;
  yTrain: tf.Tensor;
  xVal?: tf.Tensor;
  yVal?: tf.Tensor;
  xTest?: tf.Tensor;
  yTest?: tf.Tensor;
}

/** The part of `tf.data.Dataset` we use: batches or examples of `{xs, ys}`, read once into memory. */
export interface DatasetLike {
  iterator(): Promise<{ next(): Promise<{ value: { xs: tf.Tensor; ys: tf.Tensor } | undefined; done: boolean }> }>;
}

export interface DatasetData {
  train: DatasetLike;
  validation?: DatasetLike;
  test?: DatasetLike;
}

export type Augment = (xBatch: tf.Tensor, step: number) => tf.Tensor;

export interface TfjsTrainerOptions {
  /** A model, or a builder called with `seed` (use seeded initialisers for reproducible runs). */
  model: LayersModel | ((seed: number) => LayersModel);
  /** Tensors (owned by the caller) or datasets (read into memory once; freed by `dispose`). */
  data: TensorData | DatasetData;
  loss?: LossName | LossFn;
  /** `sgd` = SGD with momentum (the paper's; default) or `adam` (β1 cycled as momentum, §4.3). */
  optimizer?: 'sgd' | 'adam';
  batchSize: number;
  weightDecay?: number;
  /**
   * `decoupled` (default): after each step, w ← w·(1 − lr·wd) (Loshchilov & Hutter, "Decoupled
   * weight decay regularization"). Chosen as the default because it acts the same for SGD and Adam
   * (with Adam, L2 is rescaled per weight by the adaptive denominator and barely regularises), and
   * it is not amplified by momentum — so a WD value found with one momentum keeps its meaning while
   * momentum cycles. `l2` adds wd·w to the gradient (Caffe's weight_decay, as in the paper's
   * experiments); with momentum m it acts like a decoupled decay ~1/(1−m) times larger.
   * Both decay kernels only (weights of rank ≥ 2), not biases.
   */
  weightDecayMode?: 'decoupled' | 'l2';
  /** Seeds the model builder and the shuffling of the training data. */
  seed: number;
  /** Training-time augmentation of a batch; `step` is the global step, so it can be seeded and restored. */
  augment?: Augment;
  /** Batch size for `evaluate` (default 512). */
  evalBatchSize?: number;
  /** Adam's β2 and ε (defaults 0.999 and 1e-7, as tfjs/Keras). */
  adam?: { beta2?: number; epsilon?: number };
  /** Backend description for the report (default: `tf.getBackend()`). */
  backend?: string;
}

export const LOSS_NAMES: readonly LossName[] = ['categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy', 'meanSquaredError'];
const EPS = 1e-7;

function lossFunction(loss: LossName): LossFn {
  switch (loss) {
    case 'categoricalCrossentropy':
      // Keras' formula on probabilities (the model ends in softmax), clipped like Keras.
      return (y, p) => tf.neg(tf.mean(tf.sum(tf.mul(y, tf.log(tf.clipByValue(p, EPS, 1 - EPS))), -1)));
    case 'sparseCategoricalCrossentropy':
      return (y, p) => {
        const depth = p.shape[p.shape.length - 1];
        const oneHot = tf.oneHot(tf.cast(tf.reshape(y, [-1]), 'int32'), depth);
        return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.log(tf.clipByValue(p, EPS, 1 - EPS))), -1)));
      };
    case 'binaryCrossentropy':
      return (y, p) => {
        const c = tf.clipByValue(p, EPS, 1 - EPS);
        return tf.neg(tf.mean(tf.add(tf.mul(y, tf.log(c)), tf.mul(tf.sub(1, y), tf.log(tf.sub(1, c))))));
      };
    case 'meanSquaredError':
      return (y, p) => tf.mean(tf.squaredDifference(y, p));
  }
}

/** Number of correct predictions in a batch, as a tensor (no sync), or undefined for regressions. */
function correctCount(loss: LossName | LossFn, y: tf.Tensor, p: tf.Tensor): tf.Tensor | undefined {
  if (loss === 'categoricalCrossentropy') return tf.sum(tf.cast(tf.equal(tf.argMax(p, -1), tf.argMax(y, -1)), 'float32'));
  if (loss === 'sparseCategoricalCrossentropy') {
    return tf.sum(tf.cast(tf.equal(tf.argMax(p, -1), tf.cast(tf.reshape(y, [-1]), 'int32')), 'float32'));
  }
  if (loss === 'binaryCrossentropy') {
    const perExample = tf.cast(tf.equal(tf.greater(p, 0.5), tf.greater(y, 0.5)), 'float32');
    return tf.div(tf.sum(perExample), perExample.size / perExample.shape[0]) as tf.Scalar;
  }
  return undefined;
}

function epochSeed(seed: number, epoch: number): number {
  let h = Math.imul(seed ^ 0x27d4eb2f, 0x165667b1) ^ Math.imul(epoch + 0x5bd1e995, 0x9e3779b1);
  h ^= h >>> 15;
  return h >>> 0;
}

async function readDataset(ds: DatasetLike): Promise<{ x: tf.Tensor; y: tf.Tensor }> {
  const it = await ds.iterator();
  const xs: tf.Tensor[] = [];
  const ys: tf.Tensor[] = [];
  for (let r = await it.next(); !r.done; r = await it.next()) {
    if (!r.value) continue;
    xs.push(r.value.xs);
    ys.push(r.value.ys);
  }
  if (xs.length === 0) throw new UserInputError('data', 'empty dataset', 'a dataset with at least one {xs, ys} element');
  // Elements may be single examples (no batch axis) or batches: stack the former, concat the latter.
  const batched = xs.length > 1 ? xs[0].rank === xs[1].rank && xs[0].shape[0] !== undefined : true;
  const x = tf.tidy(() => (batched ? tf.concat(xs) : tf.stack(xs)));
  const y = tf.tidy(() => (batched ? tf.concat(ys) : tf.stack(ys)));
  tf.dispose([...xs, ...ys]);
  return { x, y };
}

interface Split {
  x: tf.Tensor;
  y: tf.Tensor;
}

interface Slots {
  /** SGD: velocity; Adam: first moment. */
  m: tf.Tensor[];
  /** Adam: second moment (empty for SGD). */
  v: tf.Tensor[];
  /** Adam bias corrections: running products of the β1 used (β1 cycles) and of β2. */
  beta1Product: number;
  beta2Product: number;
}

class TfjsSnapshot implements TrainerSnapshot {
  disposed = false;
  constructor(
    readonly owner: object,
    readonly weights: tf.Tensor[],
    readonly slots: Slots,
    readonly position: { epoch: number; batch: number; step: number },
  ) {}
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.weights, ...this.slots.m, ...this.slots.v]);
  }
}

function isTensorData(d: TensorData | DatasetData): d is TensorData {
  return (d as TensorData).xTrain !== undefined;
}

/** Validates the options that do not need the data, before any work (UserInputError on mistakes). */
function checkOptions(opts: TfjsTrainerOptions): void {
  checkNumber('batchSize', opts.batchSize, { integer: true, min: 1 });
  checkNumber('seed', opts.seed, { integer: true, min: 0 });
  checkNumber('weightDecay', opts.weightDecay ?? 0, { min: 0 });
  if (opts.optimizer !== undefined && opts.optimizer !== 'sgd' && opts.optimizer !== 'adam') {
    throw new UserInputError('optimizer', opts.optimizer, 'sgd, adam', 'unknown optimizer');
  }
  if (opts.weightDecayMode !== undefined && opts.weightDecayMode !== 'decoupled' && opts.weightDecayMode !== 'l2') {
    throw new UserInputError('weightDecayMode', opts.weightDecayMode, 'decoupled, l2', 'unknown weight decay mode');
  }
  if (typeof opts.loss === 'string' && !LOSS_NAMES.includes(opts.loss)) {
    throw new UserInputError('loss', opts.loss, `${LOSS_NAMES.join(', ')} or a function`, 'unknown loss');
  }
  if (opts.evalBatchSize !== undefined) checkNumber('evalBatchSize', opts.evalBatchSize, { integer: true, min: 1 });
  if (opts.adam?.beta2 !== undefined) checkNumber('adam.beta2', opts.adam.beta2, { min: 0, max: 1, maxExclusive: true });
  if (opts.adam?.epsilon !== undefined) checkNumber('adam.epsilon', opts.adam.epsilon, { min: 0, minExclusive: true });
}

export class TfjsTrainer implements Trainer {
  readonly batchSize: number;
  readonly stepsPerEpoch: number;
  readonly backend: string;
  /** The model being trained (its variables are updated in place). */
  readonly model: LayersModel;

  private readonly vars: tf.Variable[];
  private readonly decays: boolean[];
  private readonly lossFn: LossFn;
  private readonly lossOpt: LossName | LossFn;
  private readonly optimizer: 'sgd' | 'adam';
  private readonly weightDecay: number;
  private readonly decoupled: boolean;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly evalBatchSize: number;
  private slots: Slots;
  private order: Int32Array;
  private position = { epoch: 0, batch: 0, step: 0 };
  private disposed = false;
  /** Whether the weights were all finite after the last step; unknown after a restore. */
  private finiteAfterStep: boolean | undefined;

  /** Use `tfjsTrainer(...)`. */
  constructor(
    private readonly opts: TfjsTrainerOptions,
    model: LayersModel,
    private readonly ownsModel: boolean,
    private readonly train: Split,
    private readonly validation: Split | undefined,
    private readonly test: Split | undefined,
    private readonly ownedData: tf.Tensor[],
  ) {
    this.model = model;
    this.batchSize = opts.batchSize;
    const n = train.x.shape[0];
    if (n < opts.batchSize) {
      throw new UserInputError('batchSize', opts.batchSize, `an integer in [1, ${n}] (training examples)`, 'larger than the training set');
    }
    // The last partial batch is dropped so that every step sees batchSize examples: the range test
    // compares losses of consecutive steps, and a small batch would be noisier.
    this.stepsPerEpoch = Math.floor(n / opts.batchSize);
    this.backend = opts.backend ?? tf.getBackend();
    this.vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    this.decays = this.vars.map((v) => v.rank >= 2);
    this.lossOpt = opts.loss ?? 'categoricalCrossentropy';
    this.lossFn = typeof this.lossOpt === 'function' ? this.lossOpt : lossFunction(this.lossOpt);
    this.optimizer = opts.optimizer ?? 'sgd';
    this.weightDecay = opts.weightDecay ?? 0;
    this.decoupled = (opts.weightDecayMode ?? 'decoupled') === 'decoupled';
    this.beta2 = opts.adam?.beta2 ?? 0.999;
    this.epsilon = opts.adam?.epsilon ?? 1e-7;
    this.evalBatchSize = opts.evalBatchSize ?? 512;
    this.slots = {
      m: this.vars.map((v) => tf.zerosLike(v)),
      v: this.optimizer === 'adam' ? this.vars.map((v) => tf.zerosLike(v)) : [],
      beta1Product: 1,
      beta2Product: 1,
    };
    this.order = seededPermutation(n, epochSeed(opts.seed, 0));
  }

  async step(hp: StepHyperParams): Promise<number> {
    this.checkAlive();
    const lr = checkNumber('lr', hp.lr, { min: 0 });
    const momentum = checkNumber('momentum', hp.momentum, { min: 0, max: 1, maxExclusive: true });
    const { batch, step } = this.position;
    const start = batch * this.batchSize;
    const indices = this.order.subarray(start, start + this.batchSize);
    const adam = this.optimizer === 'adam';
    const beta1Product = this.slots.beta1Product * momentum;
    const beta2Product = this.slots.beta2Product * this.beta2;

    const [lossT, newM, newV] = tf.tidy(() => {
      const idx = tf.tensor1d(indices, 'int32');
      let xb = tf.gather(this.train.x, idx);
      const yb = tf.gather(this.train.y, idx);
      if (this.opts.augment) xb = this.opts.augment(xb, step);
      const vars = this.vars;
      const { value, grads } = tf.variableGrads(
        () => this.lossFn(yb, this.model.apply(xb, { training: true }) as tf.Tensor) as tf.Scalar,
        vars,
      );
      const lrT = tf.scalar(lr);
      const mT = tf.scalar(momentum);
      const wd = this.weightDecay;
      const ms: tf.Tensor[] = [];
      const vs: tf.Tensor[] = [];
      vars.forEach((w, i) => {
        let g = grads[w.name];
        if (wd > 0 && !this.decoupled && this.decays[i]) g = tf.add(g, tf.mul(tf.scalar(wd), w));
        let next: tf.Tensor;
        if (!adam) {
          // v ← m·v + g; w ← w − lr·v (tfjs/Keras/PyTorch momentum convention).
          const m = tf.add(tf.mul(mT, this.slots.m[i]), g);
          ms.push(m);
          next = tf.sub(w, tf.mul(lrT, m));
        } else {
          // Adam with β1 = momentum of this step; bias correction by the product of the β1s used
          // (exact for a varying β1: the EMA weights then sum to 1 − Πβ1).
          const m = tf.add(tf.mul(mT, this.slots.m[i]), tf.mul(tf.scalar(1 - momentum), g));
          const v = tf.add(tf.mul(tf.scalar(this.beta2), this.slots.v[i]), tf.mul(tf.scalar(1 - this.beta2), tf.square(g)));
          ms.push(m);
          vs.push(v);
          const mHat = tf.div(m, tf.scalar(1 - beta1Product));
          const vHat = tf.div(v, tf.scalar(1 - beta2Product));
          next = tf.sub(w, tf.mul(lrT, tf.div(mHat, tf.add(tf.sqrt(vHat), tf.scalar(this.epsilon)))));
        }
        if (wd > 0 && this.decoupled && this.decays[i]) next = tf.mul(next, tf.scalar(1 - lr * wd));
        w.assign(next);
      });
      // Whether every updated weight is finite, read back with the loss, on the steps a check follows:
      // the range test asks every few steps (wasm can clip a NaN loss to a finite one; a separate
      // check cost ~5%), a training epoch never (its cost there was within the bench's noise).
      const finite = hp.checkWeights ? tf.min(tf.stack(vars.map((w) => tf.cast(tf.all(tf.isFinite(w)), 'float32')))) : tf.scalar(-1);
      return [tf.stack([value, finite]), ms, vs] as [tf.Tensor1D, tf.Tensor[], tf.Tensor[]];
    });
    tf.dispose([...this.slots.m, ...this.slots.v]);
    this.slots = { m: newM, v: newV, beta1Product: adam ? beta1Product : 1, beta2Product: adam ? beta2Product : 1 };
    this.advance();
    // The one sync per step: the loss and, when asked, whether the weights are finite.
    const [loss, finite] = await lossT.data();
    lossT.dispose();
    this.finiteAfterStep = finite === -1 ? undefined : finite === 1;
    return loss;
  }

  private advance(): void {
    this.position.step++;
    this.position.batch++;
    if (this.position.batch >= this.stepsPerEpoch) {
      this.position.batch = 0;
      this.position.epoch++;
      this.order = seededPermutation(this.train.x.shape[0], epochSeed(this.opts.seed, this.position.epoch));
    }
  }

  /** Global step count (batches trained so far). */
  get stepCount(): number {
    return this.position.step;
  }

  async evaluate(split: 'validation' | 'test' = 'validation'): Promise<EvalResult> {
    this.checkAlive();
    const data = split === 'test' ? this.test : this.validation;
    if (!data) throw new UserInputError('split', split, this.test ? 'validation, test' : 'validation', `no ${split} data was given`);
    const n = data.x.shape[0];
    let lossSum = tf.scalar(0);
    let correct: tf.Tensor | undefined;
    let hasAccuracy = true;
    for (let start = 0; start < n; start += this.evalBatchSize) {
      const size = Math.min(this.evalBatchSize, n - start);
      const [l, c] = tf.tidy(() => {
        const xb = tf.slice(data.x, start, size);
        const yb = tf.slice(data.y, start, size);
        const p = this.model.apply(xb, { training: false }) as tf.Tensor;
        const batchLoss = tf.add(lossSum, tf.mul(this.lossFn(yb, p), size)) as tf.Scalar;
        const cc = correctCount(this.lossOpt, yb, p);
        return [batchLoss, cc && correct ? tf.add(correct, cc) : cc];
      });
      lossSum.dispose();
      lossSum = l;
      correct?.dispose();
      correct = c;
      if (!c) hasAccuracy = false;
    }
    const stacked = tf.stack(correct && hasAccuracy ? [lossSum, correct] : [lossSum]);
    const values = await stacked.data();
    tf.dispose([stacked, lossSum, correct]);
    const result: EvalResult = { loss: values[0] / n, n };
    if (hasAccuracy && values.length > 1) result.accuracy = values[1] / n;
    return result;
  }

  async weightsFinite(): Promise<boolean> {
    this.checkAlive();
    // Known from the last step when every weight is trainable (non-trainable ones, e.g. batch-norm
    // statistics, are not covered by the step's check).
    if (this.finiteAfterStep !== undefined && this.vars.length === this.model.weights.length) return this.finiteAfterStep;
    const all = this.model.weights.map((w) => w.read());
    const ok = tf.tidy(() => tf.min(tf.stack(all.map((w) => tf.cast(tf.all(tf.isFinite(w)), 'float32')))));
    const v = (await ok.data())[0];
    ok.dispose();
    return v === 1;
  }

  async snapshot(): Promise<TrainerSnapshot> {
    this.checkAlive();
    // getWeights()/read() return live variables: clone them.
    const weights = this.model.weights.map((w) => tf.clone(w.read()));
    const slots: Slots = {
      m: this.slots.m.map((t) => tf.clone(t)),
      v: this.slots.v.map((t) => tf.clone(t)),
      beta1Product: this.slots.beta1Product,
      beta2Product: this.slots.beta2Product,
    };
    return new TfjsSnapshot(this, weights, slots, { ...this.position });
  }

  async restore(snapshot: TrainerSnapshot): Promise<void> {
    this.checkAlive();
    if (!(snapshot instanceof TfjsSnapshot) || snapshot.owner !== this) {
      throw new Error('restore: the snapshot was not taken from this trainer');
    }
    if (snapshot.disposed) throw new Error('restore: the snapshot was disposed');
    // Tensors are immutable: assigning a clone shares its data with the variable, and later steps
    // replace (never mutate) it, so the snapshot stays valid for further restores.
    this.model.weights.forEach((w, i) => (w.read() as tf.Variable).assign(snapshot.weights[i]));
    tf.dispose([...this.slots.m, ...this.slots.v]);
    this.slots = {
      m: snapshot.slots.m.map((t) => tf.clone(t)),
      v: snapshot.slots.v.map((t) => tf.clone(t)),
      beta1Product: snapshot.slots.beta1Product,
      beta2Product: snapshot.slots.beta2Product,
    };
    this.finiteAfterStep = undefined;
    const epochChanged = snapshot.position.epoch !== this.position.epoch;
    this.position = { ...snapshot.position };
    if (epochChanged) this.order = seededPermutation(this.train.x.shape[0], epochSeed(this.opts.seed, this.position.epoch));
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    tf.dispose([...this.slots.m, ...this.slots.v, ...this.ownedData]);
    if (this.ownsModel) this.model.dispose();
  }

  private checkAlive(): void {
    if (this.disposed) throw new Error('the trainer was disposed');
  }
}

/** Builds a TF.js trainer. Validates options before reading data or building the model. */
export async function tfjsTrainer(opts: TfjsTrainerOptions): Promise<TfjsTrainer> {
  checkOptions(opts);
  const owned: tf.Tensor[] = [];
  let train: Split;
  let validation: Split | undefined;
  let test: Split | undefined;
  const data = opts.data;
  if (isTensorData(data)) {
    train = { x: data.xTrain, y: data.yTrain };
    if ((data.xVal === undefined) !== (data.yVal === undefined)) throw new UserInputError('data.xVal/yVal', 'only one given', 'both or neither');
    if ((data.xTest === undefined) !== (data.yTest === undefined)) throw new UserInputError('data.xTest/yTest', 'only one given', 'both or neither');
    if (data.xVal && data.yVal) validation = { x: data.xVal, y: data.yVal };
    if (data.xTest && data.yTest) test = { x: data.xTest, y: data.yTest };
  } else {
    const read = async (ds: DatasetLike): Promise<Split> => {
      const s = await readDataset(ds);
      owned.push(s.x, s.y);
      return s;
    };
    train = await read(data.train);
    if (data.validation) validation = await read(data.validation);
    if (data.test) test = await read(data.test);
  }
  for (const [name, s] of [['train', train], ['validation', validation], ['test', test]] as const) {
    if (s && s.x.shape[0] !== s.y.shape[0]) {
      tf.dispose(owned);
      throw new UserInputError(`data (${name})`, `${s.x.shape[0]} inputs, ${s.y.shape[0]} targets`, 'as many targets as inputs');
    }
  }
  const ownsModel = typeof opts.model === 'function';
  const model = typeof opts.model === 'function' ? opts.model(opts.seed) : opts.model;
  try {
    return new TfjsTrainer(opts, model, ownsModel, train, validation, test, owned);
  } catch (e) {
    tf.dispose(owned);
    if (ownsModel) model.dispose();
    throw e;
  }
}

/**
 * A TrainerFactory for the recipe: every call builds a fresh model with `model(settings.seed)` and a
 * fresh trainer with the settings' batch size, weight decay, seed and optimizer.
 */
export function tfjsTrainerFactory(
  opts: Omit<TfjsTrainerOptions, 'model' | keyof TrainerSettings> & { model: (seed: number) => LayersModel },
): TrainerFactory {
  return (settings: TrainerSettings) =>
    tfjsTrainer({
      ...opts,
      model: opts.model,
      batchSize: settings.batchSize,
      weightDecay: settings.weightDecay,
      seed: settings.seed,
      optimizer: settings.optimizer,
    });
}
