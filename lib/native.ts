// Loads the compiled addon with node-gyp-build (a prebuild from prebuilds/ or a source build
// from build/Release) and gives it TypeScript types. Everything else imports it from here.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

import type { Matrix, Matrix64 } from './matrix.js';
import type {
  EpochRecord,
  FitDiagnostics,
  FitOptions,
  NativeTrainOptions,
  OptimizerOptions,
  ScheduleName,
  StitchParameters,
} from './stitch/types.js';

export type SimdPath = 'scalar' | 'avx2' | 'avx512' | 'neon';
export type Kernel = 'linear' | 'rbf';
export type CkaMethod = 'auto' | 'gram' | 'feature';

export interface NativeCkaOptions {
  kernel?: Kernel;
  threshold?: number;
  debiased?: boolean;
  method?: CkaMethod;
}

export interface NativeGramOptions {
  kernel?: Kernel;
  threshold?: number;
  sigma?: number;
}

export interface NativeCancelToken {
  cancel(): void;
}

export interface NativeFitResult extends StitchParameters, FitDiagnostics {}

export interface NativeLeastSquaresAccumulator {
  update(x: Matrix, y: Matrix): void;
  updateAsync(x: Matrix, y: Matrix, token?: NativeCancelToken): Promise<void>;
  merge(other: NativeLeastSquaresAccumulator): void;
  solve(options?: FitOptions): NativeFitResult;
  solveAsync(options?: FitOptions, token?: NativeCancelToken): Promise<NativeFitResult>;
  readonly rows: number;
}

export interface NativeTrainableStitch {
  forward(x: Matrix): Matrix;
  backward(x: Matrix, gradOut: Matrix): void;
  step(lr?: number): void;
  stitch(): StitchParameters;
  readonly steps: number;
}

export interface NativeMinibatchCKA {
  update(a: Matrix[], b: Matrix[]): void;
  updateAsync(a: Matrix[], b: Matrix[], token?: NativeCancelToken): Promise<void>;
  merge(other: NativeMinibatchCKA): void;
  result(): Matrix64;
  readonly batches: number;
}

export interface NativeCapabilities {
  simd: SimdPath;
  available: SimdPath[];
  threads: number;
}

export interface NativeAddon {
  CancelToken: new () => NativeCancelToken;
  MinibatchCKA: new (
    countA: number,
    countB: number,
    options?: Omit<NativeCkaOptions, 'debiased'>,
  ) => NativeMinibatchCKA;
  capabilities(): NativeCapabilities;
  setThreads(n: number): void;
  setSimd(path: SimdPath): void;
  gram(x: Matrix, options?: NativeGramOptions): Matrix64;
  centerGram(k: Matrix | Matrix64, options?: { unbiased?: boolean }): Matrix64;
  hsic(k: Matrix | Matrix64, l: Matrix | Matrix64, options?: { unbiased?: boolean }): number;
  cka(x: Matrix, y: Matrix, options?: NativeCkaOptions): number;
  ckaAsync(x: Matrix, y: Matrix, options: NativeCkaOptions | undefined, token?: NativeCancelToken): Promise<number>;
  ckaMatrix(
    a: Matrix[],
    b: Matrix[],
    options: NativeCkaOptions | undefined,
    token?: NativeCancelToken,
    onProgress?: (done: number, total: number) => void,
  ): Promise<Matrix64>;
  // Stitch adapters (issue #5): layout changes and grid resampling of NCHW activations.
  nchwToRows(data: Float32Array, dims: number[]): Float32Array;
  rowsToNchw(rows: Float32Array, dims: number[], skip: number): Float32Array;
  spaceToDepth(data: Float32Array, dims: number[], f: number): Float32Array;
  depthToSpace(data: Float32Array, dims: number[], f: number): Float32Array;
  /** im2col: [n, c, h, w] -> (n oh ow) x (c k k) rows, column (ch k + ky) k + kx (ONNX Conv's weight order). */
  neighbourhoodRows(data: Float32Array, dims: number[], k: number, stride: number, pad: number): Float32Array;
  /** sum (positions x x.cols) += x's rows, row r into position r % positions; in place. */
  addPositionSums(x: Matrix, positions: number, sum: Float64Array): void;
  /** y row r += offsets row r % positions; in place. */
  addPositionOffsets(y: Matrix, offsets: Float32Array, positions: number): void;
  resample2d(data: Float32Array, dims: number[], outH: number, outW: number): Float32Array;
  fitStitch(x: Matrix, y: Matrix, options?: FitOptions): NativeFitResult;
  fitStitchAsync(
    x: Matrix,
    y: Matrix,
    options: FitOptions | undefined,
    token?: NativeCancelToken,
  ): Promise<NativeFitResult>;
  applyStitch(stitch: StitchParameters, x: Matrix): Matrix;
  trainStitch(
    x: Matrix,
    y: Matrix,
    options: NativeTrainOptions,
    token?: NativeCancelToken,
    onEpoch?: (record: EpochRecord, totalEpochs: number) => void,
  ): Promise<StitchParameters & { history: EpochRecord[] }>;
  /**
   * trainStitch's row order of each epoch for `seed` (epoch e at [e * rows, (e + 1) * rows)), for
   * loops that train outside the core: a seed means the same order everywhere.
   */
  epochOrders(rows: number, epochs: number, seed: number): Uint32Array;
  /** trainStitch's learning rate at every step of `epochs` x `stepsPerEpoch` (its defaults: constant, 1e-3, 10). */
  learningRates(
    stepsPerEpoch: number,
    options?: { schedule?: ScheduleName; lr?: number; epochs?: number },
  ): Float64Array;
  LeastSquaresAccumulator: new (inputs: number, outputs: number) => NativeLeastSquaresAccumulator;
  TrainableStitch: new (init: StitchParameters, options?: OptimizerOptions) => NativeTrainableStitch;
}

const SUPPORTED = 'linux-x64 and linux-arm64 (glibc)';

// The package root: this file is lib/native.ts in development and dist/native.js when built.
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

function load(): NativeAddon {
  const require = createRequire(import.meta.url);
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
  try {
    return nodeGypBuild(packageRoot) as NativeAddon;
  } catch (cause) {
    const platform = `${process.platform}-${process.arch}`;
    throw new Error(
      `restnet: could not load the native addon for ${platform}. Prebuilt binaries ship for ${SUPPORTED}; ` +
        `on other platforms build from source with a C++17 compiler: \`npm rebuild restnet\`. ` +
        `(${(cause as Error).message})`,
      { cause },
    );
  }
}

export const native: NativeAddon = load();
