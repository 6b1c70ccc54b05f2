// Nothing lost to a late error: a back anchor with an op no gradient rule covers (Round) is
// found by plan() before any fitting; those configurations keep their least-squares stitch
// (refined: false, refineError), the others refine, and the family is saved and loads again;
// strict makes it an error before fitting. A refinement that fails while running falls back the
// same way.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadZooSplit } from '../lib/data/index.js';
import { node } from '../lib/onnx/proto.js';
import {
  fit,
  loadAnchor,
  plan,
  ReStNet,
  RefineError,
  type Analysis,
  type Anchor,
  type Plan,
} from '../lib/restnet/index.js';
import type { RestnetManifest } from '../lib/restnet/manifest.js';
import { refineOrKeep } from '../lib/restnet/refine-or-keep.js';
import { stitch } from '../lib/stitch/fit.js';
import { f32, ints, model } from './onnx-helpers.js';

const calibration = loadZooSplit('calibration');
const data = {
  images: calibration.images.subarray(0, 96 * 784),
  rows: 96,
  cols: 784,
  labels: calibration.labels!.subarray(0, 96),
};
const dirs: string[] = [];
const anchors: Anchor[] = [];
const nets: ReStNet[] = [];

/** [N, 1, 28, 28] -> Conv 3x3 (c) -> Relu -> Conv 3x3 stride 2 (c) -> Relu (-> Round) -> GlobalAveragePool -> Flatten -> MatMul + Add -> [N, 10]. */
function cnn(c: number, seed: number, round: boolean): Uint8Array {
  const pads = ints('pads', [1, 1, 1, 1]);
  const nodes = [
    node('Conv', ['x', 'W1', 'B1'], ['c1'], [pads]),
    node('Relu', ['c1'], ['r1']),
    node('Conv', ['r1', 'W2', 'B2'], ['c2'], [pads, ints('strides', [2, 2])]),
    node('Relu', ['c2'], ['r2']),
    ...(round ? [node('Round', ['r2'], ['rr'])] : []),
    node('GlobalAveragePool', [round ? 'rr' : 'r2'], ['g']),
    node('Flatten', ['g'], ['f']),
    node('MatMul', ['f', 'W3'], ['m']),
    node('Add', ['m', 'B3'], ['y']),
  ];
  const inits = [
    f32('W1', [c, 1, 3, 3], seed),
    f32('B1', [c], seed + 1),
    f32('W2', [c, c, 3, 3], seed + 2),
    f32('B2', [c], seed + 3),
    f32('W3', [c, 10], seed + 4),
    f32('B3', [10], seed + 5),
  ];
  return model(nodes, inits, ['x', ['N', 1, 28, 28]], ['y', ['N', 10]]);
}

let planned: Plan;
beforeAll(async () => {
  const big = await loadAnchor({ name: 'big', model: cnn(8, 10, false), cuts: ['r1', 'r2', 'g'] }, { threads: 1 });
  // Back cuts after Round ('rr', 'g') give configurations whose back can be differentiated.
  const small = await loadAnchor({ name: 'rounder', model: cnn(4, 20, true), cuts: ['r1', 'rr', 'g'] }, { threads: 1 });
  anchors.push(big, small);
  // A hand-made CKA table (the diagonal highest) plans r1~r1 (through Round), r2~rr and g~g.
  const table = [
    [0.9, 0.1, 0.1],
    [0.1, 0.9, 0.1],
    [0.1, 0.1, 0.9],
  ];
  const analysis: Analysis = {
    a: big,
    b: small,
    cutsA: big.cuts,
    cutsB: small.cuts,
    cka: { data: Float64Array.from(table.flat()), rows: 3, cols: 3 },
    samples: 0,
    batches: 0,
    seconds: 0,
  };
  planned = plan(analysis, { costRange: 'any', deepestFront: 1 });
}, 60_000);

