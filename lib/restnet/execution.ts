// Running a family. Each configuration and anchor runs as one fused onnxruntime session
// (fused-sessions.ts), or on the shared segments: every anchor split at each cut any
// configuration uses, every configuration a StitchedModel over those segments, so all of them
// run on the same sessions (memory about A + B + stitches). Switching only swaps a reference.
import type { Tensor } from '../matrix.js';
import type { Segment } from '../onnx/frozen-model.js';
import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import { StitchedModel } from '../stitch/stitched-model.js';
import type { Anchor } from './anchor.js';
import { layoutOf } from './layout.js';
import { FusedSessions } from './fused-sessions.js';
import type { ConfigRecord } from './manifest.js';
import { integerArg, invalidArgument, NON_NEGATIVE, numberArg } from '../validate.js';

/** Something run() can be pointed at: a configuration or an anchor. */
export interface Runner {
  id: string;
  run(x: Tensor): Promise<Tensor>;
}

/** The distinct anchors of a pair (one for a self-stitch). */
export function uniqueAnchors(anchors: readonly Anchor[]): Anchor[] {
  return anchors.filter((a, k) => anchors.findIndex((b) => b.name === a.name) === k);
}

export class SharedSegments {
  /** Per anchor, every cut its configurations use: where its shared segments split. */
  private readonly bounds: Map<string, Set<string>>;
  private readonly anchorRunners = new Map<string, Runner>();

  constructor(
    private readonly anchors: readonly Anchor[],
    records: readonly ConfigRecord[],
  ) {
    const byName = new Map(anchors.map((a) => [a.name, a]));
    this.bounds = new Map(anchors.map((a) => [a.name, new Set<string>()]));
    for (const record of records) {
      if (!byName.has(record.front) || !byName.has(record.back))
        throw new RangeError(
          `configs: '${record.id}' joins '${record.front}' to '${record.back}', expected anchors ${[...byName.keys()].join(', ')}`,
        );
      this.bounds.get(record.front)!.add(record.frontCut);
      this.bounds.get(record.back)!.add(record.backCut);
    }
    for (const a of uniqueAnchors(anchors)) {
      const order = new Map(a.model.cutPoints().map((c) => [c.name, c.index]));
      const cuts = [...this.bounds.get(a.name)!].sort((x, y) => order.get(x)! - order.get(y)!);
      const segments: Segment[] = a.model.segments(cuts);
      this.anchorRunners.set(a.name, {
        id: a.name,
        async run(x: Tensor): Promise<Tensor> {
          let t = x;
          for (const s of segments) t = await s.run(t);
          return t;
        },
      });
    }
  }

  private anchor(name: string): Anchor {
    return this.anchors.find((a) => a.name === name)!;
  }

  /** A configuration's stitched model on the shared segments. */
  stitched(record: ConfigRecord, maps: AdapterMaps): StitchedModel {
    return new StitchedModel({
      front: this.anchor(record.front).model,
      frontCut: record.frontCut,
      back: this.anchor(record.back).model,
      backCut: record.backCut,
      maps,
      frontCuts: [...this.bounds.get(record.front)!],
      backCuts: [...this.bounds.get(record.back)!],
      adapter: layoutOf(record),
    });
  }

  /** The anchor `name` run as its chain of shared segments, or undefined. */
  anchorRunner(name: string): Runner | undefined {
    return this.anchorRunners.get(name);
  }

  get anchorNames(): string[] {
    return [...this.anchorRunners.keys()];
  }

  /** onnxruntime sessions alive across the anchors. */
  get sessionCount(): number {
    return uniqueAnchors(this.anchors).reduce((n, a) => n + a.model.sessionCount, 0);
  }

  /** Releases every onnxruntime session of the anchors. */
  async dispose(): Promise<void> {
    for (const a of uniqueAnchors(this.anchors)) await a.model.dispose();
  }
}

/**
 * How a family runs. 'fused': each configuration and anchor as one onnxruntime session of its
 * whole graph (a call on one whose session is not built yet waits for the build). 'shared': the
 * anchors' shared segments with the stitch between them (the low-memory mode: about A + B +
 * stitches, however many configurations). 'auto' (default): fused sessions, and the shared
 * segments for a call that finds its session not built yet (the build then runs in the
 * background) or for a model larger than the whole memory budget.
 */
export type RunMode = 'fused' | 'shared' | 'auto';

export const RUN_MODES: readonly RunMode[] = ['fused', 'shared', 'auto'];

export interface ExecutionOptions {
  /** Default 'auto'. */
  mode?: RunMode;
  /** Bytes of fused models kept as sessions at once (least recently used evicted first; default: no bound). */
  memoryBudgetBytes?: number;
  /** onnxruntime intra-op threads of every fused session (default: the fastest at batch 1 on this machine, measured). */
  threads?: number;
}

/** Checks the execution options' types and ranges. */
export function checkExecutionOptions(options: ExecutionOptions): void {
  if (options.mode !== undefined && !RUN_MODES.includes(options.mode)) {
    throw invalidArgument('options.mode', `one of ${RUN_MODES.join(', ')}`, options.mode, 'range');
  }
  if (options.memoryBudgetBytes !== undefined) {
    numberArg(options.memoryBudgetBytes, 'options.memoryBudgetBytes', { ...NON_NEGATIVE, infinite: true });
  }
  if (options.threads !== undefined) integerArg(options.threads, 'options.threads', 1);
}

