/**
 * The demo CNN: small enough to train in minutes on the wasm backend (2 cores, one thread), large
 * enough to pass 98% on the held-out digits with 1cycle. Every initialiser is seeded so that the same
 * seed gives the same starting weights (bit-identical runs on one backend).
 */
import * as tf from '@tensorflow/tfjs-layers';
import { checkNumber } from '../errors.js';

export interface DemoModelOptions {
  seed: number;
  /** Filters of the two conv layers. */
  filters?: [number, number];
  /** Units of the hidden dense layer. */
  denseUnits?: number;
}

export const DEMO_MODEL_DEFAULTS = { filters: [16, 32] as [number, number], denseUnits: 128 };

/**
 * conv3x3(f1)-relu-maxpool2 → conv3x3(f2)-relu-maxpool2 → dense(units)-relu → dense(10)-softmax,
 * input 28x28x1 (NHWC). No dropout: tfjs's Dropout layer with a seed draws the same mask every step,
 * and without one it is not reproducible; the demo regularises with seeded random shifts instead.
 */
export function buildDemoModel(opts: DemoModelOptions): tf.LayersModel {
  const seed = checkNumber('seed', opts.seed, { integer: true, min: 0 });
  const [f1, f2] = opts.filters ?? DEMO_MODEL_DEFAULTS.filters;
  checkNumber('filters[0]', f1, { integer: true, min: 1 });
  checkNumber('filters[1]', f2, { integer: true, min: 1 });
  const units = checkNumber('denseUnits', opts.denseUnits ?? DEMO_MODEL_DEFAULTS.denseUnits, { integer: true, min: 1 });
  // Distinct seeds per layer: the same seed would give correlated filters of equal shape.
  const he = (k: number) => tf.initializers.heNormal({ seed: seed * 7919 + k });
  const glorot = (k: number) => tf.initializers.glorotUniform({ seed: seed * 7919 + k });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [28, 28, 1],
        filters: f1,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: he(1),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: f2, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: he(2) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units, activation: 'relu', kernelInitializer: he(3) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: glorot(4) }),
    ],
  });
  return model;
}
