// The accuracy interval, the validation split and the dominance filter (lib/restnet/pareto.ts), and
// the augmented training images of refinement (lib/restnet/refine.ts).
import { describe, expect, it } from 'vitest';

import { holdOut, lineAt, paretoVerdicts, wilsonInterval, type ParetoCandidate } from '../lib/index.js';
import { refineSettings, trainingRows } from '../lib/restnet/refine.js';
import { paretoSvg } from '../lib/report/pareto.js';
import { findAll, hasClass, parseXml } from './report-xml.js';

describe('wilsonInterval', () => {
  it('matches Newcombe (1998), Table I, method 3 (Wilson score, no continuity correction)', () => {
    // Published to 4 decimals: 81/263, 15/148, 0/20, 1/29.
    const published: [number, number, number, number][] = [
      [81, 263, 0.2553, 0.3662],
      [15, 148, 0.0624, 0.1605],
      [0, 20, 0, 0.1611],
      [1, 29, 0.0061, 0.1718],
    ];
    for (const [k, n, lo, hi] of published) {
      const [l, h] = wilsonInterval(k, n);
      expect(l).toBeCloseTo(lo, 4);
      expect(h).toBeCloseTo(hi, 4);
    }
  });

  it('matches the closed form evaluated by hand in f64 at the sizes the zoo uses', () => {
    // p = 4638/5000, z = 1.959963984540054: centre (p + z^2/2n) / (1 + z^2/n) = 0.927272...,
    // half-width z / (1 + z^2/n) sqrt(p(1-p)/n + z^2/4n^2) = 0.007188... (Python, f64).
    const [lo, hi] = wilsonInterval(4638, 5000);
    expect(lo).toBeCloseTo(0.920084, 6);
    expect(hi).toBeCloseTo(0.93446, 5);
    const [l2, h2] = wilsonInterval(90, 100);
    expect(l2).toBeCloseTo(0.825634, 6);
    expect(h2).toBeCloseTo(0.944771, 6);
    // All correct: the upper end is exactly 1, the lower end n / (n + z^2).
    const [l3, h3] = wilsonInterval(50, 50);
    expect(h3).toBe(1);
    expect(l3).toBeCloseTo(50 / (50 + 1.959963984540054 ** 2), 12);
  });

  it('rejects counts out of range', () => {
    expect(() => wilsonInterval(5, 0)).toThrow(RangeError);
    expect(() => wilsonInterval(6, 5)).toThrow(/correct: expected an integer in \[0, 5\], got 6/);
    expect(() => wilsonInterval(1.5, 5)).toThrow(RangeError);
  });
});

describe('holdOut', () => {
  const n = 50,
    size = 3;
  const data = {
    images: Float32Array.from({ length: n * size }, (_, i) => Math.floor(i / size)),
    rows: n,
    cols: size,
    labels: Uint8Array.from({ length: n }, (_, i) => i % 10),
  };

  it('splits into disjoint parts that together are the data, each in the data order, the same for the same seed', () => {
    const { train, validation } = holdOut(data, 12, 7);
    expect(validation.rows).toBe(12);
    expect(train.rows).toBe(38);
    const ids = (r: typeof train): number[] => Array.from({ length: r.rows }, (_, i) => r.images[i * size]!);
    const all = [...ids(train), ...ids(validation)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: n }, (_, i) => i));
    for (const part of [train, validation]) {
      const v = ids(part);
      expect(v).toEqual([...v].sort((a, b) => a - b));
      v.forEach((id, i) => expect(part.labels![i]).toBe(id % 10));
    }
    expect(ids(holdOut(data, 12, 7).validation)).toEqual(ids(validation));
    expect(ids(holdOut(data, 12, 8).validation)).not.toEqual(ids(validation));
  });

  it('rejects a validation size that leaves nothing to train on', () => {
    expect(() => holdOut(data, 50)).toThrow(/count: expected an integer in \[1, 49\]/);
    expect(() => holdOut(data, 0)).toThrow(RangeError);
  });
});

