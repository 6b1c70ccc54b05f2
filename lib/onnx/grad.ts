// Reverse-mode differentiation of a frozen sub-graph, written as ONNX: the segment from a cut to
// the logits, extended with a cross-entropy loss against target probabilities and the loss's
// gradient with respect to the cut. onnxruntime-node has no training API, so this is how a
// stitching layer gets the gradient of the task loss through the frozen back of a stitched
// network (ReStNet fine-tunes its stitches on the task, not on activation error). Only the
// gradient with respect to the data input is built: the anchors' weights are never trained, so
// no node computes a weight gradient. Shapes come from the model's measured shapes; the batch
// stays dynamic.
import { extractModel, type ExtractOptions } from './extract.js';
import { defaultOpset } from './fuse.js';
import { Emitter } from './grad-emit.js';
import type { RuleContext } from './grad-rule-types.js';
import { MULTI_OUTPUT, RULES } from './grad-rules.js';
import { GraphInfo } from './graph.js';
import {
  attribute,
  DataType,
  node,
  tensorFloats,
  tensorInts,
  valueInfo,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './proto.js';
import { symbolicDims, type Dim, type TensorMeta } from './shapes.js';

/** Names of the gradient model's extra input and outputs. */
export const GRADIENT_IO = { target: 'restnet_target', loss: 'restnet_loss', grad: 'restnet_grad' } as const;

/** Ops whose input gradient can be written; the error for any other op lists them. */
export const DIFFERENTIABLE_OPS: readonly string[] = Object.keys(RULES).sort();

const sameDim = (a: Dim | undefined, b: Dim | undefined): boolean =>
  typeof a === 'number' || typeof b === 'number' ? a === b : a !== undefined && b !== undefined && a.batch === b.batch;

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
export function gradientModel(
  info: GraphInfo,
  shapes: Map<string, TensorMeta>,
  from: string,
  to: string,
  options: GradientModelOptions,
): ModelProto {
  const forward = extractModel(info, shapes, from, to, options);
  const local = new GraphInfo(forward, options.name, to);
  const meta = (t: string): TensorMeta => {
    const m = shapes.get(t);
    if (!m) throw new Error(`${options.name}: no measured shape for '${t}'`);
    return m;
  };
  const logits = meta(to).dims;
  if (logits.length !== 2 || typeof logits[0] === 'number' || typeof logits[1] !== 'number') {
    throw new RangeError(
      `to: expected logits [N, K] for a cross-entropy loss, '${to}' has dims [${symbolicDims(logits, options.batchName).join(', ')}]`,
    );
  }
  const used = new Set<string>([from, GRADIENT_IO.target, GRADIENT_IO.loss, GRADIENT_IO.grad]);
  for (const n of forward.graph!.node) for (const o of n.output) used.add(o);
  for (const t of forward.graph!.initializer) used.add(t.name!);
  const opset = defaultOpset(forward);
  // Before opset 7, broadcasting was an attribute of each element-wise op: not worth reading.
  if (opset < 7)
    throw new RangeError(
      `${options.name}: gradients need ONNX opset 7 or later, the model imports opset ${opset}; export it again with a newer opset`,
    );
  const b = new Emitter(opset, used);

  // Constants the backward rules read: Constant nodes' values and initializers.
  const constants = new Map<string, TensorProto>();
  for (const t of forward.graph!.initializer) constants.set(t.name!, t);
  for (const n of forward.graph!.node) {
    const value = n.op_type === 'Constant' ? n.attribute.find((a) => a.name === 'value')?.t : undefined;
    if (value) constants.set(n.output[0]!, value);
  }
  /** A constant input's tensor, or the values of a shape chain measured equal at batch 1 and 2. */
  const constant = (t: string, what: string, at: NodeProto): TensorProto | number[] => {
    const c = constants.get(t) ?? shapes.get(t)?.value;
    if (!c)
      throw new Error(
        `${options.name}: ${at.op_type} '${at.name}' reads its ${what} from '${t}', which is not a constant (nor a shape value the batch does not change); only constant ${what} can be differentiated`,
      );
    return c;
  };
  const constInts = (t: string, what: string, at: NodeProto): number[] => {
    const c = constant(t, what, at);
    return Array.isArray(c) ? c : tensorInts(c);
  };
  const constFloats = (t: string, what: string, at: NodeProto): number[] => {
    const c = constant(t, what, at);
    return Array.isArray(c) ? c : tensorFloats(c);
  };
  const isEmpty = (t: string): boolean => !t || constants.get(t)?.dims.some((d) => Number(d) === 0) === true;

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
      else if (!sameDim(inp[k - offset], d))
        throw new Error(`${options.name}: cannot unbroadcast '${input}' against '${outName}'`);
    });
    if (axes.length === 0) return g;
    const r = b.reduce('ReduceSum', g, axes, true);
    return offset > 0 ? b.op('Reshape', [r, b.op('Shape', [input])]) : r;
  };
  const rankOf = (t: string): number => dims(t).length;
  const staticDim = (t: string, axis: number, at: NodeProto): number => {
    const d = dims(t)[axis];
    if (typeof d !== 'number')
      throw new Error(
        `${options.name}: ${at.op_type} '${at.name}' works along the batch axis of '${t}'; only other axes can be differentiated`,
      );
    return d;
  };

  const context: RuleContext = {
    emit: b,
    opset,
    name: options.name,
    isData,
    dims,
    rankOf,
    staticDim,
    unbroadcast,
    add,
    constInts,
    constFloats,
    isEmpty,
    elemType: (t) => meta(t).type,
    paramOnly: (at, ...names) => {
      for (const t of names) {
        if (isData(t))
          throw new Error(
            `${options.name}: ${at.op_type} '${at.name}' reads data through '${t}'; only its first input can carry the gradient`,
          );
      }
    },
  };

  for (let k = local.order.length - 1; k >= 0; k--) {
    const nd = local.node(local.order[k]!);
    const gs = nd.output.map((o) => (o && isData(o) ? summed(o) : undefined));
    if (gs.every((g) => g === undefined)) continue;
    const rule = RULES[nd.op_type];
    if (!rule)
      throw new Error(
        `${options.name}: cannot differentiate ${nd.op_type} '${nd.name}' (on the path from '${from}' to '${to}'); differentiable ops: ${DIFFERENTIABLE_OPS.join(', ')}`,
      );
    const other = gs.findIndex((g, i) => i > 0 && g !== undefined);
    if (other > 0 && !MULTI_OUTPUT.has(nd.op_type))
      throw new Error(
        `${options.name}: ${nd.op_type} '${nd.name}': its output ${other} ('${nd.output[other]}') cannot be differentiated, only its first`,
      );
    const [x0 = '', x1 = '', x2 = ''] = nd.input;
    rule(context, { nd, g: gs[0] ?? '', gs, y: nd.output[0]!, x0, x1, x2 });
  }
  const dFrom = summed(from);
  if (dFrom === undefined) throw new Error(`${options.name}: the logits '${to}' do not depend on '${from}'`);
  b.nodes.push(node('Identity', [dFrom], [GRADIENT_IO.grad]));

  const fromMeta = meta(from),
    toMeta = meta(to);
  const graph = forward.graph!;
  return {
    ...forward,
    graph: {
      ...graph,
      node: [...graph.node, ...b.nodes],
      initializer: [...graph.initializer, ...b.inits],
      input: [
        ...graph.input,
        valueInfo(GRADIENT_IO.target, DataType.FLOAT, symbolicDims(toMeta.dims, options.batchName)),
      ],
      output: [
        valueInfo(GRADIENT_IO.loss, DataType.FLOAT, []),
        valueInfo(GRADIENT_IO.grad, DataType.FLOAT, symbolicDims(fromMeta.dims, options.batchName)),
      ],
    },
  };
}
