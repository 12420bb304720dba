export { tune, parseTuneSettings, type TuneResult } from './tune.js';
export {
  STAGE_IDS,
  type StageId,
  type TuneOptions,
  type TuneSettings,
  type TuneSettingsInput,
  type ProgressEvent,
  TuneSettingsSchema,
} from './options.js';
export { loadTuneConfig, loadTrainerFactory, tuneOptionsFromConfig, tuneConfigJsonSchema, TuneConfigSchema, type TuneConfig, type LoadedTuneConfig } from './config.js';
export { ConfigError, StageFailedError, TuneError, TuneInterruptedError, exitCodeFor, type ConfigIssue } from './errors.js';
export { parseBudget, splitBudget, BUDGET_SHARES } from './budget.js';
export { decideByValLoss, tailNoise, oneSignificantFigure, weightDecayGrid, bisectExponent, type Measured, type ProblemHint } from './decide.js';
export { diagnoseFit, type DiagnoseOptions } from './diagnose.js';
export { resolveRunDir } from './persist.js';
