// CKA, Gram and HSIC against numpy f64 golden values (scripts/golden/cka_golden.py), on every
// SIMD path. Tolerances are f32-input tolerances: the references are exact for the f32 data.
import { readFileSync } from 'node:fs';

import { expect, it } from 'vitest';

import { centerGram, cka, gram, hsic, MinibatchCKA, type Matrix } from '../lib/index.js';
import { describeEachSimd } from './simd-paths.js';

interface FixtureMatrix {
  rows: number;
  cols: number;
  data: number[];
}
interface Pair {
  name: string;
  x: FixtureMatrix;
  y: FixtureMatrix;
  published?: Record<string, number>;
  expected: Record<string, number | null>;
}
interface Fixture {
  pairs: Pair[];
  gramHsic: {
    x: FixtureMatrix;
    y: FixtureMatrix;
    gramLinearX: number[];
    gramRbfY: number[];
    centeredX: number[];
    uCenteredX: number[];
    hsicBiased: number;
    hsicUnbiased: number;
  };
  minibatch: { batches: { a: FixtureMatrix[]; b: FixtureMatrix[] }[]; expected: number[] };
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/cka-golden.json', import.meta.url), 'utf8')) as Fixture;

const toMatrix = (m: FixtureMatrix): Matrix => ({ data: Float32Array.from(m.data), rows: m.rows, cols: m.cols });

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(expected[i]!)));
  }
}

describeEachSimd('golden CKA', () => {
  const kornblith = fixture.pairs[0]!;

  it("reproduces Kornblith's published test vectors", () => {
    const x = toMatrix(kornblith.x);
    const y = toMatrix(kornblith.y);
    expect(cka(x, y)).toBeCloseTo(kornblith.published!.linear!, 5);
    expect(cka(x, y, { kernel: 'rbf', threshold: 0.5 })).toBeCloseTo(kornblith.published!['rbf0.5']!, 5);
    expect(cka(x, y, { debiased: true })).toBeCloseTo(kornblith.published!.linearDebiased!, 5);
  });

  for (const pair of fixture.pairs) {
    it(`matches numpy for ${pair.name}`, () => {
      const x = toMatrix(pair.x);
      const y = toMatrix(pair.y);
      for (const method of ['gram', 'feature', 'auto'] as const) {
        expect(cka(x, y, { method })).toBeCloseTo(pair.expected.linear!, 6);
        expect(cka(x, y, { method, debiased: true })).toBeCloseTo(pair.expected.linearDebiased!, 6);
      }
      for (const threshold of [0.5, 1.0, 2.0]) {
        const key = `rbf${threshold.toFixed(1)}`;
        expect(cka(x, y, { kernel: 'rbf', threshold })).toBeCloseTo(pair.expected[key]!, 6);
        expect(cka(x, y, { kernel: 'rbf', threshold, debiased: true })).toBeCloseTo(
          pair.expected[`${key}Debiased`]!,
          6,
        );
      }
    });
  }

  it('computes Grams, centred Grams and both HSIC estimators', () => {
    const g = fixture.gramHsic;
    const k = gram(toMatrix(g.x));
    const l = gram(toMatrix(g.y), { kernel: 'rbf' });
    expect(k.rows).toBe(g.x.rows);
    expectClose(k.data, g.gramLinearX, 1e-6);
    expectClose(l.data, g.gramRbfY, 1e-6);
    expectClose(centerGram(k).data, g.centeredX, 1e-6);
    expectClose(centerGram(k, { unbiased: true }).data, g.uCenteredX, 1e-6);
    // The Gram's products are summed in f32 within a panel: f32-level relative error.
    expectClose([hsic(k, l)], [g.hsicBiased], 1e-6);
    expectClose([hsic(k, l, { unbiased: true })], [g.hsicUnbiased], 1e-6);
  });

  it('accumulates minibatch CKA as Nguyen et al. define it', () => {
    const acc = new MinibatchCKA(2, 3);
    for (const batch of fixture.minibatch.batches) acc.update(batch.a.map(toMatrix), batch.b.map(toMatrix));
    const result = acc.result();
    expect([result.rows, result.cols, acc.batches]).toEqual([2, 3, 5]);
    expectClose(result.data, fixture.minibatch.expected, 1e-6);
  });
});
