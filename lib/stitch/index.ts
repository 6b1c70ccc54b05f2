// Stitching layers: least squares (fitStitch, LeastSquaresAccumulator) and gradient training
// (trainStitch, TrainableStitch).
export type {
  EpochRecord,
  FitDiagnostics,
  FitOptions,
  LossName,
  OptimizerName,
  OptimizerOptions,
  ScheduleName,
  StitchParameters,
} from './types.js';
export type { FittedStitch, Stitch } from './fit.js';
export { fitStitch, fitStitchAsync, LeastSquaresAccumulator, stitch } from './fit.js';
export type { TrainOptions, TrainResult } from './train.js';
export { trainStitch, TrainableStitch } from './train.js';
