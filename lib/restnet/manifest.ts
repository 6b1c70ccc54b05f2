// manifest.json of a saved ReStNet: the two anchors (file, hash, measured numbers) and one flat
// list of stitched configurations. Written atomically (temp file + rename) so a reader never
// sees half a manifest; validated field by field on load.
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';

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
}

export interface RestnetManifest {
  format: string;
  anchors: AnchorRecord[];
  configs: ConfigRecord[];
}

export class ManifestError extends Error {
  override name = 'ManifestError';
}

/** Writes bytes to a temp file beside `path`, then renames it over `path`. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw error;
  }
}

const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isNumOrNull = (v: unknown): boolean => v === null || isNum(v);

/** Checks the shape of a parsed manifest; `where` names the file in errors. */
export function validateManifest(json: unknown, where: string): RestnetManifest {
  const fail = (why: string): never => {
    throw new ManifestError(`${where}: ${why}`);
  };
  if (typeof json !== 'object' || json === null) fail('expected a JSON object');
  const m = json as RestnetManifest;
  if (m.format !== MANIFEST_FORMAT) fail(`expected format "${MANIFEST_FORMAT}", got ${JSON.stringify(m.format)}`);
  if (!Array.isArray(m.anchors) || m.anchors.length !== 2) fail(`expected two anchors, got ${Array.isArray(m.anchors) ? m.anchors.length : typeof m.anchors}`);
  if (!Array.isArray(m.configs)) fail('expected a configs list');
  m.anchors.forEach((a, k) => {
    const at = `anchors[${k}]`;
    if (!isStr(a?.name) || !isStr(a.file) || !/^[0-9a-f]{64}$/.test(String(a.sha256))) fail(`${at}: expected {name, file, sha256 (64 hex digits)}`);
    if (!isNum(a.macs) || !isNum(a.params) || !isNumOrNull(a.accuracy) || !isNumOrNull(a.latencyMs)) fail(`${at} (${a.name}): expected numbers macs, params and accuracy, latencyMs (or null)`);
    if (!Array.isArray(a.cuts) || !a.cuts.every(isStr)) fail(`${at} (${a.name}): expected cuts: string[]`);
  });
  if (m.anchors[0]!.name === m.anchors[1]!.name && m.anchors[0]!.file !== m.anchors[1]!.file) fail(`two anchors are named '${m.anchors[0]!.name}'`);
  const names = new Set(m.anchors.map((a) => a.name));
  const ids = new Set<string>();
  m.configs.forEach((c, k) => {
    const at = `configs[${k}]`;
    if (!isStr(c?.id) || !/^[A-Za-z0-9._~-]+$/.test(c.id)) fail(`${at}: expected an id of letters, digits and . _ ~ -, got ${JSON.stringify(c?.id)}`);
    if (ids.has(c.id)) fail(`${at}: duplicate id '${c.id}'`);
    ids.add(c.id);
    if (!names.has(c.front) || !names.has(c.back)) fail(`${at} (${c.id}): front '${c.front}' and back '${c.back}' must name anchors (${[...names].join(', ')})`);
    if (!isStr(c.frontCut) || !isStr(c.backCut) || !isStr(c.stitch) || !/^[0-9a-f]{64}$/.test(String(c.stitchSha256))) fail(`${at} (${c.id}): expected frontCut, backCut, stitch and stitchSha256`);
    if (!isNum(c.macs) || !isNum(c.params) || !isNumOrNull(c.accuracy) || !isNumOrNull(c.latencyMs) || !(isNum(c.cka) || c.cka === null)) fail(`${at} (${c.id}): expected numbers cka, macs, params and accuracy, latencyMs (or null)`);
    if (c.onnx !== null && !isStr(c.onnx)) fail(`${at} (${c.id}): onnx must be a relative path or null`);
    if (c.upsample !== undefined && c.upsample !== 'bilinear' && c.upsample !== 'depth-to-space') fail(`${at} (${c.id}): upsample must be 'bilinear' or 'depth-to-space', got ${JSON.stringify(c.upsample)}`);
    if (c.downsample !== undefined && c.downsample !== 'average' && c.downsample !== 'space-to-depth') fail(`${at} (${c.id}): downsample must be 'average' or 'space-to-depth', got ${JSON.stringify(c.downsample)}`);
  });
  return m;
}
