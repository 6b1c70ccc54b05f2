// An independent f64 oracle for stitching layers in plain TypeScript: the centred normal
// equations by Gauss-Jordan elimination, residuals, a noisy linear problem, and the SGD /
// Adam update rules written out from their definitions (PyTorch conventions, decoupled decay).
import type { Matrix } from '../lib/matrix.js';
import { normals } from './oracle.js';

export interface Parameters64 {
  weight: Float64Array; // in x out
  bias: Float64Array;
}

function columnMeans(m: Matrix): Float64Array {
  const mean = new Float64Array(m.cols);
  for (let i = 0; i < m.rows; i++) for (let j = 0; j < m.cols; j++) mean[j]! += m.data[i * m.cols + j]!;
  return mean.map((v) => v / m.rows);
}

/** Solves A X = B (A n x n, B n x k) by Gauss-Jordan elimination with partial pivoting. */
function solve(a: Float64Array, b: Float64Array, n: number, k: number): Float64Array {
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]!) > Math.abs(a[piv * n + c]!)) piv = r;
    for (let j = 0; j < n; j++) [a[c * n + j], a[piv * n + j]] = [a[piv * n + j]!, a[c * n + j]!];
    for (let j = 0; j < k; j++) [b[c * k + j], b[piv * k + j]] = [b[piv * k + j]!, b[c * k + j]!];
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c]! / a[c * n + c]!;
      for (let j = 0; j < n; j++) a[r * n + j]! -= f * a[c * n + j]!;
      for (let j = 0; j < k; j++) b[r * k + j]! -= f * b[c * k + j]!;
    }
  }
  for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) b[r * k + j]! /= a[r * n + r]!;
  return b;
}

/** W = (Xc^T Xc + ridge I)^-1 Xc^T Yc, b = mean(Y) - mean(X) W, all in f64. */
export function leastSquares(x: Matrix, y: Matrix, ridge = 0): Parameters64 {
  const d = x.cols,
    k = y.cols;
  const mx = columnMeans(x),
    my = columnMeans(y);
  const a = new Float64Array(d * d),
    b = new Float64Array(d * k);
  for (let i = 0; i < x.rows; i++) {
    for (let p = 0; p < d; p++) {
      const xp = x.data[i * d + p]! - mx[p]!;
      for (let q = 0; q < d; q++) a[p * d + q]! += xp * (x.data[i * d + q]! - mx[q]!);
      for (let j = 0; j < k; j++) b[p * k + j]! += xp * (y.data[i * k + j]! - my[j]!);
    }
  }
  for (let p = 0; p < d; p++) a[p * d + p]! += ridge;
  const weight = solve(a, b, d, k);
  const bias = new Float64Array(k);
  for (let j = 0; j < k; j++) {
    let s = my[j]!;
    for (let p = 0; p < d; p++) s -= mx[p]! * weight[p * k + j]!;
    bias[j] = s;
  }
  return { weight, bias };
}

/** x W + b in f64. */
export function applyStitch(p: { weight: ArrayLike<number>; bias: ArrayLike<number> }, x: Matrix): Float64Array {
  const k = p.bias.length,
    d = x.cols;
  const out = new Float64Array(x.rows * k);
  for (let i = 0; i < x.rows; i++)
    for (let j = 0; j < k; j++) {
      let s = p.bias[j]!;
      for (let q = 0; q < d; q++) s += x.data[i * d + q]! * p.weight[q * k + j]!;
      out[i * k + j] = s;
    }
  return out;
}

/** Sum of squared residuals of x W + b against y, in f64. */
export function residual(p: { weight: ArrayLike<number>; bias: ArrayLike<number> }, x: Matrix, y: Matrix): number {
  const out = applyStitch(p, x);
  let s = 0;
  for (let e = 0; e < out.length; e++) s += (out[e]! - y.data[e]!) ** 2;
  return s;
}

/** Mean squared error per element. */
export function mse(p: { weight: ArrayLike<number>; bias: ArrayLike<number> }, x: Matrix, y: Matrix): number {
  return residual(p, x, y) / y.data.length;
}

