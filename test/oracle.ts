// An independent f64 oracle for CKA in plain TypeScript, written from the formulas (explicit
// double loops, sort-based median, Song et al.'s unbiased HSIC). It shares nothing with the
// native core and is slow on purpose: it is only run on small randomized shapes.
import type { Matrix } from '../lib/matrix.js';

type Gram = Float64Array;

function centredRows(x: Matrix): Float64Array {
  const out = new Float64Array(x.rows * x.cols);
  for (let j = 0; j < x.cols; j++) {
    let mean = 0;
    for (let i = 0; i < x.rows; i++) mean += x.data[i * x.cols + j]!;
    mean /= x.rows;
    for (let i = 0; i < x.rows; i++) out[i * x.cols + j] = x.data[i * x.cols + j]! - mean;
  }
  return out;
}

/** Linear Gram of the f64-centred rows (linear HSIC ignores feature translation). */
export function gramLinear(x: Matrix): Gram {
  const c = centredRows(x);
  const n = x.rows;
  const k = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < x.cols; p++) s += c[i * x.cols + p]! * c[j * x.cols + p]!;
      k[i * n + j] = s;
    }
  return k;
}

export function gramRbf(x: Matrix, threshold: number): Gram {
  const n = x.rows;
  const d = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < x.cols; p++) {
        const diff = x.data[i * x.cols + p]! - x.data[j * x.cols + p]!;
        s += diff * diff;
      }
      d[i * n + j] = s;
    }
  const sorted = Float64Array.from(d).sort();
  const m = sorted.length;
  const median = m % 2 ? sorted[(m - 1) / 2]! : (sorted[m / 2 - 1]! + sorted[m / 2]!) / 2;
  return d.map((v) => Math.exp(-v / (2 * threshold * threshold * median)));
}

function hsicBiased(k: Gram, l: Gram, n: number): number {
  // tr(K H L H) = sum_ij (HKH)_ij L_ij, with HKH from row, column and grand means.
  const row = new Float64Array(n);
  let grand = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) row[i]! += k[i * n + j]!;
    grand += row[i]!;
    row[i]! /= n;
  }
  grand /= n * n;
  let s = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) s += (k[i * n + j]! - row[i]! - row[j]! + grand) * l[i * n + j]!;
  return s / ((n - 1) * (n - 1));
}

function hsicUnbiased(k: Gram, l: Gram, n: number): number {
  let tr = 0;
  let sumK = 0;
  let sumL = 0;
  let cross = 0;
  for (let i = 0; i < n; i++) {
    let rowK = 0;
    let rowL = 0;
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      tr += k[i * n + j]! * l[i * n + j]!;
      rowK += k[i * n + j]!;
      rowL += l[i * n + j]!;
    }
    sumK += rowK;
    sumL += rowL;
    cross += rowK * rowL;
  }
  return (tr + (sumK * sumL) / ((n - 1) * (n - 2)) - (2 / (n - 2)) * cross) / (n * (n - 3));
}

export function hsic(k: Gram, l: Gram, n: number, unbiased: boolean): number {
  return unbiased ? hsicUnbiased(k, l, n) : hsicBiased(k, l, n);
}

export function ckaOracle(
  x: Matrix,
  y: Matrix,
  options: { kernel?: 'linear' | 'rbf'; threshold?: number; debiased?: boolean } = {},
): number {
  const gram = (m: Matrix): Gram => (options.kernel === 'rbf' ? gramRbf(m, options.threshold ?? 1) : gramLinear(m));
  const k = gram(x);
  const l = gram(y);
  const unbiased = options.debiased ?? false;
  const n = x.rows;
  return hsic(k, l, n, unbiased) / Math.sqrt(hsic(k, k, n, unbiased) * hsic(l, l, n, unbiased));
}

/** A seeded normal generator (mulberry32 + Box-Muller), so failures reproduce. */
export function normals(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

export function randomMatrix(rows: number, cols: number, seed: number, offset = 0): Matrix {
  const next = normals(seed);
  return { data: Float32Array.from({ length: rows * cols }, () => offset + next()), rows, cols };
}

/** y = tanh(x) W + noise: related to x but not linearly identical. */
export function relatedMatrix(x: Matrix, cols: number, seed: number, offset = 0): Matrix {
  const next = normals(seed);
  const w = Float64Array.from({ length: x.cols * cols }, () => next() / Math.sqrt(x.cols));
  const data = new Float32Array(x.rows * cols);
  for (let i = 0; i < x.rows; i++)
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let p = 0; p < x.cols; p++) s += Math.tanh(x.data[i * x.cols + p]!) * w[p * cols + j]!;
      data[i * cols + j] = offset + s + 0.5 * next();
    }
  return { data, rows: x.rows, cols };
}
