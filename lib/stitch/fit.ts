// Least-squares stitching layers: one-shot fitStitch and the streaming accumulator. The solve
// runs in the native core (f64 normal equations, Cholesky, minimum-norm eigen fallback).
import { withAbort } from '../abort.js';
import { singleStep, type LongTaskOptions } from '../progress.js';
import { invalidArgument } from '../validate.js';
import type { Matrix } from '../matrix.js';
import { native, type NativeFitResult, type NativeLeastSquaresAccumulator } from '../native.js';
import type { FitDiagnostics, FitOptions, StitchParameters } from './types.js';

/** A stitching layer y = x W + b that can run on new activations. */
export interface Stitch extends StitchParameters {
  /** x W + b for x with weight.rows columns (threaded native GEMM). */
  apply(x: Matrix): Matrix;
}

/** A least-squares stitch with the diagnostics of its solve. */
export interface FittedStitch extends Stitch, FitDiagnostics {}

/** Wraps parameters (e.g. loaded from disk) as a Stitch. The arrays are used as they are, not copied. */
export function stitch(weight: Matrix, bias: Float32Array): Stitch {
  const parameters = { weight, bias };
  return { weight, bias, apply: (x: Matrix) => native.applyStitch(parameters, x) };
}

function fitted(result: NativeFitResult): FittedStitch {
  const { weight, bias, residual, rank, condition, method } = result;
  return { ...stitch(weight, bias), residual, rank, condition, method };
}

/**
 * Fits Y ~ X W + b by least squares (rows of X and Y are positions: pixels or tokens).
 * The bias is not penalised; ridge adds ridge * I to Xc^T Xc (absolute, not scaled by the row
 * count). Rank-deficient X (fewer rows than columns, collinear columns) gives the minimum-norm
 * W, as the pseudo-inverse does. The residual is that of the returned f32 stitch: from the
 * accumulated moments, or measured on (x, y) when the fit is near-exact (below 1% of the
 * centred sum of squares of y), where the moment formula would cancel.
 */
export function fitStitch(x: Matrix, y: Matrix, options?: FitOptions): FittedStitch {
  return fitted(native.fitStitch(x, y, options));
}

/** fitStitch() off the main thread; the signal stops it between its stages; one progress event ('fit', 1 of 1). */
export async function fitStitchAsync(
  x: Matrix,
  y: Matrix,
  options: FitOptions & LongTaskOptions = {},
): Promise<FittedStitch> {
  const { signal, onProgress, ...fit } = options;
  const work = withAbort(signal, (token) => native.fitStitchAsync(x, y, fit, token));
  return fitted(await singleStep('fit', 'x, y', onProgress, work));
}

/**
 * Least squares over more rows than fit in memory, or over several devices: each update adds
 * the co-moments of a batch (f64, pairwise-merged, so large offsets are safe), merge() adds
 * another accumulator's, and solve() gives the same stitch as fitStitch on all the rows. The
 * residual of solve() always comes from the accumulated moments (absolute error of order 1e-7
 * of the sum of squares of y, so it loses relative accuracy when the fit is near-exact).
 */
export class LeastSquaresAccumulator {
  readonly #native: NativeLeastSquaresAccumulator;

  constructor(
    readonly inputs: number,
    readonly outputs: number,
  ) {
    this.#native = new native.LeastSquaresAccumulator(inputs, outputs);
  }

  /** Adds rows: x (rows x inputs) and y (rows x outputs). */
  update(x: Matrix, y: Matrix): void {
    this.#native.update(x, y);
  }

  /** update() off the main thread; updates run one at a time, in call order of their start. */
  updateAsync(x: Matrix, y: Matrix, options: LongTaskOptions = {}): Promise<void> {
    const work = withAbort(options.signal, (token) => this.#native.updateAsync(x, y, token));
    return singleStep('update', 'rows', options.onProgress, work);
  }

  /** Adds another accumulator's statistics (same widths). */
  merge(other: LeastSquaresAccumulator): void {
    if (!(other instanceof LeastSquaresAccumulator))
      throw invalidArgument('other', 'a LeastSquaresAccumulator', other, 'type');
    this.#native.merge(other.#native);
  }

  solve(options?: FitOptions): FittedStitch {
    return fitted(this.#native.solve(options));
  }

  /**
   * solve() off the main thread: a wide stitch's solve (seconds to minutes at thousands of
   * inputs) leaves the event loop free, and the signal stops it at its next check (every 64
   * columns of the factorisation, every row of the eigen fallback).
   */
  async solveAsync(options: FitOptions & LongTaskOptions = {}): Promise<FittedStitch> {
    const { signal, onProgress, ...fit } = options;
    const work = withAbort(signal, (token) => this.#native.solveAsync(fit, token));
    return fitted(await singleStep('solve', 'rows', onProgress, work));
  }

  /** Rows accumulated so far (merged ones included). */
  get rows(): number {
    return this.#native.rows;
  }
}
