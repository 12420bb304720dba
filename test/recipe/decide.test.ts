import { describe, expect, it } from 'vitest';
import { bisectExponent, decideByValLoss, oneSignificantFigure, tailNoise, weightDecayGrid } from '../../src/sdk/recipe/decide.js';
import { diagnoseFit, valLossNoise } from '../../src/sdk/recipe/diagnose.js';
import { MAX_BUDGET_SECONDS, MIN_BUDGET_SECONDS, bandSteps, parseBudget, splitBudget, stepsFor } from '../../src/sdk/recipe/budget.js';
import { rangeTestIters } from '../../src/sdk/recipe/stages/lr.js';
import type { StageContext } from '../../src/sdk/recipe/context.js';
import { UserInputError } from '../../src/errors.js';

describe('decideByValLoss', () => {
  it('picks the lowest validation loss and states the numbers in one sentence', () => {
    const d = decideByValLoss({
      parameter: 'weightDecay',
      label: 'WD',
      measured: [
        { value: 1e-3, metric: 0.093, noise: 0.001, at: 'step 300' },
        { value: 1e-4, metric: 0.081, noise: 0.001, at: 'step 300' },
        { value: 1e-2, metric: 0.2, noise: 0.001, at: 'step 300' },
      ],
    });
    expect(d.winner).toBe(1e-4);
    expect(d.confidence).toBe('high');
    expect(d.summary).toBe('WD 1e-4: val loss 0.081 at step 300 vs 0.093 for 1e-3.');
    expect(d.candidates.map((c) => c.metric)).toEqual([0.093, 0.081, 0.2]);
  });

  it('says low confidence when the difference is inside the noise of the last points', () => {
    const d = decideByValLoss({
      parameter: 'momentum',
      label: 'Momentum',
      measured: [
        { value: 0.99, metric: 0.5, noise: 0.03 },
        { value: 0.95, metric: 0.49, noise: 0.02 },
      ],
    });
    expect(d.winner).toBe(0.95);
    expect(d.confidence).toBe('low');
    expect(d.confidenceReason).toMatch(/inside the noise 0\.036/);
  });

  it('keeps the preferred default when the best beats it by no more than the noise, and not otherwise', () => {
    const measured = [
      { value: 0.99, metric: 0.47, noise: 0.03 },
      { value: 0.95, metric: 0.49, noise: 0.02 },
      { value: 0.9, metric: 0.6, noise: 0.02 },
    ];
    const kept = decideByValLoss({ parameter: 'momentum', label: 'Momentum', measured, prefer: { value: 0.95, why: "the paper's default 0.95" } });
    expect(kept.winner).toBe(0.95);
    expect(kept.confidence).toBe('low');
    expect(kept.summary).toBe("Momentum 0.95: val loss 0.49 vs 0.47 for 0.99 (inside the noise: kept the paper's default 0.95).");
    expect(kept.rule).toMatch(/within the noise, the paper's default 0\.95 is kept/);
    // a clear winner (0.3 better, noise 0.036) beats the default
    const clear = decideByValLoss({
      parameter: 'momentum',
      label: 'Momentum',
      measured: [{ value: 0.99, metric: 0.19, noise: 0.03 }, ...measured.slice(1)],
      prefer: { value: 0.95, why: "the paper's default 0.95" },
    });
    expect(clear.winner).toBe(0.99);
    expect(clear.confidence).toBe('high');
  });

  it('ranks diverged (null) candidates last and has no winner when all diverged', () => {
    const d = decideByValLoss({ parameter: 'm', label: 'M', measured: [{ value: 0.99, metric: null, noise: 0 }, { value: 0.9, metric: 1.2, noise: 0 }] });
    expect(d.winner).toBe(0.9);
    expect(d.candidates[0].note).toMatch(/diverged/);
    const none = decideByValLoss({ parameter: 'm', label: 'M', measured: [{ value: 0.99, metric: null, noise: 0 }] });
    expect(none.winner).toBeNull();
    expect(none.confidence).toBe('low');
  });
});

describe('noise and weight-decay arithmetic', () => {
  it('tailNoise ignores a straight trend and measures the scatter around it', () => {
    expect(tailNoise([1.0, 0.9, 0.8, 0.7])).toBeCloseTo(0, 12);
    // residuals +e, -e, -e, +e around the fitted line → sqrt(4 e^2 / 2) with e = 0.01
    expect(tailNoise([1.01, 0.89, 0.79, 0.71])).toBeCloseTo(Math.sqrt((4 * 0.01 ** 2) / 2), 6);
    expect(tailNoise([0.5, 0.4])).toBe(0);
  });

  it('picks the grid from the hint (paper §4.4) and bisects the exponent to one significant figure', () => {
    expect(weightDecayGrid('complex')).toEqual([1e-4, 1e-5, 1e-6, 0]);
    expect(weightDecayGrid('simple')).toEqual([1e-2, 1e-3, 1e-4]);
    expect(bisectExponent(1e-4, 1e-3, [1e-4, 1e-3])).toBe(3e-4);
    expect(bisectExponent(1e-2, 1e-3, [])).toBe(3e-3);
    expect(bisectExponent(1e-6, 0, [])).toBeNull();
    expect(bisectExponent(1e-4, 1e-3, [3e-4])).toBeNull();
    expect(oneSignificantFigure(3.16e-4)).toBe(3e-4);
    expect(oneSignificantFigure(0.000678)).toBe(7e-4);
  });
});

describe('diagnoseFit', () => {
  const h = (vals: [number, number][]) => vals.map(([trainLoss, valLoss], i) => ({ epoch: i + 1, step: (i + 1) * 10, trainLoss, valLoss, seconds: i }));
  it('underfitting when validation loss is still falling clearly at the end', () => {
    const d = diagnoseFit(h([[1, 1], [0.8, 0.8], [0.6, 0.65]]));
    expect(d.verdict).toBe('underfitting');
    expect(d.suggestion).toMatch(/larger learning rate, less weight decay, or more epochs/);
  });
  it('overfitting when validation loss rises while training loss falls', () => {
    const d = diagnoseFit(h([[1, 0.5], [0.6, 0.4], [0.3, 0.45], [0.2, 0.5]]));
    expect(d.verdict).toBe('overfitting');
    expect(d.reason).toMatch(/rose from 0.4 at epoch 2 to 0.5 at epoch 4/);
    expect(d.suggestion).toMatch(/more weight decay|larger weight decay/);
  });
  it('diverged when validation and training loss both go back up (a collapsed run is not a good fit)', () => {
    // a real collapse: 1cycle at too high a maxLr, val accuracy 52% -> 12.5% (chance)
    const d = diagnoseFit(h([[2.04, 1.95], [2.14, 1.79], [3.37, 2.31], [2.31, 2.3]]));
    expect(d.verdict).toBe('diverged');
    expect(d.reason).toMatch(/rose from 1.79 at epoch 2 to 2.3 at epoch 4 .* training loss rose with it \(2.14 → 2.31\)/);
    expect(d.suggestion).toMatch(/lower maxLr/);
  });
  it('good fit when the validation loss is horizontal at the end', () => {
    expect(diagnoseFit(h([[1, 0.6], [0.5, 0.401], [0.45, 0.4]])).verdict).toBe('good-fit');
  });
  it('unknown with fewer than two epochs', () => {
    expect(diagnoseFit(h([[1, 0.6]])).verdict).toBe('unknown');
  });
  // The demo's final training of 2026-12-04 (36-epoch 1cycle, 1,000 validation digits): the last
  // epoch's validation loss is 3% above the previous one, while epoch-to-epoch it moves by ±8.9%.
  const demo: [number, number][] = [[0.8934,0.2181],[0.2776,0.1765],[0.1918,0.1215],[0.1681,0.1485],[0.1503,0.09861],[0.1167,0.1159],[0.1083,0.126],[0.1007,0.1071],[0.09294,0.07747],[0.09301,0.08636],[0.09319,0.09408],[0.08303,0.09231],[0.0878,0.08577],[0.08393,0.07729],[0.08782,0.1024],[0.09247,0.061],[0.08102,0.08691],[0.07498,0.07749],[0.08147,0.06716],[0.06373,0.07491],[0.05385,0.06768],[0.06157,0.0665],[0.05606,0.06063],[0.04453,0.05511],[0.04337,0.05719],[0.03788,0.05623],[0.03418,0.05225],[0.0304,0.05318],[0.02966,0.04813],[0.02551,0.04454],[0.02131,0.03924],[0.01942,0.04492],[0.01557,0.04163],[0.0126,0.03737],[0.01368,0.03432],[0.01124,0.03536]];
  it('does not read a rise inside the curve\'s epoch-to-epoch noise as overfitting (the demo\'s curve)', () => {
    const { noise, epochs } = valLossNoise(demo.map(([, v]) => v));
    expect(epochs).toBe(9);
    expect(noise).toBeGreaterThan(0.08);
    expect(noise).toBeLessThan(0.11);
    const d = diagnoseFit(h(demo));
    expect(d.verdict).toBe('good-fit');
    expect(d.reason).toMatch(/0\.0343 → 0\.0354 over the last epoch, 3\.03% above its minimum 0\.0343, within its epoch-to-epoch noise \(±8\.94% over the last 9 epochs\)/);
    // the same curve with the tolerances alone (as before the noise estimate) was called overfitting
    expect(diagnoseFit(h(demo.slice(-5))).verdict).toBe('overfitting');
  });
  it('still calls a steady rise overfitting when it is larger than the noise of a noisy curve', () => {
    // ±8% noise around a floor, then 5 epochs climbing 10% each while training loss keeps falling
    const wobble = [1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1].map((s, i) => [0.5 - i * 0.02, 0.1 * (1 + 0.04 * s)] as [number, number]);
    const climb = [1, 2, 3, 4, 5].map((j) => [0.26 - j * 0.02, 0.104 * 1.1 ** j] as [number, number]);
    const d = diagnoseFit(h([...wobble, ...climb]));
    expect(d.verdict).toBe('overfitting');
    expect(d.reason).toMatch(/rose from 0\.096 at epoch \d+ to 0\.167 at epoch 17/);
  });
  it('does not read a last drop inside the noise as underfitting, and does read one beyond it', () => {
    const wobble = [1, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1].map((s, i) => [0.5 - i * 0.02, 0.1 * (1 + 0.06 * s)] as [number, number]);
    // last step 0.106 → 0.094: −11%, the curve's own ±12%-steps; then a drop of 40% at the end
    expect(diagnoseFit(h([...wobble, [0.27, 0.094]])).verdict).not.toBe('underfitting');
    const d = diagnoseFit(h([...wobble, [0.27, 0.0636]]));
    expect(d.verdict).toBe('underfitting');
    expect(d.reason).toMatch(/−40%, more than its epoch-to-epoch noise/);
  });
});

describe('budget', () => {
  it('parses 15m, 90s, 1h30m and seconds', () => {
    expect(parseBudget('15m')).toBe(900);
    expect(parseBudget('90s')).toBe(90);
    expect(parseBudget('1h30m')).toBe(5400);
    expect(parseBudget('2.5m')).toBe(150);
    expect(parseBudget(42)).toBe(42);
    expect(parseBudget('42')).toBe(42);
  });
  it('rejects nonsense naming the option', () => {
    expect(() => parseBudget('soon')).toThrow(UserInputError);
    expect(() => parseBudget('15x')).toThrow(/budget: not a duration — got "15x"/);
    expect(() => parseBudget(0)).toThrow(/budget/);
  });
  const ALLOWED = "seconds (e.g. 900) or a duration of h, m and s parts without spaces ('90s', '15m', '1h30m'; parts add up: '1h90m' is 2h30m)";
  const problem = (value: unknown, minSeconds = MIN_BUDGET_SECONDS) => {
    try {
      parseBudget(value, '--budget', minSeconds);
      return null;
    } catch (e) {
      return (e as Error).message;
    }
  };
  it('adds up parts like Go\'s time.ParseDuration (h, m, s only) and refuses spaces inside, whatever the caller', () => {
    expect(parseBudget('1h90m')).toBe(9000);
    expect(parseBudget('1h30m')).toBe(5400);
    expect(parseBudget(' 2.5m ')).toBe(150);
    for (const text of ['5m 3s', '1 2 3', '15 m', '1e3', '-5m', '.5s', '1d', ''])
      expect(problem(text), text).toBe(`--budget: not a duration — got ${JSON.stringify(text)}; allowed: ${ALLOWED}, from 10 s to 7 days (168h)`);
    expect(problem(true)).toBe(`--budget: not a number of seconds or a duration string — got true; allowed: ${ALLOWED}, from 10 s to 7 days (168h)`);
  });
  it('takes 10 s to 7 days from a person (CLI, config) and any positive budget up to 7 days from the SDK', () => {
    expect(MIN_BUDGET_SECONDS).toBe(10);
    expect(MAX_BUDGET_SECONDS).toBe(604800);
    expect(parseBudget('168h', 'budget', MIN_BUDGET_SECONDS)).toBe(604800);
    expect(parseBudget('10s', 'budget', MIN_BUDGET_SECONDS)).toBe(10);
    expect(problem('999999999h')).toBe(`--budget: longer than 7 days (3599999996400 s) — got "999999999h"; allowed: ${ALLOWED}, from 10 s to 7 days (168h)`);
    expect(problem(1e9)).toBe(`--budget: longer than 7 days (1000000000 s) — got 1000000000; allowed: ${ALLOWED}, from 10 s to 7 days (168h)`);
    expect(problem('0.001s')).toBe(`--budget: shorter than 10 s (0.001 s): too short for calibration and the stages' minimum steps — got "0.001s"; allowed: ${ALLOWED}, from 10 s to 7 days (168h)`);
    expect(problem(0)).toBe(`--budget: not a positive duration — got 0; allowed: ${ALLOWED}, from 10 s to 7 days (168h)`);
    // the SDK (minSeconds 0): a simulated clock may plan in fractions of a second, never past a week
    expect(parseBudget(0.5)).toBe(0.5);
    expect(problem(604801, 0)).toBe(`--budget: longer than 7 days (604801 s) — got 604801; allowed: ${ALLOWED}, up to 7 days (168h)`);
  });
  it('gives half to the final training and splits the rest over the tuning stages', () => {
    const all = splitBudget(100, ['lr', 'batch-size', 'momentum', 'weight-decay', 'lr-recheck', 'final']);
    expect(all.final).toBeCloseTo(50, 9);
    expect(Object.values(all).reduce((a, b) => a + b, 0)).toBeCloseTo(100, 9);
    const two = splitBudget(60, ['momentum', 'final']);
    expect(two.momentum + two.final).toBeCloseTo(60, 9);
    expect(two.final / two.momentum).toBeCloseTo(0.5 / 0.12, 9);
  });
  it('rounds planned step counts down to a 10-12-15-20-25-30-40-50-60-80 series, giving up at most a quarter', () => {
    const cases: [number, number][] = [[4, 4], [9, 9], [10, 10], [11, 10], [14, 12], [19, 15], [24, 20], [39, 30], [40, 40], [99, 80], [100, 100], [173, 150], [191, 150], [199, 150], [200, 200], [299, 250], [1234, 1200]];
    expect(cases.map(([n]) => bandSteps(n))).toEqual(cases.map(([, b]) => b));
    for (let n = 10; n <= 5000; n++) {
      const b = bandSteps(n);
      expect(b).toBeLessThanOrEqual(n);
      expect(b).toBeGreaterThan(0.75 * n);
      expect(bandSteps(b)).toBe(b);
      if (n > 10) expect(b).toBeGreaterThanOrEqual(bandSteps(n - 1));
    }
  });
  it("plans the same range test on two machines whose step times differ by 10% (two demo runs: 173 and 191 points)", () => {
    const ctx = (budgetSeconds: number) => ({ settings: { lr: {} }, budgetSeconds }) as unknown as StageContext;
    // The demo's lr share of a 7-minute budget, at two measured step times 10% apart.
    const share = 21;
    expect(stepsFor(share, 0.121, 0, 0, 40)).toBe(173);
    expect(stepsFor(share, 0.11, 0, 0, 40)).toBe(190);
    expect(rangeTestIters(ctx(share), 0.121)).toBe(150);
    expect(rangeTestIters(ctx(share), 0.11)).toBe(150);
    // The floor and the cap stay: a tiny budget still sweeps 40 steps, a large one at most 300.
    expect(rangeTestIters(ctx(1), 0.1)).toBe(40);
    expect(rangeTestIters(ctx(600), 0.1)).toBe(300);
  });
});
