// Gradient rules of the ops common exporters write (PyTorch's attention shape chains, mobile
// activations, padding, resizing, splitting, older opsets), each against central finite
// differences of the loss on a small graph built here.
import { afterAll, describe, expect, it } from 'vitest';

import { FrozenModel } from '../lib/onnx/index.js';
import {
  attribute,
  node,
  tensorProto,
  type AttributeProto,
  type NodeProto,
  type TensorProto,
} from '../lib/onnx/proto.js';
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
    f32('Wqkv', [6, 18], 1, 1),
    f32('Wh', [24, 3], 2, 1),
    i64('i0', [0], []),
    i64('i2', [2], []),
    i64('three', [3], []),
    i64('one', [1], []),
    i64('two', [2], []),
    i64('axes0', [0]),
    i64('zero1', [0]),
    i64('axis2', [2]),
    i64('minus1', [-1]),
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

const flt = (name: string, v: number): AttributeProto => ({ name, type: 1, f: v });
const str = (name: string, v: string): AttributeProto => attribute(name, v);
const f32of = (name: string, dims: number[], values: number[]): TensorProto => tensorProto(name, dims, values);

/**
 * `nodes` read x [N, ...inDims] and write `out` [N, ...outDims]; a head Tanh -> Flatten -> MatMul
 * makes logits [N, 3] of it, so that every element of `out` reaches the loss with its own weight.
 */
function headed(
  nodes: NodeProto[],
  inits: TensorProto[],
  inDims: number[],
  outDims: number[],
  opset: number,
): Uint8Array {
  const size = outDims.reduce((a, b) => a * b, 1);
  const head = [
    node('Tanh', ['out'], ['th']),
    node('Flatten', ['th'], ['fl']),
    node('MatMul', ['fl', 'W_head'], ['logits']),
  ];
  return model(
    [...nodes, ...head],
    [...inits, f32('W_head', [size, 3], 99, 1)],
    ['x', ['N', ...inDims]],
    ['logits', ['N', 3]],
    [],
    opset,
  );
}

/** Loads the model and returns the worst directional error of its gradient at a random input. */
async function check(bytes: Uint8Array, inDims: number[], seed: number, eps = 1e-2): Promise<number> {
  const m = await load(bytes);
  return directionalError(m.gradient('x'), randomTensor([2, ...inDims], seed), targets(2, 3, seed + 1), eps);
}

