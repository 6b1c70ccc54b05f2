// The HTTP service through Fastify's inject on a small family: every content type against the
// runtime's own run of the same samples, micro-batching (each request gets its own rows), every
// error code with one JSON object { error }, pinning through PUT /v1/config, and the metrics
// parsed from the Prometheus text and checked against the requests this file made.
import { Writable } from 'node:stream';

import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadZooSplit } from '../lib/data/index.js';
import type { Tensor } from '../lib/matrix.js';
import { AdaptiveController } from '../lib/restnet/adapt.js';
import { ReStNet } from '../lib/restnet/runtime.js';
import { createService, type ClassifyAnswer, type Service } from '../lib/serve/index.js';
import { buildFamily, parseProm, promValue } from './serve-helpers.js';

const images = loadZooSplit('calibration').images;
const SIZE = 784;
const sample = (k: number, n = 1): Tensor => ({ data: images.slice(k * SIZE, (k + n) * SIZE), dims: [n, 1, 28, 28] });
const le = (x: Float32Array): Buffer => {
  const b = Buffer.alloc(4 * x.length);
  x.forEach((v, i) => b.writeFloatLE(v, 4 * i));
  return b;
};
/** A PNG of sample k: grey at 28x28, or RGB with each pixel repeated `scale` x `scale` times. */
function png(k: number, colour: 'grey' | 'rgb', scale = 1): Buffer {
  const w = 28 * scale;
  const p = new pngjs.PNG({ width: w, height: w });
  for (let y = 0; y < w; y++) {
    for (let x = 0; x < w; x++) {
      const v = Math.round(images[k * SIZE + Math.floor(y / scale) * 28 + Math.floor(x / scale)]! * 255);
      p.data.set([v, v, v, 255], 4 * (y * w + x));
    }
  }
  return pngjs.PNG.sync.write(p, { colorType: colour === 'grey' ? 0 : 2 });
}

let cleanup = (): void => {};
let net: ReStNet;
let service: Service;
/** Status codes of every request this file sent to `service` (but /metrics): the metrics must count the same. */
const tally = new Map<number, number>();

async function call(opts: {
  method?: 'GET' | 'POST' | 'PUT';
  url: string;
  payload?: string | Buffer | object;
  headers?: Record<string, string>;
}) {
  const r = await service.app.inject({
    method: opts.method ?? 'GET',
    url: opts.url,
    ...(opts.payload !== undefined && { payload: opts.payload }),
    ...(opts.headers && { headers: opts.headers }),
  });
  if (opts.url !== '/metrics') tally.set(r.statusCode, (tally.get(r.statusCode) ?? 0) + 1);
  return r;
}
const classify = (payload: Buffer | string | object, type: string) =>
  call({ method: 'POST', url: '/v1/classify', payload, headers: { 'content-type': type } });

function expectLogits(got: number[][], want: Tensor): void {
  const k = want.data.length / want.dims[0]!;
  expect(got.length).toBe(want.dims[0]);
  got.forEach((row, r) => {
    expect(row.length).toBe(k);
    row.forEach((v, j) =>
      expect(Math.abs(v - want.data[r * k + j]!)).toBeLessThan(1e-4 * (1 + Math.abs(want.data[r * k + j]!))),
    );
  });
}
const argmax = (t: Tensor): number[] => {
  const k = t.data.length / t.dims[0]!;
  return Array.from({ length: t.dims[0]! }, (_, r) => {
    const row = Array.from(t.data.subarray(r * k, (r + 1) * k));
    return row.indexOf(Math.max(...row));
  });
};

beforeAll(async () => {
  const family = buildFamily();
  cleanup = family.cleanup;
  net = await ReStNet.load(family.dir);
  // No target: the most accurate offered rung (the largest anchor) runs. A 64 KiB body limit: 20 samples fit, 21 do not.
  service = await createService(net, {
    logLevel: 'silent',
    summaryIntervalMs: 0,
    maxBatch: 8,
    maxWaitMs: 20,
    bodyLimit: 64 * 1024,
  });
}, 300_000);

afterAll(async () => {
  await service?.app.close();
  await net?.dispose();
  cleanup();
});

