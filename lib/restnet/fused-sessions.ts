// One onnxruntime session per configuration (or anchor) of its whole fused graph, kept in a
// least-recently-used cache bounded by a byte budget. A session's cost is its ONNX file's size:
// the weights, which dominate what onnxruntime holds for these models. Sessions are built on
// request (ahead of time or in the background) and run once on zeros before any call uses them;
// an evicted session is released once no call is still running on it.
import type { InferenceSession } from 'onnxruntime-node';

import type { Tensor } from '../matrix.js';
import { loadOrt, runSession, sessionOptions } from '../onnx/session-cache.js';

type Ort = Awaited<ReturnType<typeof loadOrt>>;

/** One sample of zeros for a session's first input (symbolic dims as 1): feeds for a warm-up or timing run. */
export function zeroFeeds(ort: Ort, session: InferenceSession): InferenceSession.FeedsType {
  const meta = session.inputMetadata[0]!;
  const dims = meta.isTensor ? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1)) : [1];
  return {
    [session.inputNames[0]!]: new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)), dims),
  };
}

interface Slot {
  bytes: number;
  session?: InferenceSession;
  building?: Promise<InferenceSession | undefined>;
  /** Calls started on this session and not finished (it is released only when this is 0). */
  running: number;
  evicted: boolean;
}

export interface FusedHeld {
  /** Ids with a session, most recently used last. */
  ids: string[];
  /** Ids whose session is being built. */
  building: string[];
  /** Sum of their ONNX sizes. */
  bytes: number;
}

export class FusedSessions {
  /** Insertion order = recency: a use moves the id to the end. */
  private readonly slots = new Map<string, Slot>();
  /** Ids whose build failed, with the reason (they run on the shared segments). */
  readonly failed = new Map<string, string>();
  /** Ids whose model alone is larger than the budget (they run on the shared segments). */
  readonly oversize = new Set<string>();

  /** The last build queued (builds run one after another). */
  private queue: Promise<unknown> = Promise.resolve();

  /** `threads` is asked once, at the first build (it may measure). */
  constructor(
    private readonly threads: () => Promise<number>,
    readonly budgetBytes: number,
  ) {}

  /** The ready session of `id` (and marks it most recently used), or undefined. */
  ready(id: string): InferenceSession | undefined {
    const slot = this.slots.get(id);
    if (!slot?.session) return undefined;
    this.slots.delete(id);
    this.slots.set(id, slot);
    return slot.session;
  }

  private fits(bytes: number): boolean {
    return bytes <= this.budgetBytes;
  }

  /** Whether `id` will never get a session (larger than the budget, or its build failed). */
  excluded(id: string): boolean {
    return this.oversize.has(id) || this.failed.has(id);
  }

  /**
   * Builds the session of `id` from `source()` unless it exists or is being built, evicting the
   * least recently used sessions until it fits. Resolves to undefined when the model is larger
   * than the whole budget or the build failed (see `failed`).
   */
  ensure(id: string, source: () => Uint8Array | Promise<Uint8Array>): Promise<InferenceSession | undefined> {
    const slot = this.slots.get(id);
    if (slot?.session) return Promise.resolve(slot.session);
    if (slot?.building) return slot.building;
    if (this.excluded(id)) return Promise.resolve(undefined);
    const next: Slot = { bytes: 0, running: 0, evicted: false };
    // One build at a time (onnxruntime-node builds on the main thread anyway), so each build
    // makes room among sessions that exist and the budget holds.
    next.building = this.queue.then(async () => {
      if (next.evicted) return undefined;
      try {
        const bytes = await source();
        if (!this.fits(bytes.length)) {
          this.oversize.add(id);
          return undefined;
        }
        next.bytes = bytes.length;
        this.makeRoom(id, bytes.length);
        const [ort, threads] = await Promise.all([loadOrt(), this.threads()]);
        const session = await ort.InferenceSession.create(bytes, sessionOptions(threads, true));
        // onnxruntime plans and allocates its buffers on the first run: do that here, not in a caller's call.
        await session.run(zeroFeeds(ort, session));
        if (next.evicted) {
          await session.release();
          return undefined;
        }
        next.session = session;
        return session;
      } catch (error) {
        this.failed.set(id, (error as Error).message);
        return undefined;
      } finally {
        delete next.building;
        if (!next.session && this.slots.get(id) === next) this.slots.delete(id);
      }
    });
    this.queue = next.building;
    this.slots.set(id, next);
    return next.building;
  }

  /** Evicts least recently used sessions (not `keep`) until `bytes` more fit the budget. */
  private makeRoom(keep: string, bytes: number): void {
    let held = this.heldBytes(keep);
    for (const [id, slot] of this.slots) {
      if (held + bytes <= this.budgetBytes) break;
      if (id === keep || !slot.session) continue;
      held -= slot.bytes;
      this.evict(id);
    }
  }

  private heldBytes(except?: string): number {
    let n = 0;
    for (const [id, slot] of this.slots) if (id !== except) n += slot.bytes;
    return n;
  }

  /** Drops the session of `id` (released when its running calls finish). */
  evict(id: string): void {
    const slot = this.slots.get(id);
    if (!slot) return;
    this.slots.delete(id);
    slot.evicted = true;
    if (slot.session && slot.running === 0) void slot.session.release();
  }

  /** Runs `x` on the session of `id` (which ready() returned). */
  async run(id: string, session: InferenceSession, x: Tensor): Promise<Tensor> {
    const slot = this.slots.get(id);
    if (slot) slot.running++;
    try {
      const input = session.inputNames[0]!,
        output = session.outputNames[0]!;
      const out = (await runSession(session, { [input]: x }, [output]))[output]!;
      return { data: out.data as Float32Array, dims: out.dims };
    } finally {
      if (slot) {
        slot.running--;
        if (slot.evicted && slot.running === 0) void slot.session?.release();
      }
    }
  }

  held(): FusedHeld {
    const ids: string[] = [],
      building: string[] = [];
    for (const [id, slot] of this.slots) (slot.session ? ids : building).push(id);
    return { ids, building, bytes: this.heldBytes() };
  }

  /** Sessions alive. */
  get size(): number {
    return this.held().ids.length;
  }

  /** Waits for every build in progress. */
  async settled(): Promise<void> {
    await Promise.all([...this.slots.values()].map((s) => s.building));
  }

  async release(): Promise<void> {
    await this.settled();
    for (const id of [...this.slots.keys()]) this.evict(id);
  }
}
