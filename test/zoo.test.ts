// The shipped zoo against its manifest: every anchor is loaded in onnxruntime-node, the eval split
// is classified again and the counts compared with the manifest, sha256 and sizes are recomputed,
// and every block-boundary tensor is fetched from the running graph to check its shape.

import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';

import { loadZooManifest, loadZooSplit, zooAnchor, zooPath, type ZooAnchor } from '../lib/data/index.js';

const MiB = 1024 * 1024;
// Accuracy floors on Fashion-MNIST test images (issue #4).
const FLOORS: Record<string, number> = { 'cnn-l': 0.91, 'cnn-s': 0.885, 'vit-l': 0.86, 'vit-s': 0.83 };
const SESSION_OPTIONS: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 2, interOpNumThreads: 1 };

const manifest = loadZooManifest();
const evalSplit = loadZooSplit('eval');

// --- the least protobuf needed to expose intermediate tensors as extra graph outputs ---------------
// ModelProto.graph is field 7; GraphProto.output is field 12 (ValueInfoProto: name = 1, type = 2;
// TypeProto.tensor_type = 1; TypeProto.Tensor.elem_type = 1, FLOAT = 1). Shapes are left out on
// purpose: onnxruntime then reports the shape the tensor really has.

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = buf[pos++];
    if (byte === undefined) throw new RangeError('protobuf varint runs past the end');
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if (byte < 0x80) return [value, pos];
  }
}

const lengthDelimited = (field: number, body: number[]): number[] => [
  ...varint((field << 3) | 2),
  ...varint(body.length),
  ...body,
];

function floatOutput(name: string): number[] {
  const tensorType = lengthDelimited(1, [0x08, 0x01]);
  return lengthDelimited(12, [
    ...lengthDelimited(1, [...Buffer.from(name, 'utf8')]),
    ...lengthDelimited(2, tensorType),
  ]);
}

function withExtraOutputs(model: Uint8Array, names: string[]): Uint8Array {
  let pos = 0;
  while (pos < model.length) {
    const fieldStart = pos;
    const [tag, afterTag] = readVarint(model, pos);
    const wire = tag & 7;
    if (wire === 2) {
      const [length, bodyStart] = readVarint(model, afterTag);
      const bodyEnd = bodyStart + length;
      if (tag >>> 3 === 7) {
        const extra = names.flatMap(floatOutput);
        const graph = [...model.subarray(bodyStart, bodyEnd), ...extra];
        return Uint8Array.from([
          ...model.subarray(0, fieldStart),
          ...lengthDelimited(7, graph),
          ...model.subarray(bodyEnd),
        ]);
      }
      pos = bodyEnd;
    } else if (wire === 0) pos = readVarint(model, afterTag)[1];
    else if (wire === 1) pos = afterTag + 8;
    else if (wire === 5) pos = afterTag + 4;
    else throw new RangeError(`unexpected protobuf wire type ${wire}`);
  }
  throw new RangeError('ModelProto has no graph');
}

// ----------------------------------------------------------------------------------------------------

function images(start: number, count: number): ort.Tensor {
  return new ort.Tensor('float32', evalSplit.images.slice(start * 784, (start + count) * 784), [count, 1, 28, 28]);
}

function argmaxRows(logits: Float32Array, rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < cols; c++) if (logits[r * cols + c]! > logits[r * cols + best]!) best = c;
    return best;
  });
}

function dirBytes(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce(
    (sum, e) => sum + (e.isDirectory() ? dirBytes(join(dir, e.name)) : statSync(join(dir, e.name)).size),
    0,
  );
}

describe('zoo manifest', () => {
  it('lists the four anchors, two per family', () => {
    expect(manifest.anchors.map((a) => a.name).sort()).toEqual(['cnn-l', 'cnn-s', 'vit-l', 'vit-s']);
    expect(manifest.anchors.map((a) => `${a.name}:${a.family}`).sort()).toEqual([
      'cnn-l:cnn',
      'cnn-s:cnn',
      'vit-l:vit',
      'vit-s:vit',
    ]);
    expect(manifest.dataset.splits.eval.size).toBe(evalSplit.rows);
    expect(manifest.dataset.licence).toBe('MIT');
  });

  it('the small anchor of each family costs at most half the large one, in params and MACs', () => {
    const byName = new Map(manifest.anchors.map((a) => [a.name, a]));
    for (const family of ['cnn', 'vit']) {
      const small = byName.get(`${family}-s`)!;
      const large = byName.get(`${family}-l`)!;
      expect(small.params).toBeLessThanOrEqual(large.params / 2);
      expect(small.macs).toBeLessThanOrEqual(large.macs / 2);
      expect(large.blocks.length).toBeGreaterThan(small.blocks.length);
    }
  });

  it('zooAnchor resolves names to files and rejects unknown ones', () => {
    expect(zooAnchor('cnn-s').path).toBe(zooPath('cnn-s.onnx'));
    expect(statSync(zooAnchor('vit-l').path).isFile()).toBe(true);
    expect(() => zooAnchor('resnet50')).toThrow(RangeError);
    expect(() => zooAnchor('resnet50')).toThrow(
      'zooAnchor: expected one of cnn-s, cnn-l, vit-s, vit-l, got "resnet50"',
    );
    expect(() => loadZooSplit('test' as 'eval')).toThrow(`loadZooSplit: expected 'calibration' or 'eval', got "test"`);
  });

  it('fits the size budget: each anchor <= 4 MiB, the zoo <= 15 MiB', () => {
    for (const a of manifest.anchors) expect(statSync(zooPath(a.file)).size).toBeLessThanOrEqual(4 * MiB);
    expect(dirBytes(zooPath())).toBeLessThanOrEqual(15 * MiB);
  });
});

