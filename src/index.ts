/**
 * superconverge: Leslie Smith's disciplined approach to hyper-parameters (arXiv 1803.09820) for
 * TensorFlow.js — the SDK (schedules, LR range test, the recipe, trackers), the TuningReport
 * contract and its reporters.
 */
export * from './sdk/index.js';
export * from './report/index.js';
export * from './reporters/index.js';
export { UserInputError } from './errors.js';
export { loadBackend, describeBackend, type BackendPreference, type LoadedBackend } from './sdk/trainers/backend.js';
export { tfjsTrainer, tfjsTrainerFactory, TfjsTrainer, type TfjsTrainerOptions, type TensorData, type DatasetData } from './sdk/trainers/tfjs.js';
export { oneCycleCallback, applyHyperParams } from './sdk/trainers/callback.js';
export { registerWasmConvGradients } from './sdk/trainers/wasm-conv-kernels.js';
export { registerWasmPoolGradients } from './sdk/trainers/wasm-pool-kernels.js';
export { registerWasmMatMulFix } from './sdk/trainers/wasm-matmul-kernels.js';
