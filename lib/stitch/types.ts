// Shapes shared by the stitch API and the native addon's typed interface.
import type { Matrix } from '../matrix.js';
import type { NativeCancelToken } from '../native.js';

/** A stitching layer's parameters: y = x W + b with W (inputs x outputs) and b (outputs). */
export interface StitchParameters {
  weight: Matrix;
  bias: Float32Array;
}

export interface FitOptions {
  /** Absolute ridge penalty on W (not scaled by the row count; the bias is never penalised). Default 0. */
  ridge?: number;
  /** Fit a bias (centre X and Y). Default true. */
  bias?: boolean;
}

/** Diagnostics of a least-squares solve. */
export interface FitDiagnostics {
  /** Sum of squared residuals over every row and output. */
  residual: number;
  /** Numerical rank of the normal matrix Xc^T Xc + ridge I (eigenvalues above 1e-6 of the largest). */
  rank: number;
  /** Largest / smallest eigenvalue of Xc^T Xc + ridge I (estimated on the Cholesky path); Infinity when singular. */
  condition: number;
  /** 'cholesky' for well-conditioned systems, 'eigen' for the minimum-norm pseudo-inverse fallback. */
  method: 'cholesky' | 'eigen';
}

export type OptimizerName = 'sgd' | 'adam';
export type ScheduleName = 'constant' | 'cosine' | 'step';
export type LossName = 'mse' | 'huber';

export interface OptimizerOptions {
  /** 'adam' (default; betas 0.9, 0.999, eps 1e-8, as PyTorch) or 'sgd'. */
  optimizer?: OptimizerName;
  /** Learning rate, > 0. Default 1e-3. */
  lr?: number;
  /** SGD momentum in [0, 1) (PyTorch's buffer convention). Default 0. */
  momentum?: number;
  /** Nesterov momentum (SGD with momentum > 0). */
  nesterov?: boolean;
  /** Decoupled weight decay as in AdamW: W <- W (1 - lr * weightDecay) each step; the bias is not decayed. */
  weightDecay?: number;
}

/** One epoch of training. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean loss over the epoch's batches (each measured before its step), per element. */
  trainLoss: number;
  /** Mean loss on options.validation after the epoch; NaN without validation data. */
  validationLoss: number;
  /** The learning rate at the epoch's first step. */
  lr: number;
}

export interface NativeTrainOptions extends OptimizerOptions {
  init?: StitchParameters;
  schedule?: ScheduleName;
  epochs?: number;
  batchSize?: number;
  seed?: number;
  validation?: { x: Matrix; y: Matrix };
  patience?: number;
  loss?: LossName;
}

export interface NativeFitResult extends StitchParameters, FitDiagnostics {}

export interface NativeLeastSquaresAccumulator {
  update(x: Matrix, y: Matrix): void;
  updateAsync(x: Matrix, y: Matrix, token?: NativeCancelToken): Promise<void>;
  merge(other: NativeLeastSquaresAccumulator): void;
  solve(options?: FitOptions): NativeFitResult;
  readonly rows: number;
}

export interface NativeTrainableStitch {
  forward(x: Matrix): Matrix;
  backward(x: Matrix, gradOut: Matrix): void;
  step(lr?: number): void;
  stitch(): StitchParameters;
  readonly steps: number;
}
