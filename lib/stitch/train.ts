// Gradient training of stitching layers in the native core: trainStitch (the whole loop, off
// the main thread) and TrainableStitch (forward / backward / step for a loss computed
// elsewhere).
import { withAbort } from '../abort.js';
import type { Matrix } from '../matrix.js';
import { native, type NativeTrainableStitch } from '../native.js';
import { stitch, type Stitch } from './fit.js';
import type { EpochRecord, NativeTrainOptions, OptimizerOptions, StitchParameters } from './types.js';

export interface TrainOptions extends NativeTrainOptions {
  /** Called on the main thread after each epoch, in order, before the promise settles. Throwing stops training. */
  onEpoch?: (record: EpochRecord) => void;
  /** Stops the native loop between batches; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface TrainResult {
  stitch: Stitch;
  /** One record per epoch run. */
  history: EpochRecord[];
}

/**
 * Trains a stitch y ~ x W + b by minibatch SGD or Adam in the native core, off the main
 * thread. Unknown option names are a TypeError.
 */
export async function trainStitch(x: Matrix, y: Matrix, options: TrainOptions = {}): Promise<TrainResult> {
  const { onEpoch, signal, init, ...rest } = options;
  if (onEpoch !== undefined && typeof onEpoch !== 'function') throw new TypeError('options.onEpoch: expected a function');
  const nativeOptions = init === undefined ? rest : { ...rest, init: { weight: init.weight, bias: init.bias } };

  // Epoch records reach JavaScript through a thread-safe queue that may lag the promise; they
  // are delivered exactly once, in order, and a throwing callback cancels the training.
  const stop = new AbortController();
  let delivered = 0;
  let callbackFailed = false;
  let callbackError: unknown;
  const deliver = (record: EpochRecord): void => {
    if (onEpoch === undefined || callbackFailed || record.epoch <= delivered) return;
    delivered = record.epoch;
    try {
      onEpoch(record);
    } catch (error) {
      callbackFailed = true;
      callbackError = error;
      stop.abort(error);
    }
  };
  const combined = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
  try {
    const result = await withAbort(combined, (token) =>
      native.trainStitch(x, y, nativeOptions, token, onEpoch === undefined ? undefined : deliver),
    );
    for (const record of result.history) deliver(record);
    if (callbackFailed) throw callbackError;
    return { stitch: stitch(result.weight, result.bias), history: result.history };
  } catch (error) {
    if (callbackFailed) throw callbackError;
    throw error;
  }
}

/**
 * A stitch with optimizer state, for training with a loss computed elsewhere: forward(x),
 * then backward(x, dLoss/dOutput) (gradients accumulate), then step() (applies and clears).
 */
export class TrainableStitch {
  readonly #native: NativeTrainableStitch;

  constructor(init: StitchParameters, options: OptimizerOptions = {}) {
    this.#native = new native.TrainableStitch({ weight: init.weight, bias: init.bias }, options);
  }

  /** A zero-initialised stitch of inputs -> outputs. */
  static zeros(inputs: number, outputs: number, options: OptimizerOptions = {}): TrainableStitch {
    if (!Number.isInteger(inputs) || inputs < 1 || !Number.isInteger(outputs) || outputs < 1) {
      throw new RangeError(`inputs, outputs: expected positive integers, got ${inputs}, ${outputs}`);
    }
    const weight = { data: new Float32Array(inputs * outputs), rows: inputs, cols: outputs };
    return new TrainableStitch({ weight, bias: new Float32Array(outputs) }, options);
  }

  /** x W + b. */
  forward(x: Matrix): Matrix {
    return this.#native.forward(x);
  }

  /** Adds x^T gradOut to dW and the column sums of gradOut to db. */
  backward(x: Matrix, gradOut: Matrix): void {
    this.#native.backward(x, gradOut);
  }

  /** One optimizer step with the accumulated gradient (then cleared), at lr or the constructor's lr. */
  step(lr?: number): void {
    this.#native.step(lr);
  }

  /** A copy of the current parameters. */
  stitch(): Stitch {
    const { weight, bias } = this.#native.stitch();
    return stitch(weight, bias);
  }

  /** Steps taken. */
  get steps(): number {
    return this.#native.steps;
  }
}
