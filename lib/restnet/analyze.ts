// Step 1: how similar are the layers of two anchors? Both run on the same calibration batches
// with their candidate cuts exposed as outputs; every activation becomes a matrix (samples in
// rows) and one MinibatchCKA accumulates the unbiased HSIC of every (cut of A, cut of B) pair.
import type { Matrix, Matrix64, Tensor } from '../matrix.js';
import { flatten, spatialMeanPool, tokenMean } from '../matrix.js';
import { MinibatchCKA } from '../similarity.js';
import { integerArg, oneOfArg } from '../validate.js';
import { loadAnchor, type Anchor, type AnchorOptions, type AnchorSource } from './anchor.js';
import { batches, checkLimit, report, sampleCount, type ImageInput, type LongTaskOptions } from './inputs.js';

export interface AnalyzeOptions extends LongTaskOptions, AnchorOptions {
  /** Samples per CKA minibatch (>= 4; default 128). */
  batchSize?: number;
  /** Use at most this many calibration images (default 1000). */
  calibrationLimit?: number;
  /**
   * How an activation becomes a row per sample: 'flatten' (all values, Kornblith et al.; the
   * default) or 'mean' (spatial / token mean, cheaper, blind to layout).
   */
  features?: 'flatten' | 'mean';
  /** Override the candidate cuts. */
  cutsA?: string[];
  cutsB?: string[];
}

export interface Analysis {
  a: Anchor;
  b: Anchor;
  /** cuts of A (rows of cka) and of B (columns), in depth order. */
  cutsA: string[];
  cutsB: string[];
  /** Minibatch linear CKA, cutsA.length x cutsB.length. */
  cka: Matrix64;
  samples: number;
  batches: number;
  seconds: number;
}

function features(t: Tensor, mode: 'flatten' | 'mean'): Matrix {
  if (mode === 'flatten') return flatten(t);
  return t.dims.length === 4 ? spatialMeanPool(t) : t.dims.length === 3 ? tokenMean(t) : flatten(t);
}

/** CKA between every candidate cut of anchor a and every candidate cut of anchor b. */
export async function analyze(
  a: Anchor | string | AnchorSource,
  b: Anchor | string | AnchorSource,
  data: ImageInput,
  options: AnalyzeOptions = {},
): Promise<Analysis> {
  const started = performance.now();
  const anchorA = isAnchor(a) ? a : await loadAnchor(a, options);
  const anchorB = isAnchor(b) ? b : await loadAnchor(b, options);
  const cutsA = options.cutsA ?? anchorA.cuts,
    cutsB = options.cutsB ?? anchorB.cuts;
  if (cutsA.length === 0 || cutsB.length === 0)
    throw new RangeError(
      `cuts: both anchors need at least one candidate cut (got ${cutsA.length} and ${cutsB.length})`,
    );
  const batchSize = options.batchSize ?? 128;
  integerArg(batchSize, 'options.batchSize', 4); // 4 rows: the least the unbiased HSIC takes
  const limit =
    options.calibrationLimit === undefined ? 1000 : checkLimit(options.calibrationLimit, 'options.calibrationLimit');
  const mode = oneOfArg(options.features ?? 'flatten', 'options.features', ['flatten', 'mean']);
  const total = sampleCount(data, limit);
  const acc = new MinibatchCKA(cutsA.length, cutsB.length);
  let done = 0;
  for (const { x } of batches(data, anchorA.model.input.shape, batchSize, limit)) {
    options.signal?.throwIfAborted();
    // A last batch under 4 samples has no unbiased HSIC; it is skipped (and not counted).
    if (x.dims[0]! < 4) break;
    const [ca, cb] = await Promise.all([
      anchorA.model.capture(x, cutsA),
      anchorB.model.capture(reshapeFor(x, anchorB), cutsB),
    ]);
    await acc.updateAsync(
      cutsA.map((c) => features(ca[c]!, mode)),
      cutsB.map((c) => features(cb[c]!, mode)),
      options.signal ? { signal: options.signal } : {},
    );
    done += x.dims[0]!;
    report(options, 'analyze', done, total, `${anchorA.name} x ${anchorB.name}: ${done}/${total} images`);
  }
  if (acc.batches === 0) throw new RangeError(`data: expected at least 4 calibration images, got ${total}`);
  // The capture sessions (every candidate cut exposed, arenas sized for these batches) are not
  // needed after this: fitting captures only the planned cuts. Later calls build what they need.
  await anchorA.model.dispose();
  await anchorB.model.dispose();
  return {
    a: anchorA,
    b: anchorB,
    cutsA: [...cutsA],
    cutsB: [...cutsB],
    cka: acc.result(),
    samples: done,
    batches: acc.batches,
    seconds: (performance.now() - started) / 1000,
  };
}

export function isAnchor(x: unknown): x is Anchor {
  return (
    typeof x === 'object' &&
    x !== null &&
    'model' in x &&
    'sha256' in x &&
    'cuts' in x &&
    typeof (x as Anchor).model === 'object' &&
    !((x as Anchor).model instanceof Uint8Array)
  );
}

/** The same images shaped as another anchor's input (same values per sample). */
export function reshapeFor(x: Tensor, anchor: Anchor): Tensor {
  const dims = anchor.model.input.shape.slice(1) as number[];
  const size = dims.reduce((p, d) => p * d, 1);
  const n = x.dims[0]!;
  if (size * n !== x.data.length)
    throw new RangeError(
      `data: ${anchor.name} takes [N, ${dims.join(', ')}] = ${size} values per sample, the batch has ${x.data.length / n}`,
    );
  return { data: x.data, dims: [n, ...dims] };
}

/** The CKA between two named cuts. */
export function ckaAt(analysis: Analysis, cutA: string, cutB: string): number {
  const i = analysis.cutsA.indexOf(cutA),
    j = analysis.cutsB.indexOf(cutB);
  if (i < 0 || j < 0) return NaN;
  return analysis.cka.data[i * analysis.cka.cols + j]!;
}

/** The analysis as plain JSON (for files, heat maps and the CLI): anchors, cuts, CKA rows. */
export function analysisToJson(analysis: Analysis): {
  a: string;
  b: string;
  cutsA: string[];
  cutsB: string[];
  cka: number[][];
  samples: number;
  batches: number;
  seconds: number;
} {
  const { a, b, cutsA, cutsB, cka, samples, batches: count, seconds } = analysis;
  const rows = Array.from({ length: cka.rows }, (_, i) =>
    Array.from(cka.data.subarray(i * cka.cols, (i + 1) * cka.cols)),
  );
  return { a: a.name, b: b.name, cutsA: [...cutsA], cutsB: [...cutsB], cka: rows, samples, batches: count, seconds };
}
