// Activation layouts, grid resampling and the four shape adapters: native results against
// direct f64 references written here, and each adapter's ONNX form (run by onnxruntime)
// against its native form.
import { describe, expect, it } from 'vitest';

import type { Tensor } from '../lib/matrix.js';
import { DataType, encodeModel, valueInfo } from '../lib/onnx/proto.js';
import { Adapter, adapterToOnnx, resampleGrid, type AdapterMaps } from '../lib/stitch/adapters/index.js';
import { neighbourhoodRows, positionRows, rowsToGrid, sampleRows } from '../lib/stitch/adapters/layout.js';
import { fitStitch, type Stitch } from '../lib/stitch/index.js';
import { linearMap, ortRun, randomTensor, randomValues, relError } from './onnx-helpers.js';

const at4 = (t: Tensor, n: number, c: number, y: number, x: number): number =>
  t.data[((n * t.dims[1]! + c) * t.dims[2]! + y) * t.dims[3]! + x]!;

/** Weights of input i for output o along one axis: block average down, half-pixel linear up. */
function axisWeight(inLen: number, outLen: number, o: number, i: number): number {
  if (inLen === outLen) return o === i ? 1 : 0;
  if (outLen < inLen) {
    // adaptive average pooling (PyTorch adaptive_avg_pool2d)
    const begin = Math.floor((o * inLen) / outLen),
      end = Math.ceil(((o + 1) * inLen) / outLen);
    return i >= begin && i < end ? 1 / (end - begin) : 0;
  }
  const src = Math.min(Math.max((o + 0.5) * (inLen / outLen) - 0.5, 0), inLen - 1);
  return Math.max(0, 1 - Math.abs(src - i));
}

function refResample(t: Tensor, oh: number, ow: number): Tensor {
  const [n, c, h, w] = t.dims as [number, number, number, number];
  const out = new Float32Array(n * c * oh * ow);
  for (let a = 0; a < n; a++)
    for (let ch = 0; ch < c; ch++)
      for (let y = 0; y < oh; y++)
        for (let x = 0; x < ow; x++) {
          let s = 0;
          for (let i = 0; i < h; i++)
            for (let j = 0; j < w; j++) s += axisWeight(h, oh, y, i) * axisWeight(w, ow, x, j) * at4(t, a, ch, i, j);
          out[((a * c + ch) * oh + y) * ow + x] = s;
        }
  return { data: out, dims: [n, c, oh, ow] };
}

/** Tokens [N, T, D] (dropping `skip` leading tokens) -> [N, D, side, side]. */
function refTokensToGrid(t: Tensor, skip: number): Tensor {
  const [n, tokens, d] = t.dims as [number, number, number];
  const side = Math.sqrt(tokens - skip);
  const out = new Float32Array(n * d * side * side);
  for (let a = 0; a < n; a++)
    for (let p = 0; p < side * side; p++)
      for (let k = 0; k < d; k++) out[(a * d + k) * side * side + p] = t.data[(a * tokens + skip + p) * d + k]!;
  return { data: out, dims: [n, d, side, side] };
}

/** b + sum_k W[k, j] v[k] */
function mapVector(map: Stitch, v: number[]): number[] {
  const { cols, data } = map.weight;
  return Array.from({ length: cols }, (_, j) => v.reduce((s, x, k) => s + x * data[k * cols + j]!, map.bias[j]!));
}

