// Measuring a family on this device: every configuration and anchor at each batch size, one
// untimed round first, then rounds that visit every (id, batch) once each, so background load
// (other processes, thermal throttling) hits all of them alike. Median and p95 per call.
import type { Tensor } from '../matrix.js';
import { integerArg } from '../validate.js';
import { report, seededRandom, type LongTaskOptions } from './inputs.js';
import type { BatchLatency, ProfileEntry } from './profile-file.js';

export interface ProfileOptions extends LongTaskOptions {
  /** Timed runs per configuration and batch size (default 20). */
  runs?: number;
  /** Batch sizes (default [1, 32]). */
  batches?: number[];
}

export interface ProfileTarget {
  id: string;
  kind: 'stitched' | 'anchor';
  sha256: string;
}

export function checkProfileOptions(options: ProfileOptions): { runs: number; batches: number[] } {
  const runs = options.runs ?? 20,
    batches = options.batches ?? [1, 32];
  integerArg(runs, 'options.runs', 1);
  if (!Array.isArray(batches) || batches.length === 0 || !batches.every((b) => Number.isInteger(b) && b >= 1))
    throw new RangeError(
      `options.batches: expected a non-empty list of positive integers, got ${JSON.stringify(batches)}`,
    );
  return { runs, batches: [...new Set(batches)] };
}

function latency(times: number[]): BatchLatency {
  const s = [...times].sort((a, b) => a - b);
  const m = s.length >> 1;
  return {
    medianMs: s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2,
    p95Ms: s[Math.ceil(0.95 * s.length) - 1]!,
    runs: s.length,
  };
}

/**
 * Times `run(id, x)` for every target and batch size; `fused(id)` says whether the call about to
 * run goes to a fused session. Inputs are fixed pseudo-random pixels in [0, 1).
 */
export async function measureProfile(
  targets: ProfileTarget[],
  sampleDims: number[],
  run: (id: string, x: Tensor) => Promise<unknown>,
  fused: (id: string) => boolean,
  options: ProfileOptions,
): Promise<ProfileEntry[]> {
  const { runs, batches } = checkProfileOptions(options);
  const size = sampleDims.reduce((a, b) => a * b, 1);
  const random = seededRandom(7);
  const inputs = batches.map((b) => {
    const data = new Float32Array(b * size);
    for (let i = 0; i < data.length; i++) data[i] = random();
    return { b, x: { data, dims: [b, ...sampleDims] } };
  });
  const times = new Map(targets.map((t) => [t.id, new Map(batches.map((b) => [b, [] as number[]]))]));
  const paths = new Map(targets.map((t) => [t.id, new Set<'fused' | 'shared'>()]));
  const total = (runs + 1) * targets.length * batches.length;
  let done = 0;
  for (let r = -1; r < runs; r++) {
    for (const { b, x } of inputs) {
      for (const t of targets) {
        options.signal?.throwIfAborted();
        const path = fused(t.id) ? 'fused' : 'shared';
        const t0 = performance.now();
        await run(t.id, x);
        const ms = performance.now() - t0;
        if (r >= 0) {
          times.get(t.id)!.get(b)!.push(ms);
          paths.get(t.id)!.add(path);
        }
        report(options, 'profile', ++done, total, `${t.id} at batch ${b}${r < 0 ? ' (untimed)' : ''}`);
      }
    }
  }
  return targets.map((t) => {
    const seen = paths.get(t.id)!;
    return {
      id: t.id,
      kind: t.kind,
      sha256: t.sha256,
      mode: seen.size === 1 ? [...seen][0]! : 'mixed',
      batches: Object.fromEntries(batches.map((b) => [String(b), latency(times.get(t.id)!.get(b)!)])),
    };
  });
}