/** ||a - b|| / ||b||. */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let e = 0; e < b.length; e++) {
    num += (a[e]! - b[e]!) ** 2;
    den += b[e]! ** 2;
  }
  return Math.sqrt(num / den);
}

/** Sum of squares of y about its column means. */
export function centredSumSquares(y: Matrix): number {
  const my = columnMeans(y);
  let s = 0;
  for (let e = 0; e < y.data.length; e++) s += (y.data[e]! - my[e % y.cols]!) ** 2;
  return s;
}

/** y = x W + offset + noise * N(0, 1), W ~ N(0, 1/d). */
export function linearProblem(x: Matrix, outputs: number, noise: number, seed: number, offset = 0): Matrix {
  const next = normals(seed);
  const w = Float64Array.from({ length: x.cols * outputs }, () => next() / Math.sqrt(x.cols));
  const data = new Float32Array(x.rows * outputs);
  for (let i = 0; i < x.rows; i++)
    for (let j = 0; j < outputs; j++) {
      let s = offset;
      for (let p = 0; p < x.cols; p++) s += x.data[i * x.cols + p]! * w[p * outputs + j]!;
      data[i * outputs + j] = s + noise * next();
    }
  return { data, rows: x.rows, cols: outputs };
}

export interface OptimizerRule {
  optimizer: 'sgd' | 'adam';
  /** 'mse' (default) or 'huber' with delta 1, both means over all elements. */
  loss?: 'mse' | 'huber';
  lr: number;
  momentum?: number;
  nesterov?: boolean;
  weightDecay?: number;
}

/**
 * `steps` full-batch steps of the MSE or Huber loss (means over all elements) from `init`, in f64:
 * SGD buf = mu buf + g (Nesterov g + mu buf); Adam with bias correction, betas 0.9 / 0.999,
 * eps 1e-8; weight decay W <- W (1 - lr wd) on W only.
 */
export function optimizerSteps(
  init: Parameters64,
  x: Matrix,
  y: Matrix,
  rule: OptimizerRule,
  steps: number,
): Parameters64 {
  const w = Float64Array.from(init.weight),
    b = Float64Array.from(init.bias);
  const params = [w, b];
  const m = params.map((p) => new Float64Array(p.length));
  const v = params.map((p) => new Float64Array(p.length));
  const k = y.cols,
    d = x.cols,
    count = x.rows * k;
  const dLoss = (r: number): number => (rule.loss === 'huber' ? Math.max(-1, Math.min(1, r)) : 2 * r) / count;
  for (let t = 1; t <= steps; t++) {
    const out = applyStitch({ weight: w, bias: b }, x);
    const gw = new Float64Array(w.length),
      gb = new Float64Array(b.length);
    for (let i = 0; i < x.rows; i++)
      for (let j = 0; j < k; j++) {
        const g = dLoss(out[i * k + j]! - y.data[i * k + j]!);
        gb[j]! += g;
        for (let q = 0; q < d; q++) gw[q * k + j]! += x.data[i * d + q]! * g;
      }
    [gw, gb].forEach((grad, which) => {
      const p = params[which]!,
        mw = m[which]!,
        vw = v[which]!;
      for (let e = 0; e < p.length; e++) {
        if (which === 0) p[e]! *= 1 - rule.lr * (rule.weightDecay ?? 0);
        if (rule.optimizer === 'adam') {
          mw[e] = 0.9 * mw[e]! + 0.1 * grad[e]!;
          vw[e] = 0.999 * vw[e]! + 0.001 * grad[e]! ** 2;
          const mhat = mw[e]! / (1 - 0.9 ** t),
            vhat = vw[e]! / (1 - 0.999 ** t);
          p[e]! -= (rule.lr * mhat) / (Math.sqrt(vhat) + 1e-8);
        } else {
          const mu = rule.momentum ?? 0;
          let step = grad[e]!;
          if (mu > 0) {
            mw[e] = mu * mw[e]! + step;
            step = rule.nesterov ? step + mu * mw[e]! : mw[e]!;
          }
          p[e]! -= rule.lr * step;
        }
      }
    });
  }
  return { weight: w, bias: b };
}