/** The expected adapter output, built from the definitions (not from the library's layouts). */
function refAdapter(front: Tensor, back: number[], maps: { main: Stitch; cls?: Stitch }, frontCls: boolean): Tensor {
  const n = front.dims[0]!;
  let grid = front.dims.length === 4 ? front : refTokensToGrid(front, frontCls ? 1 : 0);
  if (front.dims.length === 3 && back.length === 2) {
    // token by token
    const [tokens, d] = [front.dims[1]!, front.dims[2]!];
    const out: number[] = [];
    for (let i = 0; i < n * tokens; i++)
      out.push(...mapVector(maps.main, Array.from(front.data.subarray(i * d, (i + 1) * d))));
    return { data: Float32Array.from(out), dims: [n, tokens, back[1]!] };
  }
  const [gh, gw] =
    back.length === 3
      ? [back[1]!, back[2]!]
      : [Math.sqrt(back[0]! - (maps.cls ? 1 : 0)), Math.sqrt(back[0]! - (maps.cls ? 1 : 0))];
  grid = refResample(grid, gh!, gw!);
  const c = grid.dims[1]!;
  const pixel = (a: number, y: number, x: number): number[] =>
    Array.from({ length: c }, (_, k) => at4(grid, a, k, y, x));
  if (back.length === 3) {
    const cb = back[0]!;
    const out = new Float32Array(n * cb * gh! * gw!);
    for (let a = 0; a < n; a++)
      for (let y = 0; y < gh!; y++)
        for (let x = 0; x < gw!; x++)
          mapVector(maps.main, pixel(a, y, x)).forEach((v, k) => (out[((a * cb + k) * gh! + y) * gw! + x] = v));
    return { data: out, dims: [n, cb, gh!, gw!] };
  }
  const out: number[] = [];
  for (let a = 0; a < n; a++) {
    if (maps.cls) {
      const [, , h, w] = front.dims as [number, number, number, number];
      const mean = Array.from({ length: front.dims[1]! }, (_, k) => {
        let s = 0;
        for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) s += at4(front, a, k, y, x);
        return s / (h * w);
      });
      out.push(...mapVector(maps.cls, mean));
    }
    for (let y = 0; y < gh!; y++) for (let x = 0; x < gw!; x++) out.push(...mapVector(maps.main, pixel(a, y, x)));
  }
  return { data: Float32Array.from(out), dims: [n, back[0]!, back[1]!] };
}

async function runOnnx(
  adapter: Adapter,
  maps: { main: Stitch; cls?: Stitch },
  front: Tensor,
  opset: number,
): Promise<Tensor> {
  const fragment = adapterToOnnx(adapter, maps, { input: 'front', output: 'adapted', prefix: 'stitch/', opset });
  const bytes = encodeModel({
    ir_version: 8,
    opset_import: [{ domain: '', version: opset }],
    graph: {
      name: 'adapter',
      node: fragment.nodes,
      initializer: fragment.initializers,
      input: [valueInfo('front', DataType.FLOAT, ['N', ...front.dims.slice(1)])],
      output: [valueInfo('adapted', DataType.FLOAT)],
      value_info: [],
    },
  });
  return ortRun(bytes, front);
}

describe('layouts and resampling (native) against direct references', () => {
  it('NCHW <-> per-position rows, and rows with a CLS row skipped', () => {
    const t = randomTensor([3, 5, 4, 6], 1);
    const rows = positionRows(t);
    expect([rows.rows, rows.cols]).toEqual([3 * 24, 5]);
    for (let a = 0; a < 3; a++)
      for (let c = 0; c < 5; c++)
        for (let p = 0; p < 24; p++) expect(rows.data[(a * 24 + p) * 5 + c]).toBe(t.data[(a * 5 + c) * 24 + p]);
    expect(rowsToGrid(rows, 3, 4, 6).data).toEqual(t.data);
    const tokens = randomTensor([2, 17, 6], 2);
    const grid = rowsToGrid(positionRows(tokens), 2, 4, 4, 1);
    expect(grid.data).toEqual(refTokensToGrid(tokens, 1).data);
    expect(positionRows(tokens).data).toBe(tokens.data);
  });

  it('per-sample rows for CKA: flatten, mean, cls', () => {
    const t = randomTensor([2, 3, 4], 3);
    expect(sampleRows(t, 'flatten')).toMatchObject({ rows: 2, cols: 12 });
    expect(sampleRows(t, 'cls').data).toEqual(
      Float32Array.from([...t.data.subarray(0, 4), ...t.data.subarray(12, 16)]),
    );
    const m = sampleRows(t, 'mean');
    expect(m.data[1]).toBeCloseTo((t.data[1]! + t.data[5]! + t.data[9]!) / 3, 6);
    expect(() => sampleRows(randomTensor([2, 3], 1), 'mean')).toThrow(/mean pooling expects/);
    expect(() => sampleRows(t, 'max' as never)).toThrow(
      new RangeError(`pooling: expected 'flatten', 'mean' or 'cls', got "max"`),
    );
    expect(() => sampleRows(t, 1 as never)).toThrow(
      new TypeError(`pooling: expected 'flatten', 'mean' or 'cls', got 1`),
    );
  });

  it('average pooling down (adaptive for non-integer factors), bilinear (half-pixel) up, mixed axes', () => {
    for (const [h, w, oh, ow] of [
      [8, 8, 4, 4],
      [8, 6, 2, 3],
      [7, 7, 4, 4],
      [14, 5, 4, 3],
      [3, 5, 7, 9],
      [6, 4, 3, 10],
      [1, 1, 4, 4],
      [4, 4, 4, 4],
    ] as const) {
      const t = randomTensor([2, 3, h, w], h * 10 + w);
      const got = resampleGrid(t, oh, ow);
      expect(got.dims).toEqual([2, 3, oh, ow]);
      expect(relError(got, refResample(t, oh, ow)), `${h}x${w} -> ${oh}x${ow}`).toBeLessThan(1e-6);
    }
  });

  it('errors name the argument, expected and actual', () => {
    const t = randomTensor([1, 2, 6, 6], 1);
    expect(() => resampleGrid(t, 0, 4)).toThrow(/outH: expected a positive integer/);
    expect(() => resampleGrid({ data: new Float32Array(5), dims: [1, 1, 2, 2] }, 1, 1)).toThrow(
      /activation: dims \[1, 1, 2, 2\] hold 4 elements, but data has 5/,
    );
    expect(() => positionRows({ data: new Float32Array(4), dims: [4] })).toThrow(
      /expected \[N, C, H, W\] or \[N, T, D\]/,
    );
    expect(() => rowsToGrid({ data: new Float32Array(10), rows: 5, cols: 2 }, 1, 2, 2)).toThrow(
      /rows: expected N x \(skip \+ H\*W\) x C/,
    );
  });
});

