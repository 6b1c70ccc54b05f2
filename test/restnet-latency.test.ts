// The latency statistics of evaluate(): quantiles, the distribution-free 95% interval of a
// median (its coverage checked by simulation against the known median of a distribution), and
// the interleaved timing loop's order and stopping rule.
import { describe, expect, it } from 'vitest';

import { seededRandom } from '../lib/restnet/inputs.js';
import { latencyStats, medianInterval, quantile, timeInterleaved } from '../lib/restnet/latency.js';

describe('latency statistics', () => {
  it('quantile interpolates between order statistics', () => {
    const s = [1, 2, 3, 4, 10];
    expect(quantile(s, 0.5)).toBe(3);
    expect(quantile(s, 0)).toBe(1);
    expect(quantile(s, 1)).toBe(10);
    expect(quantile(s, 0.95)).toBeCloseTo(4 + 0.8 * 6, 12);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(() => quantile([], 0.5)).toThrow(RangeError);
  });

  it('latencyStats: median, p95 and count of unsorted runs', () => {
    const times = Array.from({ length: 21 }, (_, i) => (i * 8) % 21);
    expect(latencyStats(times)).toEqual({ medianMs: 10, p95Ms: 19, runs: 21 });
  });

  it('medianInterval needs enough samples, then brackets the sample median', () => {
    expect(medianInterval([1, 2, 3, 4, 5])).toBeNull();
    const s = Array.from({ length: 100 }, (_, i) => i);
    // n = 100: ranks 50 -+ 9.8 -> x_(40) and x_(60) (1-based), the values 39 and 59.
    expect(medianInterval(s)).toEqual([39, 59]);
  });

  it('medianInterval covers the true median about 95% of the time', () => {
    const random = seededRandom(7);
    for (const n of [15, 40, 200]) {
      let covered = 0;
      const trials = 2000;
      for (let t = 0; t < trials; t++) {
        // Exponential(1): median ln 2, skewed like latencies.
        const s = Array.from({ length: n }, () => -Math.log(1 - random())).sort((a, b) => a - b);
        const iv = medianInterval(s)!;
        if (iv[0] <= Math.LN2 && Math.LN2 <= iv[1]) covered++;
      }
      // Order-statistic intervals are conservative: between 93% and 99% for these n.
      expect(covered / trials).toBeGreaterThan(0.93);
      expect(covered / trials).toBeLessThan(0.99);
    }
  });

  it('timeInterleaved rotates the order each round, runs each once untimed, and stops at minRuns when the cap is 0', async () => {
    const calls: number[] = [];
    const runners = [0, 1, 2].map((k) => async () => {
      calls.push(k);
    });
    const history: number[][] = [[], [0.5, 0.5], []];
    const stats = await timeInterleaved(runners, { minRuns: 4, maxSeconds: 0 }, history);
    expect(calls).toEqual([0, 1, 2, 0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2]);
    expect(stats.map((s) => s.runs)).toEqual([4, 6, 4]);
    expect(history[1]!.length).toBe(6);
    for (const s of stats) expect(s.p95Ms).toBeGreaterThanOrEqual(s.medianMs);
  });

  it('timeInterleaved rejects bad options', async () => {
    await expect(timeInterleaved([async () => 0], { minRuns: 0 })).rejects.toThrow(RangeError);
    await expect(timeInterleaved([async () => 0], { relativeWidth: 0 })).rejects.toThrow(RangeError);
    await expect(timeInterleaved([async () => 0], { maxSeconds: -1 })).rejects.toThrow(RangeError);
  });
});
