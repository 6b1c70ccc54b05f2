// Gradient graphs (lib/onnx/grad.ts) against central finite differences of the loss, which
// onnxruntime computes from the forward graph alone: every differentiable op on small built
// models (smooth activations, so f32 differences are accurate), then segments of the zoo's CNN
// and Transformer anchors; and the errors for what cannot be differentiated.
import { afterAll, describe, expect, it } from 'vitest';

import { FrozenModel } from '../lib/onnx/index.js';
import { node } from '../lib/onnx/proto.js';
import { directionalError, targets } from './grad-check.js';
import { f32, i64, int, ints, model, randomTensor, ZOO, zooAnchors } from './onnx-helpers.js';

const models: FrozenModel[] = [];
afterAll(async () => {
  for (const m of models) await m.dispose();
});
async function load(bytes: Uint8Array | string): Promise<FrozenModel> {
  const m = await FrozenModel.load(bytes, { threads: 1 });
  models.push(m);
  return m;
}

/**
 * x [N, 2, 6, 6] -> Conv (stride 2, pad 1: the transpose needs an output padding) -> Tanh -> t
 * -> grouped Conv -> Sigmoid -> + t -> GlobalAveragePool -> Flatten -> Gemm (transB) -> logits [N, 3].
 */
function convModel(): Uint8Array {
  const nodes = [
    node(
      'Conv',
      ['x', 'W1', 'b1'],
      ['c1'],
      [ints('strides', [2, 2]), ints('pads', [1, 1, 1, 1]), ints('kernel_shape', [3, 3])],
    ),
    node('Tanh', ['c1'], ['t']),
    node('Conv', ['t', 'W2'], ['c2'], [int('group', 2), ints('pads', [1, 1, 1, 1])]),
    node('Sigmoid', ['c2'], ['s']),
    node('Add', ['s', 't'], ['a']),
    node('GlobalAveragePool', ['a'], ['g']),
    node('Flatten', ['g'], ['f']),
    node('Gemm', ['f', 'Wg', 'bg'], ['logits'], [int('transB', 1)]),
  ];
  const inits = [
    f32('W1', [4, 2, 3, 3], 1),
    f32('b1', [4], 2),
    f32('W2', [4, 2, 3, 3], 3),
    f32('Wg', [3, 4], 4, 2),
    f32('bg', [3], 5),
  ];
  return model(nodes, inits, ['x', ['N', 2, 6, 6]], ['logits', ['N', 3]]);
}

/**
 * Pooling and clipping (opset 17): x [N, 2, 6, 6] -> MaxPool 3x3 stride 1 pad 1 (overlapping
 * windows) -> m -> AveragePool 2x2 stride 2, and MaxPool 2x2 stride 2 -> + -> Clip [-0.2, 0.9]
 * -> BatchNormalization -> Flatten -> MatMul -> logits [N, 3].
 */
function poolModel(): Uint8Array {
  const nodes = [
    node('MaxPool', ['x'], ['m'], [ints('kernel_shape', [3, 3]), ints('pads', [1, 1, 1, 1])]),
    node('AveragePool', ['m'], ['ap'], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]),
    node('MaxPool', ['m'], ['mp'], [ints('kernel_shape', [2, 2]), ints('strides', [2, 2])]),
    node('Add', ['ap', 'mp'], ['s']),
    node('Clip', ['s', 'lo', 'hi'], ['c']),
    node('BatchNormalization', ['c', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], ['bn']),
    node('Flatten', ['bn'], ['f']),
    node('MatMul', ['f', 'W'], ['logits']),
  ];
  const inits = [
    f32('bn_s', [2], 1, 1),
    f32('bn_b', [2], 2),
    f32('bn_m', [2], 3),
    f32('W', [18, 3], 5, 1),
    f32('lo', [], 6),
    f32('hi', [], 7),
    f32('bn_v', [2], 8),
  ];
  for (const [name, v] of [
    ['lo', [-0.2]],
    ['hi', [0.9]],
    ['bn_v', [0.5, 2]],
  ] as const)
    inits.find((t) => t.name === name)!.raw_data = new Uint8Array(Float32Array.from(v).buffer);
  return model(nodes, inits, ['x', ['N', 2, 6, 6]], ['logits', ['N', 3]], [], 17);
}

