// The one intra-op thread count of a family, measured rather than guessed: the largest model
// runs at batch 1 with each candidate count, interleaved so that background load hits all
// candidates alike, and the fastest median wins. About 20 short runs per candidate.
import { availableParallelism } from 'node:os';

import { loadOrt, sessionOptions } from '../onnx/session-cache.js';
import { zeroFeeds } from './fused-sessions.js';

/** 1, 2, 4, ... up to the cores this process may use. */
export function threadCandidates(cores = availableParallelism()): number[] {
  const out: number[] = [];
  for (let t = 1; t <= Math.max(1, cores); t *= 2) out.push(t);
  return out;
}

const memo = new Map<string, Promise<number>>();

/** The fastest candidate at batch 1 for the model `bytes` (remembered per model hash in this process). */
export function fastestThreads(
  bytes: Uint8Array,
  hash: string,
  options: { runs?: number; candidates?: number[] } = {},
): Promise<number> {
  const candidates = options.candidates ?? threadCandidates();
  const key = `${hash}:${candidates.join(',')}`;
  let result = memo.get(key);
  if (!result) {
    result = measure(bytes, candidates, options.runs ?? 15);
    result.catch(() => memo.delete(key));
    memo.set(key, result);
  }
  return result;
}

async function measure(bytes: Uint8Array, candidates: number[], runs: number): Promise<number> {
  if (candidates.length === 1) return candidates[0]!;
  const ort = await loadOrt();
  const sessions = await Promise.all(
    candidates.map((t) => ort.InferenceSession.create(bytes, sessionOptions(t, true))),
  );
  try {
    const feeds = zeroFeeds(ort, sessions[0]!);
    const times = candidates.map(() => [] as number[]);
    for (let r = -2; r < runs; r++) {
      for (const [k, s] of sessions.entries()) {
        const t0 = performance.now();
        await s.run(feeds);
        if (r >= 0) times[k]!.push(performance.now() - t0);
      }
    }
    const medians = times.map((t) => t.sort((a, b) => a - b)[t.length >> 1]!);
    return candidates[medians.indexOf(Math.min(...medians))]!;
  } finally {
    await Promise.all(sessions.map((s) => s.release()));
  }
}
