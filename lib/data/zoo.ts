// The embedded zoo (zoo/ at the package root): Fashion-MNIST splits and pretrained ONNX anchors,
// described by zoo/manifest.json, which scripts/zoo/train.py writes.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { loadDataset, type Dataset } from './dataset.js';
import { oneOfArg } from '../validate.js';

/** A shape with the symbolic batch dimension "N" first. */
export type ZooShape = Array<number | string>;

export interface ZooTensor {
  name: string;
  dtype: 'float32';
  shape: ZooShape;
}

export interface ZooBlock {
  /** The stitching point: `stem`, `stage2.block1`, `embed`, `blocks.3`, ... */
  name: string;
  /** The graph value holding it (same as name in the shipped anchors). */
  tensor: string;
  /** CNN: [N, C, H, W]; ViT: [N, 50, D] tokens with CLS first. */
  shape: ZooShape;
}

export interface ZooAnchor {
  name: string;
  family: 'cnn' | 'vit';
  /** Relative to the zoo directory. */
  file: string;
  bytes: number;
  sha256: string;
  opset: number;
  input: ZooTensor & { range: [number, number] };
  output: ZooTensor;
  params: number;
  /** Multiply-adds per image (conv, linear, attention matmuls). */
  macs: number;
  /** Accuracy on the shipped eval split, correct / size. */
  accuracy: number;
  correct: number;
  /** Accuracy on Fashion-MNIST test images 5000-9999, which are not shipped. */
  accuracyHeldOut: number;
  trainSeconds: number;
  epochs: number;
  seed: number;
  blocks: ZooBlock[];
}

export interface ZooSplit {
  images: string;
  labels: string;
  size: number;
  from: string;
  which: string;
}

export interface ZooManifest {
  format: string;
  batchDim: string;
  dataset: {
    name: string;
    licence: string;
    source: string;
    classes: string[];
    imageShape: [number, number];
    splits: { calibration: ZooSplit; eval: ZooSplit };
  };
  anchors: ZooAnchor[];
}

export type ZooSplitName = 'calibration' | 'eval';

// lib/data/zoo.ts and dist/data/zoo.js both sit two levels below the package root.
const ZOO_URL = new URL('../../zoo/', import.meta.url);

/** Absolute path of a file inside the zoo directory (the directory itself without an argument). */
export function zooPath(relative = ''): string {
  return fileURLToPath(new URL(relative, ZOO_URL));
}

export function loadZooManifest(): ZooManifest {
  return JSON.parse(readFileSync(zooPath('manifest.json'), 'utf8')) as ZooManifest;
}

/** The anchor's manifest entry and the absolute path of its ONNX file. */
export function zooAnchor(name: string): ZooAnchor & { path: string } {
  const manifest = loadZooManifest();
  const anchor = manifest.anchors.find((a) => a.name === name);
  if (!anchor) {
    const known = manifest.anchors.map((a) => a.name).join(', ');
    throw new RangeError(`zooAnchor: expected one of ${known}, got ${JSON.stringify(name)}`);
  }
  return { ...anchor, path: zooPath(anchor.file) };
}

/** The shipped Fashion-MNIST calibration split (5,000 training images) or eval split (test 0-4,999). */
export function loadZooSplit(split: ZooSplitName): Dataset {
  const splits = loadZooManifest().dataset.splits;
  oneOfArg(split, 'loadZooSplit', ['calibration', 'eval']);
  const entry = splits[split];
  const dataset = loadDataset(zooPath(entry.images), zooPath(entry.labels));
  if (dataset.rows !== entry.size) {
    throw new RangeError(`${zooPath(entry.images)}: manifest says ${entry.size} images, file has ${dataset.rows}`);
  }
  return dataset;
}
