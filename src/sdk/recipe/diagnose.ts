/**
 * Fit diagnosis from the final training's curves (paper §3: tune until the test loss is horizontal,
 * balancing the regularisation of LR, batch size, weight decay and momentum).
 */
import type { Diagnosis, EpochRecord } from '../../report/schema.js';
import { fmt } from './decide.js';

export interface DiagnoseOptions {
  /** Relative drop of validation loss over the last epoch that counts as "still falling clearly". Default 0.02. */
  fallingTolerance?: number;
  /** Relative rise of the final validation loss above its minimum that counts as overfitting. Default 0.02. */
  risingTolerance?: number;
}

/** Histories shorter than this have no noise estimate: the tolerances alone decide. */
const NOISE_MIN_EPOCHS = 6;

/**
 * The epoch-to-epoch noise of the validation loss near the end: the standard deviation of its
 * relative changes over the last quarter of the epochs (at least 5), around their mean so that a
 * steady trend is not counted as noise. 0 for histories shorter than {@link NOISE_MIN_EPOCHS}.
 * A small validation set makes this large (the demo's 1,000 digits: ±9% per epoch at the end of a
 * 36-epoch run), and a change smaller than it is not read as a trend.
 */
export function valLossNoise(valLoss: readonly number[]): { noise: number; epochs: number } {
  const n = valLoss.length;
  if (n < NOISE_MIN_EPOCHS) return { noise: 0, epochs: 0 };
  const k = Math.min(n, Math.max(5, Math.ceil(n / 4)));
  const tail = valLoss.slice(n - k);
  const steps = tail.slice(1).map((v, i) => (v - tail[i]) / Math.max(Math.abs(tail[i]), 1e-12));
  const mean = steps.reduce((a, b) => a + b, 0) / steps.length;
  const variance = steps.reduce((a, b) => a + (b - mean) ** 2, 0) / (steps.length - 1);
  return { noise: Math.sqrt(variance), epochs: k };
}

export function diagnoseFit(history: readonly EpochRecord[], options: DiagnoseOptions = {}): Diagnosis {
  const fallTol = options.fallingTolerance ?? 0.02;
  const riseTol = options.risingTolerance ?? 0.02;
  const pts = history.filter((h) => h.epoch > 0 && h.valLoss != null && h.trainLoss != null) as (EpochRecord & {
    valLoss: number;
    trainLoss: number;
  })[];
  if (pts.length < 2) {
    return {
      verdict: 'unknown',
      reason: `only ${pts.length} epoch${pts.length === 1 ? '' : 's'} with validation loss; at least 2 are needed to read the curve`,
      suggestion: 'Train for more epochs (or evaluate more often) to diagnose the fit.',
    };
  }
  const n = pts.length;
  const last = pts[n - 1];
  const prev = pts[n - 2];
  let minIdx = 0;
  for (let i = 1; i < n; i++) if (pts[i].valLoss < pts[minIdx].valLoss) minIdx = i;
  const minVal = pts[minIdx].valLoss;
  const rise = (last.valLoss - minVal) / Math.max(Math.abs(minVal), 1e-12);
  const trainFell = last.trainLoss < pts[minIdx].trainLoss;
  // A change smaller than the curve's own epoch-to-epoch noise is not a trend (the minimum of a
  // noisy curve is itself one of its low draws).
  const { noise, epochs: noiseEpochs } = valLossNoise(pts.map((p) => p.valLoss));
  const noiseText = noise > 0 ? `its epoch-to-epoch noise (±${fmt(noise * 100)}% over the last ${noiseEpochs} epochs)` : '';
  if (minIdx < n - 1 && rise > Math.max(riseTol, noise)) {
    // The validation loss went back up. With the training loss falling that is overfitting; with it
    // rising too it is not a regularisation balance to tune but an unstable run.
    const rose = `validation loss rose from ${fmt(minVal)} at epoch ${pts[minIdx].epoch} to ${fmt(last.valLoss)} at epoch ${last.epoch} (+${fmt(rise * 100)}%${noise > riseTol ? `, more than ${noiseText}` : ''})`;
    return trainFell
      ? {
          verdict: 'overfitting',
          reason: `${rose} while training loss fell from ${fmt(pts[minIdx].trainLoss)} to ${fmt(last.trainLoss)}`,
          suggestion: 'Regularise more (paper §3): larger weight decay, a smaller batch size, or a larger learning rate; or train fewer epochs.',
        }
      : {
          verdict: 'diverged',
          reason: `${rose} and training loss rose with it (${fmt(pts[minIdx].trainLoss)} → ${fmt(last.trainLoss)})`,
          suggestion: 'Training became unstable: lower maxLr (the range test shows where the loss explodes), or use a larger batch; more epochs will not bring it back.',
        };
  }
  const drop = (prev.valLoss - last.valLoss) / Math.max(Math.abs(prev.valLoss), 1e-12);
  if (drop > Math.max(fallTol, noise)) {
    return {
      verdict: 'underfitting',
      reason: `validation loss still falling at the end: ${fmt(prev.valLoss)} → ${fmt(last.valLoss)} over the last epoch (−${fmt(drop * 100)}%${noise > fallTol ? `, more than ${noiseText}` : ''})`,
      suggestion: 'Regularise less or train longer (paper §3): a larger learning rate, less weight decay, or more epochs.',
    };
  }
  return {
    verdict: 'good-fit',
    reason:
      `validation loss is horizontal at the end: ${fmt(prev.valLoss)} → ${fmt(last.valLoss)} over the last epoch, ${fmt(rise * 100)}% above its minimum ${fmt(minVal)}` +
      (noise > Math.max(fallTol, riseTol) ? `, within ${noiseText}` : ''),
    suggestion: 'Keep these values; the regularisation is balanced (paper §3).',
  };
}
