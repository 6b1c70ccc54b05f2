// Shared by the ONNX tests: small graphs built in code, seeded inputs, and onnxruntime runs of
// whole models as the independent reference.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import * as ort from 'onnxruntime-node';

import type { Matrix, Tensor } from '../lib/matrix.js';
import type { Stitch } from '../lib/stitch/index.js';
import {
  DataType,
  encodeModel,
  node,
  tensorProto,
  valueInfo,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from '../lib/onnx/proto.js';

export const FIXTURES = join(import.meta.dirname, 'fixtures', 'onnx');
export const fixture = (name: string): string => join(FIXTURES, `${name}.onnx`);
export const ZOO = join(import.meta.dirname, '..', 'zoo');

/** Zoo anchors present on disk (they land while this code is being written). */
export function zooAnchors(): string[] {
  return ['cnn-s', 'cnn-l', 'vit-s', 'vit-l'].filter((a) => existsSync(join(ZOO, `${a}.onnx`)));
}

export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

export function randomTensor(dims: number[], seed: number): Tensor {
  const r = seeded(seed);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = r() * 2;
  return { data, dims };
}

export function randomValues(n: number, seed: number, scale = 1): Float32Array {
  const r = seeded(seed);
  return Float32Array.from({ length: n }, () => r() * 2 * scale);
}

/**
 * Runs an ONNX model directly in onnxruntime (one float input, first output): its bytes, or its
 * path, from which onnxruntime also resolves external data beside the file.
 */
export async function ortRun(model: Uint8Array | string, x: Tensor): Promise<Tensor> {
  const options = { intraOpNumThreads: 1, interOpNumThreads: 1 };
  const session = await (typeof model === 'string'
    ? ort.InferenceSession.create(model, options)
    : ort.InferenceSession.create(model, options));
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x.data, x.dims) });
    const t = out[session.outputNames[0]!]!;
    return { data: t.data as Float32Array, dims: [...t.dims] };
  } finally {
    await session.release();
  }
}

/** max |a - b| / max(1, max |b|). */
export function relError(a: Tensor, b: Tensor): number {
  if (a.data.length !== b.data.length) throw new Error(`sizes differ: ${a.data.length} vs ${b.data.length}`);
  let err = 0,
    scale = 1;
  for (let i = 0; i < a.data.length; i++) {
    err = Math.max(err, Math.abs(a.data[i]! - b.data[i]!));
    scale = Math.max(scale, Math.abs(b.data[i]!));
  }
  return err / scale;
}

export const i64 = (name: string, values: number[], dims = [values.length]): TensorProto =>
  tensorProto(name, dims, values, DataType.INT64);
