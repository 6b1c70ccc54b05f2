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
  /**
   * With `refined`: the epoch whose maps were kept, the one that did best on the validation
   * split (0: no epoch beat the least-squares start there, so the stitch is the least-squares
   * one); the last epoch without a validation split. Absent in families saved before it.
   */
  refineEpoch?: number;
  /** Whether the stitch adds a per-position offset (stored in the stitch file). */
  positionBias?: boolean;
  /** How a CNN front's grid shrinks to the back's: 'average' or 'space-to-depth' (absent: 'average'). */
  downsample?: 'average' | 'space-to-depth';
  /** How the front's grid grows to a CNN back's: 'bilinear' or 'depth-to-space' (absent: 'bilinear'). */
  upsample?: 'bilinear' | 'depth-to-space';
  /** Transformer -> Transformer: whether CLS has its own map (absent: false). */
  clsMap?: boolean;
  /** A CNN front's stitch as a k x k convolution, odd k (absent: 1, a per-pixel map). */
  kernel?: number;
  /** The stitch ends in a ReLU: its back's cut is a ReLU output and refinement trained it through one (absent: false). */
  rectify?: boolean;
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

// The field-by-field check of a parsed manifest.json: every field's type and range (accuracy in
// [0, 1], latencies >= 0, CKA in [-1, 1] up to rounding, counts as non-negative integers, the
// accuracy interval around the accuracy, hashes as 64 hex digits, pareto / reason), so a
// hand-edited or corrupted manifest is a ManifestError naming the field, not a wrong choice.
type Check = (v: unknown) => boolean;

const HEX64 = /^[0-9a-f]{64}$/;
const str: Check = (v) => typeof v === 'string' && v.length > 0;
const num: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const nonNegative: Check = (v) => num(v) && (v as number) >= 0;
const count: Check = (v) => Number.isSafeInteger(v) && (v as number) >= 0;
const fraction: Check = (v) => num(v) && (v as number) >= 0 && (v as number) <= 1;
const hash: Check = (v) => typeof v === 'string' && HEX64.test(v);
const bool: Check = (v) => typeof v === 'boolean';
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v);
const orNull =
  (c: Check): Check =>
  (v) =>
    v === null || c(v);
// Debiased (unbiased-HSIC) CKA can come out slightly below 0 for unrelated layers.
const cka: Check = (v) => num(v) && (v as number) >= -1 - 1e-6 && (v as number) <= 1 + 1e-6;
const interval: Check = (v) =>
  Array.isArray(v) && v.length === 2 && fraction(v[0]) && fraction(v[1]) && (v[0] as number) <= (v[1] as number);

/** [check, what it expects, required] per field. */
type Fields = Record<string, [Check, string, boolean]>;

const ANCHOR_FIELDS: Fields = {
  name: [str, 'a non-empty string', true],
  file: [str, 'a relative path', true],
  sha256: [hash, '64 hex digits', true],
  accuracy: [orNull(fraction), 'a number in [0, 1] or null', true],
  latencyMs: [orNull(nonNegative), 'a number >= 0 or null', true],
  macs: [count, 'an integer >= 0', true],
  params: [count, 'an integer >= 0', true],
  cuts: [(v) => Array.isArray(v) && v.every(str), 'a list of cut names', true],
  latencyBatch32Ms: [orNull(nonNegative), 'a number >= 0 or null', false],
  memoryBytes: [orNull(count), 'an integer >= 0 or null', false],
  trainSeconds: [orNull(nonNegative), 'a number >= 0 or null', false],
  evalImages: [orNull((v) => count(v) && (v as number) >= 1), 'an integer >= 1 or null', false],
  accuracyInterval: [orNull(interval), '[lo, hi] with 0 <= lo <= hi <= 1, or null', false],
  validationAccuracy: [orNull(fraction), 'a number in [0, 1] or null', false],
  validationImages: [orNull((v) => count(v) && (v as number) >= 1), 'an integer >= 1 or null', false],
  latencyP95Ms: [orNull(nonNegative), 'a number >= 0 or null', false],
  latencyRuns: [orNull((v) => count(v) && (v as number) >= 1), 'an integer >= 1 or null', false],
};

