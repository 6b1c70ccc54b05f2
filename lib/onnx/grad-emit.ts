// The node emitter of gradient graphs (grad.ts): fresh tensor names that collide with nothing
// in the model, constants as initializers, and the ops whose form depends on the opset.
import { attribute, DataType, node, tensorProto, type NodeProto, type TensorProto } from './proto.js';

/** Emits the gradient graph's nodes: fresh names, constants as initializers, opset-dependent forms. */
export class Emitter {
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

  op(type: string, inputs: string[], attributes: NodeProto['attribute'] = []): string {
    const out = this.name(type);
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
