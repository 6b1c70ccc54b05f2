// Activation tensors to matrices, checked against hand-computed values.
import { describe, expect, it } from 'vitest';

import { clsToken, flatten, matrix, spatialMeanPool, tokenMean } from '../lib/index.js';
import { argmaxRow } from '../lib/matrix.js';

const range = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => i);

describe('activation -> matrix helpers', () => {
  it('flattens [N, ...] without copying', () => {
    const t = { data: range(2 * 3 * 2 * 2), dims: [2, 3, 2, 2] };
    const m = flatten(t);
    expect([m.rows, m.cols]).toEqual([2, 12]);
    expect(m.data).toBe(t.data);
  });

  it('mean-pools NCHW over space', () => {
    // Sample 0, channel 1 holds 4..7 (mean 5.5); sample 1, channel 0 holds 8..11 (mean 9.5).
    const m = spatialMeanPool({ data: range(2 * 2 * 2 * 2), dims: [2, 2, 2, 2] });
    expect([m.rows, m.cols]).toEqual([2, 2]);
    expect(Array.from(m.data)).toEqual([1.5, 5.5, 9.5, 13.5]);
  });

  it('averages tokens and takes the CLS token of [N, T, D]', () => {
    // Sample 0 tokens: [0,1], [2,3], [4,5]; sample 1: [6,7], [8,9], [10,11].
    const t = { data: range(2 * 3 * 2), dims: [2, 3, 2] };
    expect(Array.from(tokenMean(t).data)).toEqual([2, 3, 8, 9]);
    expect(Array.from(clsToken(t).data)).toEqual([0, 1, 6, 7]);
  });

  it('rejects tensors whose dims do not match their data', () => {
    expect(() => spatialMeanPool({ data: range(10), dims: [2, 5] }, 'stem')).toThrow(
      new RangeError('stem: expected a rank-4 tensor, got dims [2, 5]'),
    );
    expect(() => flatten({ data: range(10), dims: [3, 3] }, 'block')).toThrow(
      new RangeError('block: dims [3, 3] hold 9 elements, but data has 10'),
    );
    expect(() => matrix(range(5), 2, 3)).toThrow(/expected rows x cols = 2 x 3 = 6 elements, got 5/);
  });
});

describe('argmaxRow', () => {
  it('is the index of the largest logit of a row, the first of equals', () => {
    const logits = { data: Float32Array.from([0.1, 2, -1, 2, 5, -3, -3, 4, -2, -2, -2, -2]), dims: [3, 4] };
    expect([0, 1, 2].map((i) => argmaxRow(logits, i))).toEqual([1, 0, 0]);
  });
});
