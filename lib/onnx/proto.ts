// Decoding and encoding ONNX ModelProto bytes with protobufjs, and the few typed views of the
// messages that the graph tools read. Everything not listed here stays on the decoded objects
// and is written back unchanged.
import protobuf from 'protobufjs';

import { ONNX_PROTO } from './schema.js';

import { OnnxModelError } from './errors.js';

/** protobufjs decodes int64 as Long; values we build ourselves are plain numbers. */
export type Int64 = number | { toNumber(): number };

export interface TensorShapeDim {
  dim_value?: Int64;
  dim_param?: string;
}

export interface TypeProto {
  tensor_type?: { elem_type?: number; shape?: { dim: TensorShapeDim[] } };
}

export interface ValueInfoProto {
  name: string;
  type?: TypeProto;
}

export interface TensorProto {
  name?: string;
  dims: Int64[];
  data_type?: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  int32_data?: number[];
  int64_data?: Int64[];
  double_data?: number[];
  data_location?: number;
  /** Where an initializer with data_location EXTERNAL keeps its bytes: location, offset, length. */
  external_data?: { key: string; value: string }[];
}

export interface AttributeProto {
  name: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto;
  floats?: number[];
  ints?: Int64[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  op_type: string;
  domain?: string;
  attribute: AttributeProto[];
}

export interface GraphProto {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  sparse_initializer?: unknown[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  value_info: ValueInfoProto[];
}

export interface OperatorSetIdProto {
  domain?: string;
  version?: Int64;
}

export interface ModelProto {
  ir_version?: Int64;
  opset_import: OperatorSetIdProto[];
  producer_name?: string;
  graph?: GraphProto;
  functions?: unknown[];
  /** Training graphs refer to the full graph's names; sub-models and fused models drop them. */
  training_info?: unknown[];
}

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, INT32: 6, INT64: 7, DOUBLE: 11 } as const;
/** AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

let modelType: protobuf.Type | undefined;

function schema(): protobuf.Type {
  modelType ??= protobuf.parse(ONNX_PROTO, { keepCase: true }).root.lookupType('onnx.ModelProto');
  return modelType;
}

export function int(v: Int64 | undefined): number {
  if (v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Decodes ModelProto bytes; `name` is the argument the bytes came from, for the message. */
export function decodeModel(bytes: Uint8Array, name: string): ModelProto {
  let model: ModelProto;
  try {
    model = schema().decode(bytes) as unknown as ModelProto;
  } catch (cause) {
    throw new OnnxModelError(
      `${name}: expected ONNX ModelProto bytes, but they do not decode (${(cause as Error).message})`,
      { cause },
    );
  }
  const graph = model.graph;
  if (!graph || graph.node.length === 0 || graph.output.length === 0) {
    throw new OnnxModelError(
      `${name}: expected an ONNX model with a graph of nodes and outputs, got ${graph ? `a graph with ${graph.node.length} nodes and ${graph.output.length} outputs` : 'no graph'}`,
    );
  }
  return model;
}

export function encodeModel(model: ModelProto): Uint8Array {
  return schema()
    .encode(model as unknown as Record<string, unknown>)
    .finish();
}

/** The dims of a tensor ValueInfo: numbers, symbolic names, or undefined when unknown. */
export function valueInfoDims(info: ValueInfoProto): (number | string | undefined)[] | undefined {
  const dims = info.type?.tensor_type?.shape?.dim;
  if (!dims) return undefined;
  return dims.map((d) =>
    d.dim_param ? d.dim_param : d.dim_value !== undefined && int(d.dim_value) > 0 ? int(d.dim_value) : undefined,
  );
}

/** A float/int64 ValueInfo with the given dims (strings are symbolic). */
export function valueInfo(name: string, elemType: number, dims?: (number | string)[]): ValueInfoProto {
  const tensor: NonNullable<TypeProto['tensor_type']> = { elem_type: elemType };
  if (dims) tensor.shape = { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) };
  return { name, type: { tensor_type: tensor } };
}

