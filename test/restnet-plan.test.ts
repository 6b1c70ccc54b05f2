// ReStNet planning and fitting on small built models: the ordering rule (large front / small
// front), depth order of the chosen back cuts, valid adapters only, the cost range, the seeded
// random-cut ablation, and a fit whose exact answer is known (a self-stitch recovers W = I).
import { afterAll, describe, expect, it } from 'vitest';

import { loadZooSplit } from '../lib/data/index.js';
import { Adapter } from '../lib/stitch/adapters/index.js';
import { analyze, fit, loadAnchor, plan, type Analysis, type Anchor } from '../lib/restnet/index.js';
import { monotoneAssignment } from '../lib/restnet/plan.js';
import { refineSettings, refineTargets } from '../lib/restnet/refine.js';
import { fixture, relError } from './onnx-helpers.js';

const calibration = loadZooSplit('calibration');
const anchors: Anchor[] = [];
afterAll(async () => {
  for (const a of anchors) await a.model.dispose();
});
async function anchor(name: string, cuts?: string[]): Promise<Anchor> {
  const a = await loadAnchor(cuts ? { name, model: fixture(name), cuts } : { name, model: fixture(name) }, {
    threads: 1,
  });
  anchors.push(a);
  return a;
}
const index = (a: Anchor, cut: string): number => a.model.cutPoints().find((c) => c.name === cut)!.index;

/** An analysis with a hand-made CKA table (rows: cuts of a, columns: cuts of b). */
function fakeAnalysis(a: Anchor, b: Anchor, table: number[][]): Analysis {
  return {
    a,
    b,
    cutsA: a.cuts,
    cutsB: b.cuts,
    cka: { data: Float64Array.from(table.flat()), rows: table.length, cols: table[0]!.length },
    samples: 0,
    batches: 0,
    seconds: 0,
  };
}

describe('default cut points', () => {
  it('one stitchable cut per distinct prefix cost, inside the graph', async () => {
    const a = await anchor('cnn-a');
    expect(a.cuts).toEqual(['/MaxPool_output_0', '/block1/Relu_1_output_0', '/block2/Relu_1_output_0']);
    const v = await anchor('vit-a');
    expect(v.cuts[0]).toBe('/Add_output_0');
    expect(v.cuts).toContain('/blocks/blocks.0/Add_1_output_0');
    for (const c of v.cuts) expect(v.model.sampleDims(c)).toEqual([17, 16]);
  });
});

describe('monotoneAssignment', () => {
  it('maximises the total CKA with non-decreasing back cuts (greedy would cross)', () => {
    const table = [
      [0.1, 0.2, 0.9],
      [0.8, 0.3, 0.1],
      [0.2, 0.7, 0.3],
    ];
    // Greedy per row: 2, 0, 1 (crosses). Best ordered: 0, 0, 1 = 0.1 + 0.8 + 0.7.
    expect(monotoneAssignment((i, j) => table[i]![j], 3, 3)).toEqual([0, 0, 1]);
  });
  it('leaves out a front cut with no valid back cut', () => {
    expect(monotoneAssignment((i, j) => (i === 1 ? undefined : j === i ? 1 : 0), 3, 3)).toEqual([0, -1, 2]);
  });
});

