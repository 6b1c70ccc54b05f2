// Gradient graphs checked against central finite differences of their own loss (shared by the
// gradient tests): targets and seeded directions for lib/onnx/grad-check.ts.
import type { Tensor } from '../lib/matrix.js';
import { directionalError as gradientError } from '../lib/onnx/grad-check.js';
import type { GradientSegment } from '../lib/onnx/index.js';
import { randomTensor, seeded } from './onnx-helpers.js';

/** Random class probabilities (rows sum to 1). */
export function targets(n: number, k: number, seed: number): Tensor {
  const r = seeded(seed);
  const data = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    let z = 0;
    for (let c = 0; c < k; c++) z += data[i * k + c] = r() + 0.6;
    for (let c = 0; c < k; c++) data[i * k + c]! /= z;
  }
  return { data, dims: [n, k] };
}

/** lib/onnx/grad-check.ts's error along the gradient and three seeded random directions. */
export async function directionalError(g: GradientSegment, x: Tensor, t: Tensor, eps: number): Promise<number> {
  return gradientError(
    g,
    x,
    t,
    eps,
    [1, 2, 3].map((seed) => randomTensor(x.dims, 100 + seed).data),
  );
}
