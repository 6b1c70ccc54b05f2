// A stitch ending in a ReLU where the back's cut is a ReLU output: which configurations the plan
// marks (zoo cnn-l -> cnn-s yes, cnn-l -> vit-s no), and refinement through the ReLU: one
// full-batch SGD step gives the gradient of the rectified stitched network's loss, checked
// against central finite differences of that loss (onnxruntime's forward), so the mask at the
// stitch's output is the ReLU's derivative in the layout the back reads.
import { existsSync } from 'node:fs';

import { afterAll, describe, expect, it } from 'vitest';

import { loadZooSplit, zooPath } from '../lib/data/index.js';
import { native } from '../lib/native.js';
import { loadAnchor, plan, type Analysis, type Anchor } from '../lib/restnet/index.js';
import { refineOnTask, refineSettings } from '../lib/restnet/refine.js';
import { Adapter, type AdapterMaps } from '../lib/stitch/adapters/index.js';
import { stitch } from '../lib/stitch/fit.js';
import { targets } from './grad-check.js';
import { fixture, linearMap, randomValues, seeded } from './onnx-helpers.js';

const calibration = loadZooSplit('calibration');
const anchors: Anchor[] = [];
afterAll(async () => {
  for (const a of anchors) await a.model.dispose();
});
async function anchor(name: string, model?: string): Promise<Anchor> {
  const a = await loadAnchor(model ? { name, model } : name, { threads: 1 });
  anchors.push(a);
  return a;
}

/** An analysis with the same CKA everywhere: the plan then depends on the graphs alone. */
function flatAnalysis(a: Anchor, b: Anchor): Analysis {
  return {
    a,
    b,
    cutsA: a.cuts,
    cutsB: b.cuts,
    cka: { data: new Float64Array(a.cuts.length * b.cuts.length).fill(0.5), rows: a.cuts.length, cols: b.cuts.length },
    samples: 0,
    batches: 0,
    seconds: 0,
  };
}

const zoo = ['cnn-l', 'cnn-s', 'vit-s'].every((a) => existsSync(zooPath(`${a}.onnx`)));

describe('plan: rectify where the back cut is a ReLU output', () => {
  it.runIf(zoo)(
    'zoo: every cnn-l -> cnn-s configuration, no cnn-l -> vit-s one; rectify: false turns it off',
    async () => {
      const large = await anchor('cnn-l'),
        cnn = await anchor('cnn-s'),
        vit = await anchor('vit-s');
      const toCnn = plan(flatAnalysis(large, cnn));
      expect(toCnn.configs.length).toBeGreaterThanOrEqual(4);
      for (const c of toCnn.configs) expect([c.back, c.rectify], c.id).toEqual(['cnn-s', true]);
      expect(plan(flatAnalysis(large, cnn), { rectify: false }).configs.map((c) => c.rectify)).toEqual(
        toCnn.configs.map(() => false),
      );
      const toVit = plan(flatAnalysis(large, vit));
      expect(toVit.configs.length).toBeGreaterThanOrEqual(4);
      for (const c of toVit.configs) expect([c.back, c.rectify], c.id).toEqual(['vit-s', false]);
      expect(() => plan(flatAnalysis(large, cnn), { rectify: 'yes' as never })).toThrow(
        new TypeError('options.rectify: expected true or false, got "yes"'),
      );
    },
  );
});

describe('Adapter.rectify', () => {
  it('max(x W + b + offset, 0) on a CNN back; a non-boolean is a TypeError', () => {
    const adapter = new Adapter([3, 4, 4], [5, 4, 4], { rectify: true });
    const maps: AdapterMaps = { main: linearMap(3, 5, 2), position: randomValues(16 * 5, 3) };
    const front = { data: randomValues(2 * 3 * 16, 4), dims: [2, 3, 4, 4] };
    const out = adapter.run(front, maps);
    const w = maps.main.weight.data;
    let clamped = 0;
    for (let n = 0; n < 2; n++)
      for (let o = 0; o < 5; o++)
        for (let p = 0; p < 16; p++) {
          let v = maps.main.bias[o]! + maps.position![p * 5 + o]!;
          for (let c = 0; c < 3; c++) v += front.data[(n * 3 + c) * 16 + p]! * w[c * 5 + o]!;
          if (v < 0) clamped++;
          expect(out.data[(n * 5 + o) * 16 + p]).toBeCloseTo(Math.max(v, 0), 5);
        }
    expect(clamped).toBeGreaterThan(20);
    expect(() => new Adapter([3, 4, 4], [5, 4, 4], { rectify: 1 as never })).toThrow(
      new TypeError('options.rectify: expected true or false, got 1'),
    );
  });
});

