// Sizes at the native boundary: shape products that overflow 64 bits, results above the 4 GiB
// output cap, and layer widths that change between minibatches are RangeErrors naming the
// argument (each was a SIGSEGV or a V8 abort, issue #18); results are memory V8 counts.
import { describe, expect, it } from 'vitest';

import {
  cka,
  ckaAsync,
  ckaMatrix,
  fitStitch,
  gram,
  LeastSquaresAccumulator,
  MinibatchCKA,
  resampleGrid,
  TrainableStitch,
} from '../lib/index.js';
import { rowsToGrid } from '../lib/stitch/adapters/layout.js';
import { native } from '../lib/native.js';
import { randomMatrix } from './oracle.js';

// rows x cols = 2^64 + 1: wraps to 1, which matched the one-element data before the fix.
const wrapped = { data: new Float32Array(1), rows: 274177, cols: 67280421310721 };
const overflow = /x\.rows x x\.cols: expected a product below 2\^64, got 274177 x 67280421310721/;

describe('shape products that overflow', () => {
  it('are RangeErrors in every call that takes a matrix', async () => {
    expect(() => cka(wrapped, wrapped)).toThrow(RangeError);
    expect(() => cka(wrapped, wrapped)).toThrow(overflow);
    expect(() => gram(wrapped)).toThrow(overflow);
    await expect(ckaAsync(wrapped, wrapped)).rejects.toThrow(overflow);
    await expect(ckaMatrix([wrapped], [wrapped])).rejects.toThrow(
      /layersA\[0\]\.rows x layersA\[0\]\.cols: expected a product below 2\^64/,
    );
    expect(() => new MinibatchCKA(1, 1).update([wrapped], [wrapped])).toThrow(/a\[0\]\.rows x a\[0\]\.cols/);
    expect(() => fitStitch(wrapped, wrapped)).toThrow(overflow);
    const init = { weight: { data: new Float32Array(2), rows: 1, cols: 2 }, bias: new Float32Array(2) };
    expect(() => new TrainableStitch(init).forward(wrapped)).toThrow(overflow);
    expect(() => new LeastSquaresAccumulator(1, 1).update(wrapped, wrapped)).toThrow(overflow);
  });

  it('are RangeErrors in the layout and resampling calls', () => {
    expect(() => rowsToGrid({ data: new Float32Array(0), rows: 1, cols: 2 ** 32 }, 2 ** 32, 1, 1)).toThrow(
      new RangeError('dims N x C x H x W: expected a product below 2^64, got 4294967296 x 4294967296 x 1 x 1'),
    );
    expect(() => native.nchwToRows(new Float32Array(1), [2 ** 52, 2 ** 12, 1, 1])).toThrow(
      /dims N x C x H x W: expected a product below 2\^64/,
    );
    expect(() => native.depthToSpace(new Float32Array(4), [1, 4, 1, 1], 2 ** 32)).toThrow(
      /needs channels divisible by 4294967296\^2, got 4/,
    );
    const x = randomMatrix(4, 3, 1);
    expect(() => native.addPositionSums(x, 2 ** 53 - 1, new Float64Array(1))).toThrow(RangeError);
    expect(() => native.addPositionOffsets(x, new Float32Array(1), 2 ** 53 - 1)).toThrow(RangeError);
  });

  it('resamples an empty batch to an empty result without sizing tables by outH', () => {
    // Found by the fuzz harness: N = 0 passes every size check, then 2^31 output rows took minutes.
    expect(native.resample2d(new Float32Array(0), [0, 1, 3, 5], 2 ** 31, 2)).toEqual(new Float32Array(0));
    expect(native.resample2d(new Float32Array(0), [0, 1, 2 ** 40, 1], 1, 1)).toEqual(new Float32Array(0));
  });

  it('rejects non-integer, negative and non-number counts with the right class', () => {
    const t = new Float32Array(16);
    expect(() => native.resample2d(t, [1, 1, 4, 4], 2.5, 2)).toThrow(
      new RangeError('outH: expected a positive integer, got 2.5'),
    );
    expect(() => native.resample2d(t, [1, 1, 4, -4], 2, 2)).toThrow(
      new RangeError('dims[3]: expected a positive integer, got -4'),
    );
    expect(() => native.resample2d(t, [1, 1, 4, 4], '2' as unknown as number, 2)).toThrow(TypeError);
  });
});