/**
 * A Transformer block on x [N, 5, 4] as PyTorch exports it (opset 17): LayerNormalization, a
 * packed QKV MatMul split by Reshape / Transpose / Gather, Q K^T scaled, Softmax, A V, residual,
 * erf GELU (Div, Erf, Add, Mul, Mul); then the CLS token (Gather on axis 1) and the others (Slice)
 * rejoined (Unsqueeze, Expand, Concat), Squeeze of an Unsqueeze, Sub / Div / Sqrt / Exp / Neg on
 * data, a MatMul head and LogSoftmax logits [N, 3].
 */
function transformerModel(): Uint8Array {
  const nodes = [
    node('LayerNormalization', ['x', 'ln_s', 'ln_b'], ['ln'], [int('axis', -1)]),
    node('MatMul', ['ln', 'Wqkv'], ['qkv0']),
    node('Add', ['bqkv', 'qkv0'], ['qkv1']),
    node('Reshape', ['qkv1', 'shape_qkv'], ['qkv2']),
    node('Transpose', ['qkv2'], ['qkv'], [ints('perm', [2, 0, 1, 3])]),
    node('Gather', ['qkv', 'i0'], ['q'], [int('axis', 0)]),
    node('Gather', ['qkv', 'i1'], ['k'], [int('axis', 0)]),
    node('Gather', ['qkv', 'i2'], ['v'], [int('axis', 0)]),
    node('Transpose', ['k'], ['kt'], [ints('perm', [0, 2, 1])]),
    node('MatMul', ['q', 'kt'], ['sc0']),
    node('Mul', ['sc0', 'half'], ['sc']),
    node('Softmax', ['sc'], ['att'], [int('axis', -1)]),
    node('MatMul', ['att', 'v'], ['o']),
    node('Add', ['x', 'o'], ['r']),
    node('Div', ['r', 'sqrt2'], ['rd']),
    node('Erf', ['rd'], ['er']),
    node('Add', ['er', 'one'], ['er1']),
    node('Mul', ['r', 'er1'], ['ge0']),
    node('Mul', ['ge0', 'half'], ['h']),
    node('Gather', ['h', 'i0'], ['cls'], [int('axis', 1)]),
    node('Slice', ['h', 'starts', 'ends', 'axes1'], ['tok']),
    node('Unsqueeze', ['cls', 'axes1'], ['cls1']),
    node('Expand', ['cls1', 'shape_e'], ['clsx']),
    node('Concat', ['cls1', 'tok'], ['cat'], [int('axis', 1)]),
    node('Add', ['cat', 'clsx'], ['mix']),
    node('Identity', ['mix'], ['mixi']),
    node('Unsqueeze', ['mixi', 'axes1'], ['u']),
    node('Squeeze', ['u', 'axes1'], ['sq']),
    node('Flatten', ['sq'], ['fl']),
    node('Sub', ['fl', 'bsub'], ['fs']),
    node('Mul', ['fs', 'fs'], ['f2']),
    node('Add', ['f2', 'one'], ['f21']),
    node('Sqrt', ['f21'], ['norm']),
    node('Div', ['fs', 'norm'], ['fn']),
    node('Neg', ['fn'], ['fneg']),
    node('Exp', ['fneg'], ['fe']),
    node('MatMul', ['fe', 'Wh'], ['z']),
    node('LogSoftmax', ['z'], ['logits'], [int('axis', -1)]),
  ];
  const inits = [
    f32('ln_s', [4], 1, 1),
    f32('ln_b', [4], 2),
    f32('Wqkv', [4, 12], 3, 1),
    f32('bqkv', [12], 4),
    f32('Wh', [20, 3], 5, 1),
    f32('bsub', [20], 6),
    i64('shape_qkv', [-1, 5, 3, 4]),
    i64('i0', [0], []),
    i64('i1', [1], []),
    i64('i2', [2], []),
    i64('starts', [1]),
    i64('ends', [5]),
    i64('axes1', [1]),
    i64('shape_e', [1, 5, 4]),
    f32('half', [], 7),
    f32('sqrt2', [], 8),
    f32('one', [], 9),
  ];
  // Fixed constants where the value matters.
  for (const [name, v] of [
    ['half', 0.5],
    ['sqrt2', Math.SQRT2],
    ['one', 1],
  ] as const)
    inits.find((t) => t.name === name)!.raw_data = new Uint8Array(Float32Array.of(v).buffer);
  return model(nodes, inits, ['x', ['N', 5, 4]], ['logits', ['N', 3]], [], 17);
}

