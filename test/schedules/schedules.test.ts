import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { UserInputError } from '../../src/errors.js';
import {
  type HyperSchedule,
  cyclicLr,
  fitOneCycle,
  oneCycle,
  oneCycleCosine,
  piecewise,
  schedLin,
} from '../../src/sdk/schedules/index.js';

interface RefCase {
  name: string;
  source: string;
  params: Record<string, number | boolean | string>;
  lr: number[];
  momentum: number[];
}
const refPath = fileURLToPath(new URL('../fixtures/shared/schedules.json', import.meta.url));
const reference = JSON.parse(readFileSync(refPath, 'utf8')) as { cases: RefCase[] };

const silent = () => {};

function fromReference(c: RefCase): HyperSchedule {
  const p = c.params as Record<string, any>;
  if (c.name.startsWith('torch-onecycle')) {
    return oneCycleCosine({
      maxLr: p.max_lr,
      totalSteps: p.total_steps,
      threePhase: p.three_phase,
      annealStrategy: p.anneal_strategy,
      onOverrun: silent,
    });
  }
  if (c.name.startsWith('fastai-fit-one-cycle')) return fitOneCycle({ maxLr: p.lr_max, totalSteps: p.n_iter, onOverrun: silent });
  if (c.name.startsWith('torch-cyclic')) {
    return cyclicLr({ baseLr: p.base_lr, maxLr: p.max_lr, stepSizeUp: p.step_size_up, mode: p.mode, totalSteps: p.n, onOverrun: silent });
  }
  throw new Error(`no schedule for reference case ${c.name}`);
}

const relErr = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), Number.MIN_VALUE);

describe('reference vectors (torch OneCycleLR/CyclicLR, fastai fit_one_cycle)', () => {
  it('holds every case of the reference file', () => {
    expect(reference.cases.length).toBeGreaterThanOrEqual(7);
  });
  for (const c of reference.cases) {
    it(`${c.name} matches lr and momentum to 1e-9 relative`, () => {
      const s = fromReference(c);
      expect(s.totalSteps).toBe(c.lr.length);
      for (let i = 0; i < c.lr.length; i++) {
        expect(relErr(s.lr(i), c.lr[i]), `lr[${i}]`).toBeLessThan(1e-9);
        expect(relErr(s.momentum(i), c.momentum[i]), `momentum[${i}]`).toBeLessThan(1e-9);
      }
    });
  }
});

describe('oneCycle (the paper shape)', () => {
  const s = oneCycle({ maxLr: 1, totalSteps: 101, onOverrun: silent });

  it('starts at maxLr/10, peaks at maxLr at 45% of the steps, is back at minLr at 90%, ends at maxLr/1000', () => {
    expect(s.lr(0)).toBeCloseTo(0.1, 12);
    expect(s.lr(45)).toBeCloseTo(1, 12);
    expect(s.lr(90)).toBeCloseTo(0.1, 12);
    expect(s.lr(100)).toBeCloseTo(0.001, 12);
  });

  it('is linear in every phase', () => {
    expect(s.lr(20)).toBeCloseTo(0.1 + 0.9 * (20 / 45), 12);
    expect(s.lr(60)).toBeCloseTo(1 - 0.9 * (15 / 45), 12);
    expect(s.lr(95)).toBeCloseTo(0.1 - 0.099 * (5 / 10), 12);
  });

  it('mirrors momentum 0.95 -> 0.85 -> 0.95 and holds 0.95 during annihilation', () => {
    expect(s.momentum(0)).toBeCloseTo(0.95, 12);
    expect(s.momentum(45)).toBeCloseTo(0.85, 12);
    expect(s.momentum(20)).toBeCloseTo(0.95 - 0.1 * (20 / 45), 12);
    expect(s.momentum(90)).toBeCloseTo(0.95, 12);
    expect(s.momentum(97)).toBe(0.95);
    expect(s.momentum(100)).toBe(0.95);
  });

  it('takes minLr, finalLr, annihilationPct and momenta from the options', () => {
    const t = oneCycle({ maxLr: 2, totalSteps: 11, minLr: 0.5, finalLr: 0.01, annihilationPct: 0.2, momentumMax: 0.9, momentumMin: 0.8, onOverrun: silent });
    // cycle = 0.8 of progress: peak at step 4, back to minLr at step 8, final at step 10.
    expect(t.lr(0)).toBeCloseTo(0.5, 12);
    expect(t.lr(4)).toBeCloseTo(2, 12);
    expect(t.lr(8)).toBeCloseTo(0.5, 12);
    expect(t.lr(9)).toBeCloseTo(0.255, 12);
    expect(t.lr(10)).toBeCloseTo(0.01, 12);
    expect(t.momentum(4)).toBeCloseTo(0.8, 12);
    expect(t.momentum(10)).toBeCloseTo(0.9, 12);
  });

  it('annihilationPct 0 gives a plain triangle ending at minLr', () => {
    const t = oneCycle({ maxLr: 1, totalSteps: 5, annihilationPct: 0, onOverrun: silent });
    expect([0, 1, 2, 3, 4].map((i) => t.lr(i))).toEqual([0.1, 0.55, 1, 0.55, 0.1].map((v) => expect.closeTo(v, 12)));
  });
});

