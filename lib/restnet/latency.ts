// Latency that means something on a shared, noisy machine: runners are timed interleaved (one
// run of each per round, the order rotated every round) so background load hits them alike, and
// rounds go on until every runner's median is known to within a relative width (its 95%
// distribution-free interval, from order statistics) or a time cap is reached.
import { integerArg, NON_NEGATIVE, numberArg, POSITIVE } from '../validate.js';

export interface LatencyStats {
  /** Median of the timed runs, ms. */
  medianMs: number;
  /** 95th percentile of the timed runs, ms. */
  p95Ms: number;
  runs: number;
}

export interface LatencyOptions {
  /** Timed runs of each runner at least (default 15). */
  minRuns?: number;
  /** Stop once every runner's 95% interval of the median is narrower than this fraction of it (default 0.05). */
  relativeWidth?: number;
  /** Stop after this many seconds of rounds (default 2), however wide the intervals. */
  maxSeconds?: number;
}

/** The value at quantile q (0..1) of sorted values, linearly interpolated. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new RangeError('sorted: expected at least one value');
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at),
    hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/**
 * The 95% confidence interval of the median of sorted samples: [x_(j), x_(k)] with the ranks
 * n/2 -+ 1.96 sqrt(n)/2 (the normal approximation of the Binomial(n, 1/2) count below the
 * median). Null while n is too small for both ranks to exist.
 */
export function medianInterval(sorted: readonly number[]): [number, number] | null {
  const n = sorted.length;
  const half = (1.96 * Math.sqrt(n)) / 2;
  const j = Math.floor(n / 2 - half),
    k = Math.ceil(n / 2 + half);
  if (j < 1 || k > n) return null;
  return [sorted[j - 1]!, sorted[k - 1]!];
}

/** Median, 95th percentile and count of timed runs. */
export function latencyStats(times: readonly number[]): LatencyStats {
  const s = [...times].sort((a, b) => a - b);
  return { medianMs: quantile(s, 0.5), p95Ms: quantile(s, 0.95), runs: s.length };
}

function settled(times: readonly number[], width: number): boolean {
  const s = [...times].sort((a, b) => a - b);
  const iv = medianInterval(s);
  return iv !== null && iv[1] - iv[0] < width * quantile(s, 0.5);
}

/**
 * Times `runners` interleaved; `history[i]` (when given) holds earlier times of runner i, which
 * count towards its interval and its statistics (an anchor measured beside every configuration
 * gathers all its runs). Each runner runs once untimed first.
 */
export async function timeInterleaved(
  runners: (() => Promise<unknown>)[],
  options: LatencyOptions = {},
  history: number[][] = runners.map(() => []),
): Promise<LatencyStats[]> {
  const minRuns = options.minRuns ?? 15,
    width = options.relativeWidth ?? 0.05,
    maxMs = (options.maxSeconds ?? 2) * 1000;
  integerArg(minRuns, 'options.minRuns', 1);
  numberArg(width, 'options.relativeWidth', { ...POSITIVE, infinite: true });
  numberArg(options.maxSeconds ?? 2, 'options.maxSeconds', { ...NON_NEGATIVE, infinite: true });
  for (const run of runners) await run();
  const started = performance.now();
  for (let round = 0; ; round++) {
    for (let i = 0; i < runners.length; i++) {
      const k = (i + round) % runners.length;
      const t0 = performance.now();
      await runners[k]!();
      history[k]!.push(performance.now() - t0);
    }
    if (round + 1 < minRuns) continue;
    if (history.every((t) => settled(t, width)) || performance.now() - started >= maxMs) break;
  }
  return history.map(latencyStats);
}
