// Reading a saved family: manifest.json, the anchors' ONNX files and the stitch files, each
// checked against the manifest (hashes, cost counts, stitch headers against the anchors) before
// anything runs. What does not match is a ManifestError / StitchFileError naming the file.
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';

import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import { loadAnchor, sha256, type Anchor, type AnchorOptions } from './anchor.js';
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
  configs: { record: ConfigRecord; maps: AdapterMaps }[];
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

async function readAnchors(dir: string, manifest: RestnetManifest, options: AnchorOptions): Promise<Anchor[]> {
  const path = join(dir, 'manifest.json');
  const anchors: Anchor[] = [];
  for (const rec of manifest.anchors) {
    const existing = anchors.find((a) => a.name === rec.name);
    if (existing) {
      if (existing.sha256 !== rec.sha256) throw new ManifestError(`${path}: two anchors named '${rec.name}' with different hashes`);
      anchors.push(existing);
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
    const anchor = await loadAnchor({ name: rec.name, model: bytes, cuts: rec.cuts }, options);
    if (anchor.macs !== rec.macs || anchor.params !== rec.params) throw new ManifestError(`${path}: anchor '${rec.name}' has ${anchor.macs} MACs and ${anchor.params} params, the manifest says ${rec.macs} and ${rec.params}`);
    anchors.push(anchor);
  }
  return anchors;
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
export async function readFamily(dir: string, options: AnchorOptions = {}): Promise<LoadedFamily> {
  const manifest = await readManifest(dir);
  const anchors = await readAnchors(dir, manifest, options);
  const configs: LoadedFamily['configs'] = [];
  for (const record of manifest.configs) configs.push({ record, maps: await readStitch(dir, record, anchors) });
  const [a0, a1] = manifest.anchors as [AnchorRecord, AnchorRecord];
  return { manifest, anchors: [anchors[0]!, anchors[1]!], anchorRecords: a0.name === a1.name ? [a0] : [a0, a1], configs };
}
