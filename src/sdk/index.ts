/** The SDK's public exports (a list of re-exports; each concept lives in its folder). */
export * from './schedules/index.js';
export * from './range-test/index.js';
export * from './recipe/index.js';
export * from './tracking/index.js';
export type * from './trainers/types.js';
export { fromFunctions, type TrainerFunctions } from './trainers/functions.js';
