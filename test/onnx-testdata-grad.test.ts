// The gradient rules on the ONNX operator tests shipped by Debian's libonnx-testdata (ONNX 1.12:
// each a one-node model with reference inputs): every test case of an op restnet differentiates
// is wrapped so that its first float input comes from the batch input z [N, S] and its outputs
// feed logits [N, 3]; the gradient with respect to z at the reference input is checked against
// central finite differences. The other inputs become initializers holding their reference values.
import { appendFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import protobuf from 'protobufjs';
import { afterAll, describe, expect, it } from 'vitest';

import { FrozenModel } from '../lib/onnx/index.js';
import {
  DataType,
  decodeModel,
  encodeModel,
  node,
  tensorFloats,
  tensorProto,
  valueInfo,
  valueInfoDims,
  type NodeProto,
  type TensorProto,
} from '../lib/onnx/proto.js';
import { ONNX_PROTO } from '../lib/onnx/schema.js';
import { directionalError, targets } from './grad-check.js';
import { i64, randomValues } from './onnx-helpers.js';

const FLOAT16 = 10;

const NODE_TESTS = '/usr/share/libonnx-testdata/data/node';

/** Test cases of the ops whose rules this checks (the `_expanded` variants test other ops' decompositions). */
const OPS =
  /^test_(hardsigmoid|hardswish|leakyrelu|prelu|gelu|softplus|where|constant_pad|edge_pad|reflect_pad|wrap_pad|resize|upsample|reduce_max|reduce_min|split|cast|castlike|instancenorm|softmax|logsoftmax)(_|$)/;

/** Cases whose op has no gradient at the reference input, with the reason. */
const NO_GRADIENT: Record<string, string> = {
  test_cast_FLOAT_to_STRING: 'a cast to strings',
  test_castlike_FLOAT_to_STRING: 'a cast to strings',
  test_cast_STRING_to_FLOAT: 'no float input',
  test_castlike_STRING_to_FLOAT: 'no float input',
  test_split_zero_size_splits: 'outputs with no elements: nothing reaches the loss from them',
  test_edge_pad: 'int32 data',
  test_reflect_pad: 'int32 data',
  test_where_long_example: 'string data',
  test_leakyrelu_example: 'its reference input holds 0, the kink, where LeakyRelu has no derivative',
  test_reduce_min_default_axes_keepdims_example: 'its minimum, 1, is tied three times: no derivative there',
};

/** Cases where float32 cannot measure finite differences at the reference input. */
const UNMEASURABLE: Record<string, string> = {
  test_softmax_large_number:
    'inputs near 10000, whose float32 spacing (1e-3) swallows any step that keeps the other row linear',
  test_logsoftmax_large_number: 'inputs near 10000, as for Softmax',
};

/** Cases that onnxruntime-node cannot run as restnet loads models (it measures every tensor, and cannot return bfloat16 ones). */
const UNSUPPORTED: Record<string, string> = {
  test_cast_BFLOAT16_to_FLOAT: 'bfloat16 tensors',
  test_cast_FLOAT_to_BFLOAT16: 'bfloat16 tensors',
  test_castlike_BFLOAT16_to_FLOAT: 'bfloat16 tensors',
  test_castlike_FLOAT_to_BFLOAT16: 'bfloat16 tensors',
};

const FLOATING = new Set<number>([DataType.FLOAT, DataType.DOUBLE, FLOAT16]);

/** IEEE half-precision bits as a number. */
function half(bits: number): number {
  const e = (bits >> 10) & 31,
    m = bits & 1023,
    sign = bits & 0x8000 ? -1 : 1;
  return (
    sign *
    (e === 0 ? m * 2 ** -24 : e === 31 ? (m ? Number.NaN : Number.POSITIVE_INFINITY) : (1 + m / 1024) * 2 ** (e - 15))
  );
}

/** The values of a float, double or float16 tensor. */
function floats(t: TensorProto): number[] {
  if (t.data_type !== FLOAT16) return tensorFloats(t);
  const bits =
    t.raw_data && t.raw_data.byteLength > 0
      ? Array.from(new Uint16Array(new Uint8Array(t.raw_data).buffer))
      : (t.int32_data ?? []);
  return bits.map(half);
}

const tensorType = protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.TensorProto');
const readTensor = (path: string): TensorProto => tensorType.decode(readFileSync(path)) as unknown as TensorProto;

const cases = existsSync(NODE_TESTS)
  ? readdirSync(NODE_TESTS)
      .filter((d) => OPS.test(d) && !d.endsWith('_expanded'))
      .sort()
  : [];

const models: FrozenModel[] = [];
afterAll(async () => {
  for (const m of models) await m.dispose();
});

/** The wrapped model and the reference value of its data input, or why the case has no float input. */
function wrap(dir: string): { bytes: Uint8Array; x: Float32Array; half: boolean } | string {
  const original = decodeModel(readFileSync(join(NODE_TESTS, dir, 'model.onnx')), dir);
  const graph = original.graph!;
  const inputs = graph.input.map((info, k) => ({
    info,
    value: readTensor(join(NODE_TESTS, dir, 'test_data_set_0', `input_${k}.pb`)),
  }));
  const data = inputs.find((i) => FLOATING.has(i.info.type?.tensor_type?.elem_type ?? 0));
  if (!data) return 'no float input';
  const xDims = (valueInfoDims(data.info) ?? []).map(Number);
  const x = Float32Array.from(floats(data.value));
  const size = x.length;
  // Cases written at opsets 1 and 6 (Softplus, HardSigmoid, InstanceNormalization) run at opset 7,
  // where their op is defined the same and restnet's gradients start.
  const opset = Math.max(7, Number(original.opset_import.find((o) => !o.domain)?.version ?? 0));
  // ReduceSum over `axis` keeping it (its axes an input from opset 13 on).
  const sum = (input: string, axis: number, output: string): NodeProto[] => {
    const keep = { name: 'keepdims', type: 2, i: 1 };
    if (opset >= 13) return [node('ReduceSum', [input, `wrap_axis${axis}`], [output], [keep])];
    return [node('ReduceSum', [input], [output], [keep, { name: 'axes', type: 7, ints: [axis] }])];
  };
  // z [N, S] -> sum over the batch (at N = 1: z itself) -> reshaped to the data input's dims (and type).
  const elem = data.info.type!.tensor_type!.elem_type!;
  const shaped = elem === DataType.FLOAT ? data.info.name : 'wrap_x';
  const nodes = [...sum('wrap_z', 0, 'wrap_z_sum'), node('Reshape', ['wrap_z_sum', 'wrap_x_dims'], [shaped])];
  if (shaped !== data.info.name)
    nodes.push(node('Cast', [shaped], [data.info.name], [{ name: 'to', type: 2, i: elem }]));
  const inits: TensorProto[] = [i64('wrap_axis0', [0]), i64('wrap_axis1', [1]), i64('wrap_x_dims', xDims)];
  for (const i of inputs) if (i !== data) inits.push({ ...i.value, name: i.info.name });
  nodes.push(...graph.node);
  // Every output, as float32, flattened and side by side; logits scaled to order 1.
  const outs = graph.output.map((o, k) => {
    const ref = readTensor(join(NODE_TESTS, dir, 'test_data_set_0', `output_${k}.pb`));
    const flat = `wrap_flat_${k}`;
    const cast = o.type?.tensor_type?.elem_type === DataType.FLOAT ? o.name : `wrap_cast_${k}`;
    if (cast !== o.name) nodes.push(node('Cast', [o.name], [cast], [{ name: 'to', type: 2, i: DataType.FLOAT }]));
    nodes.push(node('Reshape', [cast, 'wrap_row'], [flat]));
    const values = FLOATING.has(ref.data_type ?? 0) ? floats(ref) : [1];
    return {
      flat,
      count: ref.dims.reduce<number>((p, d) => p * Number(d), 1),
      peak: Math.max(1, ...values.map(Math.abs)),
    };
  });
  inits.push(i64('wrap_row', [1, -1]));
  const width = outs.reduce((p, o) => p + o.count, 0);
  const peak = Math.max(...outs.map((o) => o.peak));
  nodes.push(
    node(
      'Concat',
      outs.map((o) => o.flat),
      ['wrap_y'],
      [{ name: 'axis', type: 2, i: 1 }],
    ),
  );
  inits.push(tensorProto('wrap_W', [width, 3], randomValues(width * 3, 7, 1 / (peak * Math.sqrt(width)))));
  nodes.push(node('MatMul', ['wrap_y', 'wrap_W'], ['wrap_logits1']));
  // The batch enters the logits' shape through a zero term, so the logits are [N, 3].
  nodes.push(
    ...sum('wrap_z', 1, 'wrap_z_rows'),
    node('Mul', ['wrap_z_rows', 'wrap_zero'], ['wrap_batch']),
    node('Add', ['wrap_logits1', 'wrap_batch'], ['wrap_logits']),
  );
  inits.push(tensorProto('wrap_zero', [], [0]));
  const bytes = encodeModel({
    ...original,
    // IR 3 wants every initializer listed as a graph input; the wrapper does not.
    ir_version: Math.max(7, Number(original.ir_version ?? 0)),
    opset_import: [...original.opset_import.filter((o) => o.domain), { domain: '', version: opset }],
    graph: {
      ...graph,
      node: nodes,
      initializer: inits,
      input: [valueInfo('wrap_z', DataType.FLOAT, ['N', size])],
      output: [valueInfo('wrap_logits', DataType.FLOAT, ['N', 3])],
      value_info: [],
    },
  });
  return { bytes, x, half: elem === FLOAT16 || graph.output.some((o) => o.type?.tensor_type?.elem_type === FLOAT16) };
}

// Without Debian's libonnx-testdata the suite is skipped and named in npm test's last line;
// CI installs the package and sets RESTNET_REQUIRE_ONNX_TESTDATA=1, which makes its absence an error.
if (cases.length === 0) {
  if (process.env.RESTNET_REQUIRE_ONNX_TESTDATA === '1')
    throw new Error(`${NODE_TESTS} has no test cases: apt-get install libonnx-testdata`);
  const log = process.env.RESTNET_SKIP_LOG;
  if (log) appendFileSync(log, 'the gradient checks on the ONNX operator tests (apt-get install libonnx-testdata)\n');
}

describe.skipIf(cases.length === 0)('gradient rules on the ONNX operator tests (libonnx-testdata)', () => {
  it('covers the ops it names', () => {
    for (const op of [
      'hardsigmoid',
      'hardswish',
      'leakyrelu',
      'prelu',
      'softplus',
      'where',
      'pad',
      'resize',
      'upsample',
      'reduce_max',
      'reduce_min',
      'split',
      'cast',
      'instancenorm',
      'softmax',
      'logsoftmax',
    ]) {
      expect(
        cases.some((c) => c.includes(op)),
        op,
      ).toBe(true);
    }
  });

  it.each(cases.filter((c) => !(c in NO_GRADIENT) && !(c in UNSUPPORTED) && !(c in UNMEASURABLE)))(
    '%s',
    async (dir) => {
      const wrapped = wrap(dir);
      if (typeof wrapped === 'string') throw new Error(`${dir}: ${wrapped}`);
      const m = await FrozenModel.load(wrapped.bytes, { threads: 1 });
      models.push(m);
      const x = { data: wrapped.x, dims: [1, wrapped.x.length] };
      // Steps of 1e-3 of the input's magnitude: the reference inputs of piecewise-linear ops lie
      // further than that from their kinks. Through float16 the loss moves in steps of 1e-3: larger ones.
      const eps = wrapped.half ? 0.1 : 1e-3 * Math.max(1, ...Array.from(wrapped.x, Math.abs));
      expect(await directionalError(m.gradient('wrap_z'), x, targets(1, 3, 5), eps)).toBeLessThan(2e-2);
    },
  );
});
