// Data-flow analysis of an ONNX graph, on its structure rather than on the node order of the
// file: which tensors are parameters (initializers, constants and everything computed from them
// alone), which carry only shape information (Shape outputs and what is computed from them and
// parameters), which carry data; a topological order; and the cut points, the data tensors
// through which every data path from the input to the output passes.
import { OnnxModelError } from './errors.js';
import type { AttributeProto, GraphProto, ModelProto, NodeProto, TensorProto } from './proto.js';

export type TensorKind = 'param' | 'meta' | 'data';

/** Ops whose output describes the input's shape, not its values. */
const SHAPE_OPS = new Set(['Shape', 'Size']);

type SubGraphAttribute = AttributeProto & { g?: GraphProto; graphs?: GraphProto[] };

/** Outer-scope names that a node's sub-graphs (If, Loop, Scan bodies) read. */
function implicitInputs(n: NodeProto): string[] {
  const names = new Set<string>();
  const visit = (g: GraphProto, outer: Set<string>): void => {
    const local = new Set<string>([...g.input.map((i) => i.name), ...g.initializer.map((t) => t.name!)]);
    for (const m of g.node) for (const o of m.output) local.add(o);
    for (const m of g.node) {
      for (const t of m.input) if (t && !local.has(t) && !outer.has(t)) names.add(t);
      for (const a of m.attribute as SubGraphAttribute[])
        for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) visit(sub, new Set([...outer, ...local]));
    }
  };
  for (const a of n.attribute as SubGraphAttribute[])
    for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) visit(sub, new Set());
  return [...names];
}

export class GraphInfo {
  readonly graph: GraphProto;
  /** The one data input (a graph input that is not an initializer). */
  readonly input: string;
  readonly output: string;
  readonly initializers = new Map<string, TensorProto>();
  /** Tensor name -> index of the node that produces it. */
  readonly producer = new Map<string, number>();
  /** Node indices in a topological order. */
  readonly order: number[];
  readonly kind = new Map<string, TensorKind>();
  /** Per node: its inputs, including outer-scope names read by its sub-graphs. */
  private readonly reads: string[][];
  private cuts?: string[];

  constructor(
    readonly model: ModelProto,
    name: string,
    output?: string,
  ) {
    const graph = model.graph!;
    this.graph = graph;
    for (const t of graph.initializer) if (t.name) this.initializers.set(t.name, t);
    const dataInputs = graph.input.map((i) => i.name).filter((n) => !this.initializers.has(n));
    if (dataInputs.length !== 1) {
      throw new OnnxModelError(
        `${name}: expected a model with one data input, got ${dataInputs.length} (${dataInputs.join(', ') || 'none'})`,
      );
    }
    this.input = dataInputs[0]!;
    const outputs = graph.output.map((o) => o.name);
    if (output !== undefined) {
      if (!outputs.includes(output))
        throw new RangeError(`output: expected one of the model outputs (${outputs.join(', ')}), got '${output}'`);
      this.output = output;
    } else if (outputs.length !== 1) {
      throw new OnnxModelError(
        `${name}: the model has ${outputs.length} outputs (${outputs.join(', ')}); pick one with the 'output' option`,
      );
    } else {
      this.output = outputs[0]!;
    }
    graph.node.forEach((n, i) => {
      for (const o of n.output) if (o) this.producer.set(o, i);
    });
    this.reads = graph.node.map((n) => {
      const implicit = implicitInputs(n);
      return implicit.length === 0 ? n.input : [...n.input, ...implicit.filter((t) => !n.input.includes(t))];
    });
    this.order = this.topologicalOrder(name);
    this.classify();
    if (this.kind.get(this.output) !== 'data') {
      throw new OnnxModelError(`${name}: the output '${this.output}' does not depend on the input '${this.input}'`);
    }
  }

  node(i: number): NodeProto {
    return this.graph.node[i]!;
  }

  /** The tensors node i reads: its inputs ('' for an absent optional one) and its sub-graphs' outer names. */
  inputsOf(i: number): string[] {
    return this.reads[i]!;
  }

