// Gram matrices, HSIC and Centered Kernel Alignment. The math runs in the native core; this
// file gives it types, documentation, AbortSignal support and progress callbacks.
import { withAbort } from './abort.js';
import { invalidArgument } from './validate.js';
import { singleStep, type LongTaskOptions } from './progress.js';
import type { Matrix, Matrix64 } from './matrix.js';
import { native, type CkaMethod, type Kernel, type NativeCkaOptions, type NativeMinibatchCKA } from './native.js';

export type { CkaMethod, Kernel } from './native.js';

export interface GramOptions {
  /** 'linear' (X X^T, the default) or 'rbf'. */
  kernel?: Kernel;
  /** RBF: sigma^2 = threshold^2 x median of all n^2 squared distances (default 1). */
  threshold?: number;
  /** RBF: an explicit bandwidth instead of the median rule. */
  sigma?: number;
}

export interface CkaOptions {
  /** 'linear' (default) or 'rbf'. */
  kernel?: Kernel;
  /** RBF bandwidth factor (Kornblith et al.: sigma^2 = threshold^2 x median squared distance). */
  threshold?: number;
  /** Use the unbiased HSIC of Song et al. 2012 (U-centred Grams); needs at least 4 rows. */
  debiased?: boolean;
  /** Linear CKA from n x n Grams, from d x d feature products, or 'auto' (the cheaper). */
  method?: CkaMethod;
}

/** ckaMatrix's options: progress counts each layer's centred Gram (or features) and each pair. */
export interface CkaMatrixOptions extends CkaOptions, LongTaskOptions {}

/** The Gram matrix of the rows of x: linear X X^T or RBF. Accumulated in f64. */
export function gram(x: Matrix, options?: GramOptions): Matrix64 {
  return native.gram(x, options);
}

/** H K H (biased) or the U-centred K (unbiased, n >= 4) of a square Gram matrix. */
export function centerGram(k: Matrix | Matrix64, options?: { unbiased?: boolean }): Matrix64 {
  return native.centerGram(k, options);
}

/**
 * HSIC of two Gram matrices: biased tr(KHLH)/(n-1)^2 (Gretton et al. 2005) or unbiased
 * (Song et al. 2012, n >= 4).
 */
export function hsic(k: Matrix | Matrix64, l: Matrix | Matrix64, options?: { unbiased?: boolean }): number {
  return native.hsic(k, l, options);
}

/**
 * Centered Kernel Alignment between two representations of the same samples (rows).
 * Returns NaN when either side has zero variance (CKA is 0/0 there).
 */
export function cka(x: Matrix, y: Matrix, options?: CkaOptions): number {
  return native.cka(x, y, options);
}

/** cka() off the main thread; one progress event ('cka', 1 of 1) when it is done. */
export function ckaAsync(x: Matrix, y: Matrix, options: CkaOptions & LongTaskOptions = {}): Promise<number> {
  const { signal, onProgress, ...cka } = options;
  return singleStep(
    'cka',
    'x, y',
    onProgress,
    withAbort(signal, (token) => native.ckaAsync(x, y, cka, token)),
  );
}

/**
 * CKA between every layer of A (rows of the result) and every layer of B (columns), each
 * layer's centred Gram (or centred features) computed once.
 */
export function ckaMatrix(a: Matrix[], b: Matrix[], options: CkaMatrixOptions = {}): Promise<Matrix64> {
  const { signal, onProgress, ...cka } = options;
  const relay =
    onProgress &&
    ((done: number, total: number) => onProgress({ stage: 'cka', done, total, detail: 'layer Grams and pairs' }));
  return withAbort(signal, (token) => native.ckaMatrix(a, b, cka, token, relay));
}

/**
 * Minibatch CKA (Nguyen, Raghu & Kornblith 2021): the unbiased HSIC of each minibatch,
 * accumulated in f64 with equal weight per batch. Memory stays at one batch whatever the
 * number of samples, and accumulators from several workers or devices merge exactly.
 */
export class MinibatchCKA {
  readonly #native: NativeMinibatchCKA;

  constructor(
    readonly countA: number,
    readonly countB: number,
    options: Omit<CkaOptions, 'debiased'> = {},
  ) {
    this.#native = new native.MinibatchCKA(countA, countB, options as Omit<NativeCkaOptions, 'debiased'>);
  }

  /** Adds one minibatch: a matrix per layer, all with the same rows (at least 4). */
  update(a: Matrix[], b: Matrix[]): void {
    this.#native.update(a, b);
  }

  /** update() off the main thread; one progress event ('update', 1 of 1) when it is done. */
  updateAsync(a: Matrix[], b: Matrix[], options: LongTaskOptions = {}): Promise<void> {
    const work = withAbort(options.signal, (token) => this.#native.updateAsync(a, b, token));
    return singleStep('update', 'minibatch', options.onProgress, work);
  }

  /** Adds the statistics of another accumulator with the same layer counts and kernel. */
  merge(other: MinibatchCKA): void {
    if (!(other instanceof MinibatchCKA)) throw invalidArgument('other', 'a MinibatchCKA', other, 'type');
    this.#native.merge(other.#native);
  }

  /** The CKA table so far: countA x countB. */
  result(): Matrix64 {
    return this.#native.result();
  }

  /** Minibatches accumulated (merged ones included). */
  get batches(): number {
    return this.#native.batches;
  }
}