describe('activation and selection rules', () => {
  // One model per activation, so that each rule alone decides the gradient.
  const cond: TensorProto = { name: 'cond', dims: [6], data_type: 9, raw_data: Uint8Array.from([1, 0, 0, 1, 1, 0]) };
  const cases: [string, NodeProto[], TensorProto[]][] = [
    [
      'HardSigmoid alpha 0.3 beta 0.4',
      [node('HardSigmoid', ['h'], ['out'], [flt('alpha', 0.3), flt('beta', 0.4)])],
      [],
    ],
    ['HardSigmoid', [node('HardSigmoid', ['h'], ['out'])], []],
    ['HardSwish', [node('HardSwish', ['h'], ['out'])], []],
    ['LeakyRelu alpha 0.2', [node('LeakyRelu', ['h'], ['out'], [flt('alpha', 0.2)])], []],
    ['LeakyRelu', [node('LeakyRelu', ['h'], ['out'])], []],
    [
      'PRelu with a slope broadcast over [3, 1]',
      [
        node('Reshape', ['h', 'shape'], ['h3']),
        node('PRelu', ['h3', 'slope'], ['p3']),
        node('Reshape', ['p3', 'flat'], ['out']),
      ],
      [f32('slope', [3, 1], 2), i64('shape', [-1, 3, 2]), i64('flat', [-1, 6])],
    ],
    ['Softplus', [node('Softplus', ['h'], ['out'])], []],
    [
      'Where with a constant condition',
      [node('Softplus', ['h'], ['s']), node('Where', ['cond', 's', 'h'], ['out'])],
      [cond],
    ],
    [
      'Cast float -> double -> float',
      [
        node('Cast', ['h'], ['d'], [int('to', 11)]),
        node('Mul', ['d', 'd'], ['sd']),
        node('Cast', ['sd'], ['out'], [int('to', 1)]),
      ],
      [],
    ],
  ];
  it.each(cases)('%s (opset 17)', async (_, nodes, inits) => {
    const bytes = headed(
      [node('MatMul', ['x', 'W'], ['h']), ...nodes],
      [f32('W', [5, 6], 1, 2), ...inits],
      [5],
      [6],
      17,
    );
    // Small steps: the piecewise-linear activations switch at kinks.
    expect(await check(bytes, [5], 61, 1e-3)).toBeLessThan(2e-3);
  });

  it('Gelu with approximate none and tanh (opset 20)', async () => {
    const nodes = [
      node('MatMul', ['x', 'W'], ['h']),
      node('Gelu', ['h'], ['a']),
      node('Gelu', ['h'], ['b'], [str('approximate', 'tanh')]),
      node('Concat', ['a', 'b'], ['out'], [int('axis', 1)]),
    ];
    expect(await check(headed(nodes, [f32('W', [5, 6], 3, 2)], [5], [12], 20), [5], 62)).toBeLessThan(5e-3);
  });

  it('Where routes the gradient to the branch its condition picks', async () => {
    // A data-dependent condition: Where(h > 0, h * 2, -h) is 2|h|-like, piecewise linear.
    const nodes = [
      node('MatMul', ['x', 'W'], ['h']),
      node('Greater', ['h', 'zero'], ['pos']),
      node('Mul', ['h', 'two'], ['h2']),
      node('Neg', ['h'], ['hn']),
      node('Where', ['pos', 'h2', 'hn'], ['out']),
    ];
    const inits = [f32('W', [5, 6], 4, 2), f32of('zero', [], [0]), f32of('two', [], [2])];
    expect(await check(headed(nodes, inits, [5], [6], 13), [5], 63, 1e-3)).toBeLessThan(2e-2);
  });

  it('a Cast to an integer type is refused', async () => {
    const nodes = [node('Cast', ['x'], ['c'], [int('to', 7)]), node('Cast', ['c'], ['out'], [int('to', 1)])];
    const m = await load(headed(nodes, [], [4], [4], 13));
    expect(() => m.gradient('x')).toThrow(/Cast 'out' casts int64 to float32; only float-to-float casts/);
  });
});

