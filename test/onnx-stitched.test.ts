// StitchedModel: identity stitches reproduce the anchor, cross-model stitches run as a chain of
// shared segment sessions, and the fused ONNX export equals the chained run.
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { FrozenModel } from '../lib/onnx/index.js';
import { decodeModel } from '../lib/onnx/proto.js';
import { StitchedModel } from '../lib/stitch/stitched-model.js';
import { Adapter, type AdapterMaps } from '../lib/stitch/adapters/index.js';
import { fixture, identityMap, linearMap, ortRun, randomTensor, relError, zooAnchors, ZOO } from './onnx-helpers.js';

const loaded = new Map<string, Promise<FrozenModel>>();
const model = (path: string): Promise<FrozenModel> => {
  if (!loaded.has(path)) loaded.set(path, FrozenModel.load(path, { threads: 1 }));
  return loaded.get(path)!;
};
afterAll(async () => {
  for (const m of loaded.values()) await (await m).dispose();
});

const pixels = (n: number) => randomTensor([n, 1, 28, 28], 21);

function mapsFor(s: { weightShapes: { main: [number, number]; cls?: [number, number] } }, scale: number): AdapterMaps {
  const maps: AdapterMaps = { main: linearMap(...s.weightShapes.main, 3, scale) };
  if (s.weightShapes.cls) maps.cls = linearMap(...s.weightShapes.cls, 4, scale);
  return maps;
}

describe('identity stitch (A to A at the same cut, W = I) == A', () => {
  for (const [name, cut] of [
    ['cnn-a', '/block1/Relu_1_output_0'],
    ['vit-a', '/blocks/blocks.0/Add_1_output_0'],
  ] as const) {
    it(`${name} at ${cut}, chained and fused`, async () => {
      const a = await model(fixture(name));
      const channels = a.dims(cut)[name.startsWith('cnn') ? 1 : 2] as number;
      const stitched = new StitchedModel({
        front: a,
        frontCut: cut,
        back: a,
        backCut: cut,
        maps: { main: identityMap(channels) },
      });
      const x = pixels(4);
      const reference = await a.run(x);
      expect(relError(await stitched.run(x), reference)).toBeLessThan(1e-5);
      expect(relError(await ortRun(stitched.toOnnx(), x), reference)).toBeLessThan(1e-5);
      expect(stitched.macs).toBe(a.macs() + (name.startsWith('cnn') ? 14 * 14 : 17) * channels * channels);
    });
  }
});

const CROSS: [string, string, string, string, string][] = [
  ['CNN -> CNN, bilinear up', 'cnn-a', '/block2/Relu_1_output_0', 'cnn-b', '/block1/Relu_1_output_0'],
  ['CNN -> Transformer with CLS', 'cnn-a', '/block1/Relu_1_output_0', 'vit-b', '/Add_output_0'],
  ['Transformer -> CNN', 'vit-a', '/blocks/blocks.0/Add_1_output_0', 'cnn-b', '/block2/Add_output_0'],
  ['Transformer -> Transformer', 'vit-a', '/blocks/blocks.0/Add_1_output_0', 'vit-b', '/blocks/blocks.1/Add_output_0'],
];

