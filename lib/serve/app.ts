// The inference service over a loaded family: Fastify (HTTP, body limits, pino logs), the
// batching queue, the adaptive controller that moves the family along its ladder, and the
// Prometheus metrics. close() stops taking connections, lets the requests in flight finish (the
// queue drains), then stops the controller.
import Fastify, { LogController, type FastifyInstance } from 'fastify';

import type { AdaptiveController } from '../restnet/adapt.js';
import type { ReStNet } from '../restnet/runtime.js';
import { BatchQueue } from './batch-queue.js';
import type { InputSpec } from './body.js';
import { HttpError, QueueFullError, statusOf } from './errors.js';
import { ServeMetrics } from './metrics.js';
import { registerRoutes } from './routes.js';

export interface ServeOptions {
  /** The latency percentile target in ms (queueing + inference); absent: hold the most accurate rung. */
  targetMs?: number;
  /** Which percentile is held (default 95). */
  percentile?: number;
  windowMs?: number;
  cooldownMs?: number;
  hysteresis?: number;
  minAccuracy?: number;
  /** Samples per inference batch at most (default 32). */
  maxBatch?: number;
  /** How long a request waits for others to batch with, in ms (default 2). */
  maxWaitMs?: number;
  /** Requests waiting at most before 503 (default 256). */
  maxQueue?: number;
  /** Start pinned to this configuration or anchor. */
  pin?: string;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** pino level: fatal, error, warn, info, debug, trace or silent (default info). */
  logLevel?: string;
  /** How often a summary line is logged, in ms (default 30000; 0: never). */
  summaryIntervalMs?: number;
  /** Where the log lines (pino JSON) go (default stdout). */
  logStream?: NodeJS.WritableStream;
}

export interface Service {
  app: FastifyInstance;
  controller: AdaptiveController;
  queue: BatchQueue;
  metrics: ServeMetrics;
}

export async function createService(net: ReStNet, options: ServeOptions = {}): Promise<Service> {
  // No per-request log lines: the service logs switches and a periodic summary.
  const app = Fastify({
    logger: { level: options.logLevel ?? 'info', ...(options.logStream && { stream: options.logStream }) },
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimit ?? 1 << 20,
  });
  const shape = net.anchors[0].model.input.shape;
  const input: InputSpec = { name: net.anchors[0].model.input.name, sampleDims: shape.slice(1) as number[] };
  const ids = [...net.ids, ...net.anchorRecords.map((a) => a.name)];
  if (options.pin !== undefined && !ids.includes(options.pin))
    throw new RangeError(`pin: expected one of ${ids.join(', ')}, got ${JSON.stringify(options.pin)}`);
  const controller = net.adapt({
    targetMs: options.targetMs ?? Infinity,
    ...(options.percentile !== undefined && { percentile: options.percentile }),
    ...(options.windowMs !== undefined && { windowMs: options.windowMs }),
    ...(options.cooldownMs !== undefined && { cooldownMs: options.cooldownMs }),
    ...(options.hysteresis !== undefined && { hysteresis: options.hysteresis }),
    ...(options.minAccuracy !== undefined && { minAccuracy: options.minAccuracy }),
  });
  // The metrics read the queue's depth when scraped; the queue reports each batch to them.
  const metrics = new ServeMetrics({
    ids,
    queueDepth: () => queue.depth,
    observedMs: () => controller.stats().observedMs,
  });
  const queue = new BatchQueue(net, {
    ...(options.maxBatch !== undefined && { maxBatch: options.maxBatch }),
    ...(options.maxWaitMs !== undefined && { maxWaitMs: options.maxWaitMs }),
    ...(options.maxQueue !== undefined && { maxQueue: options.maxQueue }),
    onBatch: (samples) => metrics.batchSize.observe(samples),
  });
  metrics.setActive(net.current);
  controller.on('switch', (e) => {
    metrics.switched(e.reason, e.to);
    app.log.info(
      { switch: e },
      `switch ${e.from} -> ${e.to} (${e.reason}${e.observedMs === null ? '' : `, p${controller.percentile} ${e.observedMs.toFixed(2)} ms`})`,
    );
  });
  if (options.pin !== undefined) controller.pin(options.pin);

  for (const type of ['application/octet-stream', 'image/png'])
    app.addContentTypeParser(type, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  app.setErrorHandler((error, request, reply) => {
    const status = statusOf(error);
    if (status >= 500 && !(error instanceof QueueFullError)) request.log.error({ err: error }, 'request failed');
    if (error instanceof HttpError) reply.headers(error.headers);
    reply
      .code(status)
      .type('application/json; charset=utf-8')
      .send({ error: (error as Error).message ?? String(error) });
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({
      error: `no route ${request.method} ${request.url} (routes: POST /v1/classify, GET /v1/configs, PUT /v1/config, GET /healthz, GET /metrics)`,
    });
  });

  let answered = 0;
  app.addHook('onResponse', async (request, reply) => {
    if (request.routeOptions.url === '/metrics') return;
    metrics.requests.inc({ code: String(reply.statusCode) });
    if (request.routeOptions.url === '/v1/classify' && reply.statusCode === 200) {
      answered++;
      metrics.duration.observe(reply.elapsedTime / 1000);
    }
  });
  registerRoutes(app, { net, controller, queue, metrics, input });

  const every = options.summaryIntervalMs ?? 30_000;
  const summary =
    every > 0
      ? setInterval(() => {
          const s = controller.stats();
          app.log.info(
            {
              answered,
              active: s.current,
              observedMs: s.observedMs,
              queueDepth: queue.depth,
              switches: s.switches,
              rssBytes: process.memoryUsage().rss,
            },
            `summary: ${answered} answered, active ${s.current}, p${s.percentile} ${s.observedMs?.toFixed(2) ?? '-'} ms`,
          );
          answered = 0;
        }, every).unref()
      : undefined;
  // While closing, answers end their keep-alive connection: server.close() only reaps sockets
  // idle at that moment, and a client's kept-alive socket would hold the process open.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  app.addHook('onClose', async () => {
    clearInterval(summary);
    await queue.drain();
    controller.stop();
  });
  return { app, controller, queue, metrics };
}
