// The IDX reader against hand-built files (exact header bytes written here) and the shipped
// Fashion-MNIST splits, whose headers are read independently with zlib.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import {
  IdxFormatError,
  loadDataset,
  loadIdx,
  loadZooManifest,
  loadZooSplit,
  parseIdx,
  zooPath,
} from '../lib/data/index.js';

const dir = mkdtempSync(join(tmpdir(), 'restnet-idx-'));
const write = (name: string, bytes: Uint8Array): string => {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
};

// 2 images of 2x3 pixels: magic 00 00 08 03, dims 2, 2, 3 (big-endian uint32), then 12 bytes.
const tinyImages = Uint8Array.from([
  0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 255,
]);
const tinyLabels = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 2, 7, 3]);

describe('parseIdx / loadIdx', () => {
  it('reads a raw ubyte file: dims from the header, data in order', () => {
    const idx = loadIdx(write('tiny-images', tinyImages));
    expect(idx.dtype).toBe('uint8');
    expect(idx.dims).toEqual([2, 2, 3]);
    expect(Array.from(idx.data)).toEqual([0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 255]);
  });

  it('reads the same file gzip-compressed, by path, URL and bytes', () => {
    const path = write('tiny-images.gz', gzipSync(tinyImages));
    for (const source of [path, new URL(`file://${path}`), readFileSync(path)]) {
      expect(Array.from(loadIdx(source).data)).toEqual(Array.from(tinyImages.subarray(16)));
    }
  });

  it('decodes big-endian int16, int32, float32 and float64', () => {
    // int16 [2]: 0x0b, values -2 (0xfffe) and 258 (0x0102)
    expect(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0xff, 0xfe, 1, 2])).data)).toEqual([
      -2, 258,
    ]);
    // int32 [1]: 0x0c, 0x01020304 = 16909060
    expect(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 1, 1, 2, 3, 4])).data)).toEqual([16909060]);
    // float32 [1]: 0x0d, 0x3fc00000 = 1.5
    expect(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0])).data)).toEqual([1.5]);
    // float64 [1]: 0x0e, 0xc004000000000000 = -2.5
    const f64 = Uint8Array.from([0, 0, 0x0e, 1, 0, 0, 0, 1, 0xc0, 0x04, 0, 0, 0, 0, 0, 0]);
    expect(parseIdx(f64).dtype).toBe('float64');
    expect(Array.from(parseIdx(f64).data)).toEqual([-2.5]);
  });

  it('rejects a bad magic number, naming the file and the bytes found', () => {
    const bad = tinyImages.slice();
    bad[0] = 0x12;
    const path = write('bad-magic', bad);
    expect(() => loadIdx(path)).toThrow(IdxFormatError);
    expect(() => loadIdx(path)).toThrow(`${path}: bad IDX magic 0x12000803`);
    const badType = tinyImages.slice();
    badType[2] = 0x07;
    expect(() => parseIdx(badType, 'x.idx')).toThrow('x.idx: bad IDX magic 0x00000703');
    expect(() => parseIdx(Uint8Array.from([0, 0, 8, 0]), 'x.idx')).toThrow(/expected at least 1 dimension, got 0/);
  });

  it('rejects a header cut short', () => {
    expect(() => parseIdx(Uint8Array.from([0, 0]), 'h')).toThrow(RangeError);
    expect(() => parseIdx(Uint8Array.from([0, 0]), 'h')).toThrow(
      'h: truncated IDX header: expected at least 4 bytes of magic number, got 2',
    );
    expect(() => parseIdx(tinyImages.subarray(0, 10), 'h')).toThrow(
      'h: truncated IDX header: 3 dimensions need 16 header bytes, got 10',
    );
  });

  it('rejects data shorter or longer than the header says', () => {
    const short = write('short', tinyImages.subarray(0, tinyImages.length - 1));
    expect(() => loadIdx(short)).toThrow(RangeError);
    expect(() => loadIdx(short)).toThrow(
      `${short}: truncated IDX data: header dims [2, 2, 3] of uint8 need 12 bytes, got 11`,
    );
    const long = Uint8Array.from([...tinyImages, 9]);
    expect(() => parseIdx(long, 'l')).toThrow(
      'l: IDX data longer than its header says: header dims [2, 2, 3] of uint8 need 12 bytes, got 13',
    );
  });

  it('rejects a truncated or corrupted gzip stream', () => {
    const gz = gzipSync(tinyImages);
    const cut = write('cut.gz', gz.subarray(0, gz.length - 6));
    expect(() => loadIdx(cut)).toThrow(IdxFormatError);
    expect(() => loadIdx(cut)).toThrow(`${cut}: corrupt or truncated gzip stream`);
    const flipped = Uint8Array.from(gz);
    const at = flipped.length - 5; // inside the CRC-32 of the gzip trailer: the check fails
    flipped[at] = flipped[at]! ^ 0xff;
    expect(() => parseIdx(flipped, 'f.gz')).toThrow('f.gz: corrupt or truncated gzip stream');
  });
});

