// What a gradient rule is (grad-rules.ts and the rule families it gathers, grad-activations.ts
// and grad-resample.ts): the site it applies at and what it may read of the graph. A file of its
// own so the rule families and the table that gathers them import it, not each other.
import type { Emitter } from './grad-emit.js';
import type { NodeProto } from './proto.js';
import type { Dim } from './shapes.js';

/** Where a rule applies: the node, the gradient of its output y, and its inputs ('' when absent). */
export interface Site {
  nd: NodeProto;
  /** The gradient of the first output ('' when only other outputs have one: see MULTI_OUTPUT). */
  g: string;
  /** The gradient of each output, undefined where an output has none. */
  gs: (string | undefined)[];
  y: string;
  x0: string;
  x1: string;
  x2: string;
}

/** What the rules read of the graph and how they record gradients. */
export interface RuleContext {
  emit: Emitter;
  opset: number;
  /** The model's name for error messages. */
  name: string;
  /** Whether a tensor depends on the cut (only those carry gradients). */
  isData(t: string): boolean;
  dims(t: string): Dim[];
  rankOf(t: string): number;
  /** A dimension that must not be the batch's. */
  staticDim(t: string, axis: number, at: NodeProto): number;
  /** g (dims `out`, those of `outName` by default) summed over the axes `input` was broadcast along. */
  unbroadcast(g: string, outName: string, input: string, out?: Dim[]): string;
  /** Adds a contribution to t's gradient. */
  add(t: string, g: string): void;
  /** onnxruntime's element type name of a tensor ('float32', ...). */
  elemType(t: string): string;
  /** The integer values of a constant input (a Constant node, an initializer, or a shape chain the batch does not change). */
  constInts(t: string, what: string, at: NodeProto): number[];
  /** The values of a constant float input. */
  constFloats(t: string, what: string, at: NodeProto): number[];
  /** Whether an optional input is absent or a constant with no elements. */
  isEmpty(t: string): boolean;
  /** Throws when one of `names` carries data: the rule differentiates the first input only. */
  paramOnly(at: NodeProto, ...names: string[]): void;
}

export type Rule = (c: RuleContext, site: Site) => void;