describe('plan', () => {
  it('large-front puts the anchor with more parameters in front; small-front the other; both = the union', async () => {
    const big = await anchor('cnn-a'),
      small = await anchor('cnn-b');
    const analysis = fakeAnalysis(small, big, [
      [0.9, 0.5, 0.2],
      [0.4, 0.8, 0.3],
      [0.1, 0.3, 0.95],
    ]);
    const large = plan(analysis);
    expect(large.large).toBe('cnn-a');
    expect(large.configs.length).toBeGreaterThan(0);
    for (const c of large.configs) expect([c.front, c.back, c.order]).toEqual(['cnn-a', 'cnn-b', 'large-front']);
    const smallFront = plan(analysis, { order: 'small-front' });
    for (const c of smallFront.configs) expect([c.front, c.back, c.order]).toEqual(['cnn-b', 'cnn-a', 'small-front']);
    const both = plan(analysis, { order: 'both' });
    expect(both.configs.map((c) => c.id)).toEqual([...large.configs, ...smallFront.configs].map((c) => c.id));
    // The CKA of a config reads the table the right way round (a = cnn-b rows, b = cnn-a columns).
    for (const c of both.configs) {
      const [ra, rb] = c.front === 'cnn-b' ? [c.frontCut, c.backCut] : [c.backCut, c.frontCut];
      expect(c.cka).toBe(analysis.cka.data[small.cuts.indexOf(ra) * 3 + big.cuts.indexOf(rb)]);
    }
  });

  it('back cuts keep depth order, adapters are valid, costs lie between the anchors', async () => {
    const big = await anchor('cnn-a'),
      small = await anchor('cnn-b');
    // Greedy choice would cross: front 0 -> back 2, front 1 -> back 0.
    const table = [
      [0.1, 0.2, 0.9],
      [0.8, 0.3, 0.1],
      [0.2, 0.7, 0.3],
    ];
    const p = plan(fakeAnalysis(big, small, table), { costRange: 'any', deepestFront: 1 });
    const backIdx = p.configs.map((c) => index(small, c.backCut));
    expect(backIdx).toEqual([...backIdx].sort((x, y) => x - y));
    // The deepest front cut's alternatives follow its CKA choice, by CKA, depth order aside.
    const deep = plan(fakeAnalysis(big, small, table), { costRange: 'any' });
    expect(deep.configs.slice(0, -2)).toEqual(p.configs);
    const last = p.configs.at(-1)!;
    const alternatives = deep.configs.slice(-2);
    expect(alternatives.map((c) => c.frontCut)).toEqual([last.frontCut, last.frontCut]);
    expect(alternatives.map((c) => c.cka)).toEqual([0.3, 0.2]);
    expect(plan(fakeAnalysis(big, small, table), { costRange: 'any', deepestFront: 2 }).configs).toEqual(
      deep.configs.slice(0, -1),
    );
    for (const c of p.configs)
      expect(() => new Adapter(big.model.sampleDims(c.frontCut), small.model.sampleDims(c.backCut))).not.toThrow();
    const inRange = plan(
      fakeAnalysis(big, small, [
        [0.9, 0.2, 0.1],
        [0.2, 0.9, 0.1],
        [0.1, 0.2, 0.9],
      ]),
    );
    expect(inRange.configs.length).toBeGreaterThan(0);
    for (const c of inRange.configs) {
      expect(c.macs).toBeGreaterThanOrEqual(small.macs);
      expect(c.macs).toBeLessThanOrEqual(big.macs);
    }
    for (const s of inRange.skipped) expect(s.reason).toMatch(/costs more|depth order|adapter/);
  });

  it('never pairs cuts without an adapter (token counts differ), and says why', async () => {
    const front = await anchor('vit-a', ['/Transpose_output_0', '/blocks/blocks.0/Add_1_output_0']);
    const back = await anchor('vit-b', ['/Add_output_0', '/blocks/blocks.1/Add_1_output_0']);
    // The highest CKA sits on the invalid pair (16 tokens -> 17 tokens).
    const p = plan(
      fakeAnalysis(front, back, [
        [0.99, 0.99],
        [0.1, 0.5],
      ]),
      { costRange: 'any', deepestFront: 1 },
    );
    expect(p.configs.map((c) => c.frontCut)).toEqual(['/blocks/blocks.0/Add_1_output_0']);
    expect(p.skipped).toEqual([
      {
        order: 'large-front',
        frontCut: '/Transpose_output_0',
        reason: expect.stringMatching(/no valid adapter.*needs 16 tokens like the front, got 17/),
      },
    ]);
  });

  it('the random-cut ablation is seeded and draws valid back cuts', async () => {
    const big = await anchor('cnn-a'),
      small = await anchor('cnn-b');
    const analysis = fakeAnalysis(big, small, [
      [0.9, 0.2, 0.1],
      [0.2, 0.9, 0.1],
      [0.1, 0.2, 0.9],
    ]);
    const r1 = plan(analysis, { choice: 'random', seed: 7, costRange: 'any' });
    const r2 = plan(analysis, { choice: 'random', seed: 7, costRange: 'any' });
    expect(r1.configs).toEqual(r2.configs);
    expect(r1.configs.every((c) => c.choice === 'random' && small.cuts.includes(c.backCut))).toBe(true);
    const seeds = new Set(
      Array.from({ length: 8 }, (_, s) =>
        plan(analysis, { choice: 'random', seed: s, costRange: 'any' })
          .configs.map((c) => c.backCut)
          .join(),
      ),
    );
    expect(seeds.size).toBeGreaterThan(1);
  });

  it('plans average pooling where space-to-depth has more inputs than the calibration rows determine', async () => {
    // cnn-a's stem [8, 28, 28] -> cnn-b's block2 [8, 7, 7]: space-to-depth by 4 gives 8 x 16 = 128
    // inputs per position, 49 positions; centred rows determine images x 49 - 1 inputs.
    const front = await anchor('cnn-a', ['/stem/Conv_output_0']);
    const back = await anchor('cnn-b', ['/block2/Relu_1_output_0']);
    const analysis = fakeAnalysis(front, back, [[0.5]]);
    const enough = plan(analysis, { costRange: 'any', calibrationImages: 3 }); // 146 rows
    expect(enough.configs.map((c) => c.downsample)).toEqual(['space-to-depth']);
    expect(enough.averaged).toEqual([]);
    expect(plan(analysis, { costRange: 'any' }).configs).toEqual(enough.configs);
    const few = plan(analysis, { costRange: 'any', calibrationImages: 2 }); // 97 rows
    const [c] = few.configs;
    expect(c!.downsample).toBe('average');
    expect(few.averaged).toEqual([
      { id: c!.id, reason: expect.stringMatching(/128 inputs exceed the 97 that 2 calibration images x 49 positions/) },
    ]);
    // The stitch's multiply-adds follow its inputs: 49 positions x (128 or 8) inputs x 8 outputs.
    expect(enough.configs[0]!.macs - c!.macs).toBe(49 * (128 - 8) * 8);
    const net = await fit(few, calibration, { calibrationLimit: 2, batchSize: 2 });
    expect(net.maps(c!.id).main.weight.rows).toBe(8);
    await net.dispose();
    expect(() => plan(analysis, { calibrationImages: 0 })).toThrow(RangeError);
  });

  it('rejects unknown orders and choices', async () => {
    const big = await anchor('cnn-a');
    const analysis = fakeAnalysis(big, big, [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ]);
    expect(() => plan(analysis, { order: 'front' as never })).toThrow(/options.order/);
    expect(() => plan(analysis, { choice: 'best' as never })).toThrow(/options.choice/);
    expect(() => plan(analysis, { costRange: 'all' as never })).toThrow(
      new RangeError(`options.costRange: expected 'anchors' or 'any', got "all"`),
    );
    // The layout options are checked once, before any configuration is built, as Adapter checks them.
    expect(() => plan(analysis, { upsample: 'nearest' as never })).toThrow(
      new RangeError(`options.upsample: expected 'bilinear' or 'depth-to-space', got "nearest"`),
    );
    expect(() => plan(analysis, { kernel: '3' as never })).toThrow(
      new TypeError('options.kernel: expected an odd integer >= 1, got "3"'),
    );
    expect(() => plan(analysis, { perFront: 0 })).toThrow(
      new RangeError('options.perFront: expected a positive integer, got 0'),
    );
    expect(() => plan(analysis, { deepestFront: 1.5 })).toThrow(
      new RangeError('options.deepestFront: expected a positive integer, got 1.5'),
    );
  });
});