export const f32 = (name: string, dims: number[], seed: number, scale = 0.5): TensorProto =>
  tensorProto(
    name,
    dims,
    randomValues(
      dims.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
  );
export const ints = (name: string, v: number[]): AttributeProto => ({ name, type: 7, ints: v });
export const int = (name: string, v: number): AttributeProto => ({ name, type: 2, i: v });

export function model(
  nodes: NodeProto[],
  inits: TensorProto[],
  input: [string, (number | string)[]],
  output: [string, (number | string)[]],
  extraInputs: string[] = [],
  opset = 13,
): Uint8Array {
  return encodeModel({
    ir_version: opset >= 21 ? 10 : opset >= 19 ? 9 : opset >= 17 ? 8 : 7,
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'restnet-tests',
    graph: {
      name: 'g',
      node: nodes,
      initializer: inits,
      input: [
        valueInfo(input[0], DataType.FLOAT, input[1]),
        ...extraInputs.map((n) => valueInfo(n, DataType.FLOAT, ['N', 6])),
      ],
      output: [valueInfo(output[0], DataType.FLOAT, output[1])],
      value_info: [],
    },
  });
}

/**
 * x [N, 6] -> MatMul (W1 through an Identity) -> h1 -> + b1 (a Constant node) -> a1 -> Relu -> r1
 * -> residual block (MatMul W2, Relu, Add r1) -> s1 -> Reshape to [N, 2, 4] with a shape chain
 * from x (Shape -> Gather -> Unsqueeze -> Concat) -> z -> ReduceMean -> m -> MatMul W3 -> y.
 * W3 is computed from parameters alone (W3a * 2). Nodes are written in a scrambled order.
 * Cut points: x, h1, a1, r1, s1, z, m, y. MACs: 48 + 64 + 6.
 */
export function residualModel(extraInputs: string[] = []): Uint8Array {
  const nodes = [
    node('MatMul', ['m', 'W3'], ['y']),
    node('Relu', ['h2'], ['r2']),
    node('Add', ['r1', 'r2'], ['s1']),
    node('Reshape', ['s1', 'shp'], ['z']),
    node('Concat', ['n1', 'tail'], ['shp'], [int('axis', 0)]),
    node('Unsqueeze', ['n', 'axes0'], ['n1']),
    node('Gather', ['sx', 'idx0'], ['n']),
    node('Shape', ['x'], ['sx']),
    node('ReduceMean', ['z'], ['m'], [ints('axes', [2]), int('keepdims', 0)]),
    node('MatMul', ['r1', 'W2'], ['h2']),
    node('Relu', ['a1'], ['r1']),
    node('Add', ['h1', 'b1'], ['a1']),
    node('Constant', [], ['b1'], [{ name: 'value', type: 4, t: f32('b1v', [8], 4) }]),
    node('MatMul', ['x', 'W1'], ['h1']),
    node('Identity', ['W1init'], ['W1']),
    node('Mul', ['W3a', 'two'], ['W3']),
  ];
  const inits = [
    f32('W1init', [6, 8], 1),
    f32('W2', [8, 8], 2),
    f32('W3a', [2, 3], 3),
    tensorProto('two', [], [2]),
    i64('idx0', [0], []),
    i64('axes0', [0]),
    i64('tail', [2, 4]),
  ];
  return model(nodes, inits, ['x', ['N', 6]], ['y', ['N', 3]], extraInputs);
}

/**
 * Two attention-like blocks on x [N, 4, 6] with PyTorch-style shape chains: queries are computed
 * on the flattened [4N, 6] rows and reshaped back with Shape(x) of the *model input*, then a
 * per-row head on [4N, 6] reshaped to [N, 4, 3] through Shape(x) again. Cut points: x, y1, y2, g,
 * gf, out. A suffix from gf must rebuild Shape(x) from a [4N, 3] tensor.
 */
export function attentionModel(): Uint8Array {
  const nodes: NodeProto[] = [
    node('Shape', ['x'], ['sx']),
    node('Gather', ['sx', 'idx0'], ['n']),
    node('Unsqueeze', ['n', 'axes0'], ['n1']),
  ];
  let h = 'x';
  for (const b of [1, 2]) {
    const p = (s: string): string => `b${b}_${s}`;
    nodes.push(
      node('Reshape', [h, 'rows6'], [p('f')]),
      node('MatMul', [p('f'), p('Wq')], [p('qf')]),
      node('Reshape', [p('qf'), 'sx'], [p('q')]),
      node('MatMul', [h, p('Wk')], [p('k')]),
      node('MatMul', [h, p('Wv')], [p('v')]),
      node('Transpose', [p('k')], [p('kt')], [ints('perm', [0, 2, 1])]),
      node('MatMul', [p('q'), p('kt')], [p('s')]),
      node('Softmax', [p('s')], [p('a')], [int('axis', -1)]),
      node('MatMul', [p('a'), p('v')], [p('o')]),
      node('Add', [h, p('o')], [`y${b}`]),
    );
    h = `y${b}`;
  }
  nodes.push(
    node('Reshape', ['y2', 'rows6'], ['g']),
    node('MatMul', ['g', 'Wo'], ['gf']),
    node('Concat', ['n1', 'tail43'], ['oshape'], [int('axis', 0)]),
    node('Reshape', ['gf', 'oshape'], ['out']),
  );
  const inits = [
    i64('idx0', [0], []),
    i64('axes0', [0]),
    i64('rows6', [-1, 6]),
    i64('tail43', [4, 3]),
    f32('Wo', [6, 3], 30),
  ];
  for (const b of [1, 2])
    for (const [k, w] of ['Wq', 'Wk', 'Wv'].entries()) inits.push(f32(`b${b}_${w}`, [6, 6], 10 * b + k));
  return model(nodes.reverse(), inits, ['x', ['N', 4, 6]], ['out', ['N', 4, 3]]);
}

/** y = x W + b with seeded W and b: the reference apply a fitted stitch must match (f64 sums). */
export function linearMap(rows: number, cols: number, seed: number, scale = 1): Stitch {
  const weight = { data: randomValues(rows * cols, seed, scale), rows, cols };
  const bias = randomValues(cols, seed + 1, scale);
  return mapOf(weight, bias);
}

export function identityMap(n: number): Stitch {
  const weight = { data: new Float32Array(n * n), rows: n, cols: n };
  for (let i = 0; i < n; i++) weight.data[i * n + i] = 1;
  return mapOf(weight, new Float32Array(n));
}

function mapOf(weight: Matrix, bias: Float32Array): Stitch {
  const { rows, cols } = weight;
  return {
    weight,
    bias,
    apply(x: Matrix): Matrix {
      const out = new Float32Array(x.rows * cols);
      for (let i = 0; i < x.rows; i++)
        for (let j = 0; j < cols; j++) {
          let s = bias[j]!;
          for (let k = 0; k < rows; k++) s += x.data[i * x.cols + k]! * weight.data[k * cols + j]!;
          out[i * cols + j] = s;
        }
      return { data: out, rows: x.rows, cols };
    },
  };
}

/**
 * x [N, 6] -> Relu -> h -> MatMul -> g; an If node whose branches read x and g from the outer
 * scope (no explicit data inputs) -> y -> Relu -> out. x flows around h and g through the If's
 * branches, so the cut points are x, y, out.
 */
export function ifModel(): Uint8Array {
  const branch = (op: string, out: string) => ({
    name: out,
    node: [node(op, ['x', 'g'], [out])],
    initializer: [],
    input: [],
    output: [valueInfo(out, DataType.FLOAT)],
    value_info: [],
  });
  const nodes = [
    node('Relu', ['x'], ['h']),
    node('MatMul', ['h', 'W'], ['g']),
    node('If', ['cond'], ['y'], [
      { name: 'then_branch', type: 5, g: branch('Add', 'then_out') },
      { name: 'else_branch', type: 5, g: branch('Sub', 'else_out') },
    ] as unknown as AttributeProto[]),
    node('Relu', ['y'], ['out']),
  ];
  const cond: TensorProto = { name: 'cond', dims: [], data_type: 9, raw_data: Uint8Array.from([1]) };
  return model(nodes, [f32('W', [6, 6], 40), cond], ['x', ['N', 6]], ['out', ['N', 6]]);
}

/** x [N, 6] -> MatMul -> h [N, 4] -> Reshape to [Size(x) / 6, 2, 2] -> z -> Relu -> out. */
export function sizeModel(): Uint8Array {
  const nodes = [
    node('MatMul', ['x', 'W'], ['h']),
    node('Size', ['x'], ['count']),
    node('Div', ['count', 'six'], ['n']),
    node('Unsqueeze', ['n', 'axes0'], ['n1']),
    node('Concat', ['n1', 'tail22'], ['shp'], [int('axis', 0)]),
    node('Reshape', ['h', 'shp'], ['z']),
    node('Relu', ['z'], ['out']),
  ];
  return model(
    nodes,
    [f32('W', [6, 4], 41), i64('six', [6], []), i64('axes0', [0]), i64('tail22', [2, 2])],
    ['x', ['N', 6]],
    ['out', ['N', 2, 2]],
  );
}