describe('cross-model stitches: fused export == chained run, sessions shared', () => {
  for (const [label, an, ac, bn, bc] of CROSS) {
    it(label, async () => {
      const a = await model(fixture(an)),
        b = await model(fixture(bn));
      const adapter = new Adapter(a.sampleDims(ac), b.sampleDims(bc));
      const maps = mapsFor(adapter, 0.3);
      const frontCuts = a
        .cutPoints()
        .map((c) => c.name)
        .filter((_, i) => i % 2 === 1);
      const backCuts = b
        .cutPoints()
        .map((c) => c.name)
        .filter((_, i) => i % 2 === 0);
      const stitched = new StitchedModel({ front: a, frontCut: ac, back: b, backCut: bc, maps, frontCuts, backCuts });
      expect(stitched.frontSegments.at(-1)!.to).toBe(ac);
      expect(stitched.backSegments[0]!.from).toBe(bc);
      expect(stitched.frontSegments.length + stitched.backSegments.length).toBeGreaterThan(2);
      const x = pixels(3);
      const chained = await stitched.run(x);
      expect(chained.dims).toEqual([3, 10]);
      // the chain by hand: A's prefix, the adapter, B's suffix, each as its own extracted model
      const manual = await ortRun(b.extract(bc), adapter.run(await ortRun(a.extract(undefined, ac), x), maps));
      expect(relError(chained, manual)).toBeLessThan(1e-5);
      const fused = stitched.toOnnx();
      const err = relError(await ortRun(fused, x), chained);
      console.log(`${label}: fused vs chained max rel error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(1e-4);
      const proto = decodeModel(fused, 'fused');
      expect(proto.graph!.input.map((i) => i.name)).toEqual(['pixels']);
      expect(proto.graph!.output.map((o) => o.name)).toEqual(['logits']);
      expect(
        proto.graph!.initializer.filter((t) => t.name!.startsWith('stitch/weight') && t.data_type === 1).length,
      ).toBe(maps.cls ? 4 : 2);
      // a second configuration on the same anchors builds no new sessions for shared segments
      const sessions = a.sessionCount + b.sessionCount;
      const again = new StitchedModel({
        front: a,
        frontCut: ac,
        back: b,
        backCut: bc,
        maps: mapsFor(adapter, 0.1),
        frontCuts,
        backCuts,
      });
      await again.run(x);
      expect(a.sessionCount + b.sessionCount).toBe(sessions);
      expect(again.frontSegments[0]).toBe(stitched.frontSegments[0]);
    });
  }
});

describe('zoo anchors', () => {
  for (const anchor of zooAnchors()) {
    it(`${anchor}: identity stitch at every second cut == anchor; fused == chained`, async () => {
      const a = await model(join(ZOO, `${anchor}.onnx`));
      const x = randomTensor(
        a.input.shape.map((d) => (typeof d === 'number' ? d : 4)),
        5,
      );
      const reference = await a.run(x);
      const cuts = a
        .cutPoints()
        .slice(1, -1)
        .filter((c) => c.shape.length === 4 || c.shape.length === 3);
      let worst = 0;
      for (const cut of cuts.filter((_, i) => i % 2 === 0)) {
        const width = cut.shape.length === 4 ? (cut.shape[1] as number) : (cut.shape[2] as number);
        const stitched = new StitchedModel({
          front: a,
          frontCut: cut.name,
          back: a,
          backCut: cut.name,
          maps: { main: identityMap(width) },
        });
        worst = Math.max(
          worst,
          relError(await stitched.run(x), reference),
          relError(await ortRun(stitched.toOnnx(), x), reference),
        );
      }
      console.log(
        `${anchor}: identity stitches at ${Math.ceil(cuts.length / 2)} cuts, max rel error ${worst.toExponential(2)}`,
      );
      expect(worst).toBeLessThan(1e-5);
    }, 300_000);
  }
});

describe('errors', () => {
  it('names the argument', async () => {
    const a = await model(fixture('cnn-a'));
    const cut = '/block1/Relu_1_output_0';
    expect(
      () => new StitchedModel({ front: a, frontCut: 'nope', back: a, backCut: cut, maps: { main: identityMap(8) } }),
    ).toThrow(/frontCut: 'nope' is not a cut point/);
    expect(
      () => new StitchedModel({ front: a, frontCut: 'pixels', back: a, backCut: cut, maps: { main: identityMap(8) } }),
    ).toThrow(/frontCut: expected a cut after the input/);
    expect(
      () => new StitchedModel({ front: a, frontCut: cut, back: a, backCut: 'logits', maps: { main: identityMap(8) } }),
    ).toThrow(/backCut: expected a cut before the output/);
    expect(
      () => new StitchedModel({ front: a, frontCut: cut, back: a, backCut: cut, maps: { main: identityMap(4) } }),
    ).toThrow(/maps.main: expected a 8 x 8 weight/);
    expect(
      () =>
        new StitchedModel({
          front: a,
          frontCut: cut,
          back: a,
          backCut: '/Reshape_output_0',
          maps: { main: identityMap(8) },
        }),
    ).toThrow(/back: expected per-sample dims/);
  });
});
