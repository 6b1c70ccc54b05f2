// Shape adapters between a front and a back activation, natively and as ONNX nodes.
export { Adapter } from './adapter.js';
export type { AdapterKind, AdapterMaps, AdapterOptions, FitPair, Neighbourhood } from './adapter.js';
export { adapterToOnnx } from './onnx.js';
export type { AdapterOnnxOptions, OnnxFragment } from './onnx.js';
export { resampleGrid } from './layout.js';
export type { SamplePooling } from './layout.js';
export type { ActivationShape, GridShape, TokenShape } from './shapes.js';
