// Reverse-mode differentiation of a frozen sub-graph, written as ONNX: the segment from a cut to
// the logits, extended with a cross-entropy loss against target probabilities and the loss's
// gradient with respect to the cut. onnxruntime-node has no training API, so this is how a
// stitching layer gets the gradient of the task loss through the frozen back of a stitched
// network (ReStNet fine-tunes its stitches on the task, not on activation error). Only the
// gradient with respect to the data input is built: the anchors' weights are never trained, so
// no node computes a weight gradient. Shapes come from the model's measured shapes; the batch
// stays dynamic.
import { extractModel, type ExtractOptions } from './extract.js';
import { GraphInfo } from './graph.js';
import { attribute, DataType, int, intAttr, node, tensorInts, tensorProto, valueInfo, type ModelProto, type NodeProto, type TensorProto } from './proto.js';
import { defaultOpset } from './fuse.js';
import { symbolicDims, type Dim, type TensorMeta } from './shapes.js';

/** Names of the gradient model's extra input and outputs. */
export const GRADIENT_IO = { target: 'restnet_target', loss: 'restnet_loss', grad: 'restnet_grad' } as const;

/** Ops whose input gradient can be written; the error for any other op lists them. */
export const DIFFERENTIABLE_OPS = [
  'Add', 'Sub', 'Mul', 'Div', 'Neg', 'Relu', 'Sigmoid', 'Tanh', 'Erf', 'Exp', 'Sqrt', 'Identity', 'Dropout',
  'Reshape', 'Flatten', 'Squeeze', 'Unsqueeze', 'Transpose', 'Expand', 'MatMul', 'Gemm', 'Conv',
  'GlobalAveragePool', 'AveragePool', 'MaxPool', 'BatchNormalization', 'Clip', 'Softmax', 'LogSoftmax', 'LayerNormalization', 'Gather', 'Slice', 'Concat',
] as const;

const sameDim = (a: Dim | undefined, b: Dim | undefined): boolean =>
  typeof a === 'number' || typeof b === 'number' ? a === b : a !== undefined && b !== undefined && a.batch === b.batch;

/** Emits the backward nodes: fresh names, constants as initializers, opset-dependent forms. */
class Builder {
  readonly nodes: NodeProto[] = [];
  readonly inits: TensorProto[] = [];
  private counter = 0;

  constructor(
    private readonly opset: number,
    private readonly used: Set<string>,
  ) {}

  name(hint: string): string {
    let n: string;
    do n = `restnet_grad_${hint}_${this.counter++}`;
    while (this.used.has(n));
    this.used.add(n);
    return n;
  }

  op(type: string, inputs: string[], attributes: NodeProto['attribute'] = [], hint = type): string {
    const out = this.name(hint);
    this.nodes.push(node(type, inputs, [out], attributes));
    return out;
  }

  float(value: number): string {
    const n = this.name('c');
    this.inits.push(tensorProto(n, [], [value]));
    return n;
  }

  ints(values: number[]): string {
    const n = this.name('i');
    this.inits.push(tensorProto(n, [values.length], values, DataType.INT64));
    return n;
  }

  /** ReduceSum / ReduceMean over `axes`, an input from opset 13 (Sum) and 18 (Mean) on. */
  reduce(type: 'ReduceSum' | 'ReduceMean', x: string, axes: number[], keepdims: boolean): string {
    const asInput = this.opset >= (type === 'ReduceSum' ? 13 : 18);
    const k = attribute('keepdims', keepdims ? 1 : 0);
    return asInput ? this.op(type, [x, this.ints(axes)], [k]) : this.op(type, [x], [attribute('axes', axes), k]);
  }

  unsqueeze(x: string, axes: number[]): string {
    return this.op('Unsqueeze', [x, this.ints(axes)]);
  }

  /** Zero padding of `x` by `before` / `after` elements per axis. */
  pad(x: string, before: number[], after: number[]): string {
    return this.op('Pad', [x, this.ints([...before, ...after])]);
  }