afterAll(async () => {
  for (const n of nets) await n.dispose();
  for (const a of anchors) await a.model.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('configurations that cannot be refined', () => {
  it('plan names them, with the op that has no gradient rule, before any fitting', () => {
    expect(planned.configs.map((c) => c.backCut)).toEqual(['r1', 'rr', 'g']);
    expect(planned.leastSquaresOnly.map((c) => c.id)).toEqual([planned.configs[0]!.id]);
    for (const c of planned.leastSquaresOnly) {
      expect(c.reason).toMatch(/back segment of rounder .* cannot be differentiated: .*Round/);
      // Exactly the configurations whose back segment runs through Round.
      const back = anchors[1]!.model.cutPoints();
      const cut = planned.configs.find((p) => p.id === c.id)!.backCut;
      expect(back.find((p) => p.name === cut)!.index).toBeLessThan(back.find((p) => p.name === 'rr')!.index);
    }
  });

  it('strict: an error before fitting, naming every such configuration', async () => {
    const started = performance.now();
    await expect(fit(planned, data, { calibrationLimit: 64, refine: { epochs: 1 }, strict: true })).rejects.toThrow(
      RefineError,
    );
    await expect(fit(planned, data, { calibrationLimit: 64, refine: { epochs: 1 }, strict: true })).rejects.toThrow(
      new RegExp(planned.leastSquaresOnly[0]!.id.replace(/[.~]/g, '\\$&')),
    );
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('keep their least-squares stitch (refined: false, refineError); the family is saved and loads', async () => {
    const net = await fit(planned, data, { calibrationLimit: 64, refine: { epochs: 1, images: 64 } });
    nets.push(net);
    const lsOnly = new Map(planned.leastSquaresOnly.map((c) => [c.id, c.reason]));
    for (const r of net.configs) {
      expect(r.refined).toBe(!lsOnly.has(r.id));
      expect(r.refineError).toBe(lsOnly.get(r.id));
    }
    // r1 is a Relu output, so the plan would rectify it; least squares only, it is fitted and saved linear.
    expect(planned.configs.map((c) => c.rectify)).toEqual([true, false, false]);
    expect(net.configs.map((r) => r.rectify)).toEqual([false, false, false]);
    // Least-squares maps equal an unrefined fit's.
    const plain = await fit(planned, data, { calibrationLimit: 64 });
    nets.push(plain);
    for (const id of lsOnly.keys()) expect(net.maps(id).main.weight.data).toEqual(plain.maps(id).main.weight.data);

    const dir = mkdtempSync(join(tmpdir(), 'restnet-fallback-'));
    dirs.push(dir);
    await net.save(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as RestnetManifest;
    expect(
      manifest.configs
        .filter((c) => c.refineError !== undefined)
        .map((c) => c.id)
        .sort(),
    ).toEqual([...lsOnly.keys()].sort());
    const loaded = await ReStNet.load(dir, { warm: 'none', threads: 1 });
    nets.push(loaded);
    expect(loaded.configs.map((c) => c.refineError)).toEqual(net.configs.map((c) => c.refineError));
  }, 120_000);
});

describe('refineOrKeep', () => {
  const maps = { main: stitch({ data: new Float32Array([1]), rows: 1, cols: 1 }, new Float32Array([0])) };
  const trained = { main: stitch({ data: new Float32Array([2]), rows: 1, cols: 1 }, new Float32Array([0])) };
  const failing = async (): Promise<{ maps: typeof maps; epoch: number }> => {
    throw new Error('onnxruntime: out of memory');
  };

  it('a refinement that fails while running keeps the least-squares maps and says why', async () => {
    expect(await refineOrKeep('c1', maps, undefined, failing, { strict: false })).toEqual({
      maps,
      refined: false,
      error: 'refinement failed: onnxruntime: out of memory',
    });
    expect(
      await refineOrKeep('c1', maps, undefined, async () => ({ maps: trained, epoch: 4 }), { strict: false }),
    ).toEqual({ maps: trained, refined: true, epoch: 4 });
    await expect(refineOrKeep('c1', maps, undefined, failing, { strict: true })).rejects.toThrow(
      /c1: refinement failed: onnxruntime: out of memory/,
    );
  });

  it('an abort is not swallowed', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      refineOrKeep('c1', maps, undefined, () => Promise.reject(controller.signal.reason), {
        strict: false,
        signal: controller.signal,
      }),
    ).rejects.toThrow();
  });
});
