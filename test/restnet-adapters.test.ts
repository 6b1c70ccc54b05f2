// The space-to-depth grid shrink that ReStNet plans use by default for a CNN front: the native
// chain (JS permutation + native map) equals the fused ONNX export (onnxruntime's SpaceToDepth),
// the map's input width is C f^2, and non-integer factors fall back to average pooling.
import { afterAll, describe, expect, it } from 'vitest';

import { FrozenModel } from '../lib/onnx/index.js';
import { decodeModel } from '../lib/onnx/proto.js';
import { Adapter, type AdapterMaps } from '../lib/stitch/adapters/index.js';
import { depthToSpace, spaceToDepth } from '../lib/stitch/adapters/layout.js';
import { StitchedModel } from '../lib/stitch/stitched-model.js';
import { fixture, linearMap, ortRun, randomTensor, randomValues, relError } from './onnx-helpers.js';

const models: FrozenModel[] = [];
afterAll(async () => {
  for (const m of models) await m.dispose();
});
async function load(name: string): Promise<FrozenModel> {
  const m = await FrozenModel.load(fixture(name), { threads: 1 });
  models.push(m);
  return m;
}

describe('spaceToDepth', () => {
  it('puts pixel (y f + bh, x f + bw) of channel c at channel (bh f + bw) C + c', () => {
    const t = randomTensor([2, 3, 4, 6], 9);
    const s = spaceToDepth(t, 2);
    expect(s.dims).toEqual([2, 12, 2, 3]);
    for (let n = 0; n < 2; n++)
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < 4; y++)
          for (let x = 0; x < 6; x++) {
            const out = ((n * 12 + ((y % 2) * 2 + (x % 2)) * 3 + c) * 2 + Math.floor(y / 2)) * 3 + Math.floor(x / 2);
            expect(s.data[out]).toBe(t.data[((n * 3 + c) * 4 + y) * 6 + x]);
          }
    expect(() => spaceToDepth(t, 4)).toThrow(/divisible/);
    expect(depthToSpace(s, 2)).toEqual(t);
  });

  it('adapter widths: C f^2 with space-to-depth, C with average pooling or a non-integer factor', () => {
    expect(new Adapter([8, 28, 28], [4, 14, 14], { downsample: 'space-to-depth' }).weightShapes.main).toEqual([32, 4]);
    expect(new Adapter([8, 28, 28], [4, 14, 14]).weightShapes.main).toEqual([8, 4]);
    expect(new Adapter([8, 14, 14], [17, 8], { downsample: 'space-to-depth' }).weightShapes).toEqual({
      main: [8, 8],
      cls: [8, 8],
    });
    expect(new Adapter([8, 28, 28], [17, 8], { downsample: 'space-to-depth' }).weightShapes).toEqual({
      main: [392, 8],
      cls: [8, 8],
    });
    expect(() => new Adapter([8, 28, 28], [4, 14, 14], { downsample: 'nearest' as never })).toThrow(
      /options.downsample/,
    );
    // Depth-to-space: the map runs on the front's grid and writes C f^2 values per cell.
    const up = new Adapter([17, 16], [4, 28, 28], { upsample: 'depth-to-space' });
    expect([up.upBlock, up.grid, up.weightShapes.main, up.positions]).toEqual([7, [4, 4], [16, 196], 16]);
    expect(new Adapter([17, 16], [4, 28, 28]).weightShapes.main).toEqual([16, 4]);
  });
});