describe('reductions, splits and normalisations', () => {
  it('ReduceMax / ReduceMin over attribute and input axes, keepdims 0 and 1', async () => {
    const at13 = [
      node('ReduceMax', ['x'], ['a'], [ints('axes', [2])]),
      node('ReduceMin', ['x'], ['b'], [ints('axes', [1, 2]), int('keepdims', 0)]),
      node('ReduceMax', ['x'], ['c'], [ints('axes', [-2]), int('keepdims', 0)]),
      node('Reshape', ['a', 'flat3'], ['af']),
      node('Reshape', ['b', 'flat1'], ['bf']),
      node('Concat', ['af', 'bf', 'c'], ['out'], [int('axis', 1)]),
    ];
    expect(
      await check(headed(at13, [i64('flat3', [-1, 3]), i64('flat1', [-1, 1])], [3, 4], [8], 13), [3, 4], 64, 1e-3),
    ).toBeLessThan(2e-2);
    const at18 = [
      node('ReduceMax', ['x', 'ax'], ['a'], [int('keepdims', 0)]),
      node('ReduceMin', ['x', 'ax'], ['b'], [int('keepdims', 0)]),
      node('ReduceMax', ['x', 'none'], ['c'], [int('noop_with_empty_axes', 1)]),
      node('Reshape', ['c', 'flat'], ['cf']),
      node('Concat', ['a', 'b', 'cf'], ['out'], [int('axis', 1)]),
    ];
    const inits18 = [i64('ax', [-1]), i64('none', []), i64('flat', [-1, 12])];
    expect(await check(headed(at18, inits18, [3, 4], [18], 18), [3, 4], 65, 1e-3)).toBeLessThan(2e-2);
  });

  it('Split by an input, by num_outputs, evenly, with an output left unused', async () => {
    // x [N, 2, 7]: s1 [N, 2, 2] -> t1 (unused), t2 [N, 1, 2]; s2 [N, 2, 1]; s3 [N, 2, 4] -> u1 (unused), u2 [N, 2, 2].
    const pieces = [
      node('Split', ['x', 'sizes'], ['s1', 's2', 's3'], [int('axis', 2)]),
      node('Split', ['s1'], ['t1', 't2'], [int('axis', 1), int('num_outputs', 2)]),
      node('Split', ['s3'], ['u1', 'u2'], [int('axis', -1), int('num_outputs', 2)]),
      node('Flatten', ['t2'], ['f1']),
      node('Flatten', ['s2'], ['f2']),
      node('Flatten', ['u2'], ['f3']),
      node('Mul', ['f1', 'f1'], ['f11']),
      node('Concat', ['f11', 'f2', 'f3'], ['out'], [int('axis', 1)]),
    ];
    expect(await check(headed(pieces, [i64('sizes', [2, 1, 4])], [2, 7], [8], 18), [2, 7], 66)).toBeLessThan(5e-3);
  });

  it('InstanceNormalization over 1 and 2 spatial axes', async () => {
    const nodes = [
      node('InstanceNormalization', ['x', 'sc', 'bi'], ['n2'], [flt('epsilon', 1e-3)]),
      node('Reshape', ['x', 'r3'], ['x3']),
      node('InstanceNormalization', ['x3', 'sc', 'bi'], ['n1']),
      node('Reshape', ['n2', 'flat'], ['a']),
      node('Reshape', ['n1', 'flat'], ['b']),
      node('Mul', ['a', 'b'], ['out']),
    ];
    const inits = [f32('sc', [2], 6, 1), f32('bi', [2], 7), i64('r3', [-1, 2, 12]), i64('flat', [-1, 24])];
    expect(await check(headed(nodes, inits, [2, 3, 4], [24], 13), [2, 3, 4], 67)).toBeLessThan(5e-3);
  });

  it('Softmax and LogSoftmax on any axis (opset 13) and over the coerced 2D input (opset 11)', async () => {
    const along = (): NodeProto[] => [
      node('Softmax', ['x'], ['a'], [int('axis', 1)]),
      node('LogSoftmax', ['x'], ['b'], [int('axis', 0)]),
      node('Softmax', ['x'], ['c']),
      node('LogSoftmax', ['x'], ['d'], [int('axis', -2)]),
      node('Mul', ['a', 'b'], ['ab']),
      node('Add', ['ab', 'c'], ['abc']),
      node('Add', ['abc', 'd'], ['e']),
      node('Reshape', ['e', 'flat'], ['out']),
    ];
    for (const opset of [13, 11]) {
      expect(
        await check(headed(along(), [i64('flat', [-1, 12])], [3, 4], [12], opset), [3, 4], 68 + opset),
        `opset ${opset}`,
      ).toBeLessThan(5e-3);
    }
  });
});

