// The addon's one argument layer (native/addon/args.cpp): a value of the wrong type is a
// TypeError, a number out of range a RangeError, and both messages state the same range, with
// the value given printed as JavaScript prints it.
import { describe, expect, it } from 'vitest';

import {
  fitStitch,
  gram,
  LeastSquaresAccumulator,
  MinibatchCKA,
  setThreads,
  stitch,
  TrainableStitch,
  trainStitch,
} from '../lib/index.js';
import { native } from '../lib/native.js';
import { randomMatrix } from './oracle.js';

const x = randomMatrix(12, 3, 1);
const y = randomMatrix(12, 2, 2);
const wrong = (v: unknown) => v as never;

describe('integer arguments', () => {
  it('names the range in both the TypeError and the RangeError', () => {
    expect(() => setThreads(wrong('2'))).toThrow(
      new TypeError('threads: expected an integer in [0, 1024], got a string'),
    );
    expect(() => setThreads(1025)).toThrow(new RangeError('threads: expected an integer in [0, 1024], got 1025'));
    expect(() => setThreads(1.5)).toThrow(new RangeError('threads: expected an integer in [0, 1024], got 1.5'));
    expect(() => new MinibatchCKA(wrong(null), 2)).toThrow(
      new TypeError('countA: expected a positive integer, got null'),
    );
    expect(() => new LeastSquaresAccumulator(3, 0)).toThrow(
      new RangeError('outputs: expected a positive integer, got 0'),
    );
    const grid = new Float32Array(16);
    expect(() => native.resample2d(grid, [1, 1, 4, 4], wrong('2'), 2)).toThrow(
      new TypeError('outH: expected a positive integer, got a string'),
    );
    expect(() => native.rowsToNchw(grid, [1, 1, 4, 4], -1)).toThrow(
      new RangeError('skip: expected a non-negative integer, got -1'),
    );
  });

  it('checks integer options with the same words', async () => {
    await expect(trainStitch(x, y, { epochs: wrong('3') })).rejects.toThrow(
      new TypeError('options.epochs: expected an integer in [1, 1000000000], got a string'),
    );
    await expect(trainStitch(x, y, { seed: -1 })).rejects.toThrow(
      new RangeError('options.seed: expected a non-negative integer, got -1'),
    );
  });
});

describe('number arguments', () => {
  it('states open and closed ends as they are checked', () => {
    expect(() => gram(x, { kernel: 'rbf', sigma: 0 })).toThrow(
      new RangeError('options.sigma: expected a finite number > 0, got 0'),
    );
    expect(() => gram(x, { kernel: 'rbf', sigma: Infinity })).toThrow(
      new RangeError('options.sigma: expected a finite number > 0, got Infinity'),
    );
    expect(() => gram(x, { threshold: wrong('1') })).toThrow(
      new TypeError('options.threshold: expected a finite number > 0, got a string'),
    );
    expect(() => fitStitch(x, y, { ridge: -1 })).toThrow(
      new RangeError('options.ridge: expected a finite number >= 0, got -1'),
    );
    expect(() => fitStitch(x, y, { ridge: 0 })).not.toThrow();
    expect(
      () =>
        new TrainableStitch(stitch({ data: new Float32Array(6), rows: 3, cols: 2 }, new Float32Array(2)), {
          optimizer: 'sgd',
          momentum: 1,
        }),
    ).toThrow(new RangeError('options.momentum: expected a number in [0, 1), got 1'));
  });

  it('checks the CKA options of the minibatch accumulator through the same parser', () => {
    expect(() => new MinibatchCKA(1, 1, { kernel: 'rbf', threshold: 0 })).toThrow(
      new RangeError('options.threshold: expected a finite number > 0, got 0'),
    );
    expect(() => new MinibatchCKA(1, 1, wrong({ debiased: true }))).toThrow(/options\.debiased: unknown option/);
  });

  it('checks the learning rate of a single step', () => {
    const t = new TrainableStitch(stitch({ data: new Float32Array(6), rows: 3, cols: 2 }, new Float32Array(2)));
    expect(() => t.step(wrong('0.1'))).toThrow(new TypeError('lr: expected a finite number > 0, got a string'));
    expect(() => t.step(-0.5)).toThrow(new RangeError('lr: expected a finite number > 0, got -0.5'));
  });
});
