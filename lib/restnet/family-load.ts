// Reading a saved family: manifest.json, the anchors' ONNX files and the stitch files, each
// checked against the manifest (hashes, cost counts, stitch headers against the anchors) before
// anything runs. What does not match is a ManifestError / StitchFileError naming the file.
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';

import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import { loadAnchor, sha256, type Anchor } from './anchor.js';
import { layoutOf } from './layout.js';
import { ManifestError, validateManifest, type AnchorRecord, type ConfigRecord, type RestnetManifest } from './manifest.js';
import { decodeStitch, StitchFileError } from './stitch-file.js';

/** A family as read from disk, every file verified. */
export interface LoadedFamily {
  manifest: RestnetManifest;
  /** The two anchors (the same object twice for a self-stitch). */
  anchors: [Anchor, Anchor];
  /** One record per distinct anchor. */
  anchorRecords: AnchorRecord[];
  /** Per configuration: its record, maps, and its saved fused ONNX file (null when none was saved). */
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

export async function readManifest(dir: string): Promise<RestnetManifest> {
  const path = join(dir, 'manifest.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new ManifestError(`${path}: cannot read the manifest (${(cause as Error).message})`, { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ManifestError(`${path}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  return validateManifest(json, path);
}

/** The path of a file the manifest names, which must stay inside the family's folder. */
function inside(dir: string, rel: string, what: string): string {
  const p = normalize(join(dir, rel));
  if (isAbsolute(rel) || relative(dir, p).startsWith(`..${sep}`) || relative(dir, p) === '..') throw new ManifestError(`${join(dir, 'manifest.json')}: ${what} '${rel}' is outside the manifest's directory`);
  return p;
}

async function readAnchors(dir: string, manifest: RestnetManifest, options: ReadFamilyOptions): Promise<{ anchors: Anchor[]; threads: number }> {
  const path = join(dir, 'manifest.json');
  const files = new Map<string, Uint8Array>();
  for (const rec of manifest.anchors) {
    const seen = manifest.anchors.find((a) => a.name === rec.name)!;
    if (seen !== rec) {
      if (seen.sha256 !== rec.sha256) throw new ManifestError(`${path}: two anchors named '${rec.name}' with different hashes`);
      continue;
    }
    const file = inside(dir, rec.file, `anchor ${rec.name}'s file`);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (cause) {
      throw new ManifestError(`${path}: anchor '${rec.name}': cannot read ${file} (${(cause as Error).message})`, { cause });
    }
    const hash = sha256(bytes);
    if (hash !== rec.sha256) throw new ManifestError(`${path}: anchor '${rec.name}': ${file} has sha256 ${hash}, the manifest expects ${rec.sha256} (the file was changed or replaced)`);
    files.set(rec.name, bytes);
  }
  const largest = [...manifest.anchors].sort((x, y) => files.get(y.name)!.length - files.get(x.name)!.length)[0]!;
  const threads = typeof options.threads === 'number' ? options.threads : await options.threads({ bytes: files.get(largest.name)!, sha256: largest.sha256 }, manifest);
  const loaded = new Map<string, Anchor>();
  for (const rec of manifest.anchors) {
    if (loaded.has(rec.name)) continue;
    const anchor = await loadAnchor({ name: rec.name, model: files.get(rec.name)!, cuts: rec.cuts }, { threads, ...(options.maxCuts === undefined ? {} : { maxCuts: options.maxCuts }) });
    if (anchor.macs !== rec.macs || anchor.params !== rec.params) throw new ManifestError(`${path}: anchor '${rec.name}' has ${anchor.macs} MACs and ${anchor.params} params, the manifest says ${rec.macs} and ${rec.params}`);
    loaded.set(rec.name, anchor);
  }
  return { anchors: manifest.anchors.map((r) => loaded.get(r.name)!), threads };
}

/** The saved fused ONNX of a configuration, when the manifest names one and it is there. */
async function fusedFile(dir: string, rec: ConfigRecord): Promise<string | null> {
  if (rec.onnx === null) return null;
  const file = inside(dir, rec.onnx, `config ${rec.id}'s fused ONNX`);
  return (await stat(file).catch(() => undefined))?.isFile() ? file : null;
}

/** Reads one configuration's stitch file and checks its header against the record and the anchors. */
async function readStitch(dir: string, rec: ConfigRecord, anchors: Anchor[]): Promise<AdapterMaps> {
  const file = inside(dir, rec.stitch, `config ${rec.id}'s stitch`);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new StitchFileError(`${file}: cannot read the stitch of '${rec.id}' (${(cause as Error).message})`, { cause });
  }
  const hash = sha256(bytes);
  if (hash !== rec.stitchSha256) throw new StitchFileError(`${file}: sha256 ${hash}, the manifest expects ${rec.stitchSha256} for '${rec.id}' (corrupt or replaced)`);
  const { header, maps } = decodeStitch(bytes, file);
  const front = anchors.find((a) => a.name === rec.front)!, back = anchors.find((a) => a.name === rec.back)!;
  const expect = (end: 'front' | 'back', anchor: Anchor, cut: string): void => {
    const h = header[end];
    if (h.anchor !== anchor.name || h.cut !== cut) throw new StitchFileError(`${file}: the stitch was fitted for ${end} ${h.anchor} at '${h.cut}', the manifest's '${rec.id}' says ${anchor.name} at '${cut}'`);
    let dims: number[];
    try {
      dims = anchor.model.sampleDims(cut);
    } catch {
      throw new StitchFileError(`${file}: '${cut}' is not a cut point of anchor ${anchor.name}`);
    }
    if (dims.join() !== h.dims.join()) throw new StitchFileError(`${file}: the stitch expects ${end} activations [${h.dims.join(', ')}], anchor ${anchor.name} gives [${dims.join(', ')}] at '${cut}'`);
  };
  expect('front', front, rec.frontCut);
  expect('back', back, rec.backCut);
  const fitted = layoutOf(header), recorded = layoutOf(rec);
  for (const k of ['downsample', 'upsample', 'clsMap'] as const) {
    if (fitted[k] !== recorded[k]) throw new StitchFileError(`${file}: the stitch was fitted with ${k} ${JSON.stringify(fitted[k])}, the manifest's '${rec.id}' says ${JSON.stringify(recorded[k])}`);
  }
  if (header.id !== rec.id) throw new StitchFileError(`${file}: holds the stitch of '${header.id}', the manifest expects '${rec.id}'`);
  return maps;
}

/** Reads and verifies the family saved in `dir`. */
export async function readFamily(dir: string, options: ReadFamilyOptions): Promise<LoadedFamily> {
  const manifest = await readManifest(dir);
  const { anchors, threads } = await readAnchors(dir, manifest, options);
  const configs: LoadedFamily['configs'] = [];
  for (const record of manifest.configs) configs.push({ record, maps: await readStitch(dir, record, anchors), file: await fusedFile(dir, record) });
  const [a0, a1] = manifest.anchors as [AnchorRecord, AnchorRecord];
  return { manifest, anchors: [anchors[0]!, anchors[1]!], anchorRecords: a0.name === a1.name ? [a0] : [a0, a1], configs, threads };
}
