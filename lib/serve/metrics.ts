// The service's Prometheus metrics, on prom-client with a registry of its own (several servers in
// one process keep separate counts). The process metrics (RSS, CPU, event loop) come with it.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { SwitchReason } from '../restnet/adapt.js';

export interface MetricsSources {
  /** Every id the service can run (configurations and anchors), for restnet_active_config. */
  ids: string[];
  /** Requests waiting in the batching queue. */
  queueDepth: () => number;
  /** The adaptive controller's window percentile in ms (null before it has enough observations). */
  observedMs: () => number | null;
}

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'code'>;
  readonly duration: Histogram;
  readonly batchSize: Histogram;
  readonly active: Gauge<'id'>;
  readonly switches: Counter<'reason'>;

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'restnet_requests_total',
      help: 'HTTP requests answered (all routes but /metrics), by status code',
      labelNames: ['code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'restnet_request_duration_seconds',
      help: 'Time from arrival to answer of successful classify requests (queueing + inference)',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'restnet_inference_batch_size',
      help: 'Samples per inference batch',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.active = new Gauge({
      name: 'restnet_active_config',
      help: 'The configuration in use (1) among all that the service can run (0)',
      labelNames: ['id'],
      registers,
    });
    this.switches = new Counter({
      name: 'restnet_config_switches_total',
      help: 'Configuration switches, by reason (over-target, under-target, pinned, released)',
      labelNames: ['reason'],
      registers,
    });
    new Gauge({
      name: 'restnet_queue_depth',
      help: 'Classify requests waiting for a batch',
      registers,
      collect() {
        this.set(sources.queueDepth());
      },
    });
    new Gauge({
      name: 'restnet_observed_latency_seconds',
      help: "The adaptive controller's sliding-window latency percentile (0 while the window has too few requests to tell)",
      registers,
      collect() {
        // Not NaN: prom-client writes it as 'Nan', which Prometheus parsers reject.
        this.set((sources.observedMs() ?? 0) / 1000);
      },
    });
  }

  setActive(id: string): void {
    for (const k of this.sources.ids) this.active.set({ id: k }, k === id ? 1 : 0);
  }

  switched(reason: SwitchReason, to: string): void {
    this.switches.inc({ reason });
    this.setActive(to);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
