// Files that lie about their size (issue #18): a PNG whose header claims 30000 x 30000 pixels, an
// interlaced PNG whose data inflate far past its header, gzip IDX streams longer or shorter than
// their header, and cut .npy headers are refused from their headers, before decoding, with the
// file, the expected and the actual in the message.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';

import pngjs from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';

import { parseIdx } from '../lib/data/idx.js';
import { DataFormatError, encodeNpy, loadData, parseNpy } from '../lib/formats/index.js';
import { scanlineBytes } from '../lib/formats/png-header.js';
import { rawPng } from './png-bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'restnet-formats-limits-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function greyPng(path: string, w: number, h: number): void {
  const img = new pngjs.PNG({ width: w, height: h });
  img.data.fill(200);
  writeFileSync(path, pngjs.PNG.sync.write(img, { colorType: 0 } as never));
}

describe('PNG headers', () => {
  // 30000 x 30000 grey pixels of one value: the filtered scanlines deflate to under 1 MB, but the
  // file only needs its first ~880 bytes to be read (the header) to be refused; its IDAT is the
  // compressed first rows, the rest would follow.
  const bomb = rawPng(30000, 30000, deflateSync(Buffer.alloc(800_000)));

  it("refuse an image whose size differs from the folder's first, before decoding it", () => {
    const d = join(dir, 'mixed');
    mkdirSync(d);
    greyPng(join(d, 'a.png'), 28, 28);
    writeFileSync(join(d, 'b.png'), bomb);
    writeFileSync(join(d, 'labels.txt'), '0\n1\n');
    // pngjs on this file would stop at its truncated IDAT ("broken PNG"); the size check comes first.
    expect(() => loadData(d)).toThrow(
      new DataFormatError(
        `${join(d, 'b.png')}: 30000x30000 pixels, but a.png has 28x28; the images of a folder must have one size`,
      ),
    );
  });

  it('refuse an implausible pixel count in the first image', () => {
    const d = join(dir, 'huge');
    mkdirSync(d);
    writeFileSync(join(d, 'a.png'), bomb);
    expect(() => loadData(d)).toThrow(
      /a\.png: implausible PNG size 30000x30000: expected 1 to 67108864 pixels, got 900000000/,
    );
  });

  it('refuse an interlaced image whose data inflate past the size its header implies', () => {
    const d = join(dir, 'interlaced');
    mkdirSync(d);
    // 28 x 28 interlaced: 28 + 7 x ... scanline bytes; 64 MB of zeros deflate to ~64 KB.
    const expected = scanlineBytes({ width: 28, height: 28, bitDepth: 8, colorType: 0, interlaced: true });
    writeFileSync(join(d, 'a.png'), rawPng(28, 28, deflateSync(Buffer.alloc(64 * 2 ** 20)), 1));
    expect(() => loadData(d)).toThrow(
      new DataFormatError(
        `${join(d, 'a.png')}: broken PNG: a 28x28 interlaced image has ${expected} bytes of scanlines, its data inflate to more`,
      ),
    );
    // The honest interlaced file of the same size still loads.
    writeFileSync(join(d, 'a.png'), rawPng(28, 28, deflateSync(Buffer.alloc(expected, 0)), 1));
    expect(loadData(d).dims).toEqual([1, 28, 28]);
  });

  it('count Adam7 scanlines as the PNG specification does', () => {
    // 8 x 8 grey 8-bit: passes of 1x1, 1x1, 2x1, 2x2, 4x2, 4x4, 8x4 pixels, each row with a filter byte.
    const passes = [
      [1, 1],
      [1, 1],
      [2, 1],
      [2, 2],
      [4, 2],
      [4, 4],
      [8, 4],
    ];
    const bytes = passes.reduce((s, [w, h]) => s + h! * (w! + 1), 0);
    expect(scanlineBytes({ width: 8, height: 8, bitDepth: 8, colorType: 0, interlaced: true })).toBe(bytes);
    expect(scanlineBytes({ width: 8, height: 8, bitDepth: 8, colorType: 0, interlaced: false })).toBe(8 * 9);
    expect(scanlineBytes({ width: 3, height: 2, bitDepth: 1, colorType: 0, interlaced: false })).toBe(2 * 2);
  });
});