const CASES: { label: string; front: number[]; back: number[]; frontCls: boolean }[] = [
  { label: 'CNN -> CNN, pooled grid', front: [3, 8, 8], back: [5, 4, 4], frontCls: false },
  { label: 'CNN -> CNN, bilinear grid', front: [3, 3, 3], back: [5, 7, 7], frontCls: false },
  { label: 'CNN -> CNN, mixed axes', front: [3, 8, 4], back: [2, 4, 6], frontCls: false },
  { label: 'CNN -> CNN, adaptive pooling (7 -> 4)', front: [3, 7, 14], back: [2, 4, 4], frontCls: false },
  { label: 'CNN -> Transformer, adaptive pooling (7 -> 4)', front: [3, 7, 7], back: [17, 4], frontCls: false },
  { label: 'Transformer -> Transformer, CLS included', front: [17, 6], back: [17, 4], frontCls: true },
  { label: 'CNN -> Transformer with CLS', front: [3, 8, 8], back: [17, 4], frontCls: false },
  { label: 'CNN -> Transformer with CLS, bilinear', front: [3, 2, 2], back: [10, 4], frontCls: false },
  { label: 'CNN -> Transformer without CLS', front: [3, 8, 8], back: [16, 4], frontCls: false },
  { label: 'Transformer -> CNN, drop CLS, bilinear', front: [17, 6], back: [5, 8, 8], frontCls: true },
  { label: 'Transformer -> CNN, no CLS, pooled', front: [16, 6], back: [5, 2, 2], frontCls: false },
];

