// ReStNet: analyze -> plan -> fit -> evaluate, and the runtime that selects a configuration.
export { loadAnchor, defaultCuts, sha256 } from './anchor.js';
export type { Anchor, AnchorSource, AnchorOptions } from './anchor.js';
export { analyze, analysisToJson, ckaAt } from './analyze.js';
export type { Analysis, AnalyzeOptions } from './analyze.js';
export { plan, configId, cutLabel, bySize, monotoneAssignment } from './plan.js';
export type { Plan, PlanOptions, PlannedConfig, StitchOrder } from './plan.js';
export { fit } from './fit.js';
export type { FitPipelineOptions, RefineOptions } from './fit.js';
export { evaluate } from './evaluate.js';
export type { Evaluation, EvaluateOptions } from './evaluate.js';
export { ReStNet } from './runtime.js';
export type { Budget, MemoryReport, Selection, SelectOptions } from './runtime.js';
export { ManifestError, MANIFEST_FORMAT, validateManifest } from './manifest.js';
export type { AnchorRecord, ConfigRecord, RestnetManifest } from './manifest.js';
export { decodeStitch, encodeStitch, StitchFileError } from './stitch-file.js';
export type { StitchHeader } from './stitch-file.js';
export type { ImageInput, ImageRows, ProgressEvent, LongTaskOptions } from './inputs.js';
