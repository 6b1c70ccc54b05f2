// Gradient training of stitching layers in the native core: trainStitch (the whole loop, off
// the main thread) and TrainableStitch (forward / backward / step for a loss computed
// elsewhere).
import { withAbort } from '../abort.js';
import type { LongTaskOptions } from '../progress.js';
import { integerArg, invalidArgument } from '../validate.js';
import type { Matrix } from '../matrix.js';
import { native, type NativeTrainableStitch } from '../native.js';
import { stitch, type Stitch } from './fit.js';
import type { EpochRecord, NativeTrainOptions, OptimizerOptions, StitchParameters } from './types.js';

/** trainStitch's options; progress is one 'train' event per epoch with its EpochRecord as payload. */
export interface TrainOptions extends NativeTrainOptions, LongTaskOptions<EpochRecord> {}

export interface TrainResult {
  stitch: Stitch;
  /** One record per epoch run. */
  history: EpochRecord[];
}

/**
 * Trains a stitch y ~ x W + b by minibatch SGD or Adam in the native core, off the main
 * thread. Unknown option names are a TypeError. onProgress is called after each epoch, in
 * order, before the promise settles; a throwing onProgress stops training and the promise
 * rejects with its error.
 */
export async function trainStitch(x: Matrix, y: Matrix, options: TrainOptions = {}): Promise<TrainResult> {
  const { onProgress, signal, init, ...rest } = options;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalidArgument('options.onProgress', 'a function', onProgress, 'type');
  }
  const nativeOptions = init === undefined ? rest : { ...rest, init: { weight: init.weight, bias: init.bias } };

  const stop = new AbortController();
  let failure: { error: unknown } | undefined;
  const relay =
    onProgress &&
    ((record: EpochRecord, total: number): void => {
      if (failure) return;
      try {
        onProgress({ stage: 'train', done: record.epoch, total, detail: `epoch ${record.epoch}`, payload: record });
      } catch (error) {
        failure = { error };
        stop.abort(error);
      }
    });
  const combined = signal === undefined ? stop.signal : AbortSignal.any([signal, stop.signal]);
  try {
    const result = await withAbort(combined, (token) => native.trainStitch(x, y, nativeOptions, token, relay));
    if (failure) throw failure.error;
    return { stitch: stitch(result.weight, result.bias), history: result.history };
  } catch (error) {
    throw failure ? failure.error : error;
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
    integerArg(inputs, 'inputs', 1);
    integerArg(outputs, 'outputs', 1);
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