describe.each(manifest.anchors.map((a) => [a.name, a] as [string, ZooAnchor]))('anchor %s', (name, anchor) => {
  const bytes = readFileSync(zooPath(anchor.file));

  it('matches its manifest entry: size, sha256, input/output contract', async () => {
    expect(bytes.length).toBe(anchor.bytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(anchor.sha256);
    const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
    try {
      expect(session.inputNames).toEqual(['pixels']);
      expect(session.outputNames).toEqual(['logits']);
      const [input] = session.inputMetadata;
      const [output] = session.outputMetadata;
      expect(input).toMatchObject({ name: 'pixels', isTensor: true, type: 'float32', shape: ['N', 1, 28, 28] });
      expect(output).toMatchObject({ name: 'logits', isTensor: true, type: 'float32', shape: ['N', 10] });
      expect(anchor.input.shape).toEqual(['N', 1, 28, 28]);
      expect(anchor.output.shape).toEqual(['N', 10]);
      // The batch axis is dynamic: 1 and 3 images both run.
      for (const n of [1, 3]) expect((await session.run({ pixels: images(0, n) })).logits!.dims).toEqual([n, 10]);
    } finally {
      await session.release();
    }
  });

  it('classifies the eval split with the manifest accuracy, above the floor', async () => {
    const session = await ort.InferenceSession.create(bytes, SESSION_OPTIONS);
    let correct = 0;
    try {
      for (let start = 0; start < evalSplit.rows; start += 1000) {
        const count = Math.min(1000, evalSplit.rows - start);
        const { logits } = await session.run({ pixels: images(start, count) });
        argmaxRows(logits!.data as Float32Array, count, 10).forEach((p, i) => {
          if (p === evalSplit.labels[start + i]) correct++;
        });
      }
    } finally {
      await session.release();
    }
    expect(correct).toBe(anchor.correct);
    expect(anchor.accuracy).toBeCloseTo(correct / evalSplit.rows, 12);
    expect(correct / evalSplit.rows).toBeGreaterThanOrEqual(FLOORS[name]!);
    // Test images 5000-9999 are not shipped; the script measured them at export.
    expect(anchor.accuracyHeldOut).toBeGreaterThanOrEqual(FLOORS[name]!);
  });

  it('exposes every block boundary as a graph tensor of the stated shape', async () => {
    const names = anchor.blocks.map((b) => b.tensor);
    expect(new Set(names).size).toBe(names.length);
    const session = await ort.InferenceSession.create(withExtraOutputs(bytes, names), SESSION_OPTIONS);
    try {
      const out = await session.run({ pixels: images(0, 2) });
      for (const block of anchor.blocks) {
        expect(block.shape[0]).toBe('N');
        expect(out[block.tensor]?.dims, block.tensor).toEqual([2, ...block.shape.slice(1)]);
      }
    } finally {
      await session.release();
    }
    const shapes = anchor.blocks.map((b) => b.shape.slice(1));
    if (anchor.family === 'cnn') {
      // NCHW through three stages at 28, 14 and 7: stage 3 is the 7x7 grid the ViT tokens share.
      expect(anchor.blocks[0]!.name).toBe('stem');
      expect(new Set(shapes.map((s) => s[1]))).toEqual(new Set([28, 14, 7]));
      expect(shapes.at(-1)!.slice(1)).toEqual([7, 7]);
    } else {
      // Tokens [N, 50, D]: CLS + 7x7 patches of 4x4 pixels.
      expect(anchor.blocks[0]!.name).toBe('embed');
      for (const s of shapes) expect(s.slice(0, 1)).toEqual([50]);
    }
  });
});
