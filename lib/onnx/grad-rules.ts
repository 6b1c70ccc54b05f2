// The reverse-mode rule of each differentiable ONNX op (grad.ts runs them from the logits back
// to the cut): given g, the gradient of a node's first output, a rule emits the nodes that add
// each data input's share of it. Only data inputs get gradients: the anchors' weights stay frozen.
import { ACTIVATION_RULES } from './grad-activations.js';
import { RESAMPLE_RULES } from './grad-resample.js';
import type { Rule, RuleContext, Site } from './grad-rule-types.js';
import {
  attribute,
  DataType,
  floatAttr,
  int,
  intAttr,
  intsAttr,
  node,
  stringAttr,
  tensorProto,
  type NodeProto,
} from './proto.js';

/** Ops whose rules differentiate every output; the others only their first. */
export const MULTI_OUTPUT: ReadonlySet<string> = new Set(['Split']);

/** A convolution's or pooling's window, and the ConvTranspose attributes that undo it. */
export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: number[];
  transposeAttributes: NodeProto['attribute'];
}

/**
 * A convolution's or pooling's window and the ConvTranspose attributes that send an output
 * gradient back over it: its output is stride (in - 1) + output_padding + (k - 1) d + 1 - pads,
 * and the output padding restores the rows a strided window dropped.
 */
