// One ONNX model from a front sub-model, an adapter fragment and a back sub-model: every name of
// each part is prefixed so nothing collides (the graph input and output keep their names), the
// learned weights travel as initializers of the fragment.
import type { GraphProto, ModelProto, NodeProto, OperatorSetIdProto } from './proto.js';
import { int } from './proto.js';

export interface Fragment {
  nodes: NodeProto[];
  initializers: GraphProto['initializer'];
}

function renamed(graph: GraphProto, rename: (name: string) => string): Pick<GraphProto, 'node' | 'initializer'> {
  const map = (n: string): string => (n ? rename(n) : n);
  for (const n of graph.node) {
    if (
      n.attribute.some(
        (a) => (a as { g?: unknown; graphs?: unknown[] }).g || ((a as { graphs?: unknown[] }).graphs?.length ?? 0) > 0,
      )
    ) {
      throw new Error(
        `fuse: node '${n.name}' (${n.op_type}) has a sub-graph attribute; control-flow ops cannot be fused yet`,
      );
    }
  }
  return {
    node: graph.node.map((n) => ({
      ...n,
      name: rename(n.name || n.output[0] || n.op_type),
      input: n.input.map(map),
      output: n.output.map(map),
    })),
    initializer: graph.initializer.map((t) => ({ ...t, name: rename(t.name!) })),
  };
}

/**
 * The opsets of both parts. A node means what its opset version says, so both parts must use the
 * same version of each domain they share.
 */
function mergedOpsets(a: OperatorSetIdProto[], b: OperatorSetIdProto[]): OperatorSetIdProto[] {
  const versions = new Map<string, number>();
  for (const o of [...a, ...b]) {
    const domain = o.domain ?? '';
    const seen = versions.get(domain);
    if (seen !== undefined && seen !== int(o.version)) {
      throw new Error(
        `fuse: the front and the back import opset ${domain || 'ai.onnx'} at versions ${seen} and ${int(o.version)}; export both models with the same opset`,
      );
    }
    versions.set(domain, int(o.version));
  }
  return [...versions].map(([domain, version]) => ({ domain, version }));
}

/** The default-domain opset version of a model. */
export function defaultOpset(model: ModelProto): number {
  return int(model.opset_import.find((o) => !o.domain)?.version);
}

/**
 * front (input -> f) + middle (f' -> b') + back (b -> output) as one model. The middle fragment
 * reads `${frontPrefix}${f}` and writes `${backPrefix}${b}`.
 */
export function fuseModels(
  front: ModelProto,
  middle: Fragment,
  back: ModelProto,
  prefixes: { front: string; back: string },
): ModelProto {
  const fg = front.graph!,
    bg = back.graph!;
  const input = fg.input[0]!,
    output = bg.output[0]!;
  const fr = renamed(fg, (n) => (n === input.name ? n : prefixes.front + n));
  const br = renamed(bg, (n) => (n === output.name ? n : prefixes.back + n));
  const nodes = [...fr.node, ...middle.nodes, ...br.node];
  const produced = new Set<string>();
  for (const n of nodes)
    for (const o of n.output) {
      if (produced.has(o)) throw new Error(`fuse: the tensor name '${o}' is produced twice; pick other prefixes`);
      produced.add(o);
    }
  return {
    ...front,
    ir_version: Math.max(int(front.ir_version), int(back.ir_version)),
    opset_import: mergedOpsets(front.opset_import, back.opset_import),
    functions: [...(front.functions ?? []), ...(back.functions ?? [])],
    training_info: [],
    graph: {
      name: `${fg.name ?? 'front'}+${bg.name ?? 'back'}`,
      node: nodes,
      initializer: [...fr.initializer, ...middle.initializers, ...br.initializer],
      input: [input],
      output: [output],
      value_info: [],
    },
  };
}
