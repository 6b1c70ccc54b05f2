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

  /** Unsqueeze; its axes are an attribute before opset 13. */
  unsqueeze(x: string, axes: number[]): string {
    return this.opset >= 13
      ? this.op('Unsqueeze', [x, this.ints(axes)])
      : this.op('Unsqueeze', [x], [attribute('axes', axes)]);
  }

  /** Zero padding of `x` by `before` / `after` elements per axis (pads an attribute before opset 11). */
  pad(x: string, before: number[], after: number[]): string {
    const pads = [...before, ...after];
    return this.opset >= 11 ? this.op('Pad', [x, this.ints(pads)]) : this.op('Pad', [x], [attribute('pads', pads)]);
  }

  /** x[start:end] along `axis` (starts / ends are attributes before opset 10). */
  slice(x: string, axis: number, start: number, end: number): string {
    if (this.opset >= 10) return this.op('Slice', [x, this.ints([start]), this.ints([end]), this.ints([axis])]);
    return this.op('Slice', [x], [attribute('starts', [start]), attribute('ends', [end]), attribute('axes', [axis])]);
  }

  /** g broadcast to the shape of `like` (Expand from opset 8; before, by adding zeros shaped like it). */
  expandAs(g: string, like: string): string {
    return this.opset >= 8
      ? this.op('Expand', [g, this.op('Shape', [like])])
      : this.op('Add', [g, this.op('Mul', [like, this.float(0)])]);
  }

  /** 1 where a == b, else 0, as floats (Equal takes floats only from opset 11: a == b is !(a < b) and !(a > b)). */
  equalMask(a: string, b: string): string {
    const equal = this.op('And', [
      this.op('Not', [this.op('Less', [a, b])]),
      this.op('Not', [this.op('Greater', [a, b])]),
    ]);
    return this.op('Cast', [equal], [attribute('to', DataType.FLOAT)]);
  }

  /** 1 where lo < x < hi, else 0, as floats. */
  insideMask(x: string, lo: number, hi: number): string {
    return this.op(
      'Cast',
      [this.op('And', [this.op('Greater', [x, this.float(lo)]), this.op('Less', [x, this.float(hi)])])],
      [attribute('to', DataType.FLOAT)],
    );
  }

  /** 1 where x > 0, else 0, as floats. */
  positiveMask(x: string): string {
    return this.op('Cast', [this.op('Greater', [x, this.float(0)])], [attribute('to', DataType.FLOAT)]);
  }

  /** a * b, a + b, a - b: shorthands for the rules' formulas. */
  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }

  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }

  sub(a: string, b: string): string {
    return this.op('Sub', [a, b]);
  }

  /** `x` with its last two axes swapped. */
  swapLast(x: string, rank: number): string {
    const perm = Array.from({ length: rank }, (_, k) => k);
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
    return this.op('Transpose', [x], [attribute('perm', perm)]);
  }
}
