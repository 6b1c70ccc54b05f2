// The check of a gradient graph against central finite differences of its own loss, which
// onnxruntime computes from the forward graph alone: used by the tests and by the dev-time
// check of exported torchvision models (scripts/models/grad-check.mjs).
import type { Tensor } from '../matrix.js';
import { dimsText } from '../validate.js';
import type { GradientSegment } from './frozen-model.js';

/**
 * d loss along directions d by central differences (step eps) and by the gradient graph: the
 * gradient's own direction, scaled to the first random direction's norm (well conditioned: it
 * measures g . g against |g|^2), and each of `randoms` (shaped like x). Returns max |fd - ad|
 * over the directions relative to the largest |ad|.
 */
export async function directionalError(
  g: GradientSegment,
  x: Tensor,
  target: Tensor,
  eps: number,
  randoms: Float32Array[],
): Promise<number> {
  const { grad } = await g.run(x, target);
  if (grad.dims.join() !== x.dims.join())
    throw new Error(`the gradient has dims ${dimsText(grad.dims)}, x has ${dimsText(x.dims)}`);
  if (randoms.length === 0 || randoms.some((r) => r.length !== x.data.length))
    throw new RangeError(`randoms: expected directions of ${x.data.length} elements`);
  const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, a) => s + a * a, 0));
  const ratio = norm(randoms[0]!) / norm(grad.data);
  const along = grad.data.map((v) => v * ratio);
  let err = 0,
    scale = 0;
  for (const d of [along, ...randoms]) {
    const moved = (s: number): Tensor => ({ data: x.data.map((v, i) => v + s * eps * d[i]!), dims: x.dims });
    const fd = ((await g.run(moved(1), target)).loss - (await g.run(moved(-1), target)).loss) / (2 * eps);
    let ad = 0;
    for (let i = 0; i < d.length; i++) ad += d[i]! * grad.data[i]!;
    err = Math.max(err, Math.abs(fd - ad));
    scale = Math.max(scale, Math.abs(ad));
  }
  if (!(scale > 0)) throw new Error('the gradient is zero along every direction: nothing was checked');
  return err / scale;
}
