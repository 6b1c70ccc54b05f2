// Gradient rules of the ops common exporters write (PyTorch's attention shape chains, mobile
// activations, padding, resizing, splitting, older opsets), each against central finite
// differences of the loss on a small graph built here.
import { afterAll, describe, expect, it } from 'vitest';

import { FrozenModel } from '../lib/onnx/index.js';
import { node } from '../lib/onnx/proto.js';
import { directionalError, targets } from './grad-check.js';
import { f32, i64, int, ints, model, randomTensor } from './onnx-helpers.js';

const models: FrozenModel[] = [];
afterAll(async () => {
  for (const m of models) await m.dispose();
});
async function load(bytes: Uint8Array): Promise<FrozenModel> {
  const m = await FrozenModel.load(bytes, { threads: 1 });
  models.push(m);
  return m;
}

/**
 * Attention as nn.MultiheadAttention exports it: x [N, 4, 6] -> MatMul -> qkv [N, 4, 18], split
 * into q / k / v by Slices whose starts and ends are Shape(qkv)[2] / 3 times 0, 1, 2 (a shape
 * chain that does not depend on the batch); a residual Expand to Shape(x) of a token mean; a
 * Reshape to [Shape(x)[0], -1]; a MatMul head -> logits [N, 3].
 */
function shapeChainModel(): Uint8Array {
  const nodes = [
    node('MatMul', ['x', 'Wqkv'], ['qkv']),
    node('Shape', ['qkv'], ['sq']),
    node('Gather', ['sq', 'i2'], ['e3']),
    node('Div', ['e3', 'three'], ['e']),
    node('Mul', ['e', 'one'], ['e1']),
    node('Mul', ['e', 'two'], ['e2']),
    node('Unsqueeze', ['e1', 'axes0'], ['e1u']),
    node('Unsqueeze', ['e2', 'axes0'], ['e2u']),
    node('Unsqueeze', ['e3', 'axes0'], ['e3u']),
    node('Slice', ['qkv', 'zero1', 'e1u', 'axis2'], ['q']),
    node('Slice', ['qkv', 'e1u', 'e2u', 'axis2'], ['k']),
    node('Slice', ['qkv', 'e2u', 'e3u', 'axis2'], ['v']),
    node('Transpose', ['k'], ['kt'], [ints('perm', [0, 2, 1])]),
    node('MatMul', ['q', 'kt'], ['s']),
    node('Softmax', ['s'], ['a'], [int('axis', -1)]),
    node('MatMul', ['a', 'v'], ['o']),
    node('ReduceMean', ['x'], ['xm'], [ints('axes', [1])]),
    node('Shape', ['x'], ['sx']),
    node('Expand', ['xm', 'sx'], ['xe']),
    node('Add', ['o', 'xe'], ['r']),
    node('Gather', ['sx', 'i0'], ['n']),
    node('Unsqueeze', ['n', 'axes0'], ['nu']),
    node('Concat', ['nu', 'minus1'], ['flat'], [int('axis', 0)]),
    node('Reshape', ['r', 'flat'], ['f']),
    node('MatMul', ['f', 'Wh'], ['logits']),
  ];
  const inits = [
    f32('Wqkv', [6, 18], 1, 1), f32('Wh', [24, 3], 2, 1),
    i64('i0', [0], []), i64('i2', [2], []), i64('three', [3], []), i64('one', [1], []), i64('two', [2], []),
    i64('axes0', [0]), i64('zero1', [0]), i64('axis2', [2]), i64('minus1', [-1]),
  ];
  return model(nodes, inits, ['x', ['N', 4, 6]], ['logits', ['N', 3]]);
}

describe('shape chains folded to constants', () => {
  it('Slice bounds computed from Shape -> Gather -> Div -> Mul, Shape-derived Expand and Reshape', async () => {
    const m = await load(shapeChainModel());
    const worst = await directionalError(m.gradient('x'), randomTensor([3, 4, 6], 51), targets(3, 3, 52), 1e-2);
    expect(worst).toBeLessThan(5e-3);
  });

  it('a bound that changes with the batch is not folded', async () => {
    // Slice along the tokens up to Shape(x)[0] = N: the value differs at batch 1 and 2.
    const nodes = [
      node('Shape', ['x'], ['sx']),
      node('Gather', ['sx', 'i0'], ['n']),
      node('Unsqueeze', ['n', 'axes0'], ['nu']),
      node('Slice', ['x', 'zero1', 'nu', 'axis1'], ['s']),
      node('ReduceSum', ['s', 'axis1'], ['r'], [int('keepdims', 0)]),
      node('MatMul', ['r', 'W'], ['logits']),
    ];
    const inits = [f32('W', [6, 3], 3), i64('i0', [0], []), i64('axes0', [0]), i64('zero1', [0]), i64('axis1', [1])];
    const m = await load(model(nodes, inits, ['x', ['N', 4, 6]], ['logits', ['N', 3]]));
    expect(() => m.gradient('x')).toThrow(/Slice 's' reads its ends from 'nu', which is not a constant/);
  });
});