describe('POST /v1/classify', () => {
  it('application/octet-stream: float32 LE samples, the batch from the length', async () => {
    const x = sample(0, 3);
    const r = await classify(le(x.data), 'application/octet-stream');
    expect(r.statusCode).toBe(200);
    const body = r.json<ClassifyAnswer>();
    expect(body.config).toBe('cnn-l');
    const want = await net.runWith('cnn-l', x);
    expectLogits(body.logits, want);
    expect(body.classes).toEqual(argmax(want));
    expect(body.latencyMs).toBeGreaterThan(0);
  });

  it('application/json: { data, dims } in the model input shape', async () => {
    const x = sample(3, 2);
    const r = await classify({ data: Array.from(x.data), dims: [2, 1, 28, 28] }, 'application/json');
    expect(r.statusCode).toBe(200);
    const want = await net.runWith('cnn-l', x);
    expectLogits(r.json<ClassifyAnswer>().logits, want);
    expect(r.json<ClassifyAnswer>().classes).toEqual(argmax(want));
  });

  it('image/png: a grey 28x28 image, and an RGB 56x56 one converted (luma, area average) to the same input', async () => {
    const want = await net.runWith('cnn-l', sample(5));
    const grey = await classify(png(5, 'grey'), 'image/png');
    expect(grey.statusCode).toBe(200);
    expectLogits(grey.json<ClassifyAnswer>().logits, want);
    const rgb = await classify(png(5, 'rgb', 2), 'image/png');
    expect(rgb.statusCode).toBe(200);
    expectLogits(rgb.json<ClassifyAnswer>().logits, want);
  });

  it('runs concurrent requests as one batch and gives each request its own rows', async () => {
    const before = parseProm(await service.metrics.text()).samples;
    const count = (s: typeof before, suffix: string): number =>
      promValue(s, `restnet_inference_batch_size_${suffix}`) ?? 0;
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, k) => classify(le(sample(10 + k).data), 'application/octet-stream')),
    );
    const want = await net.runWith('cnn-l', sample(10, 6));
    answers.forEach((r, k) => {
      expect(r.statusCode).toBe(200);
      expectLogits(r.json<ClassifyAnswer>().logits, { data: want.data.subarray(10 * k, 10 * (k + 1)), dims: [1, 10] });
    });
    const after = parseProm(await service.metrics.text()).samples;
    expect(count(after, 'sum') - count(before, 'sum')).toBe(6);
    // Within the 20 ms wait, the six requests share batches (fewer batches than requests).
    expect(count(after, 'count') - count(before, 'count')).toBeLessThan(6);
  });
});

