// FrozenModel on graphs built here (known cut points and MACs), on PyTorch exports
// (test/fixtures/onnx, made by make.py) and on the zoo anchors when they are present.
// onnxruntime running the whole model is the reference for every prefix o suffix.
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { loadZooManifest } from '../lib/data/index.js';
import { FrozenModel } from '../lib/onnx/index.js';
import { decodeModel, encodeModel, node } from '../lib/onnx/proto.js';
import {
  attentionModel,
  f32,
  fixture,
  ifModel,
  model,
  sizeModel,
  ortRun,
  randomTensor,
  relError,
  residualModel,
  zooAnchors,
  ZOO,
} from './onnx-helpers.js';

const models: FrozenModel[] = [];
async function load(src: string | Uint8Array): Promise<FrozenModel> {
  const m = await FrozenModel.load(src, { threads: 1 });
  models.push(m);
  return m;
}
afterAll(async () => {
  await Promise.all(models.map((m) => m.dispose()));
});

/** 'N' -> n, 'k*N' -> k n. */
const concrete = (shape: (number | string)[], n: number): number[] =>
  shape.map((d) => (typeof d === 'number' ? d : d === 'N' ? n : Number(d.split('*')[0]) * n));

describe('cut points on known graphs', () => {
  it('residual graph: parameters, constants and shape chains are not data; the block interior is not a cut', async () => {
    const m = await load(residualModel());
    expect(m.cutPoints().map((c) => c.name)).toEqual(['x', 'h1', 'a1', 'r1', 's1', 'z', 'm', 'y']);
    expect(m.cutPoints().map((c) => c.macs)).toEqual([0, 48, 48, 48, 112, 112, 112, 118]);
    expect(m.cutPoints().map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(m.cutPoints().find((c) => c.name === 'z')!.shape).toEqual(['N', 2, 4]);
    expect(m.macs()).toBe(118);
    // float initializers: W1 (48) + W2 (64) + W3a (6) + the scalar 2; not the Constant node b1
    expect(m.params()).toBe(48 + 64 + 6 + 1);
    expect(m.input).toEqual({ name: 'x', shape: ['N', 6] });
    expect(m.output).toEqual({ name: 'y', shape: ['N', 3] });
  });

  it('attention graph: parallel q/k/v paths hide the block interior; flattened rows are k x N', async () => {
    const m = await load(attentionModel());
    const cuts = m.cutPoints();
    expect(cuts.map((c) => c.name)).toEqual(['x', 'y1', 'y2', 'g', 'gf', 'out']);
    expect(cuts.find((c) => c.name === 'g')!.shape).toEqual(['4*N', 6]);
    // per block: q, k, v 3 x 4x6x6, scores 4x4x6, values 4x4x6; head 4x6x3
    const block = 3 * 144 + 96 + 96;
    expect(cuts.map((c) => c.macs)).toEqual([0, block, 2 * block, 2 * block, 2 * block + 72, 2 * block + 72]);
  });

  it('control flow: an If whose branches read outer tensors carries data around them', async () => {
    const m = await load(ifModel());
    expect(m.cutPoints().map((c) => c.name)).toEqual(['x', 'y', 'out']);
    expect(m.cutPoints()[1]!.macs).toBe(36);
  });

  it('Size of the input feeds a reshape: a suffix from h recomputes it (ReduceProd of the rebuilt shape)', async () => {
    const m = await load(sizeModel());
    expect(m.cutPoints().map((c) => c.name)).toEqual(['x', 'h', 'z', 'out']);
    expect(decodeModel(m.extract('h'), 'suffix').graph!.node.map((n) => n.op_type)).toContain('ReduceProd');
  });

  it('PyTorch CNN export: folded BatchNorm, residual blocks, x.view(x.size(0), -1)', async () => {
    const m = await load(fixture('cnn-a'));
    const names = m.cutPoints().map((c) => c.name);
    expect(names).toEqual([
      'pixels',
      '/stem/Conv_output_0',
      '/Relu_output_0',
      '/MaxPool_output_0',
      '/block1/Add_output_0',
      '/block1/Relu_1_output_0',
      '/block2/Add_output_0',
      '/block2/Relu_1_output_0',
      '/Reshape_output_0',
      'logits',
    ]);
    // conv MACs = out elements x (Cin/groups x kh x kw), from the architecture in make.py
    const stem = 8 * 28 * 28 * 9,
      b1 = 2 * 8 * 14 * 14 * 8 * 9,
      b2 = 16 * 49 * 8 * 9 + 16 * 49 * 16 * 9 + 16 * 49 * 8,
      head = 784 * 10;
    expect(m.macs()).toBe(stem + b1 + b2 + head);
    expect(m.cutPoints()[6]!).toMatchObject({ shape: ['N', 16, 7, 7], macs: stem + b1 + b2 });
    // conv weights + folded BN biases + head: the count PyTorch gives after folding
    expect(m.params()).toBe(
      8 * 9 + 8 + 2 * (8 * 8 * 9 + 8) + (16 * 8 * 9 + 16) + (16 * 16 * 9 + 16) + (16 * 8 + 16) + 7850,
    );
  });

  it('PyTorch ViT export: CLS expand and reshapes driven by x.shape; attention MatMuls counted', async () => {
    const m = await load(fixture('vit-a'));
    const cuts = m.cutPoints();
    expect(cuts.map((c) => c.shape.join(','))).toContain('N,17,16');
    const patch = 16 * 16 * 49;
    const attention = 17 * 16 * 48 + 2 * (2 * 17 * 17 * 8) + 17 * 16 * 16;
    const mlp = 2 * 17 * 16 * 32;
    expect(m.macs()).toBe(patch + 2 * (attention + mlp) + 16 * 10);
    const firstBlock = cuts.find((c) => c.name === '/blocks/blocks.0/Add_1_output_0')!;
    expect(firstBlock.macs).toBe(patch + attention + mlp);
  });
});

describe('rectified cut points (a Relu output, through Identity nodes)', () => {
  /** The cut points that hold no negative value on random inputs (the data's view of the same fact). */
  const nonNegative = async (m: FrozenModel, seed: number): Promise<string[]> => {
    const cuts = m.cutPoints().map((c) => c.name);
    const got = await m.capture(randomTensor(concrete(m.input.shape, 4), seed), cuts);
    return cuts.filter((c) => got[c]!.data.every((v) => v >= 0));
  };

  it('residual graph: the Relu output r1, not the Add of a residual block nor a pre-activation', async () => {
    const m = await load(residualModel());
    expect(m.cutPoints().flatMap((c) => (c.rectified ? [c.name] : []))).toEqual(['r1']);
    // The data agree on r1; s1 (the sum of two Relu outputs) and what follows it hold no negative
    // value either, but no Relu produces them: rectification is a fact of the producer.
    expect(await nonNegative(m, 3)).toEqual(['r1', 's1', 'z', 'm']);
  });

  it('a Relu read through Identity nodes is rectified; a linear bottleneck (MatMul after the Relu) is not', async () => {
    // x -> MatMul -> h -> Relu -> r -> Identity -> ri -> MatMul (the linear projection of a
    // MobileNet-style inverted residual) -> p -> Identity -> pi -> MatMul -> y
    const m = await load(
      model(
        [
          node('MatMul', ['x', 'W1'], ['h']),
          node('Relu', ['h'], ['r']),
          node('Identity', ['r'], ['ri']),
          node('MatMul', ['ri', 'W2'], ['p']),
          node('Identity', ['p'], ['pi']),
          node('MatMul', ['pi', 'W3'], ['y']),
        ],
        [f32('W1', [6, 8], 1), f32('W2', [8, 4], 2), f32('W3', [4, 3], 3)],
        ['x', ['N', 6]],
        ['y', ['N', 3]],
      ),
    );
    expect(m.cutPoints().map((c) => [c.name, c.rectified])).toEqual([
      ['x', false],
      ['h', false],
      ['r', true],
      ['ri', true],
      ['p', false],
      ['pi', false],
      ['y', false],
    ]);
    expect(await nonNegative(m, 5)).toEqual(['r', 'ri']);
  });

  for (const anchor of zooAnchors().filter((a) => a === 'cnn-s' || a === 'vit-s')) {
    it(`zoo anchor ${anchor}: block boundaries are ${anchor === 'cnn-s' ? '' : 'not '}rectified`, async () => {
      const m = await load(join(ZOO, `${anchor}.onnx`));
      const blocks = loadZooManifest()
        .anchors.find((a) => a.name === anchor)!
        .blocks.map((b) => b.tensor);
      const cuts = new Map(m.cutPoints().map((c) => [c.name, c]));
      for (const block of blocks) expect(cuts.get(block)!.rectified, block).toBe(anchor === 'cnn-s');
      const seen = await nonNegative(m, 7);
      for (const block of blocks) expect(seen.includes(block), block).toBe(anchor === 'cnn-s');
    });
  }
});

async function checkAllCuts(m: FrozenModel, batch: number, tolerance: number): Promise<number> {
  const x = randomTensor(concrete(m.input.shape, batch), 11);
  const reference = await ortRun(encodeModel(m.proto), x);
  // The re-encoded whole model may be optimised by onnxruntime in another node order: float rounding.
  expect(relError(await ortRun(m.extract(), x), reference)).toBeLessThan(1e-6);
  const cuts = m.cutPoints().slice(1, -1);
  let worst = 0;
  const captured = await m.capture(
    x,
    cuts.map((c) => c.name),
  );
  for (const c of cuts) {
    const prefix = await ortRun(m.extract(undefined, c.name), x);
    expect(prefix.dims).toEqual(concrete(c.shape, batch));
    const suffix = await ortRun(m.extract(c.name), prefix);
    const err = relError(suffix, reference);
    worst = Math.max(worst, err);
    expect(err, `prefix o suffix at ${c.name}`).toBeLessThan(tolerance);
    expect(relError(captured[c.name]!, prefix), `capture at ${c.name}`).toBeLessThan(1e-6);
  }
  return worst;
}

describe('prefix o suffix == model at every cut, capture == prefix', () => {
  for (const [label, src] of [
    ['residual', residualModel],
    ['if', ifModel],
    ['size', sizeModel],
    ['attention', attentionModel],
    ['cnn-a', () => fixture('cnn-a')],
    ['vit-a', () => fixture('vit-a')],
    ['vit-b', () => fixture('vit-b')],
  ] as const) {
    it(`${label}, batch 3 and 1`, async () => {
      const m = await load(src());
      await checkAllCuts(m, 3, 1e-5);
      await checkAllCuts(m, 1, 1e-5);
    });
  }

  for (const anchor of zooAnchors()) {
    it(`zoo anchor ${anchor}: MACs and params as the manifest states, block tensors are cut points`, async () => {
      const m = await load(join(ZOO, `${anchor}.onnx`));
      const entry = loadZooManifest().anchors.find((a) => a.name === anchor)!;
      expect(m.macs()).toBe(entry.macs);
      expect(m.params()).toBe(entry.params);
      const cuts = new Map(m.cutPoints().map((c) => [c.name, c]));
      for (const block of entry.blocks) expect(cuts.get(block.tensor)?.shape, block.tensor).toEqual(block.shape);
    });

    it(`zoo anchor ${anchor}`, async () => {
      const m = await load(join(ZOO, `${anchor}.onnx`));
      const worst = await checkAllCuts(m, 4, 1e-5);
      console.log(
        `${anchor}: ${m.cutPoints().length} cut points, prefix o suffix max rel error ${worst.toExponential(2)}, ${m.macs()} MACs, ${m.params()} params`,
      );
    }, 300_000);
  }
});

describe('extract', () => {
  it('keeps only the initializers the sub-graph reads, and a dynamic batch', async () => {
    const m = await load(residualModel());
    const prefix = decodeModel(m.extract(undefined, 'h1'), 'prefix');
    expect(prefix.graph!.initializer.map((t) => t.name)).toEqual(['W1init']);
    expect(prefix.graph!.node.map((n) => n.op_type)).toEqual(['Identity', 'MatMul']);
    const suffix = decodeModel(m.extract('s1'), 'suffix');
    expect(suffix.graph!.initializer.map((t) => t.name)).not.toContain('W1init');
    expect(suffix.graph!.node.some((n) => n.input.includes('x'))).toBe(false);
    for (const batch of [1, 7]) {
      const x = randomTensor([batch, 6], batch);
      const s1 = await ortRun(m.extract(undefined, 's1'), x);
      expect(relError(await ortRun(m.extract('s1'), s1), await m.run(x))).toBeLessThan(1e-6);
    }
  });

  it('a middle segment rebuilds Shape(x) of the model input from a [4N, 3] tensor', async () => {
    const m = await load(attentionModel());
    const x = randomTensor([5, 4, 6], 3);
    const got = await m.capture(x, ['y1', 'gf', 'out']);
    const mid = await ortRun(m.extract('y1', 'gf'), got.y1!);
    expect(relError(mid, got.gf!)).toBeLessThan(1e-6);
    expect(relError(await ortRun(m.extract('gf'), got.gf!), got.out!)).toBeLessThan(1e-6);
  });

  it('errors name the argument', async () => {
    const flat = await load(attentionModel());
    expect(flat.sampleDims('y1')).toEqual([4, 6]);
    expect(() => flat.sampleDims('g')).toThrow(
      /name: expected a batch-first tensor \[N, ...\], 'g' has dims \[4\*N, 6\]/,
    );
    const m = await load(residualModel());
    expect(() => m.extract('nope')).toThrow(/from: no tensor named 'nope'/);
    expect(() => m.extract(undefined, 'W2')).toThrow(/to: expected a data tensor.*'W2' is a parameter/);
    expect(() => m.extract(undefined, 'sx')).toThrow(/to: .*'sx' is a shape tensor/);
    expect(() => m.extract('s1', 'h1')).toThrow(/to: 'h1' cannot be computed from 's1'/);
    expect(() => m.extract('h2', 'y')).toThrow(/to: 'y' cannot be computed from 'h2'/);
    // A cut point to itself is the identity (no nodes), so cutPoints' ends can be extracted too.
    expect(m.subModel('y', 'y').graph!.node).toEqual([]);
  });
});

describe('segments and sessions', () => {
  it('a chain of segments equals the model; sessions are built once and shared', async () => {
    const m = await load(fixture('cnn-a'));
    const cuts = m.cutPoints().map((c) => c.name);
    const segments = m.segments([cuts[3]!, cuts[5]!, cuts[8]!]);
    expect(segments.map((s) => [s.from, s.to])).toEqual([
      ['pixels', cuts[3]],
      [cuts[3], cuts[5]],
      [cuts[5], cuts[8]],
      [cuts[8], 'logits'],
    ]);
    expect(segments.reduce((a, s) => a + s.macs, 0)).toBe(m.macs());
    expect(segments.reduce((a, s) => a + s.params, 0)).toBe(m.params());
    const x = randomTensor([6, 1, 28, 28], 9);
    const reference = await ortRun(m.extract(), x);
    for (let round = 0; round < 2; round++) {
      let t = x;
      for (const s of segments) t = await s.run(t);
      expect(relError(t, reference)).toBeLessThan(1e-5);
    }
    expect(m.sessionCount).toBe(4);
    expect(m.segments([cuts[3]!])[0]).toBe(segments[0]);
    await m.capture(x, [cuts[2]!]);
    await m.capture(x, [cuts[2]!]);
    expect(m.sessionCount).toBe(5);
  });

  it('rejects cuts that are unknown, out of order or at the ends, and bad inputs', async () => {
    const m = await load(residualModel());
    expect(() => m.segments(['h2'])).toThrow(/cuts: 'h2' is not a cut point/);
    expect(() => m.segments(['s1', 'r1'])).toThrow(/out of order/);
    expect(() => m.segments(['x'])).toThrow(/at an end/);
    await expect(m.run({ data: new Float32Array(10), dims: [2, 5] })).rejects.toThrow(/x: expected dims \[N, 6\]/);
    await expect(m.capture({ data: new Float32Array(12), dims: [2, 6] }, ['sx'])).rejects.toThrow(
      /names: expected float32 tensors, 'sx' is int64/,
    );
    await expect(m.capture({ data: new Float32Array(12), dims: [2, 6] }, ['zz'])).rejects.toThrow(
      /names: no tensor named 'zz'/,
    );
  });
});
