// Reading a saved family: manifest.json, the anchors' ONNX files, the stitch files and the fused
// <id>.onnx files, each checked before anything runs: every file a name inside the folder
// (family-files.ts), every hash, the anchors' and the configurations' MACs and params counted
// again from the graphs, the stitch headers against the anchors. What does not match is a
// ManifestError / StitchFileError naming the file.
import { join } from 'node:path';

import { hasExternalData, inlineExternalData } from '../onnx/external-data.js';
import { decodeModel, encodeModel, type ModelProto } from '../onnx/proto.js';
import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import { loadAnchor, sha256, type Anchor } from './anchor.js';
import { FILE_LIMITS, readInside } from './family-files.js';
import { layoutOf } from './layout.js';
import {
  ManifestError,
  validateManifest,
  type AnchorRecord,
  type ConfigRecord,
  type RestnetManifest,
} from './manifest.js';
import { adapterFor, configMacs } from './plan.js';
import { decodeStitch, StitchFileError } from './stitch-file.js';

/** A family as read from disk, every file verified. */
export interface LoadedFamily {
  manifest: RestnetManifest;
  /** The two anchors (the same object twice for a self-stitch). */
  anchors: [Anchor, Anchor];
  /** One record per distinct anchor. */
  anchorRecords: AnchorRecord[];
  /** Per configuration: its record, maps, and its verified fused ONNX file (null when none is recorded with a hash). */
  configs: { record: ConfigRecord; maps: AdapterMaps; file: string | null }[];
  /** The intra-op thread count the anchors' sessions were loaded with. */
  threads: number;
}

export interface ReadFamilyOptions {
  /** At most this many candidate cuts when an anchor's cuts come from its graph. */
  maxCuts?: number;
  /** The intra-op thread count for every session, or how to choose it from the largest anchor's file (verified, before any session exists). */
  threads: number | ((largest: { bytes: Uint8Array; sha256: string }, manifest: RestnetManifest) => Promise<number>);
}

const manifestError = (dir: string) => (why: string) => new ManifestError(`${join(dir, 'manifest.json')}: ${why}`);

export async function readManifest(dir: string): Promise<RestnetManifest> {
  const path = join(dir, 'manifest.json');
  const bytes = await readInside(
    dir,
    'manifest.json',
    FILE_LIMITS.manifest,
    (why) => new ManifestError(`${path}: cannot read the manifest (${why})`),
  );
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new ManifestError(`${path}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  return validateManifest(json, path);
}

/**
 * The verified bytes of a configuration's fused ONNX (its hash must match the record), or the
 * error. Used at load and again whenever a session is built from the file. Weights it keeps as
 * external data must lie in the family's anchor files, `anchorFiles` (file name -> the bytes
 * verified against their hash at load), and are put back from those: the result is self-contained.
 */
export async function readFusedFile(
  dir: string,
  record: ConfigRecord,
  anchorFiles: ReadonlyMap<string, Uint8Array>,
): Promise<Uint8Array> {
  const fail = manifestError(dir);
  const bytes = await readInside(dir, record.onnx!, FILE_LIMITS.onnx, (why) =>
    fail(`config ${record.id}'s fused ONNX: ${why}`),
  );
  const hash = sha256(bytes);
  if (hash !== record.onnxSha256)
    throw fail(
      `config ${record.id}'s fused ONNX '${record.onnx}' has sha256 ${hash}, the manifest expects ${record.onnxSha256} (the file was changed or replaced)`,
    );
  let model: ModelProto;
  try {
    model = decodeModel(bytes, record.onnx!);
  } catch (error) {
    throw fail(`config ${record.id}'s fused ONNX: ${(error as Error).message}`);
  }
  if (!hasExternalData(model)) return bytes;
  return encodeModel(
    inlineExternalData(model, anchorFiles, (why) => fail(`config ${record.id}'s fused ONNX '${record.onnx}': ${why}`)),
  );
}

/** The anchors' files of a family by name (what fused files may reference), from the verified anchors. */
export function anchorFiles(records: readonly AnchorRecord[], anchors: readonly Anchor[]): Map<string, Uint8Array> {
  return new Map(records.map((r) => [r.file, anchors.find((a) => a.name === r.name)!.bytes]));
}

async function readAnchors(
  dir: string,
  manifest: RestnetManifest,
  options: ReadFamilyOptions,
): Promise<{ anchors: Anchor[]; threads: number }> {
  const fail = manifestError(dir);
  const files = new Map<string, Uint8Array>();
  for (const rec of manifest.anchors) {
    if (files.has(rec.name)) continue;
    const bytes = await readInside(dir, rec.file, FILE_LIMITS.onnx, (why) => fail(`anchor '${rec.name}': ${why}`));
    const hash = sha256(bytes);
    if (hash !== rec.sha256)
      throw fail(
        `anchor '${rec.name}': ${join(dir, rec.file)} has sha256 ${hash}, the manifest expects ${rec.sha256} (the file was changed or replaced)`,
      );
    files.set(rec.name, bytes);
  }
  const largest = [...manifest.anchors].sort((x, y) => files.get(y.name)!.length - files.get(x.name)!.length)[0]!;
  const threads =
    typeof options.threads === 'number'
      ? options.threads
      : await options.threads({ bytes: files.get(largest.name)!, sha256: largest.sha256 }, manifest);
  const loaded = new Map<string, Anchor>();
  for (const rec of manifest.anchors) {
    if (loaded.has(rec.name)) continue;
    const anchor = await loadAnchor(
      { name: rec.name, model: files.get(rec.name)!, cuts: rec.cuts },
      { threads, ...(options.maxCuts === undefined ? {} : { maxCuts: options.maxCuts }) },
    );
    if (anchor.macs !== rec.macs || anchor.params !== rec.params)
      throw fail(
        `anchor '${rec.name}' has ${anchor.macs} MACs and ${anchor.params} params, the manifest says ${rec.macs} and ${rec.params}`,
      );
    loaded.set(rec.name, anchor);
  }
  return { anchors: manifest.anchors.map((r) => loaded.get(r.name)!), threads };
}