  /** `x` with its last two axes swapped. */
  swapLast(x: string, rank: number): string {
    const perm = Array.from({ length: rank }, (_, k) => k);
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
    return this.op('Transpose', [x], [attribute('perm', perm)]);
  }
}

export interface GradientModelOptions extends ExtractOptions {
  /** The name the error messages give the model. */
  name: string;
}

/**
 * The sub-graph from `from` to the logits `to` ([N, K]) with a cross-entropy loss: inputs
 * `from` and `restnet_target` ([N, K] target probabilities, e.g. one-hot labels); outputs
 * `restnet_loss` (the mean over the batch of -sum_k target_k log softmax(logits)_k, a scalar)
 * and `restnet_grad` (its gradient with respect to `from`, shaped like `from`).
 */
export function gradientModel(info: GraphInfo, shapes: Map<string, TensorMeta>, from: string, to: string, options: GradientModelOptions): ModelProto {
  const forward = extractModel(info, shapes, from, to, options);
  const local = new GraphInfo(forward, options.name, to);
  const meta = (t: string): TensorMeta => {
    const m = shapes.get(t);
    if (!m) throw new Error(`${options.name}: no measured shape for '${t}'`);
    return m;
  };
  const logits = meta(to).dims;
  if (logits.length !== 2 || typeof logits[0] === 'number' || typeof logits[1] !== 'number') {
    throw new RangeError(`to: expected logits [N, K] for a cross-entropy loss, '${to}' has dims [${symbolicDims(logits, options.batchName).join(', ')}]`);
  }
  const used = new Set<string>([from, GRADIENT_IO.target, GRADIENT_IO.loss, GRADIENT_IO.grad]);
  for (const n of forward.graph!.node) for (const o of n.output) used.add(o);
  for (const t of forward.graph!.initializer) used.add(t.name!);
  const opset = defaultOpset(forward);
  // From opset 13 on, Unsqueeze, Squeeze, Pad and Slice take their parameters as inputs.
  if (opset < 13) throw new RangeError(`${options.name}: gradients need ONNX opset 13 or later, the model imports opset ${opset}; export it again with a newer opset`);
  const b = new Builder(opset, used);

  // Constants the backward rules read: Constant nodes' values and initializers.
  const constants = new Map<string, TensorProto>();
  for (const t of forward.graph!.initializer) constants.set(t.name!, t);
  for (const n of forward.graph!.node) {
    const value = n.op_type === 'Constant' ? n.attribute.find((a) => a.name === 'value')?.t : undefined;
    if (value) constants.set(n.output[0]!, value);
  }
  const constInts = (t: string, what: string, at: NodeProto): number[] => {
    const c = constants.get(t);
    if (!c) throw new Error(`${options.name}: ${at.op_type} '${at.name}' reads its ${what} from '${t}', which is not a constant; only constant ${what} can be differentiated`);
    return tensorInts(c);
  };

  // Loss and dLoss/dlogits = (softmax(logits) - target) / N.
  const logp = b.op('LogSoftmax', [to], [attribute('axis', 1)]);
  const n = b.op('Cast', [b.op('Gather', [b.op('Shape', [to]), b.ints([0])])], [attribute('to', DataType.FLOAT)]);
  const total = b.op('Neg', [b.reduce('ReduceSum', b.op('Mul', [GRADIENT_IO.target, logp]), [0, 1], false)]);
  b.nodes.push(node('Div', [total, b.op('Squeeze', [n])], [GRADIENT_IO.loss]));
  const dLogits = b.op('Div', [b.op('Sub', [b.op('Exp', [logp]), GRADIENT_IO.target]), n]);

  const grads = new Map<string, string[]>([[to, [dLogits]]]);
  const add = (t: string, g: string): void => {
    const list = grads.get(t);
    if (list) list.push(g);
    else grads.set(t, [g]);
  };
  const summed = (t: string): string | undefined => {
    const list = grads.get(t);
    if (!list) return undefined;
    if (list.length === 1) return list[0]!;
    const s = b.op('Sum', list);
    grads.set(t, [s]);
    return s;
  };
  const isData = (t: string): boolean => !!t && local.kind.get(t) === 'data';
  const dims = (t: string): Dim[] => meta(t).dims;
  /** g (with dims `out`, those of a node output by default) summed over the axes that `input` was broadcast along. */
  const unbroadcast = (g: string, outName: string, input: string, out: Dim[] = dims(outName)): string => {
    const inp = dims(input);
    const offset = out.length - inp.length;
    const axes: number[] = [];
    out.forEach((d, k) => {
      if (k < offset || (!sameDim(inp[k - offset], d) && inp[k - offset] === 1)) axes.push(k);
      else if (!sameDim(inp[k - offset], d)) throw new Error(`${options.name}: cannot unbroadcast '${input}' against '${outName}'`);
    });
    if (axes.length === 0) return g;
    const r = b.reduce('ReduceSum', g, axes, true);
    return offset > 0 ? b.op('Reshape', [r, b.op('Shape', [input])]) : r;
  };
  const rankOf = (t: string): number => dims(t).length;
  const staticDim = (t: string, axis: number, at: NodeProto): number => {
    const d = dims(t)[axis];
    if (typeof d !== 'number') throw new Error(`${options.name}: ${at.op_type} '${at.name}' works along the batch axis of '${t}'; only other axes can be differentiated`);
    return d;
  };

  const intsAttr = (nd: NodeProto, name: string, fallback: number[]): number[] => {
    const a = nd.attribute.find((t) => t.name === name);
    return a?.ints?.length ? a.ints.map(int) : fallback;
  };
  /**
   * A convolution's or pooling's window and the ConvTranspose attributes that send an output
   * gradient back over it: its output is stride (in - 1) + output_padding + (k - 1) d + 1 - pads,
   * and the output padding restores the rows a strided window dropped.
   */
  const window = (nd: NodeProto, kernel: number[]) => {
    const x = nd.input[0]!, y = nd.output[0]!;
    const spatial = rankOf(x) - 2;
    const strides = intsAttr(nd, 'strides', new Array<number>(spatial).fill(1));
    const dilations = intsAttr(nd, 'dilations', new Array<number>(spatial).fill(1));
    const inSize = dims(x).slice(2) as number[], outSize = dims(y).slice(2) as number[];
    if (intAttr(nd, 'ceil_mode', 0) !== 0) throw new Error(`${options.name}: ${nd.op_type} '${nd.name}' has ceil_mode 1; only floor mode can be differentiated`);
    const autoPad = new TextDecoder().decode(nd.attribute.find((a) => a.name === 'auto_pad')?.s ?? new Uint8Array()) || 'NOTSET';
    let pads = intsAttr(nd, 'pads', new Array<number>(2 * spatial).fill(0));
    if (autoPad === 'VALID') pads = new Array<number>(2 * spatial).fill(0);
    else if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const total = inSize.map((s, i) => Math.max(0, (outSize[i]! - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - s));
      const small = total.map((t) => Math.floor(t / 2)), large = total.map((t, i) => t - small[i]!);
      pads = autoPad === 'SAME_UPPER' ? [...small, ...large] : [...large, ...small];
    } else if (autoPad !== 'NOTSET') throw new Error(`${options.name}: ${nd.op_type} '${nd.name}' has auto_pad '${autoPad}'`);
    const outputPadding = inSize.map((s, i) => s - ((outSize[i]! - 1) * strides[i]! + (kernel[i]! - 1) * dilations[i]! + 1 - pads[i]! - pads[i + spatial]!));
    return {
      kernel, strides, dilations, pads,
      transposeAttributes: [attribute('kernel_shape', kernel), attribute('strides', strides), attribute('pads', pads), attribute('dilations', dilations), attribute('output_padding', outputPadding)],
    };
  };

  for (let k = local.order.length - 1; k >= 0; k--) {
    const nd = local.node(local.order[k]!);
    const y = nd.output[0]!;
    if (!isData(y)) continue;
    const g = summed(y);
    if (g === undefined) continue;
    const [x0 = '', x1 = '', x2 = ''] = nd.input;
    const paramOnly = (...names: string[]): void => {
      for (const t of names) {
        if (isData(t)) throw new Error(`${options.name}: ${nd.op_type} '${nd.name}' reads data through '${t}'; only its first input can carry the gradient`);
      }
    };
    switch (nd.op_type) {
      case 'Identity':
      case 'Dropout':
        add(x0, g);
        break;
      case 'Add':
        if (isData(x0)) add(x0, unbroadcast(g, y, x0));
        if (isData(x1)) add(x1, unbroadcast(g, y, x1));
        break;
      case 'Sub':
        if (isData(x0)) add(x0, unbroadcast(g, y, x0));
        if (isData(x1)) add(x1, unbroadcast(b.op('Neg', [g]), y, x1));
        break;
      case 'Mul':
        if (isData(x0)) add(x0, unbroadcast(b.op('Mul', [g, x1]), y, x0));
        if (isData(x1)) add(x1, unbroadcast(b.op('Mul', [g, x0]), y, x1));
        break;
      case 'Div':
        if (isData(x0)) add(x0, unbroadcast(b.op('Div', [g, x1]), y, x0));
        // d(a / b)/db = -(a / b) / b
        if (isData(x1)) add(x1, unbroadcast(b.op('Neg', [b.op('Div', [b.op('Mul', [g, y]), x1])]), y, x1));
        break;
      case 'Neg':
        add(x0, b.op('Neg', [g]));
        break;
      case 'Relu':
        add(x0, b.op('Mul', [g, b.op('Cast', [b.op('Greater', [y, b.float(0)])], [attribute('to', DataType.FLOAT)])]));
        break;
      case 'Sigmoid':
        add(x0, b.op('Mul', [g, b.op('Mul', [y, b.op('Sub', [b.float(1), y])])]));
        break;
      case 'Tanh':
        add(x0, b.op('Mul', [g, b.op('Sub', [b.float(1), b.op('Mul', [y, y])])]));
        break;
      case 'Erf':
        // d erf(x)/dx = 2 / sqrt(pi) exp(-x^2)
        add(x0, b.op('Mul', [g, b.op('Mul', [b.float(2 / Math.sqrt(Math.PI)), b.op('Exp', [b.op('Neg', [b.op('Mul', [x0, x0])])])])]));
        break;
      case 'Exp':
        add(x0, b.op('Mul', [g, y]));
        break;
      case 'Sqrt':
        add(x0, b.op('Div', [g, b.op('Mul', [b.float(2), y])]));
        break;
      case 'Reshape':
      case 'Flatten':
      case 'Squeeze':
      case 'Unsqueeze':
        add(x0, b.op('Reshape', [g, b.op('Shape', [x0])]));
        break;
      case 'Expand':
        add(x0, unbroadcast(g, y, x0));
        break;
      case 'Transpose': {
        const rank = rankOf(x0);
        const a = nd.attribute.find((t) => t.name === 'perm');
        const perm = a?.ints?.length ? a.ints.map(int) : Array.from({ length: rank }, (_, i) => rank - 1 - i);
        const inverse = new Array<number>(rank);
        perm.forEach((p, i) => (inverse[p] = i));
        add(x0, b.op('Transpose', [g], [attribute('perm', inverse)]));
        break;
      }
      case 'MatMul': {
        if (rankOf(x0) < 2 || rankOf(x1) < 2) throw new Error(`${options.name}: MatMul '${nd.name}' multiplies a vector; only matrices (rank >= 2) can be differentiated`);
        // The products have the output's leading (batch) dims and the operand's last two.
        const lead = dims(y).slice(0, -2);
        if (isData(x0)) add(x0, unbroadcast(b.op('MatMul', [g, b.swapLast(x1, rankOf(x1))]), y, x0, [...lead, ...dims(x0).slice(-2)]));
        if (isData(x1)) add(x1, unbroadcast(b.op('MatMul', [b.swapLast(x0, rankOf(x0)), g]), y, x1, [...lead, ...dims(x1).slice(-2)]));
        break;
      }
      case 'Gemm': {
        const alpha = nd.attribute.find((a) => a.name === 'alpha')?.f ?? 1;
        const beta = nd.attribute.find((a) => a.name === 'beta')?.f ?? 1;
        const transA = intAttr(nd, 'transA', 0), transB = intAttr(nd, 'transB', 0);
        if (isData(x0)) {
          // d op(A) = alpha g op(B)^T; Gemm(g, B, transB = !transB) is g op(B)^T.
          const dOpA = b.op('Gemm', [g, x1], [attribute('alpha', alpha, 'float'), attribute('transB', transB ? 0 : 1)]);
          add(x0, transA ? b.op('Transpose', [dOpA], [attribute('perm', [1, 0])]) : dOpA);
        }
        if (isData(x1)) {
          const dOpB = b.op('Gemm', [x0, g], [attribute('alpha', alpha, 'float'), attribute('transA', transA ? 0 : 1)]);
          add(x1, transB ? b.op('Transpose', [dOpB], [attribute('perm', [1, 0])]) : dOpB);
        }
        if (isData(x2)) add(x2, unbroadcast(b.op('Mul', [g, b.float(beta)]), y, x2));
        break;
      }
      case 'Conv': {
        paramOnly(x1, x2);
        const w = window(nd, dims(x1).slice(2) as number[]);
        add(x0, b.op('ConvTranspose', [g, x1], [...w.transposeAttributes, attribute('group', intAttr(nd, 'group', 1))]));
        break;
      }
      case 'AveragePool': {
        const w = window(nd, intsAttr(nd, 'kernel_shape', []));
        if (w.pads.some((p) => p > 0) && intAttr(nd, 'count_include_pad', 0) === 0) {
          throw new Error(`${options.name}: AveragePool '${nd.name}' pads without counting the padding, so its border divisors vary; only count_include_pad = 1 or no padding can be differentiated`);
        }
        // A depthwise transposed convolution with weights 1 / (window size) spreads each output's gradient over its window.
        const channels = staticDim(x0, 1, nd);
        const size = w.kernel.reduce((p, k) => p * k, 1);
        const weight = b.name('pool_w');
        b.inits.push(tensorProto(weight, [channels, 1, ...w.kernel], new Float32Array(channels * size).fill(1 / size)));
        add(x0, b.op('ConvTranspose', [g, weight], [...w.transposeAttributes, attribute('group', channels)]));
        break;
      }
      case 'MaxPool': {
        if (nd.output[1] && grads.has(nd.output[1])) throw new Error(`${options.name}: MaxPool '${nd.name}': its indices output cannot be differentiated`);
        const w = window(nd, intsAttr(nd, 'kernel_shape', []));
        if (intAttr(nd, 'storage_order', 0) !== 0) throw new Error(`${options.name}: MaxPool '${nd.name}' has storage_order 1; only row-major indices can be differentiated`);
        // Each output's gradient goes to the input element it took (MaxPool's flat indices over
        // the whole tensor); overlapping windows add up, which needs ScatterElements' reduction.
        const overlapping = w.kernel.some((k, i) => k * w.dilations[i]! > w.strides[i]!);
        if (overlapping && opset < 16) throw new Error(`${options.name}: MaxPool '${nd.name}' has overlapping windows, whose gradient needs ScatterElements with reduction (opset 16 or later, the model imports ${opset})`);
        const indices = b.name('pool_idx');
        b.nodes.push(node('MaxPool', [x0], [b.name('pool_y'), indices], nd.attribute));
        const flat = b.ints([-1]);
        const zeros = b.op('ConstantOfShape', [b.op('Reshape', [b.op('Size', [x0]), flat])], [attribute('value', tensorProto(b.name('zero'), [1], [0]))]);
        const scatter = b.op('ScatterElements', [zeros, b.op('Reshape', [indices, flat]), b.op('Reshape', [g, flat])], overlapping ? [attribute('axis', 0), attribute('reduction', 'add')] : [attribute('axis', 0)]);
        add(x0, b.op('Reshape', [scatter, b.op('Shape', [x0])]));
        break;
      }
      case 'BatchNormalization': {
        paramOnly(...nd.input.slice(1));
        if (intAttr(nd, 'training_mode', 0) !== 0) throw new Error(`${options.name}: BatchNormalization '${nd.name}' runs in training mode; only inference mode can be differentiated`);
        const eps = nd.attribute.find((a) => a.name === 'epsilon')?.f ?? 1e-5;
        // dx = g scale / sqrt(var + eps), per channel (axis 1).
        const factor = b.op('Div', [x1, b.op('Sqrt', [b.op('Add', [nd.input[4]!, b.float(eps)])])]);
        const shape = b.ints([-1, ...new Array<number>(rankOf(x0) - 2).fill(1)]);
        add(x0, b.op('Mul', [g, b.op('Reshape', [factor, shape])]));
        break;
      }
      case 'Clip':
        // The gradient passes where the value was not clipped (y == x).
        add(x0, b.op('Mul', [g, b.op('Cast', [b.op('Equal', [x0, y])], [attribute('to', DataType.FLOAT)])]));
        break;
      case 'GlobalAveragePool': {
        const cells = (dims(x0).slice(2) as number[]).reduce((p, d) => p * d, 1);
        add(x0, b.op('Expand', [b.op('Mul', [g, b.float(1 / cells)]), b.op('Shape', [x0])]));
        break;
      }
      case 'Softmax':
      case 'LogSoftmax': {
        const rank = rankOf(x0);
        const axis = intAttr(nd, 'axis', -1);
        if ((axis + rank) % rank !== rank - 1) throw new Error(`${options.name}: ${nd.op_type} '${nd.name}' runs along axis ${axis}; only the last axis can be differentiated`);
        if (nd.op_type === 'Softmax') {
          // y (g - sum(g y))
          add(x0, b.op('Mul', [y, b.op('Sub', [g, b.reduce('ReduceSum', b.op('Mul', [g, y]), [rank - 1], true)])]));
        } else {
          // g - exp(y) sum(g)
          add(x0, b.op('Sub', [g, b.op('Mul', [b.op('Exp', [y]), b.reduce('ReduceSum', g, [rank - 1], true)])]));
        }
        break;
      }
      case 'LayerNormalization': {
        paramOnly(x1, x2);
        if (nd.output.slice(1).some((o) => o && grads.has(o))) throw new Error(`${options.name}: LayerNormalization '${nd.name}': its mean and inverse standard deviation outputs cannot be differentiated`);
        const rank = rankOf(x0);
        const axis = (intAttr(nd, 'axis', -1) + rank) % rank;
        const eps = nd.attribute.find((a) => a.name === 'epsilon')?.f ?? 1e-5;
        const axes = Array.from({ length: rank - axis }, (_, i) => axis + i);
        // dx = inv (gs - mean(gs) - xh mean(gs xh)), gs = g scale, xh = (x - mean) inv.
        const xc = b.op('Sub', [x0, b.reduce('ReduceMean', x0, axes, true)]);
        const inv = b.op('Reciprocal', [b.op('Sqrt', [b.op('Add', [b.reduce('ReduceMean', b.op('Mul', [xc, xc]), axes, true), b.float(eps)])])]);
        const xh = b.op('Mul', [xc, inv]);
        const gs = b.op('Mul', [g, x1]);
        const inner = b.op('Sub', [b.op('Sub', [gs, b.reduce('ReduceMean', gs, axes, true)]), b.op('Mul', [xh, b.reduce('ReduceMean', b.op('Mul', [gs, xh]), axes, true)])]);
        add(x0, b.op('Mul', [inv, inner]));
        break;
      }
      case 'Gather': {
        paramOnly(x1);
        const rank = rankOf(x0);
        const axis = (intAttr(nd, 'axis', 0) + rank) % rank;
        const size = staticDim(x0, axis, nd);
        const indices = constInts(x1, 'indices', nd).map((i) => (i < 0 ? i + size : i));
        const scalar = dims(x1).length === 0;
        const first = indices[0]!;
        if (indices.some((i, k) => i !== first + k)) throw new Error(`${options.name}: Gather '${nd.name}' picks indices [${indices.join(', ')}]; only a scalar or a contiguous ascending range can be differentiated`);
        const before = new Array<number>(rank).fill(0), after = new Array<number>(rank).fill(0);
        before[axis] = first;
        after[axis] = size - first - indices.length;
        add(x0, b.pad(scalar ? b.unsqueeze(g, [axis]) : g, before, after));
        break;
      }
      case 'Slice': {
        const rank = rankOf(x0);
        const starts = constInts(x1, 'starts', nd), ends = constInts(x2, 'ends', nd);
        const axes = nd.input[3] ? constInts(nd.input[3], 'axes', nd).map((a) => (a + rank) % rank) : starts.map((_, i) => i);
        const steps = nd.input[4] ? constInts(nd.input[4], 'steps', nd) : starts.map(() => 1);
        const before = new Array<number>(rank).fill(0), after = new Array<number>(rank).fill(0);
        axes.forEach((a, i) => {
          if (steps[i] !== 1) throw new Error(`${options.name}: Slice '${nd.name}' steps by ${steps[i]}; only step 1 can be differentiated`);
          const size = staticDim(x0, a, nd);
          const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
          const s = clamp(starts[i]!), e = Math.max(s, clamp(ends[i]!));
          before[a] = s;
          after[a] = size - e;
        });
        add(x0, b.pad(g, before, after));
        break;
      }
      case 'Concat': {
        const rank = rankOf(y);
        const axis = (intAttr(nd, 'axis', 0) + rank) % rank;
        let offset = 0;
        for (const t of nd.input) {
          const size = staticDim(t, axis, nd);
          if (isData(t)) add(t, b.op('Slice', [g, b.ints([offset]), b.ints([offset + size]), b.ints([axis])]));
          offset += size;
        }
        break;
      }
      default:
        throw new Error(`${options.name}: cannot differentiate ${nd.op_type} '${nd.name}' (on the path from '${from}' to '${to}'); differentiable ops: ${DIFFERENTIABLE_OPS.join(', ')}`);
    }
  }
  const dFrom = summed(from);
  if (dFrom === undefined) throw new Error(`${options.name}: the logits '${to}' do not depend on '${from}'`);
  b.nodes.push(node('Identity', [dFrom], [GRADIENT_IO.grad]));

  const fromMeta = meta(from), toMeta = meta(to);
  const graph = forward.graph!;
  return {
    ...forward,
    graph: {
      ...graph,
      node: [...graph.node, ...b.nodes],
      initializer: [...graph.initializer, ...b.inits],
      input: [...graph.input, valueInfo(GRADIENT_IO.target, DataType.FLOAT, symbolicDims(toMeta.dims, options.batchName))],
      output: [valueInfo(GRADIENT_IO.loss, DataType.FLOAT, []), valueInfo(GRADIENT_IO.grad, DataType.FLOAT, symbolicDims(fromMeta.dims, options.batchName))],
    },
  };
}
