// ONNX graph tools: frozen models, cut points, sub-graph extraction, capture, segments.
export { FrozenModel } from './frozen-model.js';
export { OnnxModelError } from './errors.js';
export type {
  FrozenModelOptions,
  TensorInfo,
  CutPoint,
  Segment,
  GradientSegment,
  LossGradient,
} from './frozen-model.js';
export { DIFFERENTIABLE_OPS } from './grad.js';
export type { Dim } from './shapes.js';
export { MAC_OPS } from './macs.js';
