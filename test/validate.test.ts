// The TypeScript side's one argument layer (lib/validate.ts): the words of each range, TypeError
// for a value of the wrong type and RangeError for a number out of range, as the addon does.
import { describe, expect, it } from 'vitest';

import { checkLimit } from '../lib/restnet/inputs.js';
import { timeInterleaved } from '../lib/restnet/latency.js';
import { integerArg, NON_NEGATIVE, numberArg, oneOfArg, POSITIVE } from '../lib/validate.js';

describe('integerArg', () => {
  it('states the range as the addon does', () => {
    expect(() => integerArg(0, 'n', 1)).toThrow(new RangeError('n: expected a positive integer, got 0'));
    expect(() => integerArg(-1, 'seed', 0)).toThrow(new RangeError('seed: expected a non-negative integer, got -1'));
    expect(() => integerArg(3, 'options.batchSize', 4)).toThrow(
      new RangeError('options.batchSize: expected an integer >= 4, got 3'),
    );
    expect(() => integerArg(6, 'correct', 0, 5)).toThrow(
      new RangeError('correct: expected an integer in [0, 5], got 6'),
    );
    expect(() => integerArg(2.5, 'k', 1)).toThrow(RangeError);
    expect(() => integerArg('2', 'k', 1)).toThrow(new TypeError('k: expected a positive integer, got "2"'));
    expect(integerArg(4, 'k', 4)).toBe(4);
  });
});

describe('numberArg', () => {
  it('takes Infinity only where the range says so, and never NaN', () => {
    expect(() => numberArg(Infinity, 'lr', POSITIVE)).toThrow(
      new RangeError('lr: expected a finite number > 0, got Infinity'),
    );
    expect(numberArg(Infinity, 'maxSeconds', { ...NON_NEGATIVE, infinite: true })).toBe(Infinity);
    expect(() => numberArg(NaN, 'x', { ...NON_NEGATIVE, infinite: true })).toThrow(RangeError);
    expect(() => numberArg(2, 'distill', { min: 0, max: 1 })).toThrow(
      new RangeError('distill: expected a number in [0, 1], got 2'),
    );
    expect(() => numberArg(null, 'lr', POSITIVE)).toThrow(new TypeError('lr: expected a finite number > 0, got null'));
  });

  it('is what timeInterleaved checks its options with', async () => {
    await expect(timeInterleaved([async () => 0], { minRuns: 0 })).rejects.toThrow(
      new RangeError('options.minRuns: expected a positive integer, got 0'),
    );
    await expect(timeInterleaved([async () => 0], { maxSeconds: -1 })).rejects.toThrow(
      new RangeError('options.maxSeconds: expected a number >= 0, got -1'),
    );
  });
});

describe('checkLimit', () => {
  it('is a positive integer or Infinity, all images when absent', () => {
    expect(checkLimit(undefined, 'options.evalLimit')).toBe(Infinity);
    expect(checkLimit(Infinity, 'options.evalLimit')).toBe(Infinity);
    expect(checkLimit(7, 'options.evalLimit')).toBe(7);
    expect(() => checkLimit(0, 'options.evalLimit')).toThrow(
      new RangeError('options.evalLimit: expected a positive integer, got 0'),
    );
    expect(() => checkLimit(NaN, 'options.evalLimit')).toThrow(RangeError);
  });
});

describe('oneOfArg', () => {
  it('lists the names as messages do; another string is a RangeError, another type a TypeError', () => {
    expect(oneOfArg('mean', 'options.features', ['flatten', 'mean'])).toBe('mean');
    expect(() => oneOfArg('max', 'options.features', ['flatten', 'mean'])).toThrow(
      new RangeError(`options.features: expected 'flatten' or 'mean', got "max"`),
    );
    expect(() => oneOfArg(3, 'options.order', ['large-front', 'small-front', 'both'])).toThrow(
      new TypeError(`options.order: expected 'large-front', 'small-front' or 'both', got 3`),
    );
    expect(() => oneOfArg(undefined, 'kind', ['anchor'])).toThrow(
      new TypeError(`kind: expected 'anchor', got undefined`),
    );
  });
});