describe('padding and resizing', () => {
  it('Pad in every mode, negative pads, an axes input (opset 18) and pads as an input (opset 11)', async () => {
    const dims = [2, 4, 5];
    // Pads [axis1, axis2, axis3 before; after] keep the shapes [N, 2, 5, 7] where they apply to all axes.
    const all = i64('pads', [0, 0, 2, 1, 0, 0, -1, 1]);
    for (const mode of ['constant', 'reflect', 'edge', 'wrap']) {
      // reflect / wrap need pads inside the input: no negative pads there.
      const pads = mode === 'constant' ? all : i64('pads', [0, 0, 2, 1, 0, 0, 1, 1]);
      const value = mode === 'constant' ? ['pads', 'v'] : ['pads'];
      const out = mode === 'constant' ? [2, 5, 7] : [2, 7, 7];
      const bytes = headed(
        [node('Pad', ['x', ...value], ['out'], [str('mode', mode)])],
        [pads, f32of('v', [], [0.3])],
        dims,
        out,
        18,
      );
      expect(await check(bytes, dims, 71), mode).toBeLessThan(5e-3);
    }
    const axes = headed(
      [node('Pad', ['x', 'pads', '', 'ax'], ['out'], [str('mode', 'reflect')])],
      [i64('pads', [3, 1, 2, 0]), i64('ax', [-1, 1])],
      dims,
      [3, 4, 10],
      18,
    );
    expect(await check(axes, dims, 72), 'axes').toBeLessThan(5e-3);
    const old = headed(
      [node('Pad', ['x', 'pads'], ['out'], [str('mode', 'edge')])],
      [i64('pads', [0, 1, 0, 2, 0, 0, 3, 0])],
      dims,
      [3, 7, 7],
      11,
    );
    expect(await check(old, dims, 73), 'opset 11').toBeLessThan(5e-3);
  });

  /** A Resize of x [N, 2, 3, 4] by `scales`, or to `sizes` on axes 2 and 3, with the given attributes (opset 19). */
  interface ResizeCase {
    attrs: AttributeProto[];
    scales?: number[];
    sizes?: number[];
    out: number[];
  }
  const modes = [
    'half_pixel',
    'half_pixel_symmetric',
    'pytorch_half_pixel',
    'align_corners',
    'asymmetric',
    'tf_half_pixel_for_nn',
    'tf_crop_and_resize',
  ];
  const scaleSets: [number[], number[]][] = [
    [
      [1, 1, 2, 1.5],
      [2, 6, 6],
    ],
    [
      [1, 1, 0.5, 0.75],
      [2, 1, 3],
    ],
    [
      [1, 1, 1.7, 0.6],
      [2, 5, 2],
    ],
  ];
  const resizeCases: [string, ResizeCase][] = [];
  for (const coordinate of modes) {
    for (const [allScales, out] of scaleSets) {
      // tf_half_pixel_for_nn moves even unscaled axes by half a pixel: resize the spatial axes alone (opset 18 axes).
      const spatialOnly = coordinate === 'tf_half_pixel_for_nn';
      const base = [
        str('coordinate_transformation_mode', coordinate),
        flt('extrapolation_value', 0.25),
        ...(spatialOnly ? [ints('axes', [2, 3])] : []),
      ];
      const scales = spatialOnly ? allScales.slice(2) : allScales;
      for (const nearest of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']) {
        resizeCases.push([
          `nearest ${nearest} ${coordinate} x${allScales.slice(2).join('/')}`,
          { attrs: [...base, str('mode', 'nearest'), str('nearest_mode', nearest)], scales, out },
        ]);
      }
      resizeCases.push([
        `linear ${coordinate} x${allScales.slice(2).join('/')}`,
        { attrs: [...base, str('mode', 'linear')], scales, out },
      ]);
      for (const exclude of [0, 1]) {
        resizeCases.push([
          `cubic exclude_outside ${exclude} ${coordinate} x${allScales.slice(2).join('/')}`,
          {
            attrs: [...base, str('mode', 'cubic'), int('exclude_outside', exclude), flt('cubic_coeff_a', -0.5)],
            scales,
            out,
          },
        ]);
      }
    }
  }
  // Sizes on axes 2 and 3: [5, 6] from [3, 4] stretches (5/3, 3/2); not_larger scales both by 3/2, not_smaller by 5/3.
  for (const [policy, out] of [
    ['stretch', [2, 5, 6]],
    ['not_larger', [2, 5, 6]],
    ['not_smaller', [2, 5, 7]],
  ] as const) {
    resizeCases.push([
      `linear sizes ${policy}`,
      {
        attrs: [str('mode', 'linear'), ints('axes', [2, 3]), str('keep_aspect_ratio_policy', policy)],
        sizes: [5, 6],
        out: [...out],
      },
    ]);
  }
  resizeCases.push([
    'linear antialias enlarging',
    { attrs: [str('mode', 'linear'), int('antialias', 1)], scales: [1, 1, 2, 1.5], out: [2, 6, 6] },
  ]);
  // Antialiased shrinking (x [N, 2, 3, 4] by 0.5 and 0.6 on the last axes): stretched kernels over several inputs.
  for (const coordinate of ['half_pixel', 'align_corners', 'asymmetric', 'tf_crop_and_resize']) {
    for (const [mode, exclude] of [
      ['linear', 0],
      ['cubic', 0],
      ['cubic', 1],
    ] as const) {
      const attrs = [
        str('mode', mode),
        int('antialias', 1),
        int('exclude_outside', exclude),
        str('coordinate_transformation_mode', coordinate),
      ];
      resizeCases.push([
        `${mode} antialias shrinking exclude_outside ${exclude} ${coordinate}`,
        { attrs, scales: [1, 1, 0.5, 0.6], out: [2, 1, 2] },
      ]);
    }
  }

  it.each(resizeCases)('Resize %s', async (_, r) => {
    const inputs = ['x', 'roi', r.scales ? 'scales' : '', r.sizes ? 'sizes' : ''];
    const inits = [f32of('roi', [8], [0, 0, 0.1, 0.2, 1, 1, 0.8, 0.9])];
    if (r.scales) inits.push(f32of('scales', [r.scales.length], r.scales));
    if (r.sizes) inits.push(i64('sizes', r.sizes));
    const bytes = headed([node('Resize', inputs, ['out'], r.attrs)], inits, [2, 3, 4], r.out, 19);
    expect(await check(bytes, [2, 3, 4], 74)).toBeLessThan(5e-3);
  });

  it('a resize that moves samples along the batch axis is refused by name', async () => {
    const attrs = [str('mode', 'linear'), str('coordinate_transformation_mode', 'tf_half_pixel_for_nn')];
    const m = await load(
      headed(
        [node('Resize', ['x', '', 'scales'], ['out'], attrs)],
        [f32of('scales', [4], [1, 1, 2, 2])],
        [2, 3, 4],
        [2, 6, 8],
        19,
      ),
    );
    expect(() => m.gradient('x')).toThrow(/Resize 'out' resamples along the batch axis 0 \(mixing samples\)/);
  });
});