/**
 * LayerNorm as older exporters write it (opset 13): ReduceMean (axes attribute), Sub, Pow 2,
 * ReduceMean, Add eps, Sqrt, Div; then ReduceSum over the tokens (axes input, keepdims 0) and a
 * MatMul head: x [N, 3, 4] -> logits [N, 3].
 */
function decomposedNormModel(): Uint8Array {
  const nodes = [
    node('ReduceMean', ['x'], ['m'], [ints('axes', [-1])]),
    node('Sub', ['x', 'm'], ['d']),
    node('Pow', ['d', 'two'], ['p']),
    node('ReduceMean', ['p'], ['v'], [ints('axes', [-1])]),
    node('Add', ['v', 'eps'], ['ve']),
    node('Sqrt', ['ve'], ['sd']),
    node('Div', ['d', 'sd'], ['n']),
    node('ReduceSum', ['n', 'axes1'], ['r'], [int('keepdims', 0)]),
    node('MatMul', ['r', 'W'], ['logits']),
  ];
  const inits = [f32('W', [4, 3], 1, 1), f32('two', [], 2), f32('eps', [], 3), i64('axes1', [1])];
  for (const [name, v] of [
    ['two', 2],
    ['eps', 1e-3],
  ] as const)
    inits.find((t) => t.name === name)!.raw_data = new Uint8Array(Float32Array.of(v).buffer);
  return model(nodes, inits, ['x', ['N', 3, 4]], ['logits', ['N', 3]]);
}

describe('gradient graphs against finite differences', () => {
  it('a LayerNorm decomposed into ReduceMean / Pow / Sqrt / Div, and ReduceSum', async () => {
    const m = await load(decomposedNormModel());
    expect(await directionalError(m.gradient('x'), randomTensor([3, 3, 4], 17), targets(3, 3, 18), 1e-2)).toBeLessThan(
      5e-3,
    );
  });

  it('convolutions (strided, padded, grouped), smooth activations, pooling, Gemm', async () => {
    const m = await load(convModel());
    const worst = await directionalError(m.gradient('x'), randomTensor([3, 2, 6, 6], 11), targets(3, 3, 12), 1e-2);
    expect(worst).toBeLessThan(5e-3);
    // From an inner tensor too: the segment starts after the strided convolution.
    const inner = await m.capture(randomTensor([3, 2, 6, 6], 13), ['t']);
    expect(await directionalError(m.gradient('t'), inner.t!, targets(3, 3, 14), 1e-2)).toBeLessThan(5e-3);
  });

  it('max and average pooling (overlapping and not), Clip, BatchNormalization', async () => {
    const m = await load(poolModel());
    // Small steps: max and clip switch at kinks.
    const worst = await directionalError(m.gradient('x'), randomTensor([3, 2, 6, 6], 15), targets(3, 3, 16), 1e-3);
    expect(worst).toBeLessThan(2e-2);
  });

  it('a Transformer block: LayerNorm, attention, GELU, Gather / Slice / Concat / Expand, element-wise ops', async () => {
    const m = await load(transformerModel());
    const worst = await directionalError(m.gradient('x'), randomTensor([2, 5, 4], 21), targets(2, 3, 22), 1e-2);
    expect(worst).toBeLessThan(5e-3);
  });

  it('the loss is the mean cross-entropy of the logits against the targets', async () => {
    const m = await load(convModel());
    const x = randomTensor([4, 2, 6, 6], 31),
      t = targets(4, 3, 32);
    const logits = (await m.run(x)).data;
    let expected = 0;
    for (let i = 0; i < 4; i++) {
      const row = Array.from(logits.subarray(i * 3, i * 3 + 3));
      const lse = Math.log(row.reduce((s, v) => s + Math.exp(v), 0));
      for (let c = 0; c < 3; c++) expected -= t.data[i * 3 + c]! * (row[c]! - lse);
    }
    expect((await m.gradient('x').run(x, t)).loss).toBeCloseTo(expected / 4, 5);
  });
});

