/**
 * The MNIST training the accuracy benchmarks share (time-to-accuracy, lr-rule): the demo CNN on the
 * real digits, batch 128, seeded ±2-pixel shifts, wasm; epochs under a schedule with the test split
 * evaluated after each.
 */
import { randomShift, type MnistDigits } from '../src/demo/mnist.js';
import { buildDemoModel } from '../src/demo/model.js';
import type { HyperSchedule } from '../src/sdk/schedules/index.js';
import { tfjsTrainer, type TfjsTrainer } from '../src/sdk/trainers/tfjs.js';
import { fmtPct, fmtS, yieldToLoop } from './_common.js';

export const BATCH = 128;

export async function newTrainer(digits: MnistDigits, seed: number, optimizer: 'sgd' | 'adam', weightDecay: number): Promise<TfjsTrainer> {
  return tfjsTrainer({
    model: (s) => buildDemoModel({ seed: s }),
    data: { xTrain: digits.train.x, yTrain: digits.train.y, xVal: digits.validation.x, yVal: digits.validation.y, xTest: digits.test.x, yTest: digits.test.y },
    batchSize: BATCH,
    seed,
    optimizer,
    weightDecay,
    augment: randomShift({ seed, maxShift: 2 }),
  });
}

export interface RunRecord<M extends string = string> {
  method: M;
  seed: number;
  /** Test accuracy after each epoch. */
  testAccuracy: number[];
  /** Training seconds (steps only, evaluations excluded) at the end of each epoch, cumulative. */
  trainSeconds: number[];
  reachedEpoch: number | null;
  reachedSeconds: number | null;
  epochsRun: number;
}

/**
 * Trains epoch by epoch under `schedule`, evaluating the test split after each; stops after
 * `maxEpochs`, or once `target` is reached and at least `minEpochs` ran (for equal-epoch accuracy).
 */
export async function trainEpochsToTarget<M extends string>(
  method: M,
  digits: MnistDigits,
  seed: number,
  o: { optimizer: 'sgd' | 'adam'; weightDecay: number; schedule: (stepsPerEpoch: number) => HyperSchedule; maxEpochs: number; minEpochs: number; target: number },
): Promise<RunRecord<M>> {
  const trainer = await newTrainer(digits, seed, o.optimizer, o.weightDecay);
  const rec: RunRecord<M> = { method, seed, testAccuracy: [], trainSeconds: [], reachedEpoch: null, reachedSeconds: null, epochsRun: 0 };
  try {
    const schedule = o.schedule(trainer.stepsPerEpoch);
    let step = 0;
    let seconds = 0;
    for (let epoch = 1; epoch <= o.maxEpochs; epoch++) {
      const t0 = performance.now();
      for (let i = 0; i < trainer.stepsPerEpoch; i++, step++) {
        const loss = await trainer.step({ lr: schedule.lr(step), momentum: schedule.momentum(step) });
        if (!Number.isFinite(loss)) throw new Error(`${method} seed ${seed}: loss ${loss} at step ${step}`);
      }
      seconds += (performance.now() - t0) / 1000;
      const acc = (await trainer.evaluate('test')).accuracy ?? NaN;
      rec.testAccuracy.push(acc);
      rec.trainSeconds.push(seconds);
      rec.epochsRun = epoch;
      if (rec.reachedEpoch == null && acc >= o.target) {
        rec.reachedEpoch = epoch;
        rec.reachedSeconds = seconds;
      }
      console.log(`  ${method.padEnd(8)} seed ${seed} epoch ${String(epoch).padStart(2)}: test ${fmtPct(acc)}  (${fmtS(seconds)} training)`);
      await yieldToLoop();
      if (rec.reachedEpoch != null && epoch >= o.minEpochs) break;
    }
  } finally {
    trainer.dispose();
  }
  return rec;
}
