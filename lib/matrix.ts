// Matrices (samples in rows) and the conversions from activation tensors to them.
import { dimsText, invalidArgument } from './validate.js';

/** A row-major f32 matrix with samples in rows: element (i, j) is data[i * cols + j]. */
export interface Matrix {
  data: Float32Array;
  rows: number;
  cols: number;
}

/** A row-major f64 matrix: Grams, centred Grams and CKA tables. */
export interface Matrix64 {
  data: Float64Array;
  rows: number;
  cols: number;
}

/** A tensor as it crosses ONNX boundaries: dims[0] is the batch. */
export interface Tensor {
  data: Float32Array;
  dims: number[];
}

/** Checks that t is a tensor {data: Float32Array, dims} whose dims hold data.length values, of `rank` if given. */
export function checkTensor(t: Tensor, name: string, rank?: number): void {
  if (!t || typeof t !== 'object' || !Array.isArray(t.dims)) {
    throw invalidArgument(name, 'a tensor {data: Float32Array, dims: number[]}', t, 'type');
  }
  if (!(t.data instanceof Float32Array)) throw invalidArgument(`${name}.data`, 'a Float32Array', t.data, 'type');
  if (rank !== undefined && t.dims.length !== rank) {
    throw new RangeError(`${name}: expected a rank-${rank} tensor, got dims ${dimsText(t.dims)}`);
  }
  const size = t.dims.reduce((a, b) => a * b, 1);
  if (!t.dims.every((d) => Number.isInteger(d) && d >= 0) || size !== t.data.length) {
    throw new RangeError(`${name}: dims ${dimsText(t.dims)} hold ${size} elements, but data has ${t.data.length}`);
  }
}

/** The class of row i of [N, K] logits: the index of its largest value (the first of equals). */
export function argmaxRow(logits: Tensor, i: number): number {
  const k = logits.dims[1]!;
  let best = 0;
  for (let j = 1; j < k; j++) if (logits.data[i * k + j]! > logits.data[i * k + best]!) best = j;
  return best;
}

/** Wraps data as a rows x cols matrix, checking that the sizes agree. */
export function matrix(data: Float32Array, rows: number, cols: number): Matrix {
  if (!(data instanceof Float32Array)) throw new TypeError('data: expected a Float32Array');
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0 || data.length !== rows * cols) {
    throw new RangeError(
      `data: expected rows x cols = ${rows} x ${cols} = ${rows * cols} elements, got ${data.length}`,
    );
  }
  return { data, rows, cols };
}

/** [N, ...] -> N x (product of the rest), sharing the tensor's memory. */
export function flatten(t: Tensor, name = 'tensor'): Matrix {
  checkTensor(t, name);
  if (t.dims.length < 1) throw new RangeError(`${name}: expected at least a batch dimension, got dims []`);
  const rows = t.dims[0]!;
  return { data: t.data, rows, cols: rows === 0 ? 0 : t.data.length / rows };
}

/** Averages NCHW feature maps over H and W: [N, C, H, W] -> N x C. */
export function spatialMeanPool(t: Tensor, name = 'tensor'): Matrix {
  checkTensor(t, name, 4);
  const [n, c, h, w] = t.dims as [number, number, number, number];
  const plane = h * w;
  const out = new Float32Array(n * c);
  for (let i = 0; i < n * c; i++) {
    let sum = 0;
    const base = i * plane;
    for (let p = 0; p < plane; p++) sum += t.data[base + p]!;
    out[i] = sum / plane;
  }
  return { data: out, rows: n, cols: c };
}

/** Averages the tokens of [N, T, D] -> N x D (CLS included, as in mean-pooled ViT heads). */
export function tokenMean(t: Tensor, name = 'tensor'): Matrix {
  checkTensor(t, name, 3);
  const [n, tokens, d] = t.dims as [number, number, number];
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < tokens; k++) {
      const base = (i * tokens + k) * d;
      for (let j = 0; j < d; j++) out[i * d + j]! += t.data[base + j]!;
    }
  }
  for (let k = 0; k < out.length; k++) out[k]! /= tokens;
  return { data: out, rows: n, cols: d };
}

/** The first (CLS) token of [N, T, D] -> N x D. */
export function clsToken(t: Tensor, name = 'tensor'): Matrix {
  checkTensor(t, name, 3);
  const [n, tokens, d] = t.dims as [number, number, number];
  const out = new Float32Array(n * d);
  for (let i = 0; i < n; i++) out.set(t.data.subarray(i * tokens * d, i * tokens * d + d), i * d);
  return { data: out, rows: n, cols: d };
}