describe.each(zooAnchors().filter((a) => a === 'cnn-s' || a === 'vit-s'))('gradient of the zoo anchor %s', (name) => {
  it('matches finite differences at every block cut', async () => {
    const m = await load(`${ZOO}/${name}.onnx`);
    const cuts =
      name === 'cnn-s'
        ? ['stem', 'stage1.block0', 'stage2.block0', 'stage3.block0']
        : ['embed', 'blocks.0', 'blocks.1'];
    const pixels = randomTensor([3, 1, 28, 28], 41);
    pixels.data.forEach((v, i) => (pixels.data[i] = v / 2 + 0.5));
    const acts = await m.capture(pixels, cuts);
    for (const cut of cuts) {
      // Small steps: ReLU kinks make larger ones inexact.
      const worst = await directionalError(m.gradient(cut), acts[cut]!, targets(3, 10, 42), 1e-3);
      expect(worst, cut).toBeLessThan(2e-2);
    }
  });
});

describe('gradient errors', () => {
  it('names an op that cannot be differentiated and lists those that can', async () => {
    const nodes = [
      node('MatMul', ['x', 'W'], ['h']),
      node('Round', ['h'], ['r']),
      node('MatMul', ['r', 'W2'], ['logits']),
    ];
    const m = await load(
      model(nodes, [f32('W', [4, 4], 1), f32('W2', [4, 3], 2)], ['x', ['N', 4]], ['logits', ['N', 3]]),
    );
    expect(() => m.gradient('x')).toThrow(
      /cannot differentiate Round 'r'.*differentiable ops: Add, AveragePool, BatchNormalization, Cast, CastLike, Clip, Concat, Conv, Div, Dropout, Erf, Exp, Expand, Flatten, Gather, Gelu,/,
    );
  });

  it('needs logits [N, K] and targets shaped like them', async () => {
    const nodes = [node('MatMul', ['x', 'W'], ['y'])];
    const flat = await load(model(nodes, [f32('W', [4, 3], 1)], ['x', ['N', 4]], ['y', ['N', 3]]));
    const g = flat.gradient('x');
    await expect(g.run(randomTensor([2, 4], 1), randomTensor([2, 4], 2))).rejects.toThrow(
      /target: expected dims \[N, 3\]/,
    );
    await expect(g.run(randomTensor([2, 4], 1), targets(3, 3, 2))).rejects.toThrow(
      /target: expected 2 rows like x, got 3/,
    );
    const rank3 = await load(
      model([node('MatMul', ['x', 'W'], ['y'])], [f32('W', [4, 3], 1)], ['x', ['N', 2, 4]], ['y', ['N', 2, 3]]),
    );
    expect(() => rank3.gradient('x')).toThrow(/to: expected logits \[N, K\].*\[N, 2, 3\]/);
  });
});