describe('space-to-depth, depth-to-space, CLS maps and per-position offsets: chained run == fused ONNX', () => {
  const cases = [
    ['cnn-a', '/Relu_output_0', 'cnn-b', '/block1/Relu_1_output_0'],
    ['cnn-a', '/Relu_output_0', 'vit-b', '/Add_output_0'],
    ['vit-a', '/blocks/blocks.0/Add_1_output_0', 'vit-b', '/blocks/blocks.0/Add_1_output_0'],
    ['vit-a', '/blocks/blocks.0/Add_1_output_0', 'cnn-b', '/block1/Relu_1_output_0'],
    ['vit-a', '/blocks/blocks.0/Add_1_output_0', 'cnn-b', '/Relu_output_0'],
    ['cnn-a', '/block1/Relu_1_output_0', 'cnn-b', '/Relu_output_0'],
  ] as const;
  for (const [f, fc, b, bc] of cases)
    for (const kernel of [1, 3]) {
      const layout = { downsample: 'space-to-depth', upsample: 'depth-to-space', clsMap: true, kernel } as const;
      it(`${f}:${fc} -> ${b}:${bc}, kernel ${kernel}`, async () => {
        const front = await load(f),
          back = await load(b);
        const adapter = new Adapter(front.sampleDims(fc), back.sampleDims(bc), layout);
        const [fd, bd] = [front.sampleDims(fc), back.sampleDims(bc)];
        if (fd.length === 3 && fd[1]! > bd[1]!) expect(adapter.block).toBe(fd[1]! / adapter.grid[0]);
        if (bc === '/Relu_output_0') expect(adapter.upBlock).toBe(f === 'vit-a' ? 7 : 2);
        if (f === 'vit-a' && b === 'vit-b')
          expect([adapter.splitCls, adapter.positions, adapter.weightShapes]).toEqual([
            true,
            16,
            { main: [16, 8], cls: [16, 8] },
          ]);
        const maps: AdapterMaps = { main: linearMap(...adapter.weightShapes.main, 5, 0.3) };
        if (adapter.weightShapes.cls) maps.cls = linearMap(...adapter.weightShapes.cls, 6, 0.3);
        const outputs = adapter.weightShapes.main[1];
        maps.position = randomValues(adapter.positions * outputs, 7);
        expect(() => adapter.checkMaps({ ...maps, position: new Float32Array(3) })).toThrow(
          /maps.position: expected a Float32Array of/,
        );
        const net = new StitchedModel({ front, frontCut: fc, back, backCut: bc, maps, adapter: layout });
        const x = randomTensor([3, 1, 28, 28], 4);
        const chained = await net.run(x);
        expect(relError(await ortRun(net.toOnnx(), x), chained)).toBeLessThan(1e-4);
        // The offset is really applied: without it the output differs.
        const without = new StitchedModel({
          front,
          frontCut: fc,
          back,
          backCut: bc,
          maps: { ...maps, position: undefined },
          adapter: layout,
        });
        expect(relError(await without.run(x), chained)).toBeGreaterThan(1e-3);
      });
    }

  // The CNN backs above, with the stitch ending in a ReLU (their cuts are Relu outputs).
  for (const [f, fc, b, bc] of cases.filter(([, , b, bc]) => b === 'cnn-b' && bc.includes('Relu')))
    for (const kernel of [1, 3]) {
      const linear = { downsample: 'space-to-depth', upsample: 'depth-to-space', kernel } as const;
      const layout = { ...linear, rectify: true };
      it(`rectified ${f}:${fc} -> ${b}:${bc}, kernel ${kernel}: max(linear run, 0); fused ONNX == chained`, async () => {
        const front = await load(f),
          back = await load(b);
        expect(back.cutPoints().find((c) => c.name === bc)!.rectified).toBe(true);
        const adapter = new Adapter(front.sampleDims(fc), back.sampleDims(bc), layout);
        const plain = new Adapter(front.sampleDims(fc), back.sampleDims(bc), linear);
        expect([adapter.rectify, plain.rectify]).toEqual([true, false]);
        const maps: AdapterMaps = { main: linearMap(...adapter.weightShapes.main, 5, 0.3) };
        maps.position = randomValues(adapter.positions * adapter.weightShapes.main[1], 7);
        const x = randomTensor([3, 1, 28, 28], 4);
        const act = await front.segment(front.input.name, fc).run(x);
        const before = plain.run(act, maps);
        const negative = before.data.filter((v) => v < 0).length;
        // Both signs occur, so the ReLU is really exercised.
        expect(negative).toBeGreaterThan(before.data.length / 10);
        expect(negative).toBeLessThan(before.data.length * 0.9);
        expect(adapter.run(act, maps)).toEqual({ data: before.data.map((v) => Math.max(v, 0)), dims: before.dims });
        const net = new StitchedModel({ front, frontCut: fc, back, backCut: bc, maps, adapter: layout });
        const chained = await net.run(x);
        const fused = net.toOnnx();
        expect(relError(await ortRun(fused, x), chained)).toBeLessThan(1e-4);
        const relus = (bytes: Uint8Array): number =>
          decodeModel(bytes, 'fused').graph!.node.filter((n) => n.op_type === 'Relu').length;
        const linearNet = new StitchedModel({ front, frontCut: fc, back, backCut: bc, maps, adapter: linear });
        expect(relus(fused)).toBe(relus(linearNet.toOnnx()) + 1);
        expect(relError(await linearNet.run(x), chained)).toBeGreaterThan(1e-3);
      });
    }
});
