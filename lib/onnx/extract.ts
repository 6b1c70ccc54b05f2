// A sub-graph as a valid ONNX model: the nodes that compute tensor `to` from tensor `from`, the
// initializers they read, and a dynamic batch kept. Shape chains that started from tensors
// before `from` (Shape(x) -> Gather -> Concat -> Reshape, Expand of a CLS token, ...) are
// recomputed from the new input: a Shape of a tensor that is no longer there becomes the
// known constant dims concatenated with the batch size read from the new input.
import type { GraphInfo } from './graph.js';
import {
  DataType,
  intAttr,
  node,
  tensorProto,
  valueInfo,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from './proto.js';
import { ELEM_TYPE, symbolicDims, type Dim, type TensorMeta } from './shapes.js';

export interface SubGraph {
  from: string;
  to: string;
  /** Indices of the original nodes kept, in topological order. */
  nodes: number[];
  /** Shape nodes replaced by a recomputation from `from`. */
  replaced: number[];
}

const PREFIX = 'restnet_shape';

/**
 * Which nodes compute `to` from `from` (and parameters) alone. Throws naming the argument.
 * Shape and Size nodes whose input is no longer there are marked for recomputation.
 */
export function subGraph(info: GraphInfo, from: string, to: string): SubGraph {
  for (const [arg, t] of [
    ['from', from],
    ['to', to],
  ] as const) {
    const kind = info.kind.get(t);
    if (kind === undefined) throw new Error(`${arg}: no tensor named '${t}' in the model`);
    if (kind !== 'data')
      throw new Error(
        `${arg}: expected a data tensor (one that depends on the input's values), '${t}' is a ${kind === 'param' ? 'parameter' : 'shape'} tensor`,
      );
  }
  const available = new Set<string>([from]);
  const replaced = new Set<number>();
  const isAvailable = (t: string): boolean => !t || available.has(t) || info.kind.get(t) === 'param';
  for (const i of info.order) {
    const n = info.node(i);
    if (n.output.includes(from)) continue;
    if (info.inputsOf(i).every(isAvailable)) {
      for (const o of n.output) available.add(o);
    } else if ((n.op_type === 'Shape' || n.op_type === 'Size') && info.kind.get(n.input[0]!) === 'data') {
      replaced.add(i);
      available.add(n.output[0]!);
    }
  }
  if (!isAvailable(to)) {
    throw new Error(`to: '${to}' cannot be computed from '${from}' alone (it also needs tensors before '${from}')`);
  }
  const needed = new Set<number>();
  const stack = [to];
  const seen = new Set<string>();
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t) || t === from) continue;
    seen.add(t);
    const p = info.producer.get(t);
    if (p === undefined) continue;
    needed.add(p);
    if (!replaced.has(p)) for (const u of info.inputsOf(p)) if (u) stack.push(u);
  }
  const nodes = info.order.filter((i) => needed.has(i));
  return { from, to, nodes, replaced: nodes.filter((i) => replaced.has(i)) };
}

function shapeOf(shapes: Map<string, TensorMeta>, t: string): TensorMeta {
  const meta = shapes.get(t);
  if (!meta) throw new Error(`internal: no measured shape for '${t}'`);
  if (meta.dims.some((d) => typeof d === 'number' && !Number.isFinite(d))) {
    throw new Error(
      `'${t}' has a dimension that is neither constant nor proportional to the batch; its shape chain cannot be recomputed`,
    );
  }
  return meta;
}

/** Nodes and initializers computing `${PREFIX}_N` (the batch size) from tensor `from`. */
function batchSize(
  from: string,
  fromDims: Dim[],
  names: (s: string) => string,
): { nodes: NodeProto[]; inits: TensorProto[]; n: string } {
  const axis = fromDims.findIndex((d) => typeof d !== 'number');
  const k = (fromDims[axis] as { batch: number }).batch;
  const shape = names('from_shape'),
    n = names('N'),
    nk = names('Nk'),
    axisName = names('axis'),
    kName = names('k');
  const inits = [tensorProto(axisName, [1], [axis], DataType.INT64)];
  const nodes = [node('Shape', [from], [shape]), node('Gather', [shape, axisName], [k === 1 ? n : nk])];
  if (k !== 1) {
    inits.push(tensorProto(kName, [1], [k], DataType.INT64));
    nodes.push(node('Div', [nk, kName], [n]));
  }
  return { nodes, inits, n };
}

