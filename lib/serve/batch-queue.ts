// Micro-batching: concurrent classify requests wait up to maxWaitMs (or until maxBatch samples
// are pending) and run as one batch on the configuration in use when the batch starts. One batch
// runs at a time, so onnxruntime gets the cores and a busy device shows up as queueing time,
// which the adaptive controller sees. A request larger than maxBatch runs alone. At most
// maxQueue requests wait; more are refused (503) rather than queued without bound.
import type { Tensor } from '../matrix.js';
import { DrainingError, QueueFullError } from './errors.js';

/** What the queue runs batches on (ReStNet): the id in use and a run on a given id. */
export interface BatchRunner {
  readonly current: string;
  runWith(id: string, input: Tensor): Promise<Tensor>;
}

export interface BatchQueueOptions {
  /** Samples per batch at most (default 32). */
  maxBatch?: number;
  /** How long the first request of a batch waits for others, in ms (default 2). */
  maxWaitMs?: number;
  /** Requests waiting at most; more are refused (default 256). */
  maxQueue?: number;
  /** Called after each batch with its size in samples, the configuration that ran it and its time in ms. */
  onBatch?: (samples: number, config: string, ms: number) => void;
}

export interface BatchResult {
  /** The configuration that ran the batch. */
  config: string;
  /** This request's logits [N, classes]. */
  logits: Tensor;
}

interface Pending {
  x: Tensor;
  n: number;
  at: number;
  resolve: (r: BatchResult) => void;
  reject: (e: unknown) => void;
}

export class BatchQueue {
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly maxQueue: number;
  private readonly pending: Pending[] = [];
  private running = false;
  private draining = false;
  private timer: NodeJS.Timeout | undefined;
  private lastBatchMs = 0;
  private idle: (() => void)[] = [];

  constructor(
    private readonly net: BatchRunner,
    private readonly options: BatchQueueOptions = {},
  ) {
    const int = (name: 'maxBatch' | 'maxQueue', fallback: number): number => {
      const v = options[name] ?? fallback;
      if (!Number.isInteger(v) || v < 1)
        throw new RangeError(`options.${name}: expected an integer >= 1, got ${String(v)}`);
      return v;
    };
    this.maxBatch = int('maxBatch', 32);
    this.maxQueue = int('maxQueue', 256);
    this.maxWaitMs = options.maxWaitMs ?? 2;
    if (typeof this.maxWaitMs !== 'number' || !(this.maxWaitMs >= 0) || !Number.isFinite(this.maxWaitMs))
      throw new RangeError(`options.maxWaitMs: expected a finite number >= 0, got ${String(options.maxWaitMs)}`);
  }

  /** Requests waiting for a batch (not the one running). */
  get depth(): number {
    return this.pending.length;
  }

  /** Queues a tensor [N, ...]; resolves with its own rows of the batch's logits. */
  submit(x: Tensor): Promise<BatchResult> {
    if (this.draining) return Promise.reject(new DrainingError());
    if (this.pending.length >= this.maxQueue) {
      // About how long the waiting batches take, in whole seconds (at least 1).
      const seconds = Math.max(1, Math.ceil(((this.pending.length / this.maxBatch + 1) * this.lastBatchMs) / 1000));
      return Promise.reject(new QueueFullError(this.pending.length, seconds));
    }
    return new Promise<BatchResult>((resolve, reject) => {
      this.pending.push({ x, n: x.dims[0]!, at: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  /** Refuses new requests and resolves once every queued and running batch has answered. */
  drain(): Promise<void> {
    this.draining = true;
    this.schedule();
    if (!this.running && this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  private schedule(): void {
    if (this.running || this.pending.length === 0) {
      if (!this.running && this.pending.length === 0) for (const done of this.idle.splice(0)) done();
      return;
    }
    const samples = this.pending.reduce((s, p) => s + p.n, 0);
    const waited = performance.now() - this.pending[0]!.at;
    if (samples >= this.maxBatch || waited >= this.maxWaitMs || this.draining) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.schedule();
    }, this.maxWaitMs - waited);
  }

  private async flush(): Promise<void> {
    const batch: Pending[] = [];
    let samples = 0;
    while (this.pending.length > 0 && (batch.length === 0 || samples + this.pending[0]!.n <= this.maxBatch)) {
      const p = this.pending.shift()!;
      batch.push(p);
      samples += p.n;
    }
    this.running = true;
    const config = this.net.current;
    const started = performance.now();
    try {
      const per = batch[0]!.x.data.length / batch[0]!.n;
      const data = new Float32Array(samples * per);
      let at = 0;
      for (const p of batch) {
        data.set(p.x.data, at);
        at += p.x.data.length;
      }
      const out = await this.net.runWith(config, { data, dims: [samples, ...batch[0]!.x.dims.slice(1)] });
      const classes = out.data.length / samples;
      let row = 0;
      for (const p of batch) {
        p.resolve({
          config,
          logits: { data: out.data.slice(row * classes, (row + p.n) * classes), dims: [p.n, classes] },
        });
        row += p.n;
      }
    } catch (error) {
      for (const p of batch) p.reject(error);
    } finally {
      this.lastBatchMs = performance.now() - started;
      this.running = false;
      this.options.onBatch?.(samples, config, this.lastBatchMs);
      this.schedule();
    }
  }
}