describe('loadDataset', () => {
  it('scales pixels to [0, 1], one image per row', () => {
    const ds = loadDataset(write('ti', tinyImages), write('tl', tinyLabels));
    expect([ds.rows, ds.cols, ds.height, ds.width]).toEqual([2, 6, 2, 3]);
    expect(Array.from(ds.labels)).toEqual([7, 3]);
    expect(ds.images).toBeInstanceOf(Float32Array);
    expect(Array.from(ds.images.subarray(0, 6))).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1].map(Math.fround));
  });

  it('rejects label/image count mismatch and wrong ranks', () => {
    const threeLabels = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]);
    const images = write('ti2', tinyImages);
    const labels = write('tl3', threeLabels);
    expect(() => loadDataset(images, labels)).toThrow(RangeError);
    expect(() => loadDataset(images, labels)).toThrow(`${labels}: expected 2 labels to match ${images}, got 3`);
    expect(() => loadDataset(labels, labels)).toThrow(
      /expected uint8 images with 3 dimensions \[N, height, width\], got uint8 \[3\]/,
    );
  });
});

/** Header of a gzip IDX file read with nothing but zlib and DataView. */
function rawHeader(path: string): { magic: number; dims: number[]; bytes: Uint8Array } {
  const bytes = gunzipSync(readFileSync(path));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const ndim = bytes[3]!;
  return { magic: view.getUint32(0), dims: Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i)), bytes };
}

describe('shipped Fashion-MNIST splits', () => {
  const splits = loadZooManifest().dataset.splits;

  it('have the headers and sizes the manifest states', () => {
    for (const name of ['calibration', 'eval'] as const) {
      const images = rawHeader(zooPath(splits[name].images));
      const labels = rawHeader(zooPath(splits[name].labels));
      expect(images.magic).toBe(0x00000803);
      expect(images.dims).toEqual([5000, 28, 28]);
      expect(labels.magic).toBe(0x00000801);
      expect(labels.dims).toEqual([5000]);
      const ds = loadZooSplit(name);
      expect([ds.rows, ds.cols, ds.height, ds.width]).toEqual([5000, 784, 28, 28]);
      expect(ds.images.length).toBe(5000 * 784);
      expect(ds.images[1000 * 784 + 400]).toBeCloseTo(images.bytes[16 + 1000 * 784 + 400]! / 255, 7);
      expect(Math.max(...ds.labels)).toBe(9);
    }
  });

  it('calibration holds 500 images of each class, at the listed training indices', () => {
    const counts = new Array<number>(10).fill(0);
    for (const label of loadZooSplit('calibration').labels) counts[label]! += 1;
    expect(counts).toEqual(new Array(10).fill(500));
    const listed = JSON.parse(readFileSync(zooPath('data/calibration-indices.json'), 'utf8')) as { indices: number[] };
    expect(listed.indices.length).toBe(5000);
    expect(new Set(listed.indices).size).toBe(5000);
    expect(listed.indices.every((v, i) => i === 0 || v > listed.indices[i - 1]!)).toBe(true);
  });

  // Where Debian's dataset-fashion-mnist is installed, compare with the original files byte for byte.
  const source = '/usr/share/datasets/fashion-mnist';
  it.skipIf(!existsSync(source))(
    'match the Debian copy: eval = t10k 0-4999, calibration = the listed training images',
    () => {
      const t10k = loadIdx(join(source, 't10k-images-idx3-ubyte.gz')).data;
      const t10kLabels = loadIdx(join(source, 't10k-labels-idx1-ubyte.gz')).data;
      const evalImages = loadIdx(zooPath(splits.eval.images)).data;
      expect(Buffer.compare(Buffer.from(evalImages), Buffer.from(t10k.subarray(0, 5000 * 784)))).toBe(0);
      expect(Array.from(loadIdx(zooPath(splits.eval.labels)).data)).toEqual(Array.from(t10kLabels.subarray(0, 5000)));

      const train = loadIdx(join(source, 'train-images-idx3-ubyte.gz')).data;
      const trainLabels = loadIdx(join(source, 'train-labels-idx1-ubyte.gz')).data;
      const { indices } = JSON.parse(readFileSync(zooPath('data/calibration-indices.json'), 'utf8')) as {
        indices: number[];
      };
      const calib = loadIdx(zooPath(splits.calibration.images)).data;
      const calibLabels = loadIdx(zooPath(splits.calibration.labels)).data;
      indices.forEach((src, i) => {
        expect(calibLabels[i]).toBe(trainLabels[src]);
      });
      for (const i of [0, 1234, 4999]) {
        const src = indices[i]!;
        expect(
          Buffer.from(calib.subarray(i * 784, (i + 1) * 784)).equals(
            Buffer.from(train.subarray(src * 784, (src + 1) * 784)),
          ),
        ).toBe(true);
      }
    },
  );
});
