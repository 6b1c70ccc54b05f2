// The public API of restnet.
export type { Matrix, Matrix64, Tensor } from './matrix.js';
export { matrix, flatten, spatialMeanPool, tokenMean, clsToken } from './matrix.js';
export type { CkaOptions, CkaMatrixOptions, GramOptions, Kernel, CkaMethod } from './similarity.js';
export { gram, centerGram, hsic, cka, ckaAsync, ckaMatrix, MinibatchCKA } from './similarity.js';
export type { Capabilities, SimdPath } from './system.js';
export { capabilities, setThreads, setSimd } from './system.js';
export * from './data/index.js';
export * from './onnx/index.js';
export * from './stitch/index.js';
export * from './stitch/adapters/index.js';
export { StitchedModel } from './stitch/stitched-model.js';
export type { StitchedModelSpec } from './stitch/stitched-model.js';
export * from './report/index.js';
export * from './restnet/index.js';
export * from './formats/index.js';
