// Shapes shared by the stitch API and the native addon's typed interface (lib/native.ts, which
// imports them from here; nothing here imports native.ts, so the two form no cycle).
import type { Matrix } from '../matrix.js';

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

/** trainStitch's options as the native loop takes them (everything but the callbacks). */
export interface NativeTrainOptions extends OptimizerOptions {
  /** The starting stitch, e.g. fitStitch's (default: zeros). Its shape must be x.cols -> y.cols. */
  init?: StitchParameters;
  /** 'constant' (default), 'cosine' (annealed to 0 over all steps) or 'step' (x0.1 at 1/2 and at 3/4 of the epochs). */
  schedule?: ScheduleName;
  /** Passes over the data, >= 1. Default 10. */
  epochs?: number;
  /** Rows per step, in [1, x.rows]. Default min(128, x.rows). */
  batchSize?: number;
  /** Seed of the per-epoch shuffles. Same seed and thread count: bit-identical results. Default 0. */
  seed?: number;
  /** Held-out rows: their loss is recorded per epoch, and the best epoch's stitch is returned. */
  validation?: { x: Matrix; y: Matrix };
  /** Stop after this many epochs without a validation improvement (needs validation). */
  patience?: number;
  /** 'mse' (default) or 'huber' (delta 1), both averaged over all elements. */
  loss?: LossName;
}