describe('analyze + fit', () => {
  it('CKA of an anchor with itself is 1 on the diagonal; a self-stitch fits W = I, b = 0 and reproduces the anchor', async () => {
    // Cuts before a ReLU: no dead channel, so the least-squares answer is unique.
    const a = await anchor('cnn-a', ['/stem/Conv_output_0', '/block1/Add_output_0', '/block2/Add_output_0']);
    const progress: string[] = [];
    const analysis = await analyze(a, a, calibration, {
      calibrationLimit: 256,
      batchSize: 64,
      onProgress: (e) => progress.push(e.stage),
    });
    expect(analysis.batches).toBe(4);
    for (let i = 0; i < 3; i++) expect(analysis.cka.data[i * 3 + i]).toBeCloseTo(1, 6);
    expect(progress).toEqual(['analyze', 'analyze', 'analyze', 'analyze']);
    const p = plan(analysis, { costRange: 'any', deepestFront: 1 });
    expect(p.configs.map((c) => [c.frontCut, c.backCut])).toEqual(a.cuts.map((c) => [c, c]));
    const net = await fit(p, calibration, { calibrationLimit: 256, ridge: 0 });
    const x = { data: calibration.images.slice(1000 * 784, 1040 * 784), dims: [40, 1, 28, 28] };
    const reference = await a.model.run(x);
    for (const id of net.ids) {
      const { main } = net.maps(id);
      const d = main.weight.rows;
      let err = 0;
      for (let i = 0; i < d; i++)
        for (let j = 0; j < d; j++) err = Math.max(err, Math.abs(main.weight.data[i * d + j]! - (i === j ? 1 : 0)));
      expect(err).toBeLessThan(1e-3);
      expect(Math.max(...main.bias.map(Math.abs))).toBeLessThan(1e-3);
      expect(net.record(id).residual).toBeLessThan(1e-6);
      const position = net.maps(id).position!;
      expect(Math.max(...position.map(Math.abs))).toBeLessThan(1e-3);
      expect(net.record(id).trainableParams).toBe(d * d + d + position.length);
      expect(relError(await net.runWith(id, x), reference)).toBeLessThan(1e-4);
    }
    await net.dispose();
  });

  it("task refinement lowers the stitched networks' cross-entropy from least squares; signal aborts", async () => {
    const big = await anchor('cnn-a'),
      small = await anchor('cnn-b');
    const analysis = await analyze(big, small, calibration, { calibrationLimit: 128, batchSize: 64 });
    // Every cost: the back cuts then include Relu outputs, whose stitches refine through a ReLU.
    const p = plan(analysis, { costRange: 'any' });
    const images = 256;
    const ls = await fit(p, calibration, { calibrationLimit: 128 });
    const events: string[] = [];
    const refined = await fit(p, calibration, {
      calibrationLimit: 128,
      refine: { epochs: 2, images, distill: 0, seed: 3 },
      onProgress: (e) => events.push(e.stage),
    });
    expect(events).toContain('refine');
    const x = { data: calibration.images.subarray(0, images * 784), dims: [images, 1, 28, 28] };
    /** Mean cross-entropy of the logits against the labels, in f64. */
    const crossEntropy = (logits: Float32Array): number => {
      const k = logits.length / images;
      let sum = 0;
      for (let i = 0; i < images; i++) {
        const row = Array.from(logits.subarray(i * k, (i + 1) * k));
        const max = Math.max(...row);
        sum += max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) - row[calibration.labels![i]!]!;
      }
      return sum / images;
    };
    // cnn-b's Relu-output cuts are rectified where refinement trains the stitch; least squares stays linear.
    const rectified = new Set(small.model.cutPoints().flatMap((c) => (c.rectified ? [c.name] : [])));
    expect(p.configs.map((c) => c.rectify)).toEqual(p.configs.map((c) => rectified.has(c.backCut)));
    expect(p.configs.some((c) => c.rectify)).toBe(true);
    for (const id of ls.ids) {
      expect(refined.record(id).refined).toBe(true);
      expect([ls.record(id).rectify, refined.record(id).rectify]).toEqual([
        false,
        p.configs.find((c) => c.id === id)!.rectify,
      ]);
      const before = crossEntropy((await ls.runWith(id, x)).data),
        after = crossEntropy((await refined.runWith(id, x)).data);
      expect(after, id).toBeLessThan(before);
      // Offsets train with the maps.
      expect(refined.maps(id).position).not.toEqual(ls.maps(id).position);
    }
    // Front activations kept in memory (the default here) or recomputed every step: the same training.
    const uncached = await fit(p, calibration, {
      calibrationLimit: 128,
      refine: { epochs: 2, images, distill: 0, seed: 3, cacheBytes: 0 },
    });
    for (const id of ls.ids) {
      const a = refined.maps(id).main.weight.data,
        b = uncached.maps(id).main.weight.data;
      expect(relError({ data: b, dims: [b.length] }, { data: a, dims: [a.length] })).toBeLessThan(1e-4);
    }
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(fit(p, calibration, { calibrationLimit: 128, signal: controller.signal })).rejects.toThrow('stop');
    await expect(
      analyze(big, small, calibration, { calibrationLimit: 128, signal: controller.signal }),
    ).rejects.toThrow('stop');
    const late = new AbortController();
    const stopped = fit(p, calibration, {
      calibrationLimit: 128,
      refine: { images },
      signal: late.signal,
      onProgress: (e) => e.stage === 'refine' && late.abort(new Error('late stop')),
    });
    await expect(stopped).rejects.toThrow('late stop');
  });

  it("refinement targets mix the labels with the teacher's probabilities; bad options are named", async () => {
    const teacher = await anchor('cnn-b');
    const n = 20;
    const data = {
      images: calibration.images.subarray(0, n * 784),
      labels: calibration.labels!.subarray(0, n),
      rows: n,
      cols: 784,
    };
    const t = await refineTargets(teacher, data, refineSettings({ distill: 0.25 }));
    const logits = (await teacher.model.run({ data: data.images, dims: [n, 1, 28, 28] })).data;
    const k = logits.length / n;
    for (let i = 0; i < n; i++) {
      const row = Array.from(logits.subarray(i * k, (i + 1) * k), Number);
      const z = row.reduce((s, v) => s + Math.exp(v), 0);
      for (let c = 0; c < k; c++)
        expect(t[i * k + c]).toBeCloseTo((c === data.labels[i] ? 0.75 : 0) + (0.25 * Math.exp(row[c]!)) / z, 6);
    }
    const unlabelled = { images: data.images, rows: n, cols: 784 };
    await expect(refineTargets(teacher, unlabelled, refineSettings({}))).rejects.toThrow(
      /data.labels: refining on the task needs labelled calibration images, or options.refine.distill = 1/,
    );
    expect((await refineTargets(teacher, unlabelled, refineSettings({ distill: 1 }))).length).toBe(n * k);
    expect(() => refineSettings({ rows: 5 } as never)).toThrow(/options.refine.rows: unknown option/);
    expect(() => refineSettings({ teacher: 'big' as never })).toThrow(
      /options.refine.teacher: expected 'front' or 'back', got "big"/,
    );
    expect(() => refineSettings({ distill: 2 })).toThrow(
      /options.refine.distill: expected a number in \[0, 1\], got 2/,
    );
  });

  it("fit's own options: the wrong type is a TypeError, a value out of range a RangeError", async () => {
    const a = await anchor('cnn-a');
    const p = plan(fakeAnalysis(a, a, [[1]]), { costRange: 'any' });
    await expect(fit(p, calibration, { batchSize: 0 })).rejects.toThrow(
      new RangeError('options.batchSize: expected a positive integer, got 0'),
    );
    await expect(fit(p, calibration, { ridge: -1 })).rejects.toThrow(
      new RangeError('options.ridge: expected a finite number >= 0, got -1'),
    );
    await expect(fit(p, calibration, { ridge: '0.1' as never })).rejects.toThrow(
      new TypeError('options.ridge: expected a finite number >= 0, got "0.1"'),
    );
  });

  it('clear errors for images that do not fit the anchors', async () => {
    const a = await anchor('cnn-a');
    await expect(analyze(a, a, { images: new Float32Array(10 * 100), rows: 10, cols: 100 })).rejects.toThrow(
      /784 values per sample, the data have 100/,
    );
  });
});
