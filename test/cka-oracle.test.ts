// CKA against the TypeScript f64 oracle on randomized shapes (odd sizes, tiny n, d = 1,
// d >> n, n >> d, large offsets), and the invariances CKA is known for, on every SIMD path.
import { expect, it } from 'vitest';

import { cka, ckaMatrix, type Matrix } from '../lib/index.js';
import { ckaOracle, normals, randomMatrix, relatedMatrix } from './oracle.js';
import { describeEachSimd } from './simd-paths.js';

const SHAPES: [n: number, dx: number, dy: number, offset: number][] = [
  [2, 3, 2, 0],
  [3, 1, 4, 0],
  [4, 5, 3, 0],
  [5, 1, 1, 0],
  [13, 1, 7, 0],
  [9, 257, 130, 0], // d >> n
  [301, 3, 5, 0], // n >> d
  [77, 33, 45, 5e3], // large common offset
  [64, 16, 16, -1e4],
];

function orthogonal(d: number, seed: number): Float64Array {
  // Gram-Schmidt on a random matrix: a random orthogonal d x d matrix.
  const next = normals(seed);
  const q = Float64Array.from({ length: d * d }, () => next());
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < i; k++) {
      let dot = 0;
      for (let j = 0; j < d; j++) dot += q[i * d + j]! * q[k * d + j]!;
      for (let j = 0; j < d; j++) q[i * d + j]! -= dot * q[k * d + j]!;
    }
    let norm = 0;
    for (let j = 0; j < d; j++) norm += q[i * d + j]! ** 2;
    for (let j = 0; j < d; j++) q[i * d + j]! /= Math.sqrt(norm);
  }
  return q;
}

function transform(x: Matrix, f: (row: Float32Array) => Float32Array): Matrix {
  const data = new Float32Array(x.data.length);
  for (let i = 0; i < x.rows; i++) data.set(f(x.data.subarray(i * x.cols, (i + 1) * x.cols)), i * x.cols);
  return { data, rows: x.rows, cols: x.cols };
}

describeEachSimd('CKA vs the f64 oracle', () => {
  for (const [n, dx, dy, offset] of SHAPES) {
    it(`n=${n} dx=${dx} dy=${dy} offset=${offset}`, () => {
      const x = randomMatrix(n, dx, n * 31 + dx, offset);
      const y = relatedMatrix(x, dy, n * 17 + dy, -offset);
      for (const debiased of n >= 4 ? [false, true] : [false]) {
        const linear = ckaOracle(x, y, { debiased });
        for (const method of ['gram', 'feature', 'auto'] as const) {
          expect(cka(x, y, { debiased, method })).toBeCloseTo(linear, 5);
        }
        for (const threshold of [0.5, 1.5]) {
          const rbf = ckaOracle(x, y, { kernel: 'rbf', threshold, debiased });
          expect(cka(x, y, { kernel: 'rbf', threshold, debiased })).toBeCloseTo(rbf, 5);
        }
      }
    });
  }

  it('is invariant to orthogonal transforms, isotropic scaling and joint row permutation', () => {
    const d = 12;
    const x = randomMatrix(60, d, 1);
    const y = relatedMatrix(x, 9, 2);
    const q = orthogonal(d, 3);
    const rotated = transform(x, (row) =>
      Float32Array.from({ length: d }, (_, j) => row.reduce((s, v, p) => s + v * q[p * d + j]!, 0)),
    );
    const scaled = transform(x, (row) => row.map((v) => v * 7.5));
    const perm = Array.from({ length: 60 }, (_, i) => (i * 37) % 60);
    const permute = (m: Matrix): Matrix => {
      const data = new Float32Array(m.data.length);
      perm.forEach((src, dst) => data.set(m.data.subarray(src * m.cols, (src + 1) * m.cols), dst * m.cols));
      return { data, rows: m.rows, cols: m.cols };
    };
    for (const debiased of [false, true]) {
      const base = cka(x, y, { debiased });
      expect(cka(rotated, y, { debiased })).toBeCloseTo(base, 5);
      expect(cka(scaled, y, { debiased })).toBeCloseTo(base, 5);
      expect(cka(permute(x), permute(y), { debiased })).toBeCloseTo(base, 6);
      expect(cka(x, x, { debiased })).toBeCloseTo(1, 6);
    }
    // RBF with the median rule is invariant to rotation and scaling too.
    expect(cka(rotated, y, { kernel: 'rbf' })).toBeCloseTo(cka(x, y, { kernel: 'rbf' }), 5);
    expect(cka(scaled, y, { kernel: 'rbf' })).toBeCloseTo(cka(x, y, { kernel: 'rbf' }), 5);
  });

  it('ckaMatrix equals the pairwise CKA of every layer pair', async () => {
    const a = [randomMatrix(40, 8, 1), randomMatrix(40, 50, 2)];
    const b = [relatedMatrix(a[0]!, 5, 3), relatedMatrix(a[1]!, 3, 4), randomMatrix(40, 2, 5)];
    for (const options of [{}, { debiased: true }, { kernel: 'rbf' as const }]) {
      const m = await ckaMatrix(a, b, options);
      expect([m.rows, m.cols]).toEqual([2, 3]);
      a.forEach((ai, i) => b.forEach((bj, j) => expect(m.data[i * 3 + j]).toBeCloseTo(ckaOracle(ai, bj, options), 5)));
    }
  });
});
