// The public API of restnet: exactly what the README's API sections document (from "## API" to
// "The `restnet` command"; test/api-surface.test.ts checks both that and api/restnet.api.txt).
// Named lists, not `export *`, so a helper added to a module's own index stays internal.
export type { Matrix, Matrix64, Tensor } from './matrix.js';
export { matrix, flatten, spatialMeanPool, tokenMean, clsToken } from './matrix.js';
export type { CkaOptions, CkaMatrixOptions, GramOptions, Kernel, CkaMethod } from './similarity.js';
export { gram, centerGram, hsic, cka, ckaAsync, ckaMatrix, MinibatchCKA } from './similarity.js';
export type { Capabilities, SimdPath } from './system.js';
export { capabilities, setThreads, setSimd } from './system.js';
export { IdxFormatError, loadZooManifest, loadZooSplit } from './data/index.js';
export type {
  Dataset,
  ZooAnchor,
  ZooBlock,
  ZooManifest,
  ZooShape,
  ZooSplit,
  ZooSplitName,
  ZooTensor,
} from './data/index.js';
export { conformTo, DataFormatError, encodeNpy, loadData, NpyFormatError, parseNpy } from './formats/index.js';
export type { ModelRows, NpyArray, NpyDtype, SampleLayout, SampleSet } from './formats/index.js';
export { DIFFERENTIABLE_OPS, FrozenModel, OnnxModelError } from './onnx/index.js';
export type {
  CutPoint,
  Dim,
  FrozenModelOptions,
  GradientSegment,
  LossGradient,
  Segment,
  TensorInfo,
} from './onnx/index.js';
export * from './stitch/index.js';
export { Adapter, resampleGrid } from './stitch/adapters/index.js';
export type {
  ActivationShape,
  AdapterKind,
  AdapterMaps,
  AdapterOptions,
  FitPair,
  GridShape,
  Neighbourhood,
  TokenShape,
} from './stitch/adapters/index.js';
export { StitchedModel } from './stitch/stitched-model.js';
export type { StitchedModelSpec } from './stitch/stitched-model.js';
export { heatmapSvg, paretoSvg } from './report/index.js';
export type { HeatmapOptions, ParetoOptions, ParetoPoint } from './report/index.js';
export * from './restnet/index.js';