export function windowOf(c: RuleContext, nd: NodeProto, kernel: number[]): Window {
  const x = nd.input[0]!,
    y = nd.output[0]!;
  const spatial = c.rankOf(x) - 2;
  const strides = intsAttr(nd, 'strides', new Array<number>(spatial).fill(1));
  const dilations = intsAttr(nd, 'dilations', new Array<number>(spatial).fill(1));
  const inSize = c.dims(x).slice(2) as number[],
    outSize = c.dims(y).slice(2) as number[];
  if (intAttr(nd, 'ceil_mode', 0) !== 0)
    throw new Error(`${c.name}: ${nd.op_type} '${nd.name}' has ceil_mode 1; only floor mode can be differentiated`);
  const autoPad = stringAttr(nd, 'auto_pad', 'NOTSET');
  let pads = intsAttr(nd, 'pads', new Array<number>(2 * spatial).fill(0));
  if (autoPad === 'VALID') pads = new Array<number>(2 * spatial).fill(0);
  else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const total = inSize.map((s, i) =>
      Math.max(0, (outSize[i]! - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - s),
    );
    const small = total.map((t) => Math.floor(t / 2)),
      large = total.map((t, i) => t - small[i]!);
    pads = autoPad === 'SAME_UPPER' ? [...small, ...large] : [...large, ...small];
  } else if (autoPad !== 'NOTSET') throw new Error(`${c.name}: ${nd.op_type} '${nd.name}' has auto_pad '${autoPad}'`);
  const outputPadding = inSize.map(
    (s, i) =>
      s - ((outSize[i]! - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - pads[i]! - pads[i + spatial]!),
  );
  return {
    kernel,
    strides,
    dilations,
    pads,
    transposeAttributes: [
      attribute('kernel_shape', kernel),
      attribute('strides', strides),
      attribute('pads', pads),
      attribute('dilations', dilations),
      attribute('output_padding', outputPadding),
    ],
  };
}

/**
 * ReduceMean / ReduceSum / ReduceMax / ReduceMin: g spread back over the reduced axes (divided by
 * their size for the mean; for the max and min, to the elements equal to the result, shared
 * equally among ties).
 */
function reduceRule(c: RuleContext, { nd, g, y, x0, x1 }: Site): void {
  const rank = c.rankOf(x0);
  // Axes: an attribute before opset 13 (ReduceSum) / 18 (the others), an input after; none = all.
  const given = x1 ? c.constInts(x1, 'axes', nd) : intsAttr(nd, 'axes', []);
  if (given.length === 0 && intAttr(nd, 'noop_with_empty_axes', 0) === 1) {
    c.add(x0, g);
    return;
  }
  const axes = (given.length > 0 ? given : Array.from({ length: rank }, (_, i) => i))
    .map((a) => (a + rank) % rank)
    .sort((a, b) => a - b);
  const keep = (t: string): string => (intAttr(nd, 'keepdims', 1) === 1 ? t : c.emit.unsqueeze(t, axes));
  const kept = keep(g);
  if (nd.op_type === 'ReduceMax' || nd.op_type === 'ReduceMin') {
    const mask = c.emit.equalMask(x0, keep(y));
    const ties = c.emit.reduce('ReduceSum', mask, axes, true);
    c.add(x0, c.emit.mul(c.emit.op('Div', [mask, ties]), kept));
    return;
  }
  const spread = c.emit.expandAs(kept, x0);
  if (nd.op_type === 'ReduceSum') {
    c.add(x0, spread);
    return;
  }
  const count = axes.reduce((p, a) => p * c.staticDim(x0, a, nd), 1);
  c.add(x0, c.emit.op('Mul', [spread, c.emit.float(1 / count)]));
}

/**
 * dx of a normalisation over `axes` (LayerNormalization, InstanceNormalization) given gs, the
 * output gradient times the scale: inv (gs - mean(gs) - xh mean(gs xh)), xh = (x - mean) inv.
 */
function normalizedGrad(c: RuleContext, x0: string, gs: string, axes: number[], eps: number): string {
  const xc = c.emit.sub(x0, c.emit.reduce('ReduceMean', x0, axes, true));
  const inv = c.emit.op('Reciprocal', [
    c.emit.op('Sqrt', [c.emit.add(c.emit.reduce('ReduceMean', c.emit.mul(xc, xc), axes, true), c.emit.float(eps))]),
  ]);
  const xh = c.emit.mul(xc, inv);
  const inner = c.emit.sub(
    c.emit.sub(gs, c.emit.reduce('ReduceMean', gs, axes, true)),
    c.emit.mul(xh, c.emit.reduce('ReduceMean', c.emit.mul(gs, xh), axes, true)),
  );
  return c.emit.mul(inv, inner);
}

/** A per-channel vector [C] shaped [C, 1, ...] to broadcast against a tensor [N, C, ...] of rank `rank`. */
function perChannel(c: RuleContext, v: string, rank: number): string {
  return c.emit.op('Reshape', [v, c.emit.ints([-1, ...new Array<number>(rank - 2).fill(1)])]);
}

export const RULES: Record<string, Rule> = {
  ...ACTIVATION_RULES,
  ...RESAMPLE_RULES,
  Identity: (c, { g, x0 }) => {
    c.add(x0, g);
  },
  Dropout: (c, site) => RULES.Identity!(c, site),
  Add: (c, { g, y, x0, x1 }) => {
    if (c.isData(x0)) c.add(x0, c.unbroadcast(g, y, x0));
    if (c.isData(x1)) c.add(x1, c.unbroadcast(g, y, x1));
  },
  Sub: (c, { g, y, x0, x1 }) => {
    if (c.isData(x0)) c.add(x0, c.unbroadcast(g, y, x0));
    if (c.isData(x1)) c.add(x1, c.unbroadcast(c.emit.op('Neg', [g]), y, x1));
  },
  Mul: (c, { g, y, x0, x1 }) => {
    if (c.isData(x0)) c.add(x0, c.unbroadcast(c.emit.op('Mul', [g, x1]), y, x0));
    if (c.isData(x1)) c.add(x1, c.unbroadcast(c.emit.op('Mul', [g, x0]), y, x1));
  },
  Div: (c, { g, y, x0, x1 }) => {
    if (c.isData(x0)) c.add(x0, c.unbroadcast(c.emit.op('Div', [g, x1]), y, x0));
    // d(a / b)/db = -(a / b) / b
    if (c.isData(x1))
      c.add(x1, c.unbroadcast(c.emit.op('Neg', [c.emit.op('Div', [c.emit.op('Mul', [g, y]), x1])]), y, x1));
  },
  Neg: (c, { g, x0 }) => {
    c.add(x0, c.emit.op('Neg', [g]));
  },
  Relu: (c, { g, y, x0 }) => {
    c.add(x0, c.emit.mul(g, c.emit.positiveMask(y)));
  },
  Sigmoid: (c, { g, y, x0 }) => {
    c.add(x0, c.emit.op('Mul', [g, c.emit.op('Mul', [y, c.emit.op('Sub', [c.emit.float(1), y])])]));
  },
  Tanh: (c, { g, y, x0 }) => {
    c.add(x0, c.emit.op('Mul', [g, c.emit.op('Sub', [c.emit.float(1), c.emit.op('Mul', [y, y])])]));
  },
  Erf: (c, { g, x0 }) => {
    // d erf(x)/dx = 2 / sqrt(pi) exp(-x^2)
    c.add(
      x0,
      c.emit.op('Mul', [
        g,
        c.emit.op('Mul', [
          c.emit.float(2 / Math.sqrt(Math.PI)),
          c.emit.op('Exp', [c.emit.op('Neg', [c.emit.op('Mul', [x0, x0])])]),
        ]),
      ]),
    );
  },
  Pow: (c, { nd, g, x0, x1 }) => {
    c.paramOnly(nd, x1);
    // d x^p / dx = p x^(p - 1); the exponent may be an integer tensor.
    const p = c.emit.op('Cast', [x1], [attribute('to', DataType.FLOAT)]);
    c.add(
      x0,
      c.emit.op('Mul', [g, c.emit.op('Mul', [p, c.emit.op('Pow', [x0, c.emit.op('Sub', [p, c.emit.float(1)])])])]),
    );
  },
  ReduceMean: reduceRule,
  ReduceSum: reduceRule,
  ReduceMax: reduceRule,
  ReduceMin: reduceRule,
  Exp: (c, { g, y, x0 }) => {
    c.add(x0, c.emit.op('Mul', [g, y]));
  },
  Sqrt: (c, { g, y, x0 }) => {
    c.add(x0, c.emit.op('Div', [g, c.emit.op('Mul', [c.emit.float(2), y])]));
  },
  Reshape: (c, { g, x0 }) => {
    c.add(x0, c.emit.op('Reshape', [g, c.emit.op('Shape', [x0])]));
  },
  Flatten: (c, site) => RULES.Reshape!(c, site),
  Squeeze: (c, site) => RULES.Reshape!(c, site),
  Unsqueeze: (c, site) => RULES.Reshape!(c, site),
  Expand: (c, { g, y, x0 }) => {
    c.add(x0, c.unbroadcast(g, y, x0));
  },
  Transpose: (c, { nd, g, x0 }) => {
    const rank = c.rankOf(x0);
    const a = nd.attribute.find((t) => t.name === 'perm');
    const perm = a?.ints?.length ? a.ints.map(int) : Array.from({ length: rank }, (_, i) => rank - 1 - i);
    const inverse = new Array<number>(rank);
    perm.forEach((p, i) => (inverse[p] = i));
    c.add(x0, c.emit.op('Transpose', [g], [attribute('perm', inverse)]));
  },
  MatMul: (c, { nd, g, y, x0, x1 }) => {
    if (c.rankOf(x0) < 2 || c.rankOf(x1) < 2)
      throw new Error(
        `${c.name}: MatMul '${nd.name}' multiplies a vector; only matrices (rank >= 2) can be differentiated`,
      );
    // The products have the output's leading (batch) dims and the operand's last two.
    const lead = c.dims(y).slice(0, -2);
    if (c.isData(x0))
      c.add(
        x0,
        c.unbroadcast(c.emit.op('MatMul', [g, c.emit.swapLast(x1, c.rankOf(x1))]), y, x0, [
          ...lead,
          ...c.dims(x0).slice(-2),
        ]),
      );
    if (c.isData(x1))
      c.add(
        x1,
        c.unbroadcast(c.emit.op('MatMul', [c.emit.swapLast(x0, c.rankOf(x0)), g]), y, x1, [
          ...lead,
          ...c.dims(x1).slice(-2),
        ]),
      );
  },
  Gemm: (c, { nd, g, y, x0, x1, x2 }) => {
    const alpha = nd.attribute.find((a) => a.name === 'alpha')?.f ?? 1;
    const beta = nd.attribute.find((a) => a.name === 'beta')?.f ?? 1;
    const transA = intAttr(nd, 'transA', 0),
      transB = intAttr(nd, 'transB', 0);
    if (c.isData(x0)) {
      // d op(A) = alpha g op(B)^T; Gemm(g, B, transB = !transB) is g op(B)^T.
      const dOpA = c.emit.op(
        'Gemm',
        [g, x1],
        [attribute('alpha', alpha, 'float'), attribute('transB', transB ? 0 : 1)],
      );
      c.add(x0, transA ? c.emit.op('Transpose', [dOpA], [attribute('perm', [1, 0])]) : dOpA);
    }
    if (c.isData(x1)) {
      const dOpB = c.emit.op(
        'Gemm',
        [x0, g],
        [attribute('alpha', alpha, 'float'), attribute('transA', transA ? 0 : 1)],
      );
      c.add(x1, transB ? c.emit.op('Transpose', [dOpB], [attribute('perm', [1, 0])]) : dOpB);
    }
    if (c.isData(x2)) c.add(x2, c.unbroadcast(c.emit.op('Mul', [g, c.emit.float(beta)]), y, x2));
  },
  Conv: (c, { nd, g, x0, x1, x2 }) => {
    c.paramOnly(nd, x1, x2);
    const w = windowOf(c, nd, c.dims(x1).slice(2) as number[]);
    c.add(
      x0,
      c.emit.op('ConvTranspose', [g, x1], [...w.transposeAttributes, attribute('group', intAttr(nd, 'group', 1))]),
    );
  },
  AveragePool: (c, { nd, g, x0 }) => {
    const w = windowOf(c, nd, intsAttr(nd, 'kernel_shape', []));
    if (w.pads.some((p) => p > 0) && intAttr(nd, 'count_include_pad', 0) === 0) {
      throw new Error(
        `${c.name}: AveragePool '${nd.name}' pads without counting the padding, so its border divisors vary; only count_include_pad = 1 or no padding can be differentiated`,
      );
    }
    // A depthwise transposed convolution with weights 1 / (window size) spreads each output's gradient over its window.
    const channels = c.staticDim(x0, 1, nd);
    const size = w.kernel.reduce((p, k) => p * k, 1);
    const weight = c.emit.name('pool_w');
    c.emit.inits.push(
      tensorProto(weight, [channels, 1, ...w.kernel], new Float32Array(channels * size).fill(1 / size)),
    );
    c.add(x0, c.emit.op('ConvTranspose', [g, weight], [...w.transposeAttributes, attribute('group', channels)]));
  },
  MaxPool: (c, { nd, g, x0 }) => {
    if (c.opset < 11)
      throw new Error(
        `${c.name}: MaxPool '${nd.name}': its gradient needs ScatterElements (opset 11 or later, the model imports ${c.opset})`,
      );
    const w = windowOf(c, nd, intsAttr(nd, 'kernel_shape', []));
    if (intAttr(nd, 'storage_order', 0) !== 0)
      throw new Error(
        `${c.name}: MaxPool '${nd.name}' has storage_order 1; only row-major indices can be differentiated`,
      );
    // Each output's gradient goes to the input element it took (MaxPool's flat indices over
    // the whole tensor); overlapping windows add up, which needs ScatterElements' reduction.
    const overlapping = w.kernel.some((k, i) => k * w.dilations[i]! > w.strides[i]!);
    if (overlapping && c.opset < 16)
      throw new Error(
        `${c.name}: MaxPool '${nd.name}' has overlapping windows, whose gradient needs ScatterElements with reduction (opset 16 or later, the model imports ${c.opset})`,
      );
    const indices = c.emit.name('pool_idx');
    c.emit.nodes.push(node('MaxPool', [x0], [c.emit.name('pool_y'), indices], nd.attribute));
    const flat = c.emit.ints([-1]);
    const zeros = c.emit.op(
      'ConstantOfShape',
      [c.emit.op('Reshape', [c.emit.op('Size', [x0]), flat])],
      [attribute('value', tensorProto(c.emit.name('zero'), [1], [0]))],
    );
    const scatter = c.emit.op(
      'ScatterElements',
      [zeros, c.emit.op('Reshape', [indices, flat]), c.emit.op('Reshape', [g, flat])],
      overlapping ? [attribute('axis', 0), attribute('reduction', 'add')] : [attribute('axis', 0)],
    );
    c.add(x0, c.emit.op('Reshape', [scatter, c.emit.op('Shape', [x0])]));
  },
  BatchNormalization: (c, { nd, g, x0, x1 }) => {
    c.paramOnly(nd, ...nd.input.slice(1));
    if (intAttr(nd, 'training_mode', 0) !== 0)
      throw new Error(
        `${c.name}: BatchNormalization '${nd.name}' runs in training mode; only inference mode can be differentiated`,
      );
    const eps = floatAttr(nd, 'epsilon', 1e-5);
    // dx = g scale / sqrt(var + eps), per channel (axis 1).
    const factor = c.emit.op('Div', [x1, c.emit.op('Sqrt', [c.emit.op('Add', [nd.input[4]!, c.emit.float(eps)])])]);
    c.add(x0, c.emit.mul(g, perChannel(c, factor, c.rankOf(x0))));
  },
  Clip: (c, { g, y, x0 }) => {
    // The gradient passes where the value was not clipped (y == x).
    c.add(x0, c.emit.mul(g, c.emit.equalMask(x0, y)));
  },
  GlobalAveragePool: (c, { g, x0 }) => {
    const cells = (c.dims(x0).slice(2) as number[]).reduce((p, d) => p * d, 1);
    c.add(x0, c.emit.expandAs(c.emit.mul(g, c.emit.float(1 / cells)), x0));
  },
  Softmax: (c, { nd, g, y, x0 }) => {
    const rank = c.rankOf(x0);
    // From opset 13 on, along one axis (default the last); before, over the input coerced to 2D
    // [d0 x ... x d(axis-1), d(axis) x ... x d(rank-1)] (default axis 1), i.e. over every axis from `axis` on.
    const axis = (intAttr(nd, 'axis', c.opset >= 13 ? -1 : 1) + rank) % rank;
    const axes = c.opset >= 13 ? [axis] : Array.from({ length: rank - axis }, (_, i) => axis + i);
    if (nd.op_type === 'Softmax') {
      // y (g - sum(g y))
      c.add(x0, c.emit.mul(y, c.emit.sub(g, c.emit.reduce('ReduceSum', c.emit.mul(g, y), axes, true))));
    } else {
      // g - exp(y) sum(g)
      c.add(x0, c.emit.sub(g, c.emit.mul(c.emit.op('Exp', [y]), c.emit.reduce('ReduceSum', g, axes, true))));
    }
  },
  LogSoftmax: (c, site) => RULES.Softmax!(c, site),
  LayerNormalization: (c, { nd, g, x0, x1, x2 }) => {
    c.paramOnly(nd, x1, x2);
    const rank = c.rankOf(x0);
    const axis = (intAttr(nd, 'axis', -1) + rank) % rank;
    const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
    // The scale has the normalised dims (or broadcasts to them).
    c.add(x0, normalizedGrad(c, x0, c.emit.mul(g, x1), axes, floatAttr(nd, 'epsilon', 1e-5)));
  },
  InstanceNormalization: (c, { nd, g, x0, x1, x2 }) => {
    c.paramOnly(nd, x1, x2);
    // Normalised over the spatial axes of each sample and channel; the scale is per channel.
    const rank = c.rankOf(x0);
    const axes = Array.from({ length: rank - 2 }, (_, i) => 2 + i);
    c.add(x0, normalizedGrad(c, x0, c.emit.mul(g, perChannel(c, x1, rank)), axes, floatAttr(nd, 'epsilon', 1e-5)));
  },
  Gather: (c, { nd, g, x0, x1 }) => {
    c.paramOnly(nd, x1);
    const rank = c.rankOf(x0);
    const axis = (intAttr(nd, 'axis', 0) + rank) % rank;
    const size = c.staticDim(x0, axis, nd);
    const indices = c.constInts(x1, 'indices', nd).map((i) => (i < 0 ? i + size : i));
    const scalar = c.dims(x1).length === 0;
    const first = indices[0]!;
    if (indices.some((i, k) => i !== first + k))
      throw new Error(
        `${c.name}: Gather '${nd.name}' picks indices [${indices.join(', ')}]; only a scalar or a contiguous ascending range can be differentiated`,
      );
    const before = new Array<number>(rank).fill(0),
      after = new Array<number>(rank).fill(0);
    before[axis] = first;
    after[axis] = size - first - indices.length;
    c.add(x0, c.emit.pad(scalar ? c.emit.unsqueeze(g, [axis]) : g, before, after));
  },
  Slice: (c, { nd, g, x0, x1, x2 }) => {
    const rank = c.rankOf(x0);
    // Before opset 10, starts / ends / axes are attributes and there are no steps.
    const old = c.opset < 10;
    const starts = old ? intsAttr(nd, 'starts', []) : c.constInts(x1, 'starts', nd);
    const ends = old ? intsAttr(nd, 'ends', []) : c.constInts(x2, 'ends', nd);
    const givenAxes = old ? intsAttr(nd, 'axes', []) : nd.input[3] ? c.constInts(nd.input[3], 'axes', nd) : [];
    const axes = givenAxes.length > 0 ? givenAxes.map((a) => (a + rank) % rank) : starts.map((_, i) => i);
    const steps = !old && nd.input[4] ? c.constInts(nd.input[4], 'steps', nd) : starts.map(() => 1);
    const before = new Array<number>(rank).fill(0),
      after = new Array<number>(rank).fill(0);
    axes.forEach((a, i) => {
      if (steps[i] !== 1)
        throw new Error(`${c.name}: Slice '${nd.name}' steps by ${steps[i]}; only step 1 can be differentiated`);
      const size = c.staticDim(x0, a, nd);
      const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
      const s = clamp(starts[i]!),
        e = Math.max(s, clamp(ends[i]!));
      before[a] = s;
      after[a] = size - e;
    });
    c.add(x0, c.emit.pad(g, before, after));
  },
  Concat: (c, { nd, g, y }) => {
    const rank = c.rankOf(y);
    const axis = (intAttr(nd, 'axis', 0) + rank) % rank;
    let offset = 0;
    for (const t of nd.input) {
      const size = c.staticDim(t, axis, nd);
      if (c.isData(t)) c.add(t, c.emit.slice(g, axis, offset, offset + size));
      offset += size;
    }
  },
  Split: (c, { nd, gs, x0 }) => {
    const rank = c.rankOf(x0);
    const axis = (intAttr(nd, 'axis', 0) + rank) % rank;
    c.staticDim(x0, axis, nd);
    // The pieces' gradients side by side (their sizes are the outputs'); zeros for unused outputs.
    const pieces = nd.output.map((o, i) => gs[i] ?? c.emit.mul(o, c.emit.float(0)));
    c.add(x0, pieces.length === 1 ? pieces[0]! : c.emit.op('Concat', pieces, [attribute('axis', axis)]));
  },
};