export interface ExecutionMemory {
  mode: RunMode;
  /** Intra-op threads of the fused sessions (null until the first fused session is built). */
  threads: number | null;
  /** The budget of fused models (null: no bound). */
  budgetBytes: number | null;
  /** Fused sessions: their ids (most recently used last), builds in progress, their ONNX bytes. */
  fused: { sessions: number; bytes: number; ids: string[]; building: string[] };
  /** Shared segments: sessions alive, and the ONNX bytes of the anchors they belong to. */
  shared: { sessions: number; bytes: number };
}

/** Runs ids (configurations and anchors) in one mode, choosing per call between a fused session and the shared segments. */
export class Execution {
  readonly mode: RunMode;
  private readonly fused: FusedSessions;
  private threadCount: number | null;
  private readonly resolveThreads: () => Promise<number>;
  /** Background builds scheduled and not finished. */
  private readonly scheduled = new Set<Promise<unknown>>();

  /**
   * `source(id)` gives the fused ONNX of an id; `threads()` the intra-op thread count (asked once,
   * at the first build).
   */
  constructor(
    private readonly shared: SharedSegments,
    private readonly anchors: readonly Anchor[],
    private readonly source: (id: string) => Uint8Array | Promise<Uint8Array>,
    threads: () => Promise<number>,
    options: ExecutionOptions = {},
  ) {
    checkExecutionOptions(options);
    this.mode = options.mode ?? 'auto';
    this.threadCount = options.threads ?? null;
    this.resolveThreads = async () => (this.threadCount ??= await threads());
    this.fused = new FusedSessions(this.resolveThreads, options.memoryBudgetBytes ?? Infinity);
  }

  /** The intra-op thread count of the fused sessions (measured now if it was not yet). */
  threads(): Promise<number> {
    return this.resolveThreads();
  }

  /** Whether a call on `id` now would run on a fused session. */
  isFused(id: string): boolean {
    return this.mode !== 'shared' && this.fused.held().ids.includes(id);
  }

  /** Runs `x` for `id`: on its fused session when there is one, else on `segments`. */
  async run(id: string, x: Tensor, segments: (x: Tensor) => Promise<Tensor>): Promise<Tensor> {
    if (this.mode === 'shared') return segments(x);
    const ready = this.fused.ready(id);
    if (ready) return this.fused.run(id, ready, x);
    if (this.fused.excluded(id)) return segments(x);
    if (this.mode === 'fused') {
      // Another call's build may evict this session before this call's turn comes: ask again (a few times).
      for (let attempt = 0; attempt < 3 && !this.fused.excluded(id); attempt++) {
        await this.fused.ensure(id, () => this.source(id));
        const built = this.fused.ready(id);
        if (built) return this.fused.run(id, built, x);
      }
      return segments(x);
    }
    const out = await segments(x);
    // After this call has its result, so the build (synchronous in onnxruntime-node) delays no call already waiting.
    const build = new Promise<unknown>((resolve) =>
      setImmediate(() => resolve(this.fused.ensure(id, () => this.source(id)))),
    );
    this.scheduled.add(build);
    void build.finally(() => this.scheduled.delete(build));
    return out;
  }

  /**
   * Builds ahead of time what `ids` will run on: their fused sessions (in order, within the
   * budget), and the shared segments of those that end up without one (one zero sample each).
   */
  async warm(ids: string[], segments: (id: string) => (x: Tensor) => Promise<Tensor>): Promise<void> {
    if (this.mode !== 'shared') for (const id of ids) await this.fused.ensure(id, () => this.source(id));
    const held = new Set(this.fused.held().ids);
    const dims = this.anchors[0]!.model.input.shape.slice(1) as number[];
    const zero = { data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims: [1, ...dims] };
    for (const id of ids) if (!held.has(id)) await segments(id)(zero);
  }

  /** Waits for fused sessions being built (in the background or not). */
  async ready(): Promise<void> {
    await Promise.all(this.scheduled);
    await this.fused.settled();
  }

  /** Releases the fused session of `id` (once its running calls finish); a later call builds it again. */
  release(id: string): void {
    this.fused.evict(id);
  }

  /** Drops the fused session of `id` (its graph changed): the next calls build it again. */
  invalidate(id: string): void {
    this.fused.evict(id);
    this.fused.failed.delete(id);
    this.fused.oversize.delete(id);
  }

  get sessionCount(): number {
    return this.shared.sessionCount + this.fused.size;
  }

  memory(): ExecutionMemory {
    const held = this.fused.held();
    const live = uniqueAnchors(this.anchors).filter((a) => a.model.sessionCount > 0);
    return {
      mode: this.mode,
      threads: this.threadCount,
      budgetBytes: Number.isFinite(this.fused.budgetBytes) ? this.fused.budgetBytes : null,
      fused: { sessions: held.ids.length, bytes: held.bytes, ids: held.ids, building: held.building },
      shared: { sessions: this.shared.sessionCount, bytes: live.reduce((n, a) => n + a.bytes.length, 0) },
    };
  }

  async dispose(): Promise<void> {
    await this.fused.release();
    await this.shared.dispose();
  }
}
