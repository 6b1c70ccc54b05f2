// Writing a family: the anchors' ONNX files, one stitch file per configuration, the fused
// <id>.onnx files, and manifest.json last (every file atomically), so the manifest never names a
// file that is not there yet.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import type { StitchedModel } from '../stitch/stitched-model.js';
import { sha256, type Anchor } from './anchor.js';
import { layoutOf } from './layout.js';
import { MANIFEST_FORMAT, writeFileAtomic, type AnchorRecord, type ConfigRecord, type RestnetManifest } from './manifest.js';
import { encodeStitch } from './stitch-file.js';

/** What a family is made of in memory. */
export interface FamilyParts {
  /** Distinct anchors, and one record per anchor. */
  anchors: Anchor[];
  anchorRecords: AnchorRecord[];
  configs: { record: ConfigRecord; maps: AdapterMaps; model: StitchedModel }[];
}

/** The bytes of a configuration's stitch file: header (anchors, cuts, dims, layout) + maps. */
export function stitchFileBytes(record: ConfigRecord, maps: AdapterMaps, anchors: Anchor[]): Uint8Array {
  const front = anchors.find((a) => a.name === record.front)!, back = anchors.find((a) => a.name === record.back)!;
  return encodeStitch({
    id: record.id,
    front: { anchor: front.name, cut: record.frontCut, dims: front.model.sampleDims(record.frontCut) },
    back: { anchor: back.name, cut: record.backCut, dims: back.model.sampleDims(record.backCut) },
    ...layoutOf(record),
  }, maps);
}

/** Writes manifest.json for the records as they are now. */
export async function writeManifest(dir: string, anchorRecords: AnchorRecord[], configs: ConfigRecord[]): Promise<string> {
  const path = join(dir, 'manifest.json');
  const manifest: RestnetManifest = { format: MANIFEST_FORMAT, anchors: anchorRecords.length === 1 ? [anchorRecords[0]!, anchorRecords[0]!] : anchorRecords, configs };
  await writeFileAtomic(path, `${JSON.stringify(manifest, null, 2)}\n`);
  return path;
}

/**
 * Writes every file of the family into dir (the records' file names and hashes are updated as
 * written), the manifest last. Returns the manifest's path.
 */
export async function writeFamily(dir: string, family: FamilyParts, options: { exportOnnx?: boolean } = {}): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const a of family.anchors) await writeFileAtomic(join(dir, family.anchorRecords.find((r) => r.name === a.name)!.file), a.bytes);
  for (const { record, maps, model } of family.configs) {
    const bytes = stitchFileBytes(record, maps, family.anchors);
    record.stitch = `${record.id}.stitch`;
    record.stitchSha256 = sha256(bytes);
    await writeFileAtomic(join(dir, record.stitch), bytes);
    if (options.exportOnnx ?? true) {
      record.onnx = `${record.id}.onnx`;
      await writeFileAtomic(join(dir, record.onnx), model.toOnnx());
    }
  }
  return writeManifest(dir, family.anchorRecords, family.configs.map((c) => c.record));
}
