// The ReStNet runtime on small built models: select() against hand-made budgets, switching
// without creating sessions, concurrent run() during switches, save/load round trip, rejected
// hashes / stitch files / mismatched manifests, and the fused export against the chained run.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadZooSplit } from '../lib/data/index.js';
import type { Tensor } from '../lib/matrix.js';
import {
  analyze,
  evaluate,
  fit,
  loadAnchor,
  plan,
  predictions,
  ReStNet,
  type ProgressEvent,
} from '../lib/restnet/index.js';
import type { RestnetManifest } from '../lib/restnet/manifest.js';
import { fixture, ortRun, relError } from './onnx-helpers.js';

const calibration = loadZooSplit('calibration');
const evalSplit = loadZooSplit('eval');
const x8: Tensor = { data: evalSplit.images.slice(0, 8 * 784), dims: [8, 1, 28, 28] };
const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'restnet-rt-'));
  dirs.push(d);
  return d;
};
const nets: ReStNet[] = [];
let net: ReStNet;

beforeAll(async () => {
  const big = await loadAnchor({ name: 'cnn-a', model: fixture('cnn-a') }, { threads: 1 });
  const small = await loadAnchor({ name: 'vit-b', model: fixture('vit-b') }, { threads: 1 });
  const analysis = await analyze(big, small, calibration, { calibrationLimit: 128, batchSize: 64 });
  // Both orders: CNN -> Transformer (with a CLS map) and Transformer -> CNN.
  net = await fit(plan(analysis, { order: 'both', costRange: 'any' }), calibration, { calibrationLimit: 128 });
  nets.push(net);
  await evaluate(net, evalSplit, undefined, { evalLimit: 100, latencyRuns: 2, latencyRunsBatch32: 1 });
}, 120_000);