/** Reads one configuration's stitch file and checks its header against the record and the anchors. */
async function readStitch(dir: string, rec: ConfigRecord, anchors: Anchor[]): Promise<AdapterMaps> {
  const file = join(dir, rec.stitch);
  const bytes = await readInside(
    dir,
    rec.stitch,
    FILE_LIMITS.stitch,
    (why) => new StitchFileError(`${join(dir, 'manifest.json')}: config ${rec.id}'s stitch: ${why}`),
  );
  const hash = sha256(bytes);
  if (hash !== rec.stitchSha256)
    throw new StitchFileError(
      `${file}: sha256 ${hash}, the manifest expects ${rec.stitchSha256} for '${rec.id}' (corrupt or replaced)`,
    );
  const { header, maps } = decodeStitch(bytes, file);
  const front = anchors.find((a) => a.name === rec.front)!,
    back = anchors.find((a) => a.name === rec.back)!;
  const expect = (end: 'front' | 'back', anchor: Anchor, cut: string): void => {
    const h = header[end];
    if (h.anchor !== anchor.name || h.cut !== cut)
      throw new StitchFileError(
        `${file}: the stitch was fitted for ${end} ${h.anchor} at '${h.cut}', the manifest's '${rec.id}' says ${anchor.name} at '${cut}'`,
      );
    let dims: number[];
    try {
      dims = anchor.model.sampleDims(cut);
    } catch {
      throw new StitchFileError(`${file}: '${cut}' is not a cut point of anchor ${anchor.name}`);
    }
    if (dims.join() !== h.dims.join())
      throw new StitchFileError(
        `${file}: the stitch expects ${end} activations [${h.dims.join(', ')}], anchor ${anchor.name} gives [${dims.join(', ')}] at '${cut}'`,
      );
  };
  expect('front', front, rec.frontCut);
  expect('back', back, rec.backCut);
  const fitted = layoutOf(header),
    recorded = layoutOf(rec);
  for (const k of ['downsample', 'upsample', 'clsMap', 'kernel', 'rectify'] as const) {
    if (fitted[k] !== recorded[k])
      throw new StitchFileError(
        `${file}: the stitch was fitted with ${k} ${JSON.stringify(fitted[k])}, the manifest's '${rec.id}' says ${JSON.stringify(recorded[k])}`,
      );
  }
  if (header.id !== rec.id)
    throw new StitchFileError(`${file}: holds the stitch of '${header.id}', the manifest expects '${rec.id}'`);
  return maps;
}

/** Parameters the stitch trained: its maps' weights and biases and the per-position offsets. */
export function trainableParams(maps: AdapterMaps): number {
  return (
    [maps.main, maps.cls].reduce((n, m) => n + (m ? m.weight.data.length + m.bias.length : 0), 0) +
    (maps.position?.length ?? 0)
  );
}

/** A configuration's MACs, params and trained params counted again from the graphs and the maps, against its record. */
function checkCounts(dir: string, rec: ConfigRecord, maps: AdapterMaps, anchors: Anchor[]): void {
  const front = anchors.find((a) => a.name === rec.front)!,
    back = anchors.find((a) => a.name === rec.back)!;
  const adapter = adapterFor(front, rec.frontCut, back, rec.backCut, layoutOf(rec));
  if (typeof adapter === 'string') throw manifestError(dir)(`config ${rec.id}: ${adapter}`);
  const trainable = trainableParams(maps);
  const counted = {
    macs: configMacs(front, rec.frontCut, back, rec.backCut, adapter),
    params:
      front.model.segment(front.model.input.name, rec.frontCut).params +
      trainable +
      back.model.segment(rec.backCut, back.model.output.name).params,
    trainableParams: trainable,
  };
  for (const k of ['macs', 'params', 'trainableParams'] as const) {
    if (counted[k] !== rec[k])
      throw manifestError(dir)(
        `config ${rec.id}: ${k} ${rec[k]} in the manifest, ${counted[k]} counted from the graphs and the stitch`,
      );
  }
}

/** Reads and verifies the family saved in `dir` (see recoverInterruptedSave for a folder a killed save left aside). */
export async function readFamily(dir: string, options: ReadFamilyOptions): Promise<LoadedFamily> {
  const manifest = await readManifest(dir);
  const { anchors, threads } = await readAnchors(dir, manifest, options);
  const configs: LoadedFamily['configs'] = [];
  for (const record of manifest.configs) {
    const maps = await readStitch(dir, record, anchors);
    checkCounts(dir, record, maps, anchors);
    // A fused file without a recorded hash (a family saved before hashes were recorded) is not run.
    let file: string | null = null;
    if (record.onnx !== null && record.onnxSha256) {
      await readFusedFile(dir, record, anchorFiles(manifest.anchors, anchors));
      file = join(dir, record.onnx);
    }
    configs.push({ record, maps, file });
  }
  const [a0, a1] = manifest.anchors as [AnchorRecord, AnchorRecord];
  return {
    manifest,
    anchors: [anchors[0]!, anchors[1]!],
    anchorRecords: a0.name === a1.name ? [a0] : [a0, a1],
    configs,
    threads,
  };
}
