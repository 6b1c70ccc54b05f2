// What the pipeline accepts as images: a Dataset (one image per row, as lib/data loads it) or a
// batch-first tensor. Both become batches shaped like the anchors' input ([n, 1, 28, 28] in the
// zoo), checked against the model's per-sample input size with an error that names both.
import type { Tensor } from '../matrix.js';
import type { LongTaskOptions } from '../progress.js';
import { dimsText, integerArg } from '../validate.js';

/** One image per row (lib/data's Dataset shape): rows x cols f32, labels optional. */
export interface ImageRows {
  images: Float32Array;
  labels?: Uint8Array;
  rows: number;
  cols: number;
}

export type ImageInput = ImageRows | Tensor;

export type { LongTaskOptions, ProgressEvent } from '../progress.js';

/** The images as one f32 array with `count` samples of `size` values each. */
export function imageRows(
  input: ImageInput,
  arg = 'data',
): { data: Float32Array; count: number; size: number; labels?: Uint8Array } {
  if (input && (input as ImageRows).images !== undefined) {
    const d = input as ImageRows;
    if (!(d.images instanceof Float32Array))
      throw new TypeError(`${arg}.images: expected a Float32Array, got ${Object.prototype.toString.call(d.images)}`);
    if (
      !Number.isInteger(d.rows) ||
      !Number.isInteger(d.cols) ||
      d.rows < 1 ||
      d.cols < 1 ||
      d.rows * d.cols !== d.images.length
    ) {
      throw new RangeError(
        `${arg}: expected rows x cols = images.length, got ${d.rows} x ${d.cols} and ${d.images.length} values`,
      );
    }
    if (d.labels !== undefined && (!(d.labels instanceof Uint8Array) || d.labels.length !== d.rows)) {
      throw new RangeError(
        `${arg}.labels: expected a Uint8Array of ${d.rows} labels, got ${d.labels?.length ?? typeof d.labels}`,
      );
    }
    const out: { data: Float32Array; count: number; size: number; labels?: Uint8Array } = {
      data: d.images,
      count: d.rows,
      size: d.cols,
    };
    if (d.labels) out.labels = d.labels;
    return out;
  }
  const t = input as Tensor;
  if (!t || !(t.data instanceof Float32Array) || !Array.isArray(t.dims) || t.dims.length < 2) {
    throw new TypeError(
      `${arg}: expected a dataset {images, rows, cols, labels?} or a batch-first tensor {data: Float32Array, dims: [N, ...]}`,
    );
  }
  const count = t.dims[0]!;
  const size = t.dims.slice(1).reduce((a, b) => a * b, 1);
  if (count < 1 || count * size !== t.data.length)
    throw new RangeError(`${arg}: dims ${dimsText(t.dims)} hold ${count * size} values, data has ${t.data.length}`);
  return { data: t.data, count, size };
}

/** Per-sample input dims of a model input shape like ['N', 1, 28, 28]. */
export function sampleInputDims(shape: readonly (number | string)[], arg: string): number[] {
  const dims = shape.slice(1);
  if (typeof shape[0] !== 'string' || !dims.every((d): d is number => typeof d === 'number')) {
    throw new RangeError(
      `${arg}: expected a batch-first input [N, ...] with fixed sample dims, got ${dimsText(shape)}`,
    );
  }
  return dims as number[];
}

/**
 * Batches of at most `batchSize` samples from the first `limit` images, shaped as the model's
 * input. The data are views (no copy).
 */
export function* batches(
  input: ImageInput,
  inputShape: readonly (number | string)[],
  batchSize: number,
  limit = Infinity,
  arg = 'data',
): Generator<{ x: Tensor; start: number; labels?: Uint8Array }> {
  const { data, count, size, labels } = imageRows(input, arg);
  const dims = sampleInputDims(inputShape, 'model input');
  const expected = dims.reduce((a, b) => a * b, 1);
  if (size !== expected)
    throw new RangeError(
      `${arg}: the model input takes [N, ${dims.join(', ')}] = ${expected} values per sample, the data have ${size}`,
    );
  const n = Math.min(count, limit);
  for (let start = 0; start < n; start += batchSize) {
    const m = Math.min(batchSize, n - start);
    const out: { x: Tensor; start: number; labels?: Uint8Array } = {
      x: { data: data.subarray(start * size, (start + m) * size), dims: [m, ...dims] },
      start,
    };
    if (labels) out.labels = labels.subarray(start, start + m);
    yield out;
  }
}

/** Number of samples batches() walks. */
export function sampleCount(input: ImageInput, limit = Infinity): number {
  return Math.min(imageRows(input).count, limit);
}

/** A limit on images: a positive integer, or Infinity (the default) for all of them. */
export function checkLimit(value: number | undefined, arg: string): number {
  return value === undefined || value === Infinity ? Infinity : integerArg(value, arg, 1);
}

/** A small seeded generator (LCG) for row sampling and the random-cut ablation. */
export function seededRandom(seed: number): () => number {
  let s = (seed >>> 0) ^ 0x9e3779b9;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

export function report(options: LongTaskOptions, stage: string, done: number, total: number, detail: string): void {
  options.onProgress?.({ stage, done, total, detail });
}
