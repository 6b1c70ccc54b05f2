// Activations -> the rows that CKA and the stitch solvers use, and back. Per sample (one row per
// image) for CKA; per position (one row per pixel or token) for stitching. The NCHW transposes
// and the grid resampling run in the native core; token tensors [N, T, D] already are rows.
import { checkTensor, clsToken, flatten, spatialMeanPool, tokenMean, type Matrix, type Tensor } from '../../matrix.js';
import { native } from '../../native.js';
import { dimsText, oneOfArg } from '../../validate.js';

export type SamplePooling = 'flatten' | 'mean' | 'cls';

/**
 * One row per sample, for CKA: 'flatten' (everything), 'mean' (mean over pixels of NCHW or over
 * tokens of [N, T, D]), 'cls' (the first token of [N, T, D]).
 */
export function sampleRows(t: Tensor, pooling: SamplePooling = 'flatten', name = 'activation'): Matrix {
  checkTensor(t, name);
  switch (oneOfArg(pooling, 'pooling', ['flatten', 'mean', 'cls'])) {
    case 'flatten':
      return flatten(t, name);
    case 'mean':
      if (t.dims.length === 4) return spatialMeanPool(t, name);
      if (t.dims.length === 3) return tokenMean(t, name);
      throw new RangeError(`${name}: mean pooling expects [N, C, H, W] or [N, T, D], got dims ${dimsText(t.dims)}`);
    case 'cls':
      return clsToken(t, name);
  }
}

/** One row per position, for stitching: [N, C, H, W] -> (N H W) x C; [N, T, D] -> (N T) x D. */
export function positionRows(t: Tensor, name = 'activation'): Matrix {
  checkTensor(t, name);
  if (t.dims.length === 4) {
    const [n, c, h, w] = t.dims as [number, number, number, number];
    return { data: native.nchwToRows(t.data, t.dims), rows: n * h * w, cols: c };
  }
  if (t.dims.length === 3) {
    const [n, tokens, d] = t.dims as [number, number, number];
    return { data: t.data, rows: n * tokens, cols: d };
  }
  throw new RangeError(`${name}: expected [N, C, H, W] or [N, T, D], got dims ${dimsText(t.dims)}`);
}

/** (N (skip + H W)) x C rows -> [N, C, H, W], leaving out the first `skip` rows of each sample. */
export function rowsToGrid(rows: Matrix, n: number, h: number, w: number, skip = 0): Tensor {
  const dims = [n, rows.cols, h, w];
  return { data: native.rowsToNchw(rows.data, dims, skip), dims };
}

/** [N, C, H, W] -> [N, C, outH, outW]: average pooling down (integer factors), bilinear up. */
export function resampleGrid(t: Tensor, outH: number, outW: number, name = 'activation'): Tensor {
  checkTensor(t, name, 4);
  const [n, c, h, w] = t.dims as [number, number, number, number];
  if (h === outH && w === outW) return t;
  return { data: native.resample2d(t.data, t.dims, outH, outW), dims: [n, c, outH, outW] };
}

/** Rows of [N, T, D] without the first `skip` tokens of each sample: (N (T - skip)) x D. */
export function dropTokens(t: Tensor, skip: number): Matrix {
  const [n, tokens, d] = t.dims as [number, number, number];
  if (skip === 0) return { data: t.data, rows: n * tokens, cols: d };
  const keep = tokens - skip;
  const out = new Float32Array(n * keep * d);
  for (let i = 0; i < n; i++) out.set(t.data.subarray((i * tokens + skip) * d, (i + 1) * tokens * d), i * keep * d);
  return { data: out, rows: n * keep, cols: d };
}

/** [N, 1 + T, D] from a CLS row per sample (N x D) and T token rows per sample ((N T) x D). */
export function prependCls(cls: Matrix, tokens: Matrix, n: number): Tensor {
  const d = cls.cols;
  const t = tokens.rows / n;
  const out = new Float32Array(n * (1 + t) * d);
  for (let i = 0; i < n; i++) {
    out.set(cls.data.subarray(i * d, (i + 1) * d), i * (1 + t) * d);
    out.set(tokens.data.subarray(i * t * d, (i + 1) * t * d), (i * (1 + t) + 1) * d);
  }
  return { data: out, dims: [n, 1 + t, d] };
}

