// manifest.json of a saved ReStNet: the two anchors (file, hash, measured numbers) and one flat
// list of stitched configurations. Written atomically (temp file + rename) so a reader never
// sees half a manifest; validated field by field on load.
import type { PlannedConfig } from './plan.js';

export const MANIFEST_FORMAT = 'restnet/1';

/** Measured or counted numbers of an anchor; null until evaluate() measured them. */
export interface AnchorRecord {
  name: string;
  /** The ONNX file, relative to the manifest. */
  file: string;
  sha256: string;
  accuracy: number | null;
  /** Median ms per sample at batch 1. */
  latencyMs: number | null;
  macs: number;
  params: number;
  /** Candidate cut points used by the analysis. */
  cuts: string[];
  latencyBatch32Ms?: number | null;
  memoryBytes?: number | null;
  /** From the zoo: seconds it took to train this anchor from scratch. */
  trainSeconds?: number | null;
  /** How many evaluation images `accuracy` was measured on. */
  evalImages?: number | null;
  /** 95% Wilson score interval of `accuracy` over `evalImages`: [lo, hi]. */
  accuracyInterval?: [number, number] | null;
  /** Top-1 accuracy on the validation split that the Pareto filter used (held out of calibration, never the eval split). */
  validationAccuracy?: number | null;
  /** How many validation images `validationAccuracy` was measured on. */
  validationImages?: number | null;
  /** 95th percentile of the timed batch-1 runs, ms per sample. */
  latencyP95Ms?: number | null;
  /** How many timed batch-1 runs `latencyMs` and `latencyP95Ms` come from. */
  latencyRuns?: number | null;
}

/** One stitched configuration: its plan (ids, anchors, cuts, CKA, cost, order, choice) and what fitting and evaluation measured. */
export interface ConfigRecord
  extends Pick<PlannedConfig, 'id' | 'front' | 'back' | 'frontCut' | 'backCut' | 'cka' | 'macs' | 'order' | 'choice'> {
  /** Top-1 accuracy on the evaluation data; null until evaluated. */
  accuracy: number | null;
  /** Median ms per sample at batch 1; null until evaluated. */
  latencyMs: number | null;
  /** Parameters of the stitched network (front prefix + stitch + back suffix). */
  params: number;
  /** The fused single-file ONNX, relative to the manifest (null until exported). */
  onnx: string | null;
  /** sha256 of the fused ONNX file, checked before it is run (absent in families saved before it was recorded: the file is then not used). */
  onnxSha256?: string | null;
  /** The stitch weights file, relative to the manifest, and its sha256. */
  stitch: string;
  stitchSha256: string;
  /** Parameters that fitting trained (the stitch only). */
  trainableParams: number;
  /** Least-squares residual per element (mean squared error on the calibration rows, per-position offset included). */
  residual: number;
  /** Seconds spent fitting this stitch (least squares + refinement; the shared captures are split evenly). */
  fitSeconds: number;
  /** Whether SGD refinement ran after least squares. */
  refined: boolean;
  /** Whether the stitch adds a per-position offset (stored in the stitch file). */
  positionBias?: boolean;
  /** How a CNN front's grid shrinks to the back's: 'average' or 'space-to-depth' (absent: 'average'). */
  downsample?: 'average' | 'space-to-depth';
  /** How the front's grid grows to a CNN back's: 'bilinear' or 'depth-to-space' (absent: 'bilinear'). */
  upsample?: 'bilinear' | 'depth-to-space';
  /** Transformer -> Transformer: whether CLS has its own map (absent: false). */
  clsMap?: boolean;
  /** Median ms per batch of 32; null until evaluated. */
  latencyBatch32Ms?: number | null;
  /** Bytes this configuration needs at batch 1: its f32 weights + its largest activation (see evaluate). */
  memoryBytes?: number | null;
  /** How many evaluation images `accuracy` was measured on. */
  evalImages?: number | null;
  /** 95% Wilson score interval of `accuracy` over `evalImages`: [lo, hi]. */
  accuracyInterval?: [number, number] | null;
  /**
   * Whether the configuration is worth offering: false when another configuration or an anchor
   * dominates it on the validation split (accuracy not lower at MACs not higher). select() never
   * returns a record with `pareto: false` unless asked (`includeDominated`). Absent: offered.
   */
  pareto?: boolean;
  /** Why `pareto` is false (which record dominates it, with the validation figures). */
  reason?: string;
  /** Top-1 accuracy on the validation split that the Pareto filter used (held out of calibration, never the eval split). */
  validationAccuracy?: number | null;
  /** How many validation images `validationAccuracy` was measured on. */
  validationImages?: number | null;
  /** 95th percentile of the timed batch-1 runs, ms per sample. */
  latencyP95Ms?: number | null;
  /** How many timed batch-1 runs `latencyMs` and `latencyP95Ms` come from. */
  latencyRuns?: number | null;
  /** Why refinement was planned and did not happen (`refined: false`): the least-squares stitch was kept. */
  refineError?: string;
}

export interface RestnetManifest {
  format: string;
  anchors: AnchorRecord[];
  configs: ConfigRecord[];
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

export { writeFileAtomic } from '../atomic-write.js';

// The field-by-field check lives in manifest-validate.ts.
export { validateManifest } from './manifest-validate.js';
