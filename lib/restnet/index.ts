// ReStNet: analyze -> plan -> fit -> evaluate, and the runtime that selects a configuration.
// Public names only (the README documents them, api/restnet.api.txt lists them); internals such
// as the refinement loop are imported from their modules.
export { loadAnchor } from './anchor.js';
export type { Anchor, AnchorSource, AnchorOptions } from './anchor.js';
export { analyze, analysisToJson } from './analyze.js';
export type { Analysis, AnalyzeOptions } from './analyze.js';
export { plan } from './plan.js';
export type { Plan, PlanOptions, PlannedConfig, StitchOrder } from './plan.js';
export { fit } from './fit.js';
export type { FitPipelineOptions } from './fit.js';
export { RefineError } from './refine-or-keep.js';
export type { LeastSquaresOnly } from './plan-check.js';
export type { RefineEpoch, RefineOptions } from './refine.js';
export { evaluate, predictions } from './evaluate.js';
export type { Evaluation, EvaluateOptions } from './evaluate.js';
export { holdOut, lineAt, markPareto, paretoVerdicts } from './pareto.js';
export { wilsonInterval } from './wilson.js';
export type { MarkParetoOptions, ParetoCandidate, ParetoFilterOptions, ParetoReport, Verdict } from './pareto.js';
export { ReStNet } from './runtime.js';
export type {
  Budget,
  ExecutionMemory,
  ExecutionOptions,
  LoadedProfile,
  LoadOptions,
  MemoryReport,
  ProfileOptions,
  Rung,
  RunMode,
  Selection,
  SelectOptions,
} from './runtime.js';
export { ProfileError } from './profile-file.js';
export type { BatchLatency, DeviceInfo, DeviceProfile, ProfileEntry } from './profile-file.js';
export { ManifestError } from './manifest.js';
export type { AnchorRecord, ConfigRecord } from './manifest.js';
export { StitchFileError } from './stitch-file.js';
export type { ImageInput, ImageRows, ProgressEvent, LongTaskOptions } from './inputs.js';
export { AdaptiveController } from './adapt.js';
export type { AdaptOptions, AdaptStats, AdaptTarget, SwitchEvent, SwitchReason } from './adapt.js';