/**
 * Replaces Shape(t) (t before `from`) by Concat(constant dims, k x N) computed from `from`, and
 * Size(t) by the product of those.
 */
function recomputedShape(
  original: NodeProto,
  dims: Dim[],
  n: string,
  names: (s: string) => string,
): { nodes: NodeProto[]; inits: TensorProto[] } {
  if (original.op_type === 'Size') {
    const shape = names(`${original.output[0]!}_shape`);
    const r = recomputedShape({ ...original, op_type: 'Shape', attribute: [], output: [shape] }, dims, n, names);
    r.nodes.push(node('ReduceProd', [shape], [original.output[0]!], [{ name: 'keepdims', type: 2, i: 0 }]));
    return r;
  }
  const start = intAttr(original, 'start', 0);
  const end = intAttr(original, 'end', dims.length);
  const rank = dims.length;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const picked = dims.slice(clamp(start), clamp(end));
  const out = original.output[0]!;
  const inits: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  if (picked.every((d) => typeof d === 'number')) {
    const c = names(`${out}_const`);
    inits.push(tensorProto(c, [picked.length], picked as number[], DataType.INT64));
    nodes.push(node('Identity', [c], [out]));
    return { nodes, inits };
  }
  const pieces: string[] = [];
  let run: number[] = [];
  const flush = (): void => {
    if (run.length === 0) return;
    const c = names(`${out}_c${pieces.length}`);
    inits.push(tensorProto(c, [run.length], run, DataType.INT64));
    pieces.push(c);
    run = [];
  };
  for (const d of picked) {
    if (typeof d === 'number') {
      run.push(d);
      continue;
    }
    flush();
    if (d.batch === 1) pieces.push(n);
    else {
      const k = names(`${out}_k${pieces.length}`);
      inits.push(tensorProto(k, [1], [d.batch], DataType.INT64));
      const m = names(`${out}_m${pieces.length}`);
      nodes.push(node('Mul', [n, k], [m]));
      pieces.push(m);
    }
  }
  flush();
  nodes.push(node('Concat', pieces, [out], [{ name: 'axis', type: 2, i: 0 }]));
  return { nodes, inits };
}

export interface ExtractOptions {
  batchName: string;
}

/** The sub-graph from `from` to `to` as a ModelProto. */
export function extractModel(
  info: GraphInfo,
  shapes: Map<string, TensorMeta>,
  from: string,
  to: string,
  options: ExtractOptions,
): ModelProto {
  const sub = subGraph(info, from, to);
  const used = new Set<string>();
  for (const t of info.producer.keys()) used.add(t);
  used.add(from);
  let counter = 0;
  const names = (s: string): string => {
    let name = `${PREFIX}_${s}`;
    while (used.has(name)) name = `${PREFIX}_${s}_${++counter}`;
    used.add(name);
    return name;
  };
  const fromMeta = shapeOf(shapes, from);
  const toMeta = shapeOf(shapes, to);
  const nodes: NodeProto[] = [];
  const extraInits: TensorProto[] = [];
  const replaced = new Set(sub.replaced);
  const needsBatch = sub.replaced.some((i) =>
    shapeOf(shapes, info.node(i).input[0]!).dims.some((d) => typeof d !== 'number'),
  );
  let n = '';
  if (needsBatch) {
    const b = batchSize(from, fromMeta.dims, names);
    nodes.push(...b.nodes);
    extraInits.push(...b.inits);
    n = b.n;
  }
  for (const i of sub.nodes) {
    const original = info.node(i);
    if (replaced.has(i)) {
      const r = recomputedShape(original, shapeOf(shapes, original.input[0]!).dims, n, names);
      nodes.push(...r.nodes);
      extraInits.push(...r.inits);
    } else nodes.push(original);
  }
  const read = new Set([...sub.nodes.flatMap((i) => info.inputsOf(i)), ...nodes.flatMap((x) => x.input)]);
  const initializer = [...info.graph.initializer.filter((t) => read.has(t.name!)), ...extraInits];
  const graph = info.graph;
  return {
    ...info.model,
    training_info: [],
    graph: {
      ...graph,
      node: nodes,
      initializer,
      input: [
        valueInfo(from, ELEM_TYPE[fromMeta.type] ?? DataType.FLOAT, symbolicDims(fromMeta.dims, options.batchName)),
      ],
      output: [valueInfo(to, ELEM_TYPE[toMeta.type] ?? DataType.FLOAT, symbolicDims(toMeta.dims, options.batchName))],
      value_info: [],
    },
  };
}
