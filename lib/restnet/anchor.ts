// An anchor: a pretrained model kept frozen, with its name, its bytes (hashed, saved next to a
// manifest), and the candidate cut points where it may be stitched.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { loadZooManifest, zooPath, type ZooAnchor } from '../data/zoo.js';
import { FrozenModel } from '../onnx/frozen-model.js';
import { activationShape } from '../stitch/adapters/shapes.js';

export interface Anchor {
  name: string;
  model: FrozenModel;
  /** The ONNX file's bytes (what is hashed and saved). */
  bytes: Uint8Array;
  sha256: string;
  /** Candidate cut points, in depth order. */
  cuts: string[];
  params: number;
  macs: number;
  /** The zoo manifest's entry when this anchor is a zoo anchor (accuracy, trainSeconds, blocks). */
  zoo?: ZooAnchor;
}

export interface AnchorSource {
  name?: string;
  /** A path to an ONNX file, or its bytes. */
  model: string | Uint8Array;
  /** Candidate cut points (default: the zoo blocks, or thinned structural cut points). */
  cuts?: string[];
}

export interface AnchorOptions {
  /** onnxruntime intra-op threads per session. */
  threads?: number;
  /** At most this many candidate cuts when they come from the graph (default 8). */
  maxCuts?: number;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Candidate cuts of a model without a zoo entry: structural cut points strictly inside the graph
 * whose per-sample shape an adapter understands ([C, H, W] or [T, D]); of the cut points with the
 * same prefix cost (a ReLU after a conv, a reshape chain) only the last is kept, because they are
 * the same stitching point for cost purposes; then at most maxCuts, evenly spread.
 */
export function defaultCuts(model: FrozenModel, maxCuts = 8): string[] {
  const points = model.cutPoints();
  const inner = points.slice(1, -1).filter((c) => {
    try {
      activationShape(model.sampleDims(c.name), 'cut');
      return true;
    } catch {
      return false;
    }
  });
  const kept = inner.filter((c, k) => inner[k + 1]?.macs !== c.macs && c.macs > 0);
  if (kept.length <= maxCuts) return kept.map((c) => c.name);
  const picked = new Set<number>();
  for (let k = 0; k < maxCuts; k++) picked.add(Math.round(((k + 1) * kept.length) / maxCuts) - 1);
  return [...picked].sort((a, b) => a - b).map((k) => kept[k]!.name);
}

function zooEntry(name: string): ZooAnchor | undefined {
  try {
    return loadZooManifest().anchors.find((a) => a.name === name);
  } catch {
    return undefined;
  }
}

/**
 * Loads an anchor: a zoo anchor by name ('cnn-l'), a path to an ONNX file, or {name, model,
 * cuts}. Zoo anchors use the manifest's blocks as cut points.
 */
export async function loadAnchor(source: string | AnchorSource, options: AnchorOptions = {}): Promise<Anchor> {
  const spec: AnchorSource = typeof source === 'string' ? { model: source } : source;
  if (!spec || (typeof spec.model !== 'string' && !(spec.model instanceof Uint8Array))) {
    throw new TypeError('source: expected a zoo anchor name, an ONNX path, or {name?, model: path | bytes, cuts?}');
  }
  let zoo: ZooAnchor | undefined;
  let bytes: Uint8Array;
  let name = spec.name;
  if (typeof spec.model === 'string') {
    zoo = zooEntry(spec.model);
    const path = zoo ? zooPath(zoo.file) : spec.model;
    if (zoo && !existsSync(path))
      throw new Error(`source: the zoo anchor '${spec.model}' is listed in zoo/manifest.json but ${path} is missing`);
    try {
      bytes = readFileSync(path);
    } catch (cause) {
      throw new Error(
        `source: '${spec.model}' is neither a zoo anchor nor a readable ONNX file (${(cause as Error).message})`,
        { cause },
      );
    }
    name ??= zoo ? zoo.name : basename(path).replace(/\.onnx$/i, '');
  } else {
    bytes = spec.model;
    name ??= 'anchor';
  }
  const hash = sha256(bytes);
  // A file with a zoo anchor's bytes is that anchor, whatever path it was read from.
  zoo ??= (() => {
    try {
      return loadZooManifest().anchors.find((a) => a.sha256 === hash);
    } catch {
      return undefined;
    }
  })();
  const model = await FrozenModel.load(bytes, options.threads === undefined ? {} : { threads: options.threads });
  const known = new Set(model.cutPoints().map((c) => c.name));
  const cuts = spec.cuts ?? (zoo ? zoo.blocks.map((b) => b.tensor) : defaultCuts(model, options.maxCuts));
  for (const c of cuts) if (!known.has(c)) throw new RangeError(`cuts: '${c}' is not a cut point of ${name}`);
  const order = new Map(model.cutPoints().map((c) => [c.name, c.index]));
  const sorted = [...cuts].sort((a, b) => order.get(a)! - order.get(b)!);
  const anchor: Anchor = { name, model, bytes, sha256: hash, cuts: sorted, params: model.params(), macs: model.macs() };
  if (zoo) anchor.zoo = zoo;
  return anchor;
}

/** Depth index of a cut point (0 = input). */
export function cutIndex(anchor: Anchor, cut: string): number {
  const c = anchor.model.cutPoints().find((p) => p.name === cut);
  if (!c) throw new RangeError(`cut: '${cut}' is not a cut point of ${anchor.name}`);
  return c.index;
}