describe('older exports (opsets 7 to 12)', () => {
  // x [N, 2, 4, 4] in every case; each writes `out` with the dims given.
  const cases: [string, number, NodeProto[], TensorProto[], number[]][] = [
    [
      'Unsqueeze / Squeeze / ReduceSum / ReduceMax with axes attributes, Split with a split attribute',
      11,
      [
        node('Unsqueeze', ['x'], ['u'], [ints('axes', [1])]),
        node('Squeeze', ['u'], ['s'], [ints('axes', [1])]),
        node('Split', ['s'], ['a', 'b'], [int('axis', 1), ints('split', [1, 1])]),
        node('Mul', ['a', 'b'], ['ab']),
        node('ReduceSum', ['ab'], ['r'], [ints('axes', [3])]),
        node('ReduceMax', ['s'], ['m'], [ints('axes', [1]), int('keepdims', 1)]),
        node('Add', ['r', 'm'], ['out']),
      ],
      [],
      [1, 4, 4],
    ],
    ['Softmax over the coerced 2D input, default axis 1', 11, [node('Softmax', ['x'], ['out'])], [], [2, 4, 4]],
    [
      'LogSoftmax over the coerced 2D input, axis 2',
      11,
      [node('LogSoftmax', ['x'], ['out'], [int('axis', 2)])],
      [],
      [2, 4, 4],
    ],
    [
      'Slice with input bounds and Pad with input pads',
      11,
      [node('Slice', ['x', 'st', 'en', 'ax'], ['sl']), node('Pad', ['sl', 'pads'], ['out'], [str('mode', 'reflect')])],
      [i64('st', [1]), i64('en', [-1]), i64('ax', [3]), i64('pads', [0, 0, 0, 1, 0, 0, 1, 0])],
      [2, 5, 3],
    ],
    [
      'Resize-11 with an empty roi and constant scales',
      11,
      [
        node(
          'Resize',
          ['x', 'roi', 'scales'],
          ['out'],
          [str('mode', 'linear'), str('coordinate_transformation_mode', 'align_corners')],
        ),
      ],
      [f32of('roi', [0], []), f32of('scales', [4], [1, 1, 1.5, 2])],
      [2, 6, 8],
    ],
    [
      'Resize-10 nearest (asymmetric coordinates)',
      10,
      [node('Resize', ['x', 'scales'], ['out'])],
      [f32of('scales', [4], [1, 1, 2, 1.5])],
      [2, 8, 6],
    ],
    [
      'Resize-10 linear, shrinking',
      10,
      [node('Resize', ['x', 'scales'], ['out'], [str('mode', 'linear')])],
      [f32of('scales', [4], [1, 1, 0.5, 0.75])],
      [2, 2, 3],
    ],
    [
      'Slice-10 with steps 1 and Pad with a pads attribute',
      10,
      [
        node('Slice', ['x', 'st', 'en', 'ax', 'sp'], ['sl']),
        node('Pad', ['sl'], ['out'], [ints('pads', [0, 1, 0, 2, 0, 0, 1, 0]), flt('value', 0.5)]),
      ],
      [i64('st', [0, 1]), i64('en', [3, 4]), i64('ax', [2, 3]), i64('sp', [1, 1])],
      [3, 4, 5],
    ],
    [
      'Upsample-9 nearest (scales input)',
      9,
      [node('Upsample', ['x', 'scales'], ['out'])],
      [f32of('scales', [4], [1, 1, 2, 2])],
      [2, 8, 8],
    ],
    [
      'Upsample-9 linear',
      9,
      [node('Upsample', ['x', 'scales'], ['out'], [str('mode', 'linear')])],
      [f32of('scales', [4], [1, 1, 1.5, 2])],
      [2, 6, 8],
    ],
    [
      'Slice-9 with attribute bounds',
      9,
      [node('Slice', ['x'], ['out'], [ints('starts', [1, 0]), ints('ends', [3, -1]), ints('axes', [2, 3])])],
      [],
      [2, 2, 3],
    ],
    [
      'Upsample-7 (scales attribute), Clip-6 attributes, ReduceMean axes attribute, GlobalAveragePool without Expand',
      7,
      [
        node('Upsample', ['x'], ['up'], [{ name: 'scales', type: 6, floats: [1, 1, 2, 1] }]),
        node('Clip', ['up'], ['c'], [flt('min', -0.6), flt('max', 0.7)]),
        node('ReduceMean', ['c'], ['m'], [ints('axes', [2])]),
        node('GlobalAveragePool', ['c'], ['gp']),
        node('Add', ['m', 'gp'], ['mg']),
        node('Mul', ['c', 'mg'], ['out']),
      ],
      [],
      [2, 8, 4],
    ],
  ];
  it.each(cases)('%s (opset %i)', async (_, opset, nodes, inits, out) => {
    expect(await check(headed(nodes, inits, [2, 4, 4], out, opset), [2, 4, 4], 81, 1e-3)).toBeLessThan(5e-3);
  });

  it('opsets before 7 are refused', async () => {
    const m = await load(headed([node('Relu', ['x'], ['out'])], [], [2, 4, 4], [2, 4, 4], 6));
    expect(() => m.gradient('x')).toThrow(/gradients need ONNX opset 7 or later, the model imports opset 6/);
  });
});

describe('float shape chains folded to constants', () => {
  it('Resize scales computed as sizes over Shape(x) (as PyTorch writes interpolate with recomputed scales)', async () => {
    const nodes = [
      node('Shape', ['x'], ['sx']),
      node('Slice', ['sx', 'two', 'four'], ['hw']),
      node('Cast', ['hw'], ['hwf'], [int('to', 1)]),
      node('Div', ['sizes', 'hwf'], ['ratio']),
      node('Concat', ['ones', 'ratio'], ['scales'], [int('axis', 0)]),
      node('Resize', ['x', '', 'scales'], ['out'], [str('mode', 'linear')]),
    ];
    const inits = [i64('two', [2]), i64('four', [4]), f32of('sizes', [2], [6, 6]), f32of('ones', [2], [1, 1])];
    expect(await check(headed(nodes, inits, [2, 3, 4], [2, 6, 6], 13), [2, 3, 4], 91)).toBeLessThan(5e-3);
  });
});
