/**
 * 1cycle for people who keep `model.fit`: a tfjs-layers callback that sets the learning rate and
 * momentum (β1 for Adam) before every batch from a HyperSchedule.
 *
 *   model.fit(x, y, { epochs, batchSize, callbacks: [oneCycleCallback(oneCycle({ totalSteps, maxLr }))] })
 */
import * as tf from '@tensorflow/tfjs-core';
import { CustomCallback, type LayersModel } from '@tensorflow/tfjs-layers';
import type { HyperSchedule } from '../schedules/index.js';

interface MomentumInternals {
  m?: tf.Scalar;
  momentum?: number;
}

/**
 * Sets the learning rate and momentum of a tfjs optimizer, so that both take effect in the next
 * update. `MomentumOptimizer.setMomentum()` only stores the number in tfjs 4.22 (the update uses a
 * scalar made in the constructor), so we replace that scalar; Adam reads `beta1` every step.
 */
export function applyHyperParams(optimizer: tf.Optimizer, lr: number, momentum: number): void {
  const o = optimizer as unknown as Record<string, unknown>;
  // By class name: tfjs optimizers override Symbol.hasInstance (any optimizer is `instanceof` each).
  const kind = optimizer.getClassName();
  if (kind === 'Momentum') {
    (optimizer as tf.MomentumOptimizer).setLearningRate(lr);
    const mo = optimizer as unknown as MomentumInternals;
    if (mo.momentum !== momentum || !mo.m) {
      mo.m?.dispose();
      mo.m = tf.keep(tf.scalar(momentum));
      mo.momentum = momentum;
    }
  } else if (kind === 'SGD') {
    (optimizer as tf.SGDOptimizer).setLearningRate(lr);
  } else if (kind === 'Adam' || kind === 'Adamax') {
    o.learningRate = lr;
    o.beta1 = momentum;
  } else if ('learningRate' in o) {
    // RMSProp, Adagrad, Adadelta: the LR field is read each step; they have no momentum to cycle
    // that maps onto the paper's (RMSProp's momentum is also baked into a constructor scalar).
    o.learningRate = lr;
  } else {
    throw new Error(`oneCycleCallback: cannot set the learning rate of ${optimizer.getClassName()}`);
  }
}

export interface OneCycleCallbackOptions {
  /** Step to start from (e.g. when resuming); default 0. */
  initialStep?: number;
  /** Called before each batch with the values applied (for logging). */
  onApply?: (step: number, lr: number, momentum: number) => void;
}

/**
 * A callback that applies `schedule.lr(step)` and `schedule.momentum(step)` before every batch of
 * `model.fit`, counting steps across epochs. `optimizer` defaults to the model's compiled one.
 */
export function oneCycleCallback(schedule: HyperSchedule, optimizer?: tf.Optimizer, options: OneCycleCallbackOptions = {}): CustomCallback {
  let step = options.initialStep ?? 0;
  let model: LayersModel | undefined;
  const cb = new CustomCallback({
    onBatchBegin: async () => {
      const opt = optimizer ?? model?.optimizer;
      if (!opt) throw new Error('oneCycleCallback: no optimizer (compile the model or pass one)');
      const lr = schedule.lr(step);
      const momentum = schedule.momentum(step);
      applyHyperParams(opt, lr, momentum);
      options.onApply?.(step, lr, momentum);
    },
    onBatchEnd: async () => {
      step++;
    },
  });
  // CustomCallback does not expose the model to its hooks: capture it when fit attaches it.
  const setModel = cb.setModel.bind(cb);
  cb.setModel = (m) => {
    model = m as LayersModel;
    setModel(m);
  };
  return cb;
}