describe('adapters: native run against the definition, ONNX form against native', () => {
  for (const c of CASES) {
    it(c.label, async () => {
      const adapter = new Adapter(c.front, c.back);
      const shapes = adapter.weightShapes;
      const maps: { main: Stitch; cls?: Stitch } = { main: linearMap(shapes.main[0], shapes.main[1], 7) };
      if (shapes.cls) maps.cls = linearMap(shapes.cls[0], shapes.cls[1], 9);
      const front = randomTensor([3, ...c.front], 5);
      const out = adapter.run(front, maps);
      expect(out.dims).toEqual([3, ...c.back]);
      expect(relError(out, refAdapter(front, c.back, maps, c.frontCls))).toBeLessThan(1e-5);
      // the fit data: rows on the back's positions
      const back = randomTensor([3, ...c.back], 6);
      const pairs = adapter.pairs(front, back);
      expect(pairs.main.x.rows).toBe(pairs.main.y.rows);
      expect([pairs.main.x.cols, pairs.main.y.cols]).toEqual(shapes.main);
      expect(pairs.cls ? [pairs.cls.x.rows, pairs.cls.x.cols, pairs.cls.y.cols] : undefined).toEqual(
        shapes.cls ? [3, ...shapes.cls] : undefined,
      );
      for (const opset of [13, 18])
        expect(relError(await runOnnx(adapter, maps, front, opset), out), `opset ${opset}`).toBeLessThan(1e-5);
    });
  }

  it('identity stitch on identical shapes returns the activation', () => {
    const adapter = new Adapter([4, 5, 5], [4, 5, 5]);
    const identity: Stitch = {
      weight: { data: new Float32Array(16), rows: 4, cols: 4 },
      bias: new Float32Array(4),
      apply: (x) => x,
    };
    for (let i = 0; i < 4; i++) identity.weight.data[i * 5] = 1;
    const front = randomTensor([2, 4, 5, 5], 3);
    expect(adapter.run(front, { main: identity }).data).toEqual(front.data);
  });

  it('rejects mismatched shapes and maps, naming them', () => {
    expect(() => new Adapter([17, 6], [10, 6])).toThrow(
      /back: a Transformer -> Transformer adapter .* needs 17 tokens/,
    );
    expect(() => new Adapter([15, 6], [3, 4, 4])).toThrow(/front: expected a square number of tokens, got 15/);
    expect(() => new Adapter([2, 3, 4, 5], [3, 4, 4])).toThrow(/front: expected per-sample dims/);
    const a = new Adapter([3, 8, 8], [17, 4]);
    const main = linearMap(3, 4, 1);
    expect(() => a.run(randomTensor([2, 3, 8, 8], 1), { main })).toThrow(/maps.cls: expected a stitch/);
    expect(() => a.run(randomTensor([2, 3, 8, 8], 1), { main: linearMap(3, 5, 1), cls: main })).toThrow(
      /maps.main: expected a 3 x 4 weight and 4 biases, got 3 x 5 and 5/,
    );
    expect(() => a.run(randomTensor([2, 3, 4, 4], 1), { main, cls: main })).toThrow(
      /front: expected dims \[N, 3, 8, 8\], got \[2, 3, 4, 4\]/,
    );
    expect(() => a.pairs(randomTensor([2, 3, 8, 8], 1), randomTensor([3, 17, 4], 1))).toThrow(
      /back: expected the same batch as front \(2\), got 3/,
    );
  });
});

/**
 * Conv2d from its definition, in f64: x [N, C, H, W], weight [M, C, k, k] (ONNX order) read
 * through `w(m, c, ky, kx)`, zero padding; out[n, m, y, x] = b[m] + sum w x[c, y s + ky - p, x s + kx - p].
 */
function refConv(
  x: Tensor,
  w: (m: number, c: number, ky: number, kx: number) => number,
  bias: ArrayLike<number>,
  k: number,
  stride: number,
  pad: number,
): Tensor {
  const [n, c, h, wd] = x.dims as [number, number, number, number];
  const m = bias.length;
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1,
    ow = Math.floor((wd + 2 * pad - k) / stride) + 1;
  const out = new Float32Array(n * m * oh * ow);
  for (let a = 0; a < n; a++)
    for (let o = 0; o < m; o++)
      for (let y = 0; y < oh; y++)
        for (let xo = 0; xo < ow; xo++) {
          let s = bias[o]!;
          for (let ch = 0; ch < c; ch++)
            for (let ky = 0; ky < k; ky++)
              for (let kx = 0; kx < k; kx++) {
                const iy = y * stride + ky - pad,
                  ix = xo * stride + kx - pad;
                if (iy >= 0 && iy < h && ix >= 0 && ix < wd) s += w(o, ch, ky, kx) * at4(x, a, ch, iy, ix);
              }
          out[((a * m + o) * oh + y) * ow + xo] = s;
        }
  return { data: out, dims: [n, m, oh, ow] };
}

/** A map's weight (rows (c k + ky) k + kx, one column per output) read as a conv weight [M, C, k, k]. */
const convWeight =
  (map: Stitch, k: number) =>
  (m: number, c: number, ky: number, kx: number): number =>
    map.weight.data[((c * k + ky) * k + kx) * map.weight.cols + m]!;