afterAll(async () => {
  for (const n of nets) await n.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('evaluate', () => {
  it('fills every record of configurations and anchors', () => {
    expect(net.ids.length).toBeGreaterThanOrEqual(3);
    expect(net.configs.some((c) => c.front === 'cnn-a' && net.maps(c.id).cls)).toBe(true);
    for (const r of [...net.configs, ...net.anchorRecords]) {
      expect(r.accuracy).toBeGreaterThanOrEqual(0);
      expect(r.latencyMs).toBeGreaterThan(0);
      expect(r.latencyBatch32Ms).toBeGreaterThan(0);
      expect(r.memoryBytes).toBeGreaterThan(4 * r.params);
      // At least the minimum of timed runs; anchors are timed beside every configuration.
      expect(r.latencyRuns).toBeGreaterThanOrEqual(2);
      expect(r.latencyP95Ms).toBeGreaterThanOrEqual(r.latencyMs!);
    }
    for (const a of net.anchorRecords) expect(a.latencyRuns).toBeGreaterThanOrEqual(2 * net.ids.length);
  });

  it('releases the fused sessions it built for each configuration: the anchors stay', () => {
    expect(net.memory().fused.ids.sort()).toEqual(net.anchorRecords.map((a) => a.name).sort());
  });

  it("predictions: the classes evaluate counted, one 'predict' event per batch", async () => {
    const id = net.ids[0]!;
    const events: ProgressEvent[] = [];
    const p = await predictions(net, id, evalSplit, { limit: 100, batchSize: 40, onProgress: (e) => events.push(e) });
    expect(events.map((e) => [e.stage, e.done, e.total, e.detail])).toEqual(
      [40, 80, 100].map((done) => ['predict', done, 100, id]),
    );
    let correct = 0;
    for (let i = 0; i < 100; i++) if (p[i] === evalSplit.labels[i]) correct++;
    expect(correct / 100).toBe(net.record(id).accuracy);
  });
});

describe('select', () => {
  // Hand-made numbers on a copy: [accuracy, latencyMs, macs, params, memoryBytes].
  const table: Record<string, [number, number, number, number, number]> = {};
  let handMade: ReStNet;
  beforeAll(async () => {
    handMade = await saveAndLoad(net);
    const rows = [...handMade.configs, ...handMade.anchorRecords];
    rows.forEach((r, k) => {
      const v: [number, number, number, number, number] = [
        0.5 + 0.05 * k,
        1 + k,
        1000 * (k + 1),
        100 * (k + 1),
        10_000 * (k + 1),
      ];
      [r.accuracy, r.latencyMs, r.macs, r.params, r.memoryBytes] = v;
      table['id' in r ? r.id : r.name] = v;
    });
  });
  const best = (ok: (v: [number, number, number, number, number]) => boolean): string =>
    Object.entries(table)
      .filter(([, v]) => ok(v))
      .sort((a, b) => b[1][0] - a[1][0])[0]![0];

  it('the most accurate candidate within each kind of limit', () => {
    expect(handMade.select({}).id).toBe(best(() => true));
    expect(handMade.select({ maxLatencyMs: 2.5 }).id).toBe(best((v) => v[1] <= 2.5));
    expect(handMade.select({ maxMacs: 3000 }).id).toBe(best((v) => v[2] <= 3000));
    expect(handMade.select({ maxParams: 250, maxMemoryBytes: 15_000 }).id).toBe(
      best((v) => v[3] <= 250 && v[4] <= 15_000),
    );
    expect(handMade.select({ minAccuracy: 0.5, maxLatencyMs: 1 }).id).toBe(best((v) => v[1] <= 1));
    const anchorsOnly = handMade.select({}, { includeAnchors: false });
    expect(anchorsOnly.kind).toBe('stitched');
    expect(handMade.select({ maxLatencyMs: 4 })).toMatchObject({
      kind: expect.stringMatching(/stitched|anchor/),
      accuracy: expect.any(Number),
    });
  });

  it('nothing fits: a RangeError naming the tightest feasible budget', () => {
    expect(() => handMade.select({ maxLatencyMs: 0.5 })).toThrow(/nothing fits.*maxLatencyMs >= 1 \(/);
    expect(() => handMade.select({ maxMacs: 1500, minAccuracy: 0.9 })).toThrow(
      /tightest feasible budget for all of them is \{maxMacs: \d+, minAccuracy: [\d.]+\}/,
    );
    expect(() => handMade.select({ maxLatency: 3 } as never)).toThrow(/budget.maxLatency: unknown/);
  });

  it('pareto: false records are left out unless includeDominated; ladder() orders the offered ones by MACs', () => {
    const top = best(() => true);
    const dominated = handMade.configs.find((c) => c.id === top) ?? handMade.configs.at(-1)!;
    dominated.pareto = false;
    dominated.reason = 'test: marked dominated by hand';
    try {
      const offered = Object.entries(table).filter(([id]) => id !== dominated.id);
      const bestOffered = offered.sort((a, b) => b[1][0] - a[1][0])[0]![0];
      expect(handMade.select({}).id).toBe(bestOffered);
      expect(handMade.select({}, { includeDominated: true }).id).toBe(top);
      const ladder = handMade.ladder();
      expect(ladder.map((r) => r.id)).toEqual(offered.sort((a, b) => a[1][2] - b[1][2]).map(([id]) => id));
      expect(
        ladder.every((r) => r.source === 'manifest' && r.latencyMs === table[r.id]![1] && r.macs === table[r.id]![2]),
      ).toBe(true);
      expect(handMade.ladder({ includeDominated: true }).map((r) => r.id)).toContain(dominated.id);
      expect(ladder.find((r) => handMade.anchorRecords.some((a) => a.name === r.id))?.kind).toBe('anchor');
    } finally {
      delete dominated.pareto;
      delete dominated.reason;
    }
  });

  it('an unmeasured net refuses to select', async () => {
    const fresh = await fit(
      plan(await analyze(net.anchors[0], net.anchors[1], calibration, { calibrationLimit: 64 }), { costRange: 'any' }),
      calibration,
      { calibrationLimit: 64 },
    );
    expect(() => fresh.select({})).toThrow(/not measured yet; run evaluate/);
  });
});

describe('switching', () => {
  it('use() creates and destroys no session', async () => {
    await net.warmup();
    const sessions = net.sessionCount;
    for (const id of [...net.ids, 'cnn-a', 'vit-b', ...net.ids.reverse()]) {
      const t0 = performance.now();
      net.use(id);
      const ms = performance.now() - t0;
      expect(net.current).toBe(id);
      expect(ms).toBeGreaterThanOrEqual(0);
      await net.run(x8);
      expect(net.sessionCount).toBe(sessions);
    }
    expect(() => net.use('nope')).toThrow(/expected a configuration .* or an anchor/);
  });

  it('concurrent run() during switches: each result is one configuration or the other, never a mix', async () => {
    const [p, q] = [net.ids[0]!, net.ids[net.ids.length - 1]!];
    const refP = await net.runWith(p, x8),
      refQ = await net.runWith(q, x8);
    expect(relError(refP, refQ)).toBeGreaterThan(1e-3);
    const calls: { started: string; result: Promise<Tensor> }[] = [];
    for (let k = 0; k < 40; k++) {
      net.use(k % 3 === 0 ? p : q);
      calls.push({ started: net.current, result: net.run(x8) });
      if (k % 5 === 0) await new Promise((r) => setImmediate(r));
    }
    for (const c of calls) {
      const out = await c.result;
      expect(relError(out, c.started === p ? refP : refQ)).toBeLessThan(1e-6);
    }
  });
});

async function saveAndLoad(n: ReStNet): Promise<ReStNet> {
  const dir = tmp();
  await n.save(dir);
  const loaded = await ReStNet.load(dir, { threads: 1 });
  nets.push(loaded);
  return loaded;
}

describe('save / load / export', () => {
  it('round trip: same records and the same outputs', async () => {
    const loaded = await saveAndLoad(net);
    expect(loaded.ids).toEqual(net.ids);
    expect(loaded.configs.map((c) => ({ ...c }))).toEqual(net.configs.map((c) => ({ ...c })));
    expect(loaded.anchorRecords).toEqual(net.anchorRecords);
    for (const id of net.ids)
      expect(relError(await loaded.runWith(id, x8), await net.runWith(id, x8))).toBeLessThan(1e-6);
    const manifest = JSON.parse(readFileSync(join(loaded.dir!, 'manifest.json'), 'utf8')) as RestnetManifest;
    expect(manifest.anchors.map((a) => Object.keys(a))).toEqual(
      manifest.anchors.map(() =>
        expect.arrayContaining(['name', 'file', 'sha256', 'accuracy', 'latencyMs', 'macs', 'params']),
      ),
    );
    expect(Object.keys(manifest.configs[0]!)).toEqual(
      expect.arrayContaining([
        'id',
        'front',
        'back',
        'frontCut',
        'backCut',
        'cka',
        'accuracy',
        'latencyMs',
        'macs',
        'params',
        'onnx',
      ]),
    );
  });

  it('fused export equals the chained run, and lands next to the manifest', async () => {
    const loaded = await saveAndLoad(net);
    for (const id of loaded.ids) {
      const { bytes, path } = await loaded.export(id);
      expect(path).toBe(join(loaded.dir!, `${id}.onnx`));
      // The returned bytes are self-contained; the family's file references the anchors' weights
      // (external data), and onnxruntime opening it by path computes the same.
      expect(relError(await ortRun(bytes, x8), await loaded.runWith(id, x8))).toBeLessThan(1e-4);
      expect(relError(await ortRun(path!, x8), await ortRun(bytes, x8))).toBeLessThan(1e-5);
    }
    const manifest = JSON.parse(readFileSync(join(loaded.dir!, 'manifest.json'), 'utf8')) as RestnetManifest;
    for (const c of manifest.configs) expect(c.onnx).toBe(`${c.id}.onnx`);
  });

  it('an anchor file that does not match its hash is rejected', async () => {
    const dir = tmp();
    await net.save(dir);
    const file = join(dir, 'cnn-a.onnx');
    const bytes = readFileSync(file);
    const at = bytes.length - 10;
    bytes[at] = bytes[at]! ^ 0xff;
    writeFileSync(file, bytes);
    await expect(ReStNet.load(dir)).rejects.toThrow(/anchor 'cnn-a': .* has sha256 [0-9a-f]{64}, the manifest expects/);
    // Another anchor's file in its place: also a hash mismatch.
    copyFileSync(join(dir, 'vit-b.onnx'), file);
    await expect(ReStNet.load(dir)).rejects.toThrow(/anchor 'cnn-a'.*sha256/);
  });

  it('corrupt, truncated or swapped stitch files are rejected', async () => {
    const dir = tmp();
    await net.save(dir);
    const manifestPath = join(dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as RestnetManifest;
    const [c0, c1] = [manifest.configs[0]!, manifest.configs[1]!];
    const original = readFileSync(join(dir, c0.stitch));
    // One flipped byte: the hash catches it.
    const flipped = Buffer.from(original);
    const at = flipped.length - 3;
    flipped[at] = flipped[at]! ^ 0x40;
    writeFileSync(join(dir, c0.stitch), flipped);
    await expect(ReStNet.load(dir)).rejects.toThrow(/sha256 .*\(corrupt or replaced\)/);
    // Truncated, with the manifest's hash updated: the header no longer matches the size.
    const { createHash } = await import('node:crypto');
    const hash = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
    const truncated = original.subarray(0, original.length - 8);
    writeFileSync(join(dir, c0.stitch), truncated);
    writeFileSync(
      manifestPath,
      JSON.stringify({
        ...manifest,
        configs: [{ ...c0, stitchSha256: hash(truncated) }, ...manifest.configs.slice(1)],
      }),
    );
    await expect(ReStNet.load(dir)).rejects.toThrow(/the header's tensors take \d+ bytes/);
    // Another configuration's stitch in its place (hash updated): its header names other cuts or another id.
    writeFileSync(join(dir, c0.stitch), readFileSync(join(dir, c1.stitch)));
    writeFileSync(
      manifestPath,
      JSON.stringify({
        ...manifest,
        configs: [{ ...c0, stitchSha256: c1.stitchSha256 }, ...manifest.configs.slice(1)],
      }),
    );
    await expect(ReStNet.load(dir)).rejects.toThrow(/StitchFileError|fitted for|holds the stitch of/);
    // Not a stitch file at all.
    writeFileSync(join(dir, c0.stitch), 'hello');
    writeFileSync(
      manifestPath,
      JSON.stringify({
        ...manifest,
        configs: [{ ...c0, stitchSha256: hash(Buffer.from('hello')) }, ...manifest.configs.slice(1)],
      }),
    );
    await expect(ReStNet.load(dir)).rejects.toThrow(/not a restnet stitch file/);
  });

  it('a manifest that does not match its anchors is rejected', async () => {
    const dir = tmp();
    await net.save(dir);
    const manifestPath = join(dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as RestnetManifest;
    const write = (m: unknown) => writeFileSync(manifestPath, JSON.stringify(m));
    const c0 = manifest.configs[0]!;
    const other = manifest.anchors.find((a) => a.name === c0.front)!.cuts.find((c) => c !== c0.frontCut)!;
    write({ ...manifest, configs: [{ ...c0, frontCut: other }, ...manifest.configs.slice(1)] });
    await expect(ReStNet.load(dir)).rejects.toThrow(/fitted for front .* the manifest's/);
    write({ ...manifest, configs: [{ ...c0, front: 'resnet' }] });
    await expect(ReStNet.load(dir)).rejects.toThrow(/front 'resnet' .* must name anchors/);
    write({ ...manifest, anchors: [{ ...manifest.anchors[0]!, macs: 1 }, manifest.anchors[1]] });
    await expect(ReStNet.load(dir)).rejects.toThrow(/MACs and .* params, the manifest says 1/);
    write({ ...manifest, anchors: [{ ...manifest.anchors[0]!, file: '../../etc/passwd' }, manifest.anchors[1]] });
    await expect(ReStNet.load(dir)).rejects.toThrow(/outside the manifest's directory/);
    write({ ...manifest, format: 'other/9' });
    await expect(ReStNet.load(dir)).rejects.toThrow(/expected format "restnet\/1"/);
    writeFileSync(manifestPath, '{');
    await expect(ReStNet.load(dir)).rejects.toThrow(/not valid JSON/);
  });
});

describe('refine on a loaded family', () => {
  it('trains one configuration on unlabelled images from the teacher, clears its accuracy, and saves the new stitch', async () => {
    const loaded = await saveAndLoad(net);
    const id = loaded.ids[0]!;
    const before = loaded.maps(id).main.weight.data.slice();
    const other = loaded.ids[1]!;
    const otherBefore = loaded.maps(other).main.weight.data.slice();
    const unlabelled = { images: calibration.images.subarray(0, 96 * 784), rows: 96, cols: 784 };
    // As if its refinement had failed at fit time: refined now, the old error must not stay (a
    // manifest allows a refineError only with refined: false, so saving would fail).
    Object.assign(loaded.record(id), { refined: false, refineError: 'refinement failed: out of memory' });
    // As if marked offered on a validation split and evaluated: figures of the old stitch.
    Object.assign(loaded.record(id), { pareto: true, validationAccuracy: 0.9, validationImages: 1000 });
    expect(loaded.record(id).accuracyInterval).not.toBeNull();
    const stages = new Set<string>();
    const history = await loaded.refine(id, unlabelled, { epochs: 2, onProgress: (e) => stages.add(e.stage) });
    expect(history.map((h) => h.epoch)).toEqual([1, 2]);
    // Learning from the teacher alone lowers the cross-entropy against its probabilities.
    expect(history[1]!.loss).toBeLessThan(history[0]!.loss);
    expect(stages).toEqual(new Set(['refine']));
    expect(loaded.maps(id).main.weight.data).not.toEqual(before);
    expect(loaded.maps(other).main.weight.data).toEqual(otherBefore);
    // Without a validation split the last epoch's maps are kept.
    expect(loaded.record(id)).toMatchObject({ refined: true, refineEpoch: 2, accuracy: null });
    expect(loaded.record(id).refineError).toBeUndefined();
    // Nothing measured on the old stitch stays, and the old verdict does not offer the new one.
    expect(loaded.record(id)).toMatchObject({
      evalImages: null,
      accuracyInterval: null,
      validationAccuracy: null,
      validationImages: null,
      pareto: false,
      reason: expect.stringMatching(/refined since the validation marks/),
    });
    expect(loaded.ladder().map((r) => r.id)).not.toContain(id);
    expect(() => loaded.select({}, { includeDominated: true })).toThrow(new RegExp(`${id} not measured yet`));
    // run() uses the refined stitch from the next call on, and save / load keep it.
    loaded.use(id);
    const out = await loaded.run(x8);
    const again = await saveAndLoad(loaded);
    expect(again.maps(id).main.weight.data).toEqual(loaded.maps(id).main.weight.data);
    expect(relError(await again.runWith(id, x8), out)).toBeLessThan(1e-5);
    await expect(loaded.refine('nope', unlabelled)).rejects.toThrow(/id: expected one of/);
  });
});