describe('gzip IDX streams', () => {
  const header = (dims: number[]): Buffer => {
    const b = Buffer.alloc(4 + 4 * dims.length);
    b.set([0, 0, 8, dims.length]);
    dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
    return b;
  };

  it('stop inflating at the size the header implies', () => {
    // [1, 2, 2] needs 4 bytes; the stream holds 64 MB of zeros in 64 KB.
    const gz = gzipSync(Buffer.concat([header([1, 2, 2]), Buffer.alloc(64 * 2 ** 20)]));
    expect(() => parseIdx(gz, 'long.gz')).toThrow(
      new RangeError(
        'long.gz: IDX data longer than its header says: header dims [1, 2, 2] of uint8 need 4 bytes, the gzip stream inflates to more',
      ),
    );
  });

  it('refuse a header that claims more than the stream can hold, without inflating it', () => {
    const gz = gzipSync(Buffer.concat([header([60000, 28, 28]), Buffer.alloc(10)]));
    expect(() => parseIdx(gz, 'short.gz')).toThrow(
      new RangeError(
        `short.gz: truncated IDX data: header dims [60000, 28, 28] of uint8 need 47040000 bytes, a gzip stream of ${gz.length} bytes holds at most ${gz.length * 1032}`,
      ),
    );
  });

  it('still read an honest stream whose header sits behind a long gzip file name', () => {
    const body = Buffer.concat([header([2, 3]), Buffer.from([1, 2, 3, 4, 5, 6])]);
    const gz = gzipSync(body);
    // FNAME flag and a 3000-byte name: the header is past the first compressed kilobyte.
    const named = Buffer.concat([gz.subarray(0, 10), Buffer.alloc(3000, 0x61), Buffer.from([0]), gz.subarray(10)]);
    named[3] = 0x08;
    expect(Array.from(parseIdx(named, 'named.gz').data)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('.npy headers', () => {
  it('refuse a version 2 file cut inside its header length', () => {
    const bytes = Uint8Array.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 10, 0, 0]);
    expect(() => parseNpy(bytes, 'cut.npy')).toThrow(
      new RangeError('cut.npy: truncated .npy header: expected at least 12 bytes, got 11'),
    );
  });

  it('check the shape against the file size before allocating', () => {
    let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 1000000000), }";
    h += `${' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64)}\n`;
    const bytes = new Uint8Array(10 + h.length + 8);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
    new DataView(bytes.buffer).setUint16(8, h.length, true);
    for (let i = 0; i < h.length; i++) bytes[10 + i] = h.charCodeAt(i);
    expect(() => parseNpy(bytes, 'big.npy')).toThrow(
      /big\.npy: truncated \.npy data: shape \(1000000000, 1000000000\) of float32 needs 4000000000000000000 bytes, got 8/,
    );
  });
});

describe('a malformed labels file', () => {
  // Images fine, labels broken: loadData reports the labels file with the same error class as a
  // broken data file, whatever the labels' format.
  const images = join(dir, 'two-images.npy');
  writeFileSync(images, encodeNpy(new Float32Array(8), [2, 2, 2]));

  it('is a DataFormatError for an IDX file of an unknown element type', () => {
    const labels = join(dir, 'type-0a-labels.idx');
    writeFileSync(labels, Buffer.from([0, 0, 0x0a, 1, 0, 0, 0, 2, 1, 0]));
    expect(() => loadData(images, labels)).toThrow(
      new DataFormatError(
        `${labels}: bad IDX magic 0x00000a01: expected 0x0000TTDD with type TT in {08,09,0b,0c,0d,0e} and DD dimensions`,
      ),
    );
  });

  it('is a DataFormatError for a .npy file of an unsupported version', () => {
    const labels = join(dir, 'v9-labels.npy');
    const bytes = encodeNpy(Uint8Array.from([0, 1]), [2]);
    bytes[6] = 9;
    writeFileSync(labels, bytes);
    expect(() => loadData(images, labels)).toThrow(
      new DataFormatError(`${labels}: .npy format version 9.0 is not supported (1.0, 2.0, 3.0 are)`),
    );
  });
});