describe('convolutional stitches (kernel k): im2col rows, the adapter and its Conv against conv2d from the definition', () => {
  it('neighbourhoodRows is im2col: rows times a weight == conv2d (stride, padding, non-square grids)', () => {
    for (const [c, h, w, k, stride, pad] of [
      [3, 6, 6, 3, 1, 1],
      [2, 5, 7, 3, 1, 1],
      [3, 8, 8, 4, 2, 1],
      [2, 8, 8, 6, 4, 1],
      [2, 4, 4, 5, 1, 2],
      [1, 3, 3, 1, 1, 0],
    ] as const) {
      const x = randomTensor([2, c, h, w], h * 7 + k);
      const rows = neighbourhoodRows(x, k, stride, pad);
      const oh = Math.floor((h + 2 * pad - k) / stride) + 1,
        ow = Math.floor((w + 2 * pad - k) / stride) + 1;
      expect([rows.rows, rows.cols]).toEqual([2 * oh * ow, c * k * k]);
      const map = linearMap(c * k * k, 4, k + stride);
      const conv = refConv(x, convWeight(map, k), map.bias, k, stride, pad);
      // rows W + b, laid out as [N, M, oh, ow], against conv2d computed in f64.
      expect(
        relError(rowsToGrid(map.apply(rows), 2, oh, ow), conv),
        `${c}x${h}x${w} k${k} s${stride} p${pad}`,
      ).toBeLessThan(1e-5);
    }
    expect(() => neighbourhoodRows(randomTensor([1, 2, 4, 4], 1), 3, 1, 3)).toThrow(/padding < k/);
    expect(() => neighbourhoodRows(randomTensor([1, 2, 2, 2], 1), 5, 1, 1)).toThrow(
      /k <= side \+ 2 padding, got side 2/,
    );
  });

  it('input widths: C k^2 on the map grid, C (f + k - 1)^2 under space-to-depth by f; a Transformer front ignores it', () => {
    expect(new Adapter([8, 6, 6], [4, 6, 6], { kernel: 3 }).weightShapes.main).toEqual([72, 4]);
    expect(new Adapter([8, 8, 8], [4, 4, 4], { kernel: 3 }).weightShapes.main).toEqual([72, 4]);
    const s2d = new Adapter([8, 8, 8], [4, 4, 4], { kernel: 3, downsample: 'space-to-depth' });
    expect([s2d.weightShapes.main, s2d.neighbourhood]).toEqual([[128, 4], { size: 4, stride: 2, pad: 1 }]);
    const token = new Adapter([8, 28, 28], [17, 8], { kernel: 3, downsample: 'space-to-depth' });
    expect(token.weightShapes).toEqual({ main: [8 * 81, 8], cls: [8, 8] });
    const vit = new Adapter([17, 6], [5, 4, 4], { kernel: 3 });
    expect([vit.kernel, vit.neighbourhood, vit.weightShapes.main]).toEqual([1, undefined, [6, 5]]);
    for (const kernel of [0, 2, 1.5, -1])
      expect(() => new Adapter([8, 6, 6], [4, 6, 6], { kernel })).toThrow(
        /options.kernel: expected an odd integer >= 1/,
      );
  });

  const KERNEL_CASES: { label: string; front: number[]; back: number[]; kernel: number; s2d?: boolean }[] = [
    { label: 'CNN -> CNN, same grid, 3 x 3', front: [3, 6, 6], back: [4, 6, 6], kernel: 3 },
    { label: 'CNN -> CNN, pooled first, then 3 x 3', front: [3, 8, 8], back: [5, 4, 4], kernel: 3 },
    { label: 'CNN -> CNN, adaptive pooling (7 -> 4), then 3 x 3', front: [3, 7, 14], back: [2, 4, 4], kernel: 3 },
    { label: 'CNN -> CNN, bilinear first, then 5 x 5', front: [3, 3, 3], back: [5, 7, 7], kernel: 5 },
    {
      label: 'CNN -> CNN, space-to-depth by 2: 4 x 4 stride 2',
      front: [3, 8, 8],
      back: [5, 4, 4],
      kernel: 3,
      s2d: true,
    },
    {
      label: 'CNN -> CNN, space-to-depth by 4: 6 x 6 stride 4',
      front: [2, 8, 8],
      back: [3, 2, 2],
      kernel: 3,
      s2d: true,
    },
    { label: 'CNN -> Transformer with CLS, space-to-depth', front: [3, 8, 8], back: [17, 4], kernel: 3, s2d: true },
    { label: 'CNN -> Transformer without CLS, pooled', front: [3, 8, 8], back: [16, 4], kernel: 3 },
  ];

  for (const c of KERNEL_CASES) {
    it(`${c.label}: native == conv2d reference, fused ONNX == native`, async () => {
      const adapter = new Adapter(c.front, c.back, {
        kernel: c.kernel,
        downsample: c.s2d ? 'space-to-depth' : 'average',
      });
      const shapes = adapter.weightShapes;
      const maps: AdapterMaps = { main: linearMap(shapes.main[0], shapes.main[1], 7, 0.3) };
      if (shapes.cls) maps.cls = linearMap(shapes.cls[0], shapes.cls[1], 9);
      maps.position = randomValues(adapter.positions * shapes.main[1], 11);
      const front = randomTensor([2, ...c.front], 5);
      const out = adapter.run(front, maps);
      expect(out.dims).toEqual([2, ...c.back]);
      // The definition: a conv (stride f under space-to-depth, on the front; else on the resampled grid).
      const [gh, gw] = adapter.grid;
      const f = c.s2d ? c.front[1]! / gh : 1;
      const k = c.kernel + f - 1;
      const source = c.s2d ? front : refResample(front, gh, gw);
      const conv = refConv(source, convWeight(maps.main, k), maps.main.bias, k, f, (c.kernel - 1) / 2);
      const m = shapes.main[1];
      const at = (a: number, p: number, o: number): number =>
        conv.data[(a * m + o) * gh * gw + p]! + maps.position![p * m + o]!;
      const expected: number[] = [];
      for (let a = 0; a < 2; a++) {
        if (c.back.length === 3) {
          for (let o = 0; o < m; o++) for (let p = 0; p < gh * gw; p++) expected.push(at(a, p, o));
          continue;
        }
        if (maps.cls) {
          const [ch, h, w] = c.front as [number, number, number];
          const mean = Array.from({ length: ch }, (_, q) => {
            let s = 0;
            for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) s += at4(front, a, q, y, x);
            return s / (h * w);
          });
          expected.push(...mapVector(maps.cls, mean));
        }
        for (let p = 0; p < gh * gw; p++) for (let o = 0; o < m; o++) expected.push(at(a, p, o));
      }
      expect(relError(out, { data: Float32Array.from(expected), dims: out.dims })).toBeLessThan(1e-5);
      for (const opset of [13, 18])
        expect(relError(await runOnnx(adapter, maps, front, opset), out), `opset ${opset}`).toBeLessThan(1e-5);
    });
  }

  it('least squares recovers a known 3 x 3 conv (and a 4 x 4 stride-2 one under space-to-depth) exactly', () => {
    for (const s2d of [false, true]) {
      const [c, h, m] = [3, 8, 4];
      const adapter = new Adapter([c, h, h], [m, s2d ? h / 2 : h, s2d ? h / 2 : h], {
        kernel: 3,
        downsample: s2d ? 'space-to-depth' : 'average',
      });
      const k = adapter.neighbourhood!.size;
      const truth = linearMap(c * k * k, m, 21, 0.5);
      const front = randomTensor([24, c, h, h], 13);
      const back = refConv(front, convWeight(truth, k), truth.bias, k, adapter.neighbourhood!.stride, 1);
      const pairs = adapter.pairs(front, back);
      const fitted = fitStitch(pairs.main.x, pairs.main.y, { ridge: 0 });
      const err = (a: ArrayLike<number>, b: ArrayLike<number>): number =>
        Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
      expect(err(fitted.weight.data, truth.weight.data), `weights, s2d ${s2d}`).toBeLessThan(1e-4);
      expect(err(fitted.bias, truth.bias), `bias, s2d ${s2d}`).toBeLessThan(1e-4);
    }
  });
});