describe('paretoVerdicts', () => {
  const anchors: ParetoCandidate[] = [
    { id: 'small', kind: 'anchor', macs: 10e6, accuracy: 0.9 },
    { id: 'large', kind: 'anchor', macs: 40e6, accuracy: 0.93 },
  ];
  const config = (id: string, macs: number, accuracy: number): ParetoCandidate => ({
    id,
    kind: 'config',
    macs: macs * 1e6,
    accuracy,
  });

  it('marks a configuration that an anchor or another configuration beats at no more cost', () => {
    const v = paretoVerdicts(
      [...anchors, config('a', 12, 0.905), config('b', 20, 0.895), config('c', 30, 0.925), config('d', 35, 0.92)],
      { lineMargin: Infinity },
    );
    expect(v.get('a')).toEqual({ pareto: true });
    expect(v.get('b')!.pareto).toBe(false);
    expect(v.get('b')!.reason).toBe(
      'dominated by anchor small: 90.00% at 10.00 MMACs vs 89.50% at 20.00 MMACs on the validation split',
    );
    expect(v.get('c')).toEqual({ pareto: true });
    expect(v.get('d')!.reason).toMatch(/^dominated by c: 92.50% .* vs 92.00%/);
    expect(v.has('small')).toBe(false);
  });

  it('counts equal accuracy at equal or lower cost as dominating; of two identical configurations the first stays', () => {
    const v = paretoVerdicts(
      [...anchors, config('same-as-small', 15, 0.9), config('x', 20, 0.91), config('y', 20, 0.91)],
      { lineMargin: Infinity },
    );
    expect(v.get('same-as-small')!.reason).toMatch(/^dominated by anchor small/);
    expect(v.get('x')!.pareto).toBe(true);
    expect(v.get('y')!.reason).toMatch(/^dominated by x/);
  });

  it('drops a configuration further than the margin below the line between the anchors', () => {
    // The line at 25 MMACs: 0.9 + 0.03 * 15 / 30 = 0.915.
    expect(lineAt(anchors, 25e6)).toBeCloseTo(0.915, 12);
    expect(lineAt(anchors, 45e6)).toBeNull();
    const points = [...anchors, config('near', 25, 0.906), config('far', 35, 0.912)];
    const v = paretoVerdicts(points, { lineMargin: 0.01 });
    expect(v.get('near')).toEqual({ pareto: true });
    expect(v.get('far')!.pareto).toBe(false);
    expect(v.get('far')!.reason).toMatch(
      /^1\.30 points below the line between anchors small and large \(92\.50% at 35\.00 MMACs; allowed 1\.00\): 91\.20% on the validation split$/,
    );
    expect(paretoVerdicts(points, { lineMargin: Infinity }).get('far')).toEqual({ pareto: true });
  });

  it('rejects non-finite figures and a negative margin', () => {
    expect(() => paretoVerdicts([...anchors, config('n', 20, NaN)])).toThrow(
      /candidates\[2\] \(n\): expected finite accuracy/,
    );
    expect(() => paretoVerdicts(anchors, { lineMargin: -1 })).toThrow(RangeError);
  });
});

describe('paretoSvg with dominated configurations', () => {
  it('draws them grey, lists them in the legend and keeps them off the front', () => {
    const svg = parseXml(
      paretoSvg({
        points: [
          { id: 's', kind: 'anchor', accuracy: 0.9, latencyMs: 1, macs: 10 },
          { id: 'l', kind: 'anchor', accuracy: 0.93, latencyMs: 4, macs: 40 },
          { id: 'ok', kind: 'stitched', accuracy: 0.92, latencyMs: 2, macs: 20 },
          { id: 'bad', kind: 'stitched', accuracy: 0.95, latencyMs: 3, macs: 30, dominated: true },
        ],
      }),
    );
    const grey = findAll(svg, hasClass('dominated'));
    expect(grey).toHaveLength(2);
    for (const g of grey) expect(g.attrs.fill).toBe('#c8c8c8');
    // Without 'bad' (drawn highest), the front runs s -> ok -> l in both panels: 3 points each.
    for (const path of findAll(svg, hasClass('front'))) expect(path.attrs.d!.match(/[ML]/g)).toHaveLength(3);
    expect(findAll(svg, (e) => e.name === 'text').map((e) => e.text)).toContain('dominated (not offered)');
  });
});

describe('trainingRows (refinement augmentation)', () => {
  // Two images [C=1, H=2, W=3] with values that name their pixel.
  const data = {
    images: Float32Array.from([1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16]),
    rows: 2,
    cols: 6,
    labels: Uint8Array.from([7, 8]),
  };
  const shape = ['N', 1, 2, 3] as const;

  it('without augmentation trains on the first `images` images as they are', () => {
    const r = trainingRows(data, refineSettings({ images: 1 }), shape);
    expect(Array.from(r.images)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(r.labels!)).toEqual([7]);
  });

  it('appends a mirrored copy and a shifted copy (edges replicated) of every image, labels alongside', () => {
    const r = trainingRows(data, refineSettings({ augment: ['flip', 'shift'] }), shape);
    expect(r.rows).toBe(6);
    expect(Array.from(r.labels!)).toEqual([7, 8, 7, 8, 7, 8]);
    expect(Array.from(r.images.subarray(12, 24))).toEqual([3, 2, 1, 6, 5, 4, 13, 12, 11, 16, 15, 14]);
    // Each shifted copy is the image moved by some (dy, dx) in [-2, 2]^2 other than (0, 0).
    for (let i = 0; i < 2; i++) {
      const src = data.images.subarray(i * 6, (i + 1) * 6),
        got = Array.from(r.images.subarray((4 + i) * 6, (5 + i) * 6));
      const clamp = (v: number, n: number): number => Math.min(n - 1, Math.max(0, v));
      const moves = [];
      for (let dy = -2; dy <= 2; dy++)
        for (let dx = -2; dx <= 2; dx++) {
          if (dy === 0 && dx === 0) continue;
          const shifted = Array.from(
            { length: 6 },
            (_, k) => src[clamp(Math.floor(k / 3) - dy, 2) * 3 + clamp((k % 3) - dx, 3)]!,
          );
          if (shifted.every((v, k) => v === got[k])) moves.push([dy, dx]);
        }
      expect(moves.length).toBeGreaterThan(0);
    }
    expect(() => refineSettings({ augment: ['flip', 'flip'] })).toThrow(/augment: expected a list of distinct/);
    expect(() => trainingRows(data, refineSettings({ augment: ['flip'] }), ['N', 6])).toThrow(
      /expected images \[N, C, H, W\]/,
    );
  });
});