describe('refinement through the ReLU', () => {
  // cnn-b's '/block1/Relu_1_output_0' is a Relu output; the same grid (upBlock 1) and a grid grown
  // by depth-to-space from cnn-a's deepest cut (upBlock 2: the rows are reordered on the way).
  const cases = [
    ['/MaxPool_output_0', '/block1/Relu_1_output_0', 'bilinear'],
    ['/block2/Relu_1_output_0', '/block1/Relu_1_output_0', 'depth-to-space'],
  ] as const;
  for (const [frontCut, backCut, upsample] of cases)
    it(`cnn-a:${frontCut} -> cnn-b:${backCut} (${upsample}): one SGD step is -lr x the gradient of the rectified loss`, async () => {
      const front = await anchor('cnn-a', fixture('cnn-a')),
        back = await anchor('cnn-b', fixture('cnn-b'));
      expect(back.model.cutPoints().find((c) => c.name === backCut)!.rectified).toBe(true);
      const adapter = new Adapter(front.model.sampleDims(frontCut), back.model.sampleDims(backCut), {
        upsample,
        rectify: true,
      });
      if (upsample === 'depth-to-space') expect(adapter.upBlock).toBe(2);
      const n = 16;
      const data = { images: calibration.images.subarray(0, n * 784), rows: n, cols: 784 };
      const k = 10;
      const target = targets(n, k, 5);
      const [rows, cols] = adapter.weightShapes.main;
      const maps: AdapterMaps = {
        main: linearMap(rows, cols, 7, 0.5),
        position: randomValues(adapter.positions * cols, 8, 0.2),
      };
      const act = await front.model
        .segment(front.model.input.name, frontCut)
        .run({ data: data.images, dims: [n, 1, 28, 28] });
      const gradient = back.model.gradient(backCut);
      const loss = async (m: AdapterMaps): Promise<number> => (await gradient.run(adapter.run(act, m), target)).loss;
      // A good share of the stitch's outputs is clamped: the mask matters.
      const linear = new Adapter(front.model.sampleDims(frontCut), back.model.sampleDims(backCut), { upsample }).run(
        act,
        maps,
      );
      const negative = linear.data.filter((v) => v < 0).length / linear.data.length;
      expect(negative).toBeGreaterThan(0.2);
      expect(negative).toBeLessThan(0.8);

      const lr = 1;
      const settings = refineSettings({ optimizer: 'sgd', epochs: 1, batchSize: n, lr, images: n });
      const job = { front, frontCut, back, backCut, adapter, maps, id: 'rectified' };
      const stepped = (await refineOnTask(job, data, target.data, settings)).maps.main;
      const rate = native.learningRates(1, { schedule: 'cosine', lr, epochs: 1 })[0]!;
      // The gradient of (W, b) from the step, and directions: along it and two random ones.
      const g = Float32Array.from([...maps.main.weight.data, ...maps.main.bias], (v, i) =>
        i < rows * cols ? (v - stepped.weight.data[i]!) / rate : (v - stepped.bias[i - rows * cols]!) / rate,
      );
      const norm = (v: Float32Array): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
      expect(norm(g)).toBeGreaterThan(1e-3);
      const random = seeded(11);
      const directions = [g, Float32Array.from(g, () => random()), Float32Array.from(g, () => random())].map((d) => {
        const length = norm(d);
        return d.map((v) => v / length);
      });
      const shifted = (d: Float32Array, eps: number): AdapterMaps => ({
        main: stitch(
          {
            data: maps.main.weight.data.map((v, i) => v + eps * d[i]!),
            rows,
            cols,
          },
          maps.main.bias.map((v, o) => v + eps * d[rows * cols + o]!),
        ),
        position: maps.position!,
      });
      const eps = 1e-3;
      for (const [j, d] of directions.entries()) {
        const numeric = ((await loss(shifted(d, eps))) - (await loss(shifted(d, -eps)))) / (2 * eps);
        const analytic = g.reduce((s, v, i) => s + v * d[i]!, 0);
        expect(Math.abs(numeric - analytic), `direction ${j}`).toBeLessThan(0.02 * norm(g));
      }
    });
});
