// The CLI's data formats: .npy (float32/uint8, C and Fortran order), IDX, PNG folders with labels
// files or class folders, and the conversion to a model's input (resize, channels, layout).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

import pngjs from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';

import { conformTo, encodeNpy, loadData, parseNpy, type SampleSet } from '../lib/formats/index.js';
import { resizeChw } from '../lib/formats/images.js';

const dir = mkdtempSync(join(tmpdir(), 'restnet-formats-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function npyHeader(descr: string, shape: string, fortran = false): Uint8Array {
  let h = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
  h += `${' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64)}\n`;
  const out = new Uint8Array(10 + h.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[10 + i] = h.charCodeAt(i);
  return out;
}
const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => Array.from(p)));

function png(
  path: string,
  w: number,
  h: number,
  pixel: (x: number, y: number) => [number, number, number],
  colorType: 0 | 2 = 0,
): void {
  const img = new pngjs.PNG({ width: w, height: h, colorType, inputColorType: 2, inputHasAlpha: false } as never);
  const data = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(pixel(x, y), (y * w + x) * 3);
  img.data = data;
  writeFileSync(path, pngjs.PNG.sync.write(img, { colorType, inputColorType: 2, inputHasAlpha: false } as never));
}

describe('.npy', () => {
  it('reads float32 and uint8 in C order, round-trips encodeNpy, and transposes Fortran order', () => {
    const f = Float32Array.from({ length: 24 }, (_, i) => i / 10);
    const a = parseNpy(encodeNpy(f, [2, 3, 4]));
    expect(a).toMatchObject({ dtype: 'float32', shape: [2, 3, 4] });
    expect(Array.from(a.data)).toEqual(Array.from(f));
    const u = parseNpy(encodeNpy(Uint8Array.from([0, 255, 7]), [3]));
    expect(u).toMatchObject({ dtype: 'uint8', shape: [3] });
    // Fortran order: a 2x3 array [[0,1,2],[3,4,5]] is stored column by column: 0 3 1 4 2 5.
    const fo = parseNpy(
      concat(npyHeader('<f4', '(2, 3)', true), new Uint8Array(Float32Array.from([0, 3, 1, 4, 2, 5]).buffer)),
    );
    expect(Array.from(fo.data)).toEqual([0, 1, 2, 3, 4, 5]);
    // Big-endian int32 labels, and float64.
    const be = new Uint8Array(8);
    new DataView(be.buffer).setInt32(0, 7, false);
    new DataView(be.buffer).setInt32(4, 9, false);
    expect(Array.from(parseNpy(concat(npyHeader('>i4', '(2,)'), be)).data)).toEqual([7, 9]);
  });

  it('rejects bad magic, unsupported types and wrong sizes with the file name', () => {
    expect(() => parseNpy(new Uint8Array(20), 'x.npy')).toThrow('x.npy: not a .npy file');
    expect(() => parseNpy(concat(npyHeader('<c8', '(2,)'), new Uint8Array(16)), 'x.npy')).toThrow(
      /element type '<c8' is not supported/,
    );
    expect(() => parseNpy(concat(npyHeader('<f4', '(2, 3)'), new Uint8Array(20)), 'x.npy')).toThrow(
      'x.npy: truncated .npy data: shape (2, 3) of float32 needs 24 bytes, got 20',
    );
  });

  it('loads as data: uint8 scaled to [0, 1], with .npy labels', () => {
    writeFileSync(
      join(dir, 'u8.npy'),
      encodeNpy(
        Uint8Array.from({ length: 2 * 4 * 4 }, (_, i) => (i % 2) * 255),
        [2, 4, 4],
      ),
    );
    writeFileSync(
      join(dir, 'labels.npy'),
      concat(npyHeader('<i8', '(2,)'), new Uint8Array(BigInt64Array.from([3n, 1n]).buffer)),
    );
    const set = loadData(join(dir, 'u8.npy'), join(dir, 'labels.npy'));
    expect(set).toMatchObject({ dims: [2, 4, 4], layout: 'hw' });
    expect(Array.from(set.data.subarray(0, 4))).toEqual([0, 1, 0, 1]);
    expect(Array.from(set.labels!)).toEqual([3, 1]);
    writeFileSync(join(dir, 'f64.npy'), concat(npyHeader('<f8', '(1, 2, 2)'), new Uint8Array(32)));
    expect(() => loadData(join(dir, 'f64.npy'))).toThrow(/\.npy images must be float32 or uint8, got float64/);
    writeFileSync(join(dir, 'few.npy'), encodeNpy(Uint8Array.from([1]), [1]));
    expect(() => loadData(join(dir, 'u8.npy'), join(dir, 'few.npy'))).toThrow(/1 labels for 2 samples/);
  });
});

