// `restnet serve DIR`: the HTTP inference service over a saved family, adapting its configuration
// to hold a latency percentile target. Runs until SIGTERM or SIGINT, then drains the requests in
// flight and exits 0.
import type { ServeOptions } from '../../serve/app.js';
import { CliError } from '../args.js';
import type { Command } from '../context.js';
import { loadNet } from './select.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const serve: Command = {
  spec: {
    name: 'serve',
    summary: 'Serve a saved ReStNet over HTTP, switching configurations to hold a latency target.',
    description: [
      'Routes: POST /v1/classify (application/octet-stream float32 LE samples, image/png, or',
      'application/json {"data": [...], "dims": [N, ...]}), GET /v1/configs, PUT /v1/config',
      '{"id": ID | null}, GET /healthz, GET /metrics (Prometheus). Concurrent requests run as one',
      'batch (up to --max-batch samples, waiting at most --max-wait-ms). With --target-ms, the',
      'service watches the --percentile of request latency (queueing + inference) over a sliding',
      'window, steps to a cheaper configuration when it exceeds the target and back up when the',
      'device has room again; without it, the most accurate offered configuration runs. Errors are',
      'one JSON object {"error": message}: 400 bad input, 404 unknown id or route, 413 body too',
      'large, 415 content type, 503 queue full (Retry-After). SIGTERM/SIGINT drain and exit 0.',
      'Logs (pino JSON lines) go to stdout: one per switch and a summary every 30 s.',
    ].join('\n'),
    positionals: [{ name: 'DIR', help: 'a directory written by restnet stitch or restnet demo' }],
    flags: [
      { name: 'host', type: 'string', value: 'HOST', help: 'address to listen on', defaultText: '127.0.0.1' },
      { name: 'port', type: 'integer', value: 'N', min: 0, help: 'port (0: any free port)', defaultText: '8080' },
      {
        name: 'target-ms',
        type: 'number',
        value: 'X',
        min: 0,
        exclusiveMin: true,
        help: 'latency percentile target per request in ms',
        defaultText: 'none: no adaptation',
      },
      {
        name: 'percentile',
        type: 'number',
        value: 'P',
        min: 0,
        exclusiveMin: true,
        help: 'which percentile to hold under the target',
        defaultText: '95',
      },
      {
        name: 'window-ms',
        type: 'number',
        value: 'X',
        min: 0,
        exclusiveMin: true,
        help: 'sliding window of the percentile, in ms',
        defaultText: '2000',
      },
      {
        name: 'cooldown-ms',
        type: 'number',
        value: 'X',
        min: 0,
        exclusiveMin: true,
        help: 'time below target x (1 - hysteresis) before stepping up',
        defaultText: '5000',
      },
      {
        name: 'hysteresis',
        type: 'number',
        value: 'F',
        min: 0,
        help: 'margin under the target that allows a step up',
        defaultText: '0.2',
      },
      {
        name: 'min-accuracy',
        type: 'number',
        value: 'X',
        min: 0,
        help: 'never run a configuration less accurate than this (fraction, or percentage > 1)',
      },
      {
        name: 'max-batch',
        type: 'integer',
        value: 'N',
        min: 1,
        help: 'samples per inference batch at most',
        defaultText: '32',
      },
      {
        name: 'max-wait-ms',
        type: 'number',
        value: 'X',
        min: 0,
        help: 'how long a request waits to be batched with others',
        defaultText: '2',
      },
      {
        name: 'max-queue',
        type: 'integer',
        value: 'N',
        min: 1,
        help: 'requests waiting at most; more get 503',
        defaultText: '256',
      },
      {
        name: 'body-limit',
        type: 'integer',
        value: 'BYTES',
        min: 1,
        help: 'largest request body; larger get 413',
        defaultText: '1048576',
      },
      {
        name: 'pin',
        type: 'string',
        value: 'ID',
        help: 'start pinned to this configuration or anchor (PUT /v1/config {"id": null} releases it)',
      },
      {
        name: 'threads',
        type: 'integer',
        value: 'N',
        min: 1,
        help: 'onnxruntime threads per session (more help big batches on an idle device)',
        defaultText: '1',
      },
      { name: 'log-level', type: 'string', value: 'L', choices: LOG_LEVELS, help: 'log level', defaultText: 'info' },
    ],
    examples: [
      'restnet serve restnet-out --target-ms 20',
      'curl -s -X POST --data-binary @sample.png -H "Content-Type: image/png" http://127.0.0.1:8080/v1/classify',
    ],
  },
  async run(ctx) {
    const [dir] = ctx.args.positionals as [string];
    const a = ctx.args;
    const number = (flag: string): number | undefined => a.number(flag);
    let minAccuracy = number('min-accuracy');
    if (minAccuracy !== undefined && minAccuracy > 1) minAccuracy /= 100;
    const options: ServeOptions = {
      targetMs: number('target-ms'),
      percentile: number('percentile'),
      windowMs: number('window-ms'),
      cooldownMs: number('cooldown-ms'),
      hysteresis: number('hysteresis'),
      minAccuracy,
      maxBatch: number('max-batch'),
      maxWaitMs: number('max-wait-ms'),
      maxQueue: number('max-queue'),
      bodyLimit: number('body-limit'),
      pin: a.string('pin'),
      logLevel: a.string('log-level', 'info'),
    };
    for (const k of Object.keys(options) as (keyof ServeOptions)[]) if (options[k] === undefined) delete options[k];
    // One thread by default: onnxruntime's spinning thread pool starves on a busy device (10x
    // less throughput measured at load average 10 on 2 cores), and the service's own work (HTTP,
    // batching) needs a core too.
    const net = await loadNet(dir, ctx, { threads: a.number('threads', 1) });
    const { createService } = await import('../../serve/app.js');
    let service: Awaited<ReturnType<typeof createService>>;
    try {
      // Every configuration once at each batch size up to --max-batch: onnxruntime sets up buffers
      // per input shape, and the first batches of a new size after a switch would otherwise look
      // like load to the controller.
      const maxBatch = a.number('max-batch', 32);
      ctx.progress.step(`warming up every configuration at batch sizes 1-${maxBatch}`);
      await net.warmup();
      const sample = net.anchors[0].model.input.shape.slice(1) as number[];
      const size = sample.reduce((p, d) => p * d, 1);
      for (const id of [...net.ids, ...net.anchorRecords.map((r) => r.name)]) {
        for (let n = 1; n <= maxBatch; n++)
          await net.runWith(id, { data: new Float32Array(n * size), dims: [n, ...sample] });
      }
      ctx.progress.end();
      service = await createService(net, options);
    } catch (error) {
      await net.dispose();
      throw new CliError(`serve: ${(error as Error).message}`);
    }
    const { app } = service;
    let address: string;
    try {
      address = await app.listen({ host: a.string('host', '127.0.0.1'), port: a.number('port', 8080) });
    } catch (error) {
      await app.close();
      await net.dispose();
      throw new CliError(
        `serve: cannot listen on ${a.string('host', '127.0.0.1')}:${a.number('port', 8080)} (${(error as Error).message})`,
      );
    }
    ctx.progress.note(
      `restnet serve: listening on ${address} (active ${net.current}${options.targetMs === undefined ? ', no latency target' : `, p${options.percentile ?? 95} target ${options.targetMs} ms`})`,
    );
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    ctx.progress.note('restnet serve: draining requests in flight');
    await app.close();
    await net.dispose();
    ctx.progress.note('restnet serve: stopped');
    return 0;
  },
};
