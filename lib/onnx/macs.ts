// Multiply-adds per sample (batch size 1) and parameter counts, computed from the graph and the
// measured shapes. Counted ops: Conv, ConvTranspose, MatMul (which covers attention's Q K^T and
// A V products), Gemm. Everything else (element-wise ops, pooling, normalisation, softmax) is
// taken as free, as is usual for MAC budgets.
import type { GraphInfo } from './graph.js';
import { DataType, intAttr, tensorSize, type NodeProto } from './proto.js';
import { concreteDims, type TensorMeta } from './shapes.js';

export const MAC_OPS = ['Conv', 'ConvTranspose', 'MatMul', 'Gemm'] as const;

const product = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);

/** Multiply-adds of one node at batch size 1 (0 for ops that are not counted). */
function nodeMacs(n: NodeProto, shapes: Map<string, TensorMeta>): number {
  const dims = (t: string | undefined): number[] => {
    const meta = t ? shapes.get(t) : undefined;
    if (!meta) throw new Error(`internal: no measured shape for '${t}' (input of ${n.op_type} '${n.name}')`);
    return concreteDims(meta.dims, 1);
  };
  switch (n.op_type) {
    case 'Conv':
      return product(dims(n.output[0])) * product(dims(n.input[1]).slice(1));
    case 'ConvTranspose':
      return product(dims(n.input[0])) * product(dims(n.input[1]).slice(1));
    case 'MatMul': {
      const a = dims(n.input[0]);
      return product(dims(n.output[0])) * (a[a.length - 1] ?? 1);
    }
    case 'Gemm': {
      const a = dims(n.input[0]);
      const k = intAttr(n, 'transA', 0) ? a[0]! : a[1]!;
      return product(dims(n.output[0])) * k;
    }
    default:
      return 0;
  }
}

/** Sum of multiply-adds of the given data nodes. */
export function macsOf(info: GraphInfo, shapes: Map<string, TensorMeta>, nodes: Iterable<number>): number {
  let total = 0;
  for (const i of nodes) {
    const n = info.node(i);
    if (info.kind.get(n.output[0]!) === 'data') total += nodeMacs(n, shapes);
  }
  return total;
}

/**
 * Float parameters read by the given nodes: the elements of float initializers (where exporters
 * put learned weights; Constant nodes hold fixed values such as normalisation constants).
 */
export function paramsOf(info: GraphInfo, nodes: Iterable<number>): number {
  const seen = new Set<string>();
  let total = 0;
  for (const i of nodes) {
    for (const name of info.inputsOf(i)) {
      const t = info.initializers.get(name);
      if (t && !seen.has(name) && t.data_type === DataType.FLOAT) {
        seen.add(name);
        total += tensorSize(t);
      }
    }
  }
  return total;
}
