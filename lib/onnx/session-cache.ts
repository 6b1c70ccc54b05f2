// onnxruntime-node, loaded on first use only (so the CKA and solver parts of restnet work
// without it), and a cache of inference sessions keyed by what they compute: a session is
// built once per (model, sub-graph, exposed outputs) and shared by every caller.
import type { InferenceSession } from 'onnxruntime-node';

import type { Tensor } from '../matrix.js';

type Ort = typeof import('onnxruntime-node');

let ortModule: Promise<Ort> | undefined;

export function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node');
  return ortModule;
}

/** A tensor of any element type, as onnxruntime returns it. */
export interface AnyTensor {
  data: ArrayLike<number | bigint | boolean | string>;
  dims: number[];
  type: string;
}

/**
 * The options of every session restnet creates: one inter-op thread, `threads` intra-op threads
 * (onnxruntime's choice when undefined), and idle intra-op threads that sleep instead of
 * spinning. onnxruntime's default spin after each run takes a core from whatever runs next: on
 * 2 cores, the Node thread that handles the result, the core's threads, or the next segment's
 * session. With spinning, a zoo configuration's batch-1 runs had a p99 of 4.5-8.6 ms (fused) and
 * 17-34 ms (shared segments) against medians of 0.2-1.4 ms; without, 0.4-1.7 ms and 6.6-15 ms,
 * at 0-30% more on the median of the larger fused ones (bench/results/runtime.md).
 */
export function sessionOptions(threads: number | undefined): InferenceSession.SessionOptions {
  const options: InferenceSession.SessionOptions = {
    interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  };
  if (threads !== undefined) options.intraOpNumThreads = threads;
  return options;
}

export class SessionCache {
  private readonly sessions = new Map<string, Promise<InferenceSession>>();

  constructor(private readonly threads: number | undefined) {}

  get size(): number {
    return this.sessions.size;
  }

  /** The session for `key`, created from `bytes()` the first time. */
  get(key: string, bytes: () => Uint8Array): Promise<InferenceSession> {
    let session = this.sessions.get(key);
    if (!session) {
      session = loadOrt().then((ort) => ort.InferenceSession.create(bytes(), sessionOptions(this.threads)));
      session.catch(() => this.sessions.delete(key));
      this.sessions.set(key, session);
    }
    return session;
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.release()));
  }
}

/** Runs `session` on float tensors (by input name) and returns the named outputs. */
export async function runSession(
  session: InferenceSession,
  inputs: Record<string, Tensor>,
  outputs: string[],
): Promise<Record<string, AnyTensor>> {
  const ort = await loadOrt();
  const feeds = Object.fromEntries(
    Object.entries(inputs).map(([name, x]) => [name, new ort.Tensor('float32', x.data, x.dims)]),
  );
  const result = await session.run(feeds, outputs);
  const out: Record<string, AnyTensor> = {};
  for (const name of outputs) {
    const t = result[name]!;
    out[name] = { data: t.data as AnyTensor['data'], dims: [...t.dims], type: t.type };
  }
  return out;
}