describe('errors: one JSON object { error } with the status code', () => {
  const cases: [string, () => ReturnType<typeof call>, number, RegExp][] = [
    [
      'octet-stream of a wrong length',
      () => classify(Buffer.alloc(100), 'application/octet-stream'),
      400,
      /float32 samples \[N, 1, 28, 28\], a multiple of 3136 bytes \(N >= 1\), got 100 bytes/,
    ],
    [
      'an empty octet-stream',
      () => classify(Buffer.alloc(0), 'application/octet-stream'),
      400,
      /multiple of 3136 bytes/,
    ],
    [
      'JSON dims of another shape',
      () => classify({ data: new Array(27 * 28).fill(0), dims: [1, 27, 28] }, 'application/json'),
      400,
      /"dims": expected \[N, 1, 28, 28\] \(784 values per sample\), got \[1, 27, 28\]/,
    ],
    [
      'JSON data of the wrong count',
      () => classify({ data: [1, 2, 3], dims: [1, 1, 28, 28] }, 'application/json'),
      400,
      /"data": expected 1 x 784 = 784 numbers/,
    ],
    [
      'JSON data that are not numbers',
      () => classify({ data: ['a', ...new Array(783).fill(0)], dims: [1, 1, 28, 28] }, 'application/json'),
      400,
      /"data"\[0\]: expected a finite number, got "a"/,
    ],
    ['JSON that is not an object', () => classify([1, 2], 'application/json'), 400, /expected an object/],
    ['invalid JSON', () => classify('{"data": [', 'application/json'), 400, /JSON/],
    [
      'a PNG that is not one',
      () => classify(Buffer.from('not a png at all'), 'image/png'),
      400,
      /image\/png body: not a PNG file/,
    ],
    ['an unsupported content type', () => classify('hello', 'text/plain'), 415, /text\/plain/],
    ['a body over the limit', () => classify(Buffer.alloc(21 * 3136), 'application/octet-stream'), 413, /too large/i],
    ['an unknown route', () => call({ url: '/v2/nothing' }), 404, /no route GET \/v2\/nothing/],
    [
      'an unknown configuration id',
      () => call({ method: 'PUT', url: '/v1/config', payload: { id: 'nope' } }),
      404,
      /id: expected one of .*cnn-l.*, got "nope"/,
    ],
    [
      'a pin body without id',
      () => call({ method: 'PUT', url: '/v1/config', payload: { name: 'cnn-s' } }),
      400,
      /expected a JSON object \{ "id"/,
    ],
  ];
  it.each(cases)('%s', async (_name, send, status, message) => {
    const r = await send();
    expect(r.statusCode).toBe(status);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const body = r.json();
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatch(message);
  });

  it('503 with Retry-After when the queue is full; the queued request is still answered', async () => {
    const small = await createService(net, {
      logLevel: 'silent',
      summaryIntervalMs: 0,
      maxQueue: 1,
      maxWaitMs: 300,
      maxBatch: 64,
    });
    try {
      const first = small.app.inject({
        method: 'POST',
        url: '/v1/classify',
        payload: le(sample(0).data),
        headers: { 'content-type': 'application/octet-stream' },
      });
      await new Promise((r) => setTimeout(r, 50));
      expect(small.queue.depth).toBe(1);
      const second = await small.app.inject({
        method: 'POST',
        url: '/v1/classify',
        payload: le(sample(1).data),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(second.statusCode).toBe(503);
      expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(second.json()).toEqual({ error: expect.stringMatching(/queue is full \(1 requests waiting\)/) });
      expect((await first).statusCode).toBe(200);
    } finally {
      await small.app.close();
    }
    // The other service's controller switched the shared net; put it back for the tests below.
    net.use('cnn-l');
  });
});

describe('configurations', () => {
  it('GET /v1/configs lists every configuration and anchor with its ladder place, one active', async () => {
    const r = await call({ url: '/v1/configs' });
    expect(r.statusCode).toBe(200);
    const body = r.json();
    expect(body).toMatchObject({ active: 'cnn-l', pinned: null, targetMs: null, percentile: 95 });
    expect(body.configs.map((c: { id: string }) => c.id).sort()).toEqual([...net.ids, 'cnn-l', 'cnn-s'].sort());
    expect(body.configs.filter((c: { active: boolean }) => c.active).map((c: { id: string }) => c.id)).toEqual([
      'cnn-l',
    ]);
    // Ladder places follow MACs (cheapest = 0) until a device profile exists.
    const placed = body.configs
      .filter((c: { ladder: unknown }) => c.ladder !== null)
      .sort((a: { ladder: { rung: number } }, b: { ladder: { rung: number } }) => a.ladder.rung - b.ladder.rung);
    expect(placed.map((c: { ladder: { rung: number } }) => c.ladder.rung)).toEqual(
      placed.map((_: unknown, k: number) => k),
    );
    for (let k = 1; k < placed.length; k++) expect(placed[k].macs).toBeGreaterThanOrEqual(placed[k - 1].macs);
  });

  it('PUT /v1/config pins an anchor (classify runs it) and { id: null } releases it', async () => {
    const pin = await call({ method: 'PUT', url: '/v1/config', payload: { id: 'cnn-s' } });
    expect(pin.statusCode).toBe(200);
    expect(pin.json()).toEqual({ active: 'cnn-s', pinned: 'cnn-s' });
    const x = sample(20, 2);
    const r = await classify(le(x.data), 'application/octet-stream');
    expect(r.json<ClassifyAnswer>().config).toBe('cnn-s');
    expectLogits(r.json<ClassifyAnswer>().logits, await net.runWith('cnn-s', x));
    expect((await call({ url: '/v1/configs' })).json()).toMatchObject({ active: 'cnn-s', pinned: 'cnn-s' });
    const release = await call({ method: 'PUT', url: '/v1/config', payload: { id: null } });
    expect(release.json()).toEqual({ active: 'cnn-s', pinned: null });
  });

  it('GET /healthz', async () => {
    const r = await call({ url: '/healthz' });
    expect(r.json()).toEqual({ status: 'ok', active: 'cnn-s', queueDepth: 0 });
  });
});

describe('GET /metrics', () => {
  it('parses as Prometheus text and counts what this file did', async () => {
    const r = await call({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0.0.4/);
    const { types, samples } = parseProm(r.body);
    expect(
      Object.fromEntries(
        [
          'restnet_requests_total',
          'restnet_request_duration_seconds',
          'restnet_inference_batch_size',
          'restnet_active_config',
          'restnet_config_switches_total',
          'restnet_queue_depth',
        ].map((n) => [n, types.get(n)]),
      ),
    ).toEqual({
      restnet_requests_total: 'counter',
      restnet_request_duration_seconds: 'histogram',
      restnet_inference_batch_size: 'histogram',
      restnet_active_config: 'gauge',
      restnet_config_switches_total: 'counter',
      restnet_queue_depth: 'gauge',
    });
    for (const [code, n] of tally)
      expect(promValue(samples, 'restnet_requests_total', { code: String(code) }), `code ${code}`).toBe(n);
    expect(samples.filter((s) => s.name === 'restnet_requests_total').reduce((a, s) => a + s.value, 0)).toBe(
      [...tally.values()].reduce((a, b) => a + b, 0),
    );
    // Successful classify requests: 1 + 1 + 2 + 6 + 1 (pinned).
    expect(promValue(samples, 'restnet_request_duration_seconds_count')).toBe(11);
    expect(promValue(samples, 'restnet_request_duration_seconds_bucket', { le: '+Inf' })).toBe(11);
    const active = samples.filter((s) => s.name === 'restnet_active_config');
    expect(active.length).toBe(net.ids.length + 2);
    expect(active.filter((s) => s.value === 1).map((s) => s.labels.id)).toEqual(['cnn-s']);
    expect(promValue(samples, 'restnet_config_switches_total', { reason: 'pinned' })).toBe(1);
    expect(promValue(samples, 'restnet_queue_depth')).toBe(0);
    expect(promValue(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0);
  });
});

describe('logs', () => {
  it('one line per switch and a periodic summary, as pino JSON', async () => {
    const lines: { msg: string; switch?: object; answered?: number }[] = [];
    const logStream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
        done();
      },
    });
    const logged = await createService(net, { logStream, summaryIntervalMs: 100, targetMs: 1000 });
    try {
      await logged.app.inject({ method: 'PUT', url: '/v1/config', payload: { id: 'cnn-s' } });
      await logged.app.inject({
        method: 'POST',
        url: '/v1/classify',
        payload: le(sample(0).data),
        headers: { 'content-type': 'application/octet-stream' },
      });
      await new Promise((r) => setTimeout(r, 250));
    } finally {
      await logged.app.close();
    }
    const switches = lines.filter((l) => l.switch);
    expect(switches).toEqual([
      expect.objectContaining({
        switch: { from: 'cnn-l', to: 'cnn-s', reason: 'pinned', observedMs: null },
        msg: 'switch cnn-l -> cnn-s (pinned)',
      }),
    ]);
    const summaries = lines.filter((l) => l.msg.startsWith('summary:'));
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    // Each summary counts the requests answered since the one before.
    expect(summaries.reduce((n, l) => n + l.answered!, 0)).toBe(1);
    expect(summaries.at(-1)).toMatchObject({ active: 'cnn-s', queueDepth: 0 });
    // No per-request lines.
    expect(lines.filter((l) => /request/.test(l.msg))).toEqual([]);
  });
});

describe('ReStNet.adapt', () => {
  it('returns a controller on the net ladder that starts on its most accurate rung', async () => {
    await service.app.close();
    net.use('cnn-s');
    const c = net.adapt({ targetMs: 1000 });
    expect(c).toBeInstanceOf(AdaptiveController);
    expect(c.ladder.map((r) => r.id)).toEqual(net.ladder().map((r) => r.id));
    expect(net.current).toBe(net.ladder().at(-1)!.id);
    const x = sample(30, 2);
    const out = await c.run(x);
    expectLogits(
      [Array.from(out.data.subarray(0, 10)), Array.from(out.data.subarray(10, 20))],
      await net.runWith(net.current, x),
    );
    expect(c.stats().samples + c.stats().discarded).toBe(1);
    c.stop();
  });
});