/** An initializer holding the given values. */
export function tensorProto(
  name: string,
  dims: number[],
  values: Float32Array | number[],
  dataType: number = DataType.FLOAT,
): TensorProto {
  if (dataType === DataType.FLOAT) {
    const f = values instanceof Float32Array ? values : Float32Array.from(values);
    return { name, dims, data_type: dataType, raw_data: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
  }
  if (dataType === DataType.INT64) {
    const b = BigInt64Array.from(Array.from(values, (v) => BigInt(v)));
    return { name, dims, data_type: dataType, raw_data: new Uint8Array(b.buffer) };
  }
  throw new TypeError(`dataType: expected FLOAT (1) or INT64 (7), got ${dataType}`);
}

export function attribute(
  name: string,
  value: number | number[] | string | TensorProto,
  kind: 'int' | 'float' = 'int',
): AttributeProto {
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value))
    return kind === 'int'
      ? { name, type: AttributeType.INTS, ints: value }
      : { name, type: AttributeType.FLOATS, floats: value };
  if (typeof value === 'number')
    return kind === 'int' ? { name, type: AttributeType.INT, i: value } : { name, type: AttributeType.FLOAT, f: value };
  return { name, type: AttributeType.TENSOR, t: value };
}

export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: AttributeProto[] = [],
  name?: string,
): NodeProto {
  return { op_type: opType, input: inputs, output: outputs, attribute: attributes, name: name ?? outputs[0] ?? opType };
}

/** An INT attribute of a node, or `fallback` when absent. */
export function intAttr(n: NodeProto, name: string, fallback: number): number {
  const a = n.attribute.find((x) => x.name === name);
  return a?.i !== undefined ? int(a.i) : fallback;
}

/** Number of elements of an initializer. */
export function tensorSize(t: TensorProto): number {
  return t.dims.reduce<number>((p, d) => p * int(d), 1);
}

/** The integer values of an INT64 or INT32 tensor (raw or typed storage). */
export function tensorInts(t: TensorProto): number[] {
  if (t.raw_data && t.raw_data.byteLength > 0) {
    const bytes = new Uint8Array(t.raw_data);
    if (t.data_type === DataType.INT64) return Array.from(new BigInt64Array(bytes.buffer), Number);
    if (t.data_type === DataType.INT32) return Array.from(new Int32Array(bytes.buffer));
  } else if (t.data_type === DataType.INT64) return (t.int64_data ?? []).map(int);
  else if (t.data_type === DataType.INT32) return [...(t.int32_data ?? [])];
  throw new TypeError(`tensor '${t.name ?? ''}': expected INT64 or INT32 values, got ONNX element type ${t.data_type}`);
}

/** The values of a FLOAT or DOUBLE tensor (raw or typed storage). */
export function tensorFloats(t: TensorProto): number[] {
  if (t.raw_data && t.raw_data.byteLength > 0) {
    const bytes = new Uint8Array(t.raw_data);
    if (t.data_type === DataType.FLOAT) return Array.from(new Float32Array(bytes.buffer));
    if (t.data_type === DataType.DOUBLE) return Array.from(new Float64Array(bytes.buffer));
  } else if (t.data_type === DataType.FLOAT) return [...(t.float_data ?? [])];
  else if (t.data_type === DataType.DOUBLE) return [...(t.double_data ?? [])];
  throw new TypeError(
    `tensor '${t.name ?? ''}': expected FLOAT or DOUBLE values, got ONNX element type ${t.data_type}`,
  );
}

/** An INTS attribute of a node, or `fallback` when absent or empty. */
export function intsAttr(n: NodeProto, name: string, fallback: number[]): number[] {
  const a = n.attribute.find((t) => t.name === name);
  return a?.ints?.length ? a.ints.map(int) : fallback;
}

/** A FLOAT attribute of a node, or `fallback` when absent. */
export function floatAttr(n: NodeProto, name: string, fallback: number): number {
  return n.attribute.find((x) => x.name === name)?.f ?? fallback;
}

/** A STRING attribute of a node, or `fallback` when absent. */
export function stringAttr(n: NodeProto, name: string, fallback: string): string {
  const s = n.attribute.find((x) => x.name === name)?.s;
  return s && s.length > 0 ? new TextDecoder().decode(s) : fallback;
}
