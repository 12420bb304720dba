/** Schedules: pure functions of the step (no TensorFlow.js, no I/O, no clock). */
export { type HyperSchedule, type OverrunHandler, makeHyperSchedule, warnOverrun } from './schedule.js';
export { type Sched, piecewise, schedConst, schedCos, schedLin } from './sched.js';
export {
  type FitOneCycleOptions,
  type OneCycleCosineOptions,
  type OneCycleOptions,
  fitOneCycle,
  oneCycle,
  oneCycleCosine,
} from './one-cycle.js';
export { type CyclicLrOptions, type CyclicMode, cyclicLr } from './cyclic.js';