describe('the output cap', () => {
  it('rejects a 40 GB resampling before allocating', () => {
    expect(() => resampleGrid({ data: new Float32Array(16), dims: [1, 1, 4, 4] }, 1e5, 1e5)).toThrow(
      new RangeError(
        'resampled grid: expected a result of at most 4294967296 bytes (4 GiB), got 10000000000 values of 4 bytes',
      ),
    );
  });

  it('rejects results whose size is known from the arguments', () => {
    // 2^15 rows: a 8 GiB Gram, refused before the core computes it.
    expect(() => gram({ data: new Float32Array(2 ** 15), rows: 2 ** 15, cols: 1 })).toThrow(
      new RangeError('gram: expected a result of at most 4294967296 bytes (4 GiB), got 1073741824 values of 8 bytes'),
    );
    expect(() => new MinibatchCKA(1e5, 1e5)).toThrow(/result: expected a result of at most 4294967296 bytes/);
    expect(() => new LeastSquaresAccumulator(1e9, 1e9)).toThrow(
      /the accumulator's inputs x \(inputs \+ outputs\) sums: expected a result of at most 4294967296 bytes/,
    );
    // One input and 1e9 outputs: 8 GB of sums from two numbers, refused.
    expect(() => new LeastSquaresAccumulator(1, 1e9)).toThrow(/got 1000000001 values of 8 bytes/);
    // A stitch from 2^16 to 2^15 columns: a 8 GiB weight, refused before the 1 x 1 solve.
    const a = { data: new Float32Array(2 ** 16), rows: 1, cols: 2 ** 16 };
    const b = { data: new Float32Array(2 ** 15), rows: 1, cols: 2 ** 15 };
    expect(() => fitStitch(a, b)).toThrow(
      /weight: expected a result of at most 4294967296 bytes \(4 GiB\), got 2147483648 values/,
    );
  });
});

describe('MinibatchCKA layer widths', () => {
  it('rejects a layer whose columns change between batches, naming the layer', () => {
    const acc = new MinibatchCKA(2, 1);
    acc.update([randomMatrix(8, 3, 1), randomMatrix(8, 5, 2)], [randomMatrix(8, 4, 3)]);
    expect(() => acc.update([randomMatrix(8, 3, 4), randomMatrix(8, 6, 5)], [randomMatrix(8, 4, 6)])).toThrow(
      new RangeError('a[1]: expected 5 columns (as in earlier batches), got 6'),
    );
    expect(acc.batches).toBe(1);
    acc.update([randomMatrix(8, 3, 7), randomMatrix(8, 5, 8)], [randomMatrix(8, 4, 9)]);
    expect(acc.batches).toBe(2);
  });

  it('rejects merging an accumulator whose layers have other widths', () => {
    const one = new MinibatchCKA(1, 1),
      two = new MinibatchCKA(1, 1);
    one.update([randomMatrix(8, 3, 1)], [randomMatrix(8, 4, 2)]);
    two.update([randomMatrix(8, 3, 3)], [randomMatrix(8, 7, 4)]);
    expect(() => one.merge(two)).toThrow(
      new RangeError('other: layer b[0]: expected 4 columns (as in this accumulator), got 7'),
    );
  });
});

// Under AddressSanitizer (npm run test:asan) freed memory sits in ASan's quarantine by design,
// so RSS says nothing about when V8 released it.
const underAsan = (process.env.LD_PRELOAD ?? '').includes('libasan');

describe('result memory', () => {
  it.skipIf(underAsan)('is reclaimed within a synchronous loop of 20,000 gram calls', () => {
    // 32 x 32 doubles = 8 KB a result, 160 MB in all: held until the event loop turned when the
    // results were external buffers V8 did not count; V8-owned buffers are collected in the loop.
    const x = randomMatrix(32, 8, 1);
    gram(x);
    const before = process.memoryUsage().rss;
    let sum = 0;
    for (let i = 0; i < 20_000; i++) sum += gram(x).data[0]!;
    const grown = process.memoryUsage().rss - before;
    expect(sum).toBeGreaterThan(0);
    expect(grown).toBeLessThan(80 * 2 ** 20);
  });
});
