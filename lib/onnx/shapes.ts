// The shape and element type of every tensor of a model, measured by running it once with all
// tensors exposed as outputs, at batch sizes 1 and 2 when the batch axis is dynamic. A dimension
// that doubles with the batch is k x N (k at batch 1); one that does not change is a constant.
// Small tensors computed from shapes alone keep their values when those do not change with the
// batch either (the gradient rules fold them to constants).
import type { GraphInfo } from './graph.js';
import { encodeModel, int, type ModelProto } from './proto.js';
import { loadOrt, runSession, sessionOptions, type AnyTensor } from './session-cache.js';

/** A dimension: a constant, or `batch` times the batch size N. */
export type Dim = number | { batch: number };

export interface TensorMeta {
  dims: Dim[];
  /** onnxruntime's element type name: 'float32', 'int64', ... */
  type: string;
  /**
   * The values of a small tensor computed from shapes and parameters alone (a Shape -> Gather ->
   * Mul chain, Resize scales as sizes over Shape, ...) when they are the same at batch 1 and 2:
   * a value that does not depend on the batch, which the gradient rules may read as a constant.
   * Integer tensors, and float ones computed from shapes (not parameters: those are weights).
   */
  value?: number[];
}

/** Tensors up to this many elements have their batch-independent values recorded. */
const FOLDED_SIZE = 64;

const INTEGER_TYPES = new Set(['int64', 'int32', 'int16', 'int8', 'uint8', 'uint16', 'uint32', 'uint64']);

/** a's values when a and b hold the same small integer (or, `floats`, float32) tensor, else undefined. */
function sameValues(a: AnyTensor, b: AnyTensor, floats: boolean): number[] | undefined {
  const numeric = INTEGER_TYPES.has(a.type) || (floats && a.type === 'float32');
  if (!numeric || a.type !== b.type || a.data.length > FOLDED_SIZE || a.dims.join() !== b.dims.join()) return undefined;
  const values = Array.from(a.data as ArrayLike<number | bigint>, Number);
  return values.every((v, i) => v === Number((b.data as ArrayLike<number | bigint>)[i])) ? values : undefined;
}

/** ONNX TensorProto.DataType of onnxruntime's element type names. */
export const ELEM_TYPE: Record<string, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  string: 8,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  uint64: 13,
  bfloat16: 16,
};

/** Dims with N replaced by a number. */
export function concreteDims(dims: Dim[], n: number): number[] {
  return dims.map((d) => (typeof d === 'number' ? d : d.batch * n));
}

/** Dims as ONNX writes them: numbers, and `batchName` (or `k*batchName`) for batch dims. */
export function symbolicDims(dims: Dim[], batchName: string): (number | string)[] {
  return dims.map((d) => (typeof d === 'number' ? d : d.batch === 1 ? batchName : `${d.batch}*${batchName}`));
}

function withAllOutputs(model: ModelProto, names: string[]): Uint8Array {
  const graph = model.graph!;
  const present = new Set(graph.output.map((o) => o.name));
  const extra = names.filter((n) => !present.has(n)).map((name) => ({ name }));
  const copy: ModelProto = { ...model, graph: { ...graph, output: [...graph.output, ...extra] } };
  return encodeModel(copy);
}

/**
 * Runs the model once (twice with a dynamic batch) exposing every node output. `inputDims`
 * are the input's dims with the batch axis at `batchAxis` (undefined when the batch is fixed).
 */
export async function probeShapes(
  info: GraphInfo,
  inputDims: number[],
  batchAxis: number | undefined,
  threads: number | undefined,
): Promise<Map<string, TensorMeta>> {
  const ort = await loadOrt();
  const names = info.order.flatMap((i) => info.node(i).output.filter((o) => o && o !== info.output));
  const exposed = [info.output, ...names];
  const session = await ort.InferenceSession.create(withAllOutputs(info.model, names), sessionOptions(threads, false));
  const runAt = async (n: number): Promise<Record<string, AnyTensor>> => {
    const dims = inputDims.map((d, axis) => (axis === batchAxis ? n : d));
    const size = dims.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    // A fixed, varied probe input (the values only need to be ordinary).
    for (let i = 0; i < size; i++) data[i] = Math.sin(i * 0.7) * 0.5;
    return runSession(session, { [info.input]: { data, dims } }, exposed);
  };
  try {
    const one = await runAt(1);
    const two = batchAxis === undefined ? one : await runAt(2);
    const table = new Map<string, TensorMeta>();
    const inputMeta: Dim[] = inputDims.map((d, axis) => (axis === batchAxis ? { batch: 1 } : d));
    table.set(info.input, { dims: inputMeta, type: 'float32' });
    for (const t of info.initializers.values()) {
      table.set(t.name!, {
        dims: t.dims.map(int),
        type: Object.keys(ELEM_TYPE).find((k) => ELEM_TYPE[k] === t.data_type) ?? 'unknown',
      });
    }
    for (const name of exposed) {
      const a = one[name]!,
        b = two[name]!;
      const dims: Dim[] = a.dims.map((d, k) => (b.dims[k] === d ? d : b.dims[k] === 2 * d ? { batch: d } : Number.NaN));
      const meta: TensorMeta = { dims, type: a.type };
      // Only tensors that do not read the input's values can be constant in the batch.
      const kind = info.kind.get(name);
      const value = kind !== 'data' ? sameValues(a, b, kind === 'meta') : undefined;
      if (value) meta.value = value;
      table.set(name, meta);
    }
    return table;
  } finally {
    await session.release();
  }
}
