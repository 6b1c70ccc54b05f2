// The production path: activations captured by onnxruntime -> adapter pairs -> native fitStitch
// -> StitchedModel (native stitch between shared segment sessions) and its fused export.
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import type { Tensor } from '../lib/matrix.js';
import { loadZooManifest, loadZooSplit } from '../lib/data/index.js';
import { FrozenModel } from '../lib/onnx/index.js';
import { fitStitch } from '../lib/stitch/index.js';
import { Adapter, type AdapterMaps } from '../lib/stitch/adapters/index.js';
import { StitchedModel } from '../lib/stitch/stitched-model.js';
import { fixture, ortRun, relError, zooAnchors, ZOO } from './onnx-helpers.js';

const calibration = loadZooSplit('calibration');
const images = (from: number, n: number): Tensor => ({
  data: calibration.images.slice(from * 784, (from + n) * 784),
  dims: [n, 1, 28, 28],
});

const models: FrozenModel[] = [];
afterAll(async () => {
  await Promise.all(models.map((m) => m.dispose()));
});
async function load(path: string): Promise<FrozenModel> {
  const m = await FrozenModel.load(path, { threads: 1 });
  models.push(m);
  return m;
}

function argmax(t: Tensor, i: number): number {
  const k = t.dims[1]!;
  const row = Array.from(t.data.subarray(i * k, (i + 1) * k));
  return row.indexOf(Math.max(...row));
}

async function fittedMaps(
  front: FrozenModel,
  frontCut: string,
  back: FrozenModel,
  backCut: string,
  x: Tensor,
): Promise<{ adapter: Adapter; maps: AdapterMaps }> {
  const adapter = new Adapter(front.sampleDims(frontCut), back.sampleDims(backCut));
  const f = (await front.capture(x, [frontCut]))[frontCut]!;
  const b = (await back.capture(x, [backCut]))[backCut]!;
  const pairs = adapter.pairs(f, b);
  const maps: AdapterMaps = { main: fitStitch(pairs.main.x, pairs.main.y, { ridge: 1e-6 }) };
  if (pairs.cls) maps.cls = fitStitch(pairs.cls.x, pairs.cls.y, { ridge: 1e-6 });
  return { adapter, maps };
}

describe('fitted stitches', () => {
  it('A to A at the same cut: the least-squares stitch reproduces A', async () => {
    const a = await load(fixture('cnn-a'));
    const cut = '/block1/Relu_1_output_0';
    const x = images(0, 64);
    const { maps } = await fittedMaps(a, cut, a, cut, x);
    const stitched = new StitchedModel({ front: a, frontCut: cut, back: a, backCut: cut, maps });
    expect(relError(await stitched.run(x), await a.run(x))).toBeLessThan(1e-4);
  });

  it('CNN -> Transformer with CLS: fitted main and CLS maps; fused export == chained run', async () => {
    const a = await load(fixture('cnn-a')),
      b = await load(fixture('vit-b'));
    const x = images(100, 48);
    const { adapter, maps } = await fittedMaps(a, '/block2/Relu_1_output_0', b, '/Add_output_0', x);
    expect(adapter.kind).toBe('cnn-vit');
    expect(maps.cls!.weight).toMatchObject({ rows: 16, cols: 8 });
    const stitched = new StitchedModel({
      front: a,
      frontCut: '/block2/Relu_1_output_0',
      back: b,
      backCut: '/Add_output_0',
      maps,
    });
    const y = images(300, 16);
    expect(relError(await ortRun(stitched.toOnnx(), y), await stitched.run(y))).toBeLessThan(1e-4);
  });

  for (const anchor of zooAnchors()) {
    it(`zoo ${anchor}: a stitch fitted from the anchor to itself at every block keeps the predictions`, async () => {
      const a = await load(join(ZOO, `${anchor}.onnx`));
      const fit = images(0, 200),
        check = images(1000, 100);
      const reference = await a.run(check);
      for (const block of loadZooManifest().anchors.find((e) => e.name === anchor)!.blocks) {
        const { maps } = await fittedMaps(a, block.tensor, a, block.tensor, fit);
        const out = await new StitchedModel({
          front: a,
          frontCut: block.tensor,
          back: a,
          backCut: block.tensor,
          maps,
        }).run(check);
        let same = 0;
        for (let i = 0; i < 100; i++) if (argmax(out, i) === argmax(reference, i)) same++;
        console.log(
          `${anchor} ${block.name}: agreement ${same}/100, max rel error ${relError(out, reference).toExponential(2)}`,
        );
        expect(same).toBeGreaterThanOrEqual(99);
      }
    }, 300_000);
  }
});
