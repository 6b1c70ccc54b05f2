// Bad input is a TypeError or RangeError that names the argument, the expected and the actual
// shape; nothing crashes and nothing is silently fixed. Zero variance gives NaN.
import { describe, expect, it } from 'vitest';

import { centerGram, cka, ckaAsync, ckaMatrix, gram, hsic, MinibatchCKA, setThreads } from '../lib/index.js';
import { randomMatrix } from './oracle.js';

const x = randomMatrix(10, 3, 1);

describe('input validation', () => {
  it('rejects matrices whose data does not match rows x cols', () => {
    expect(() => cka({ data: new Float32Array(29), rows: 10, cols: 3 }, x)).toThrow(
      new RangeError('x.data: expected rows x cols = 10 x 3 = 30 elements, got 29'),
    );
    expect(() => cka(x, { data: new Float32Array(31), rows: 10, cols: 3 })).toThrow(
      /y\.data: expected .* 30 elements, got 31/,
    );
  });

  it('rejects a row mismatch, naming both sides', () => {
    expect(() => cka(x, randomMatrix(9, 3, 2))).toThrow(
      new RangeError('y: expected 10 rows (the rows of x), got 9 x 3'),
    );
  });

  it('rejects non-finite values with their position', () => {
    const bad = randomMatrix(10, 3, 3);
    bad.data[7] = Number.NaN;
    expect(() => cka(bad, x)).toThrow(/x: expected finite values, got nan at row 2, column 1/);
    bad.data[7] = Number.POSITIVE_INFINITY;
    expect(() => gram(bad)).toThrow(RangeError);
  });

  it('rejects wrong types', () => {
    expect(() => cka({ data: new Float64Array(30), rows: 10, cols: 3 } as never, x)).toThrow(
      new TypeError('x.data: expected Float32Array, got Float64Array'),
    );
    expect(() => cka([1, 2, 3] as never, x)).toThrow(TypeError);
    expect(() => cka({ data: new Float32Array(30), rows: 2.5, cols: 3 }, x)).toThrow(
      /x\.rows: expected a non-negative integer/,
    );
  });

  it('needs 4 rows for the unbiased estimator and 2 for CKA', () => {
    const three = randomMatrix(3, 2, 4);
    expect(() => cka(three, three, { debiased: true })).toThrow(
      new RangeError('x: debiased CKA (unbiased HSIC) needs at least 4 rows (samples), got 3'),
    );
    const one = randomMatrix(1, 2, 5);
    expect(() => cka(one, one)).toThrow(/needs at least 2 rows/);
    expect(() => centerGram(gram(three), { unbiased: true })).toThrow(/at least 4 rows, got 3/);
  });

  it('rejects unknown kernels, methods, options and bad thresholds', () => {
    expect(() => cka(x, x, { kernel: 'poly' as never })).toThrow(
      new TypeError("kernel: expected 'linear' or 'rbf', got 'poly'"),
    );
    expect(() => cka(x, x, { method: 'svd' as never })).toThrow(/method: expected 'auto', 'gram' or 'feature'/);
    expect(() => cka(x, x, { kernal: 'rbf' } as never)).toThrow(/options\.kernal: unknown option/);
    expect(() => cka(x, x, { kernel: 'rbf', threshold: -1 })).toThrow(
      /threshold: expected a finite number > 0, got -1/,
    );
    expect(() => gram(x, { kernel: 'rbf', sigma: 0 })).toThrow(/sigma: expected a finite number > 0/);
    expect(() => cka(x, x, { kernel: 'rbf', method: 'feature' })).toThrow(TypeError);
  });

  it('rejects non-square or mismatched Grams in hsic', () => {
    expect(() => hsic({ data: new Float64Array(6), rows: 2, cols: 3 }, gram(x))).toThrow(
      /k: expected a square Gram matrix, got 2 x 3/,
    );
    expect(() => hsic(gram(x), gram(randomMatrix(5, 3, 6)))).toThrow(
      /l: expected 10 x 10 \(the shape of k\), got 5 x 5/,
    );
  });

  it('rejects bad layer lists and counts', async () => {
    await expect(ckaMatrix([], [x])).rejects.toThrow(/layersA: expected at least one matrix/);
    await expect(ckaMatrix([x, randomMatrix(8, 2, 7)], [x])).rejects.toThrow(/layersA\[1\]: expected 10 rows/);
    expect(() => new MinibatchCKA(0, 2)).toThrow(/countA: expected a positive integer, got 0/);
    const acc = new MinibatchCKA(1, 2);
    expect(() => acc.update([x], [x])).toThrow(/b: expected 2 matrices \(countB\), got 1/);
    expect(acc.batches).toBe(0);
    expect(() => acc.merge(new MinibatchCKA(2, 2))).toThrow(
      /other: expected an accumulator of 1 x 2 layers, got 2 x 2/,
    );
    expect(() => setThreads(-1)).toThrow(RangeError);
  });

  it('rejects bad async input through the promise', async () => {
    await expect(ckaAsync(x, randomMatrix(4, 3, 8))).rejects.toThrow(RangeError);
  });

  it('returns NaN for zero-variance input, where CKA is 0/0', () => {
    const constant = { data: new Float32Array(30).fill(4.25), rows: 10, cols: 3 };
    expect(cka(constant, x)).toBeNaN();
    expect(cka(constant, x, { kernel: 'rbf' })).toBeNaN();
  });
});
