// The routes of `restnet serve`:
//   POST /v1/classify  samples (octet-stream, PNG or JSON) -> { config, classes, logits, latencyMs }
//   GET  /v1/configs   every configuration and anchor, its ladder figures, which one is active
//   PUT  /v1/config    { "id": ... } pins a configuration, { "id": null } releases it
//   GET  /healthz      liveness
//   GET  /metrics      Prometheus text format
import type { FastifyInstance } from 'fastify';
import { argmaxRow } from '../matrix.js';

import type { AdaptiveController } from '../restnet/adapt.js';
import type { ReStNet } from '../restnet/runtime.js';
import type { BatchQueue } from './batch-queue.js';
import { mediaType, toTensor, type InputSpec } from './body.js';
import { HttpError } from './errors.js';
import type { ServeMetrics } from './metrics.js';

export interface RouteContext {
  net: ReStNet;
  controller: AdaptiveController;
  queue: BatchQueue;
  metrics: ServeMetrics;
  input: InputSpec;
}

export interface ClassifyAnswer {
  config: string;
  classes: number[];
  logits: number[][];
  latencyMs: number;
}

export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const { net, controller, queue, metrics, input } = ctx;
  const ladder = controller.ladder;
  const ids = [...net.ids, ...net.anchorRecords.map((a) => a.name)];

  app.post('/v1/classify', async (request, reply): Promise<ClassifyAnswer> => {
    const x = toTensor(mediaType(request.headers['content-type']), request.body, input);
    const { config, logits } = await queue.submit(x);
    const n = logits.dims[0]!,
      k = logits.dims[1]!;
    const latencyMs = reply.elapsedTime;
    controller.observe(latencyMs);
    return {
      config,
      classes: Array.from({ length: n }, (_, r) => argmaxRow(logits, r)),
      logits: Array.from({ length: n }, (_, r) => Array.from(logits.data.subarray(r * k, (r + 1) * k))),
      latencyMs,
    };
  });

  app.get('/v1/configs', async () => {
    const stats = controller.stats();
    const row = (
      id: string,
      kind: 'stitched' | 'anchor',
      r: { accuracy: number | null; macs: number; params: number; latencyMs: number | null; pareto?: boolean },
    ) => {
      const at = ladder.findIndex((g) => g.id === id);
      return {
        id,
        kind,
        accuracy: r.accuracy,
        macs: r.macs,
        params: r.params,
        latencyMs: r.latencyMs,
        pareto: r.pareto ?? true,
        ladder: at < 0 ? null : { rung: at, latencyMs: ladder[at]!.latencyMs, source: ladder[at]!.source },
        active: id === net.current,
      };
    };
    return {
      active: net.current,
      pinned: stats.pinned,
      targetMs: Number.isFinite(stats.targetMs) ? stats.targetMs : null,
      percentile: stats.percentile,
      observedMs: stats.observedMs,
      configs: [
        ...net.configs.map((c) => row(c.id, 'stitched', c)),
        ...net.anchorRecords.map((a) => row(a.name, 'anchor', a)),
      ],
    };
  });

  app.put('/v1/config', async (request) => {
    const body = request.body as { id?: unknown } | null;
    if (
      typeof body !== 'object' ||
      body === null ||
      Array.isArray(body) ||
      !('id' in body) ||
      (body.id !== null && typeof body.id !== 'string')
    ) {
      throw new HttpError(
        400,
        `expected a JSON object { "id": "<configuration or anchor>" } or { "id": null }, got ${Buffer.isBuffer(body) ? 'binary data' : JSON.stringify(body)}`,
      );
    }
    if (body.id !== null && !ids.includes(body.id))
      throw new HttpError(404, `id: expected one of ${ids.join(', ')}, got ${JSON.stringify(body.id)}`);
    controller.pin(body.id);
    return { active: net.current, pinned: controller.stats().pinned };
  });

  app.get('/healthz', async () => ({ status: 'ok', active: net.current, queueDepth: queue.depth }));

  app.get('/metrics', async (_request, reply) => {
    reply.type(metrics.contentType);
    return metrics.text();
  });
}