describe('degenerate lengths give finite values inside the bounds', () => {
  const builders: Record<string, (n: number) => HyperSchedule> = {
    oneCycle: (n) => oneCycle({ maxLr: 1, totalSteps: n, onOverrun: silent }),
    'oneCycle without tail': (n) => oneCycle({ maxLr: 1, totalSteps: n, annihilationPct: 0, onOverrun: silent }),
    oneCycleCosine: (n) => oneCycleCosine({ maxLr: 1, totalSteps: n, onOverrun: silent }),
    'oneCycleCosine threePhase': (n) => oneCycleCosine({ maxLr: 1, totalSteps: n, threePhase: true, pctStart: 0.5, onOverrun: silent }),
    'oneCycleCosine tiny pctStart': (n) => oneCycleCosine({ maxLr: 1, totalSteps: n, pctStart: 0.01, onOverrun: silent }),
    fitOneCycle: (n) => fitOneCycle({ maxLr: 1, totalSteps: n, onOverrun: silent }),
    'cyclicLr no rise': (n) => cyclicLr({ baseLr: 0.1, maxLr: 1, stepSizeUp: 0, stepSizeDown: 2, mode: 'triangular', totalSteps: n, onOverrun: silent }),
    'cyclicLr no fall': (n) => cyclicLr({ baseLr: 0.1, maxLr: 1, stepSizeUp: 2, stepSizeDown: 0, mode: 'triangular2', totalSteps: n, onOverrun: silent }),
  };
  for (const [name, build] of Object.entries(builders)) {
    for (const n of [1, 2, 3]) {
      it(`${name} with totalSteps ${n}`, () => {
        const s = build(n);
        for (let i = 0; i < n + 2; i++) {
          const lr = s.lr(i);
          const m = s.momentum(i);
          expect(Number.isFinite(lr), `lr(${i}) = ${lr}`).toBe(true);
          expect(lr).toBeGreaterThan(0);
          expect(lr).toBeLessThanOrEqual(1);
          expect(m).toBeGreaterThanOrEqual(0.8);
          expect(m).toBeLessThanOrEqual(0.95);
        }
      });
    }
  }

  it('a zero-length phase takes its end value instead of 0/0 (torch gives NaN for pctStart·T = 1)', () => {
    // torch: end_step of phase 1 = 0.25·4 − 1 = 0 → pct = 0/0 at step 0.
    const s = oneCycleCosine({ maxLr: 1, totalSteps: 4, pctStart: 0.25, onOverrun: silent });
    expect(s.lr(0)).toBe(1);
    expect(s.momentum(0)).toBe(0.85);
    expect(s.lr(3)).toBeCloseTo(0.04 / 1e4, 15);
  });

  it('cyclicLr with stepSizeUp 0 is a falling sawtooth from maxLr', () => {
    const s = cyclicLr({ baseLr: 0.1, maxLr: 1, stepSizeUp: 0, stepSizeDown: 2, mode: 'triangular', totalSteps: 6, onOverrun: silent });
    expect([0, 1, 2, 3].map((i) => s.lr(i))).toEqual([1, 0.55, 1, 0.55]);
  });

  it('piecewise picks the piece by position, ends inclusive', () => {
    const f = piecewise([0, 1, 1, 3], [schedLin(0, 10), schedLin(99, 98), schedLin(10, 0)]);
    expect([0, 0.5, 1, 2, 3, 4].map(f)).toEqual([0, 5, 10, 5, 0, 0]);
  });
});

describe('cyclicLr', () => {
  it('exp_range scales the wave by gamma^step', () => {
    const s = cyclicLr({ baseLr: 0.1, maxLr: 1, stepSizeUp: 2, mode: 'exp_range', gamma: 0.9, totalSteps: 12, onOverrun: silent });
    expect(s.lr(2)).toBeCloseTo(0.1 + 0.9 * 0.81, 12);
    expect(s.lr(6)).toBeCloseTo(0.1 + 0.9 * 0.9 ** 6, 12);
    expect(s.lr(5)).toBeCloseTo(0.1 + 0.9 * 0.5 * 0.9 ** 5, 12);
    expect(s.momentum(6)).toBeCloseTo(0.9 - 0.1 * 0.9 ** 6, 12);
  });

  it('keeps momentum at maxMomentum when cycleMomentum is false', () => {
    const s = cyclicLr({ baseLr: 0.1, maxLr: 1, stepSizeUp: 2, mode: 'triangular', cycleMomentum: false, totalSteps: 8, onOverrun: silent });
    expect([0, 1, 2, 3].map((i) => s.momentum(i))).toEqual([0.9, 0.9, 0.9, 0.9]);
  });

  it('uses stepSizeDown for an asymmetric wave', () => {
    const s = cyclicLr({ baseLr: 0.1, maxLr: 0.5, stepSizeUp: 1, stepSizeDown: 3, mode: 'triangular', totalSteps: 8, onOverrun: silent });
    const expected = [0.1, 0.5, 0.5 - 0.4 / 3, 0.5 - 0.8 / 3, 0.1, 0.5];
    expected.forEach((v, i) => expect(s.lr(i)).toBeCloseTo(v, 12));
  });
});