describe('IDX and the zoo', () => {
  it('reads gzip IDX images and labels, and the zoo splits by name', () => {
    const head = Uint8Array.from([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2]);
    writeFileSync(join(dir, 'img.gz'), gzipSync(concat(head, Uint8Array.from([0, 51, 102, 255, 0, 0, 0, 0]))));
    writeFileSync(join(dir, 'lab'), Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 2, 4, 2]));
    const set = loadData(join(dir, 'img.gz'), join(dir, 'lab'));
    expect(set.dims).toEqual([2, 2, 2]);
    expect(set.data[1]).toBeCloseTo(0.2, 6);
    expect(Array.from(set.labels!)).toEqual([4, 2]);
    const zoo = loadData('zoo:eval');
    expect(zoo).toMatchObject({ dims: [5000, 28, 28], layout: 'hw' });
    expect(zoo.labels!.length).toBe(5000);
  });

  it('names unknown formats and missing files', () => {
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    expect(() => loadData(join(dir, 'notes.txt'))).toThrow(
      /unknown data format: expected IDX \(\.gz or raw\), \.npy, a folder of PNG images/,
    );
    expect(() => loadData(join(dir, 'missing.npy'))).toThrow(/does not exist/);
  });
});

describe('PNG folders', () => {
  it('reads grey images in natural name order with a file,label labels file', () => {
    const d = join(dir, 'pngs');
    mkdirSync(d);
    for (const [k, name] of ['img2.png', 'img10.png', 'img1.png'].entries())
      png(join(d, name), 3, 2, (x) => [x * 100 + k, x * 100 + k, x * 100 + k]);
    writeFileSync(join(d, 'labels.csv'), 'file,label\nimg1.png,1\nimg2.png,2\nimg10.png,0\n');
    const set = loadData(d);
    expect(set).toMatchObject({ dims: [3, 2, 3], layout: 'hw' });
    expect(Array.from(set.labels!)).toEqual([1, 2, 0]); // img1, img2, img10
    expect(set.data[1]! * 255).toBeCloseTo(102, 3); // img1 was written with k = 2: x=1 -> 102
  });

  it('reads class sub-folders of RGB images, and says what is missing', () => {
    const d = join(dir, 'classes');
    for (const cls of ['cat', 'dog']) {
      mkdirSync(join(d, cls), { recursive: true });
      png(join(d, cls, 'a.png'), 2, 2, () => [255, 0, 0], 2);
    }
    const set = loadData(d);
    expect(set).toMatchObject({ dims: [2, 2, 2, 3], layout: 'hwc' });
    expect(Array.from(set.labels!)).toEqual([0, 1]);
    expect(Array.from(set.data.subarray(0, 3))).toEqual([1, 0, 0]);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(() => loadData(empty)).toThrow(/no \.png images in the folder or in class sub-folders/);
  });
});

describe('conformTo', () => {
  const grey: SampleSet = {
    data: Float32Array.from({ length: 2 * 4 * 4 }, (_, i) => (i % 16) / 16),
    dims: [2, 4, 4],
    layout: 'hw',
    source: 'g.npy',
  };

  it('passes matching data through and resizes and converts channels', () => {
    expect(conformTo(grey, ['N', 1, 4, 4]).images).toBe(grey.data);
    const down = conformTo(grey, ['N', 1, 2, 2]);
    expect(down.cols).toBe(4);
    // Area average of the top-left 2x2 block (0, 1, 4, 5)/16.
    expect(down.images[0]).toBeCloseTo(2.5 / 16, 6);
    const rgb = conformTo(grey, ['N', 3, 4, 4]);
    expect(Array.from(rgb.images.subarray(16, 32))).toEqual(Array.from(grey.data.subarray(0, 16)));
    const hwc: SampleSet = {
      data: Float32Array.from([1, 0, 0, 0, 1, 0]),
      dims: [1, 1, 2, 3],
      layout: 'hwc',
      source: 'c',
    };
    expect(Array.from(conformTo(hwc, ['N', 1, 1, 2]).images).map((v) => +v.toFixed(3))).toEqual([0.299, 0.587]);
    const flat: SampleSet = { data: new Float32Array(2 * 16), dims: [2, 16], layout: 'flat', source: 'f' };
    expect(conformTo(flat, ['N', 16]).cols).toBe(16);
  });

  it('bilinear upsampling keeps a constant image constant and half-pixel centres', () => {
    const up = resizeChw(Float32Array.from([0, 1]), 1, 1, 2, 1, 4);
    expect(Array.from(up)).toEqual([0, 0.25, 0.75, 1]);
  });

  it('says why data cannot be fed to a model', () => {
    const flat: SampleSet = { data: new Float32Array(2 * 10), dims: [2, 10], layout: 'flat', source: 'v.npy' };
    expect(() => conformTo(flat, ['N', 1, 28, 28], 'pixels')).toThrow(
      "v.npy: samples [10] cannot be fed to the model input 'pixels' [N, 1, 28, 28]: the data are flat vectors of 10 values, not images, and the model takes 784",
    );
    expect(() => conformTo(grey, ['N', 5, 4, 4], 'pixels')).toThrow(/cannot convert 1 channel to the model's 5/);
    expect(() => conformTo(grey, ['N', 10], 'x')).toThrow(/the model takes 10 values per sample, the data have 16/);
  });
});