const CONFIG_FIELDS: Fields = {
  id: [(v) => typeof v === 'string' && /^[A-Za-z0-9._~-]+$/.test(v), 'an id of letters, digits and . _ ~ -', true],
  front: [str, 'an anchor name', true],
  back: [str, 'an anchor name', true],
  frontCut: [str, 'a cut name', true],
  backCut: [str, 'a cut name', true],
  cka: [orNull(cka), 'a number in [-1, 1] or null', true],
  accuracy: [orNull(fraction), 'a number in [0, 1] or null', true],
  latencyMs: [orNull(nonNegative), 'a number >= 0 or null', true],
  macs: [count, 'an integer >= 0', true],
  params: [count, 'an integer >= 0', true],
  onnx: [orNull(str), 'a relative path or null', true],
  stitch: [str, 'a relative path', true],
  stitchSha256: [hash, '64 hex digits', true],
  trainableParams: [count, 'an integer >= 0', true],
  residual: [nonNegative, 'a number >= 0', true],
  fitSeconds: [nonNegative, 'a number >= 0', true],
  refined: [bool, 'true or false', true],
  refineEpoch: [count, 'an integer >= 0', false],
  order: [oneOf('large-front', 'small-front'), "'large-front' or 'small-front'", false],
  choice: [oneOf('cka', 'random'), "'cka' or 'random'", false],
  onnxSha256: [orNull(hash), '64 hex digits or null', false],
  positionBias: [bool, 'true or false', false],
  downsample: [oneOf('average', 'space-to-depth'), "'average' or 'space-to-depth'", false],
  upsample: [oneOf('bilinear', 'depth-to-space'), "'bilinear' or 'depth-to-space'", false],
  clsMap: [bool, 'true or false', false],
  kernel: [(v) => count(v) && (v as number) % 2 === 1, 'an odd integer >= 1', false],
  rectify: [bool, 'true or false', false],
  latencyBatch32Ms: [orNull(nonNegative), 'a number >= 0 or null', false],
  memoryBytes: [orNull(count), 'an integer >= 0 or null', false],
  evalImages: [orNull((v) => count(v) && (v as number) >= 1), 'an integer >= 1 or null', false],
  accuracyInterval: [orNull(interval), '[lo, hi] with 0 <= lo <= hi <= 1, or null', false],
  pareto: [bool, 'true or false', false],
  reason: [str, 'a non-empty string', false],
  validationAccuracy: [orNull(fraction), 'a number in [0, 1] or null', false],
  validationImages: [orNull((v) => count(v) && (v as number) >= 1), 'an integer >= 1 or null', false],
  latencyP95Ms: [orNull(nonNegative), 'a number >= 0 or null', false],
  latencyRuns: [orNull((v) => count(v) && (v as number) >= 1), 'an integer >= 1 or null', false],
  refineError: [str, 'a non-empty string', false],
};

/** Checks the shape and ranges of a parsed manifest; `where` names the file in errors. */
export function validateManifest(json: unknown, where: string): RestnetManifest {
  const fail = (why: string): never => {
    throw new ManifestError(`${where}: ${why}`);
  };
  const record = (value: unknown, fields: Fields, at: string): Record<string, unknown> => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      fail(`${at}: expected an object, got ${JSON.stringify(value)}`);
    const r = value as Record<string, unknown>;
    const label = typeof r.id === 'string' ? `${at} (${r.id})` : typeof r.name === 'string' ? `${at} (${r.name})` : at;
    for (const [key, [check, expected, required]] of Object.entries(fields)) {
      const v = r[key];
      if (v === undefined ? required : !check(v))
        fail(`${label}.${key}: expected ${expected}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
    }
    // A Wilson interval always contains its estimate.
    const acc = r.accuracy,
      iv = r.accuracyInterval;
    if (
      typeof acc === 'number' &&
      Array.isArray(iv) &&
      (acc < (iv[0] as number) - 1e-9 || acc > (iv[1] as number) + 1e-9)
    )
      fail(`${label}.accuracyInterval: [${iv.join(', ')}] does not contain the accuracy ${acc}`);
    return r;
  };
  if (typeof json !== 'object' || json === null || Array.isArray(json)) fail('expected a JSON object');
  const m = json as RestnetManifest;
  if (m.format !== MANIFEST_FORMAT) fail(`expected format "${MANIFEST_FORMAT}", got ${JSON.stringify(m.format)}`);
  if (!Array.isArray(m.anchors) || m.anchors.length !== 2)
    fail(`expected two anchors, got ${Array.isArray(m.anchors) ? m.anchors.length : typeof m.anchors}`);
  if (!Array.isArray(m.configs)) fail('expected a configs list');
  m.anchors.forEach((a, k) => record(a, ANCHOR_FIELDS, `anchors[${k}]`));
  const [a0, a1] = m.anchors as [RestnetManifest['anchors'][0], RestnetManifest['anchors'][0]];
  if (a0.name === a1.name && (a0.file !== a1.file || a0.sha256 !== a1.sha256))
    fail(`two anchors are named '${a0.name}'`);
  const names = new Set([a0.name, a1.name]);
  const ids = new Set<string>();
  m.configs.forEach((c, k) => {
    const at = `configs[${k}]`;
    record(c, CONFIG_FIELDS, at);
    if (ids.has(c.id)) fail(`${at}: duplicate id '${c.id}'`);
    ids.add(c.id);
    if (!names.has(c.front) || !names.has(c.back))
      fail(`${at} (${c.id}): front '${c.front}' and back '${c.back}' must name anchors (${[...names].join(', ')})`);
    if (c.pareto !== false && c.reason !== undefined)
      fail(`${at} (${c.id}).reason: only a configuration with pareto: false has a reason`);
    if (c.refined && c.refineError !== undefined)
      fail(`${at} (${c.id}).refineError: only a configuration with refined: false has a refineError`);
    if (!c.refined && c.refineEpoch !== undefined)
      fail(`${at} (${c.id}).refineEpoch: only a configuration with refined: true has a refineEpoch`);
  });
  return m;
}