describe('past the last step', () => {
  afterEach(() => vi.restoreAllMocks());

  it('holds the final value and reports the overrun once per schedule', () => {
    const calls: Array<[number, number]> = [];
    const s = oneCycleCosine({ maxLr: 1, totalSteps: 10, onOverrun: (step, total) => calls.push([step, total]) });
    expect(s.lr(12)).toBe(s.lr(9));
    expect(s.momentum(50)).toBe(s.momentum(9));
    expect(s.lr(1000)).toBe(4e-6);
    expect(calls).toEqual([[12, 10]]);
  });

  it('warns through process.emitWarning once by default', () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const s = oneCycle({ maxLr: 1, totalSteps: 3 });
    expect(s.lr(2)).toBeCloseTo(0.001, 12);
    expect(warn).not.toHaveBeenCalled();
    expect(s.lr(3)).toBeCloseTo(0.001, 12);
    expect(s.lr(4)).toBeCloseTo(0.001, 12);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0][0])).toMatch(/step 3 but has 3 steps/);
  });

  it('rejects a negative step', () => {
    expect(() => oneCycle({ maxLr: 1, totalSteps: 3 }).lr(-1)).toThrow(RangeError);
  });
});

describe('invalid arguments fail at construction with a UserInputError naming the option', () => {
  const cases: Array<[string, () => unknown, string]> = [
    ['maxLr 0', () => oneCycle({ maxLr: 0, totalSteps: 10 }), 'maxLr'],
    ['maxLr negative', () => oneCycleCosine({ maxLr: -1, totalSteps: 10 }), 'maxLr'],
    ['maxLr NaN', () => fitOneCycle({ maxLr: NaN, totalSteps: 10 }), 'maxLr'],
    ['totalSteps 0', () => oneCycle({ maxLr: 1, totalSteps: 0 }), 'totalSteps'],
    ['totalSteps 2.5', () => oneCycleCosine({ maxLr: 1, totalSteps: 2.5 }), 'totalSteps'],
    ['momentumMax 1', () => oneCycle({ maxLr: 1, totalSteps: 10, momentumMax: 1 }), 'momentumMax'],
    ['momentumMin negative', () => oneCycleCosine({ maxLr: 1, totalSteps: 10, momentumMin: -0.1 }), 'momentumMin'],
    ['pctStart 0', () => oneCycleCosine({ maxLr: 1, totalSteps: 10, pctStart: 0 }), 'pctStart'],
    ['pctStart 1', () => fitOneCycle({ maxLr: 1, totalSteps: 10, pctStart: 1 }), 'pctStart'],
    ['pctStart 0.6 with threePhase', () => oneCycleCosine({ maxLr: 1, totalSteps: 10, pctStart: 0.6, threePhase: true }), 'pctStart'],
    ['annihilationPct 1', () => oneCycle({ maxLr: 1, totalSteps: 10, annihilationPct: 1 }), 'annihilationPct'],
    ['minLr above maxLr', () => oneCycle({ maxLr: 1, totalSteps: 10, minLr: 2 }), 'minLr'],
    ['momentumMin above momentumMax', () => oneCycle({ maxLr: 1, totalSteps: 10, momentumMax: 0.8, momentumMin: 0.95 }), 'momentumMin'],
    ['momentumMin above momentumMax (cosine)', () => oneCycleCosine({ maxLr: 1, totalSteps: 10, momentumMax: 0.8, momentumMin: 0.95 }), 'momentumMin'],
    ['momentumMin above momentumMax (fastai)', () => fitOneCycle({ maxLr: 1, totalSteps: 10, momentumMax: 0.8, momentumMin: 0.95 }), 'momentumMin'],
    ['annealStrategy unknown', () => oneCycleCosine({ maxLr: 1, totalSteps: 10, annealStrategy: 'exp' as 'cos' }), 'annealStrategy'],
    ['cyclic mode unknown', () => cyclicLr({ baseLr: 0.1, maxLr: 1, stepSizeUp: 2, mode: 'sine' as 'triangular', totalSteps: 10 }), 'mode'],
    ['cyclic zero-length cycle', () => cyclicLr({ baseLr: 0.1, maxLr: 1, stepSizeUp: 0, mode: 'triangular', totalSteps: 10 }), 'stepSizeUp'],
    ['cyclic baseLr above maxLr', () => cyclicLr({ baseLr: 2, maxLr: 1, stepSizeUp: 2, mode: 'triangular', totalSteps: 10 }), 'baseLr'],
    ['cyclic gamma 0', () => cyclicLr({ baseLr: 0.1, maxLr: 1, stepSizeUp: 2, mode: 'exp_range', gamma: 0, totalSteps: 10 }), 'gamma'],
  ];
  for (const [name, build, option] of cases) {
    it(name, () => {
      let error: unknown;
      try {
        build();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(UserInputError);
      expect((error as UserInputError).option).toBe(option);
      expect((error as Error).message).toContain(option);
    });
  }
});