  /** Kahn's algorithm over tensor dependencies; file order only breaks ties. */
  private topologicalOrder(name: string): number[] {
    const nodes = this.graph.node;
    const known = new Set<string>([this.input, ...this.initializers.keys()]);
    const waiting = new Map<string, number[]>();
    const missing = nodes.map((n, i) => {
      let count = 0;
      for (const t of new Set(this.inputsOf(i))) {
        if (!t || known.has(t)) continue;
        if (!this.producer.has(t))
          throw new OnnxModelError(
            `${name}: node '${n.name || n.op_type}' reads '${t}', which is no input, initializer or node output`,
          );
        count++;
        const list = waiting.get(t) ?? [];
        list.push(i);
        waiting.set(t, list);
      }
      return count;
    });
    const ready = missing.flatMap((m, i) => (m === 0 ? [i] : []));
    const order: number[] = [];
    while (ready.length > 0) {
      const i = ready.shift()!;
      order.push(i);
      for (const o of nodes[i]!.output) {
        for (const j of waiting.get(o) ?? []) if (--missing[j]! === 0) ready.push(j);
      }
    }
    if (order.length !== nodes.length)
      throw new OnnxModelError(`${name}: the graph has a cycle through ${nodes.length - order.length} nodes`);
    return order;
  }

  private classify(): void {
    for (const name of this.initializers.keys()) this.kind.set(name, 'param');
    this.kind.set(this.input, 'data');
    for (const i of this.order) {
      const n = this.node(i);
      const kinds = this.inputsOf(i)
        .filter((t) => t)
        .map((t) => this.kind.get(t)!);
      let k: TensorKind = 'param';
      if (SHAPE_OPS.has(n.op_type)) k = kinds[0] === 'param' ? 'param' : 'meta';
      else if (kinds.includes('data')) k = 'data';
      else if (kinds.includes('meta')) k = 'meta';
      for (const o of n.output) if (o) this.kind.set(o, k);
    }
  }

  /** Data inputs of node i (non-empty inputs whose kind is data). */
  dataInputs(i: number): string[] {
    return this.inputsOf(i).filter((t) => t && this.kind.get(t) === 'data');
  }

  /**
   * Cut points in order from input to output. In a topological order of the data tensors
   * that lie on some input -> output path, a tensor is on every such path exactly when no
   * data edge jumps over its position.
   */
  cutPoints(): string[] {
    if (this.cuts) return this.cuts;
    // Tensors that reach the output along data edges.
    const reaches = new Set<string>([this.output]);
    for (let k = this.order.length - 1; k >= 0; k--) {
      const i = this.order[k]!;
      if (this.node(i).output.some((o) => reaches.has(o))) for (const t of this.dataInputs(i)) reaches.add(t);
    }
    const pos = new Map<string, number>([[this.input, 0]]);
    const sequence = [this.input];
    for (const i of this.order) {
      for (const o of this.node(i).output) {
        if (o && reaches.has(o) && this.kind.get(o) === 'data' && !pos.has(o)) {
          pos.set(o, sequence.length);
          sequence.push(o);
        }
      }
    }
    const covered = new Int32Array(sequence.length + 1);
    for (const i of this.order) {
      const n = this.node(i);
      for (const a of this.dataInputs(i)) {
        const pa = pos.get(a);
        if (pa === undefined) continue;
        for (const b of n.output) {
          const pb = pos.get(b);
          if (pb !== undefined && pb > pa + 1) {
            covered[pa + 1]!++;
            covered[pb]!--;
          }
        }
      }
    }
    const cuts: string[] = [];
    let open = 0;
    sequence.forEach((t, p) => {
      open += covered[p]!;
      if (open === 0) cuts.push(t);
    });
    this.cuts = cuts;
    return cuts;
  }

  /**
   * Whether tensor `name` is a Relu's output (through any Identity nodes after it): every value
   * is >= 0, which a stitch producing it may keep (AdapterOptions.rectify).
   */
  rectified(name: string): boolean {
    let t = name;
    for (;;) {
      const p = this.producer.get(t);
      if (p === undefined) return false;
      const n = this.node(p);
      // The default domain ('' or its name); a custom domain's Relu may be anything.
      if (n.domain && n.domain !== 'ai.onnx') return false;
      if (n.op_type === 'Relu') return true;
      if (n.op_type !== 'Identity') return false;
      t = n.input[0]!;
    }
  }

  /** Indices (in topological order) of the nodes needed to compute `to` from the model input. */
  ancestors(to: string): number[] {
    const needed = new Set<number>();
    const stack = [to];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const t = stack.pop()!;
      if (seen.has(t)) continue;
      seen.add(t);
      const p = this.producer.get(t);
      if (p === undefined) continue;
      needed.add(p);
      for (const u of this.inputsOf(p)) if (u) stack.push(u);
    }
    return this.order.filter((i) => needed.has(i));
  }
}
