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
 * The options of every session restnet creates: one inter-op thread and `threads` intra-op
 * threads (onnxruntime's choice when undefined). With `spin: false` idle intra-op threads sleep
 * instead of spinning after each run. A model's segments are many sessions run one after another
 * (a configuration in shared mode, a refinement step with the core's threads in between), and
 * each one's spinning threads took the cores from the next: at batch 1 on 2 cores, zoo
 * configurations in shared mode had a mean of 2.1-7.1 ms and a p99 of 13-34 ms against medians
 * of 0.6-3.6 ms; sleeping, 0.6-1.7 and 2.4-6.2 ms at 3.6-9.6x less CPU, and the demo's fitting ran
 * 5% faster. A fused configuration is one session run again and again, where spinning keeps its
 * median up to 0.26 ms (a third) lower (bench/results/runtime_notes.md): those keep onnxruntime's
 * default.
 */
export function sessionOptions(threads: number | undefined, spin: boolean): InferenceSession.SessionOptions {
  const options: InferenceSession.SessionOptions = { interOpNumThreads: 1 };
  if (threads !== undefined) options.intraOpNumThreads = threads;
  if (!spin) options.extra = { session: { intra_op: { allow_spinning: '0' } } };
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
      session = loadOrt().then((ort) => ort.InferenceSession.create(bytes(), sessionOptions(this.threads, false)));
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