/**
 * [N, C, H, W] -> [N, C f f, H / f, W / f] in ONNX SpaceToDepth's order (output channel
 * (bh f + bw) C + c holds input (c, y f + bh, x f + bw)): a lossless grid shrink, so a stitch
 * sees every front pixel of a back cell instead of their average. A permutation (native).
 */
export function spaceToDepth(t: Tensor, f: number, name = 'activation'): Tensor {
  checkTensor(t, name, 4);
  const [n, c, h, w] = t.dims as [number, number, number, number];
  if (!Number.isInteger(f) || f < 1 || h % f !== 0 || w % f !== 0)
    throw new RangeError(`${name}: space-to-depth by ${f} needs H and W divisible by it, got dims ${dimsText(t.dims)}`);
  if (f === 1) return t;
  return { data: native.spaceToDepth(t.data, t.dims, f), dims: [n, c * f * f, h / f, w / f] };
}

/** The inverse of spaceToDepth (ONNX DepthToSpace, mode DCR): [N, C f f, H, W] -> [N, C, H f, W f]. */
export function depthToSpace(t: Tensor, f: number, name = 'activation'): Tensor {
  checkTensor(t, name, 4);
  const [n, cf, h, w] = t.dims as [number, number, number, number];
  if (!Number.isInteger(f) || f < 1 || cf % (f * f) !== 0)
    throw new RangeError(
      `${name}: depth-to-space by ${f} needs channels divisible by ${f * f}, got dims ${dimsText(t.dims)}`,
    );
  if (f === 1) return t;
  return { data: native.depthToSpace(t.data, t.dims, f), dims: [n, cf / (f * f), h * f, w * f] };
}

/**
 * The k x k neighbourhood of every output cell as one row (im2col), zero padded: [N, C, H, W] ->
 * (N oh ow) x (C k k), oh = (H + 2 pad - k) / stride + 1. Column (c k + ky) k + kx holds input
 * (c, y stride + ky - pad, x stride + kx - pad): the inputs of an ONNX Conv with kernel_shape
 * [k, k], strides [stride, stride] and pads [pad] x 4, in the order of its weight [M, C, k, k].
 */
export function neighbourhoodRows(t: Tensor, k: number, stride: number, pad: number, name = 'activation'): Matrix {
  checkTensor(t, name, 4);
  const [n, c, h, w] = t.dims as [number, number, number, number];
  const side = (len: number): number => Math.floor((len + 2 * pad - k) / stride) + 1;
  return {
    data: native.neighbourhoodRows(t.data, t.dims, k, stride, pad),
    rows: n * side(h) * side(w),
    cols: c * k * k,
  };
}

/** sum (positions x m.cols, f64) += m's rows, row r into position r % positions (native, in place). */
export function addPositionSums(sum: Float64Array, m: Matrix, positions: number): void {
  native.addPositionSums(m, positions, sum);
}

/** y with row p of `position` (positions x y.cols) added at position p of every sample (native, in place). */
export function addPositionOffsets(y: Matrix, position: Float32Array | undefined): Matrix {
  if (position) native.addPositionOffsets(y, position, position.length / y.cols);
  return y;
}

/** max(y, 0) in place: a rectified stitch's output (AdapterOptions.rectify). */
export function rectifyRows(y: Matrix): Matrix {
  const d = y.data;
  for (let i = 0; i < d.length; i++) if (d[i]! < 0) d[i] = 0;
  return y;
}

/**
 * The gradient `dy` (in place) through rectifyRows given its output `y`: zero where y is 0, the
 * clamped values (Relu's gradient, 0 at 0 as onnxruntime's).
 */
export function rectifiedGradient(y: Matrix, dy: Matrix): Matrix {
  if (dy.data.length !== y.data.length)
    throw new RangeError(`dy: expected ${y.rows} x ${y.cols} like the output, got ${dy.rows} x ${dy.cols}`);
  const d = dy.data,
    v = y.data;
  for (let i = 0; i < d.length; i++) if (v[i] === 0) d[i] = 0;
  return dy;
}
