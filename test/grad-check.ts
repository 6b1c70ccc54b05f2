// Gradient graphs checked against central finite differences of their own loss (shared by the
// gradient tests): onnxruntime computes the loss from the forward graph alone.
import { expect } from 'vitest';

import type { Tensor } from '../lib/matrix.js';
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

/**
 * d loss along directions d by central differences and by the gradient graph: the gradient's
 * own direction (well conditioned: it measures true g . g against |g|^2) and three random ones.
 * Returns max |fd - ad| over the directions, relative to the largest |ad|.
 */
export async function directionalError(g: GradientSegment, x: Tensor, t: Tensor, eps: number): Promise<number> {
  const { grad } = await g.run(x, t);
  expect(grad.dims).toEqual(x.dims);
  const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, a) => s + a * a, 0));
  const randoms = [1, 2, 3].map((seed) => randomTensor(x.dims, 100 + seed).data);
  const ratio = norm(randoms[0]!) / norm(grad.data);
  const along = grad.data.map((v) => v * ratio);
  let err = 0, scale = 0;
  for (const d of [along, ...randoms]) {
    const moved = (s: number): Tensor => ({ data: x.data.map((v, i) => v + s * eps * d[i]!), dims: x.dims });
    const fd = ((await g.run(moved(1), t)).loss - (await g.run(moved(-1), t)).loss) / (2 * eps);
    let ad = 0;
    for (let i = 0; i < d.length; i++) ad += d[i]! * grad.data[i]!;
    err = Math.max(err, Math.abs(fd - ad));
    scale = Math.max(scale, Math.abs(ad));
  }
  expect(scale).toBeGreaterThan(0);
  return err / scale;
}
