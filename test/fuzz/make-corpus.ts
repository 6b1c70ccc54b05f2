// Writes the seed files of the file-reader fuzz cases to test/fuzz/corpus (committed; run again
// only to change them): `node --import ./test/fuzz/register.mjs test/fuzz/make-corpus.ts`.
// Each is a small valid file of one format, the start point of the mutations.
import { mkdirSync, writeFileSync } from 'node:fs';
import { deflateSync, gzipSync } from 'node:zlib';

import pngjs from 'pngjs';

import { encodeNpy } from '../../lib/formats/npy.js';
import { ADAM7 } from '../../lib/formats/png-header.js';
import { encodeStitch } from '../../lib/restnet/stitch-file.js';
import { stitch } from '../../lib/stitch/fit.js';
import { residualModel } from '../onnx-helpers.js';
import { rawPng } from '../png-bytes.js';
import { Random } from './random.js';

const dir = new URL('./corpus/', import.meta.url);
mkdirSync(dir, { recursive: true });
const write = (name: string, bytes: Uint8Array): void => writeFileSync(new URL(name, dir), bytes);
const rng = new Random(2026);
const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => rng.int(0, 255));
const floats = (n: number): Float32Array => Float32Array.from({ length: n }, () => rng.normal());

// .npy: float32 [4, 3, 3], uint8 [2, 5, 5]; a Fortran-order float64 written by hand.
write('images-f32.npy', encodeNpy(floats(36), [4, 3, 3]));
write('images-u8.npy', encodeNpy(bytes(50), [2, 5, 5]));
{
  let h = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }";
  h += `${' '.repeat((64 - ((10 + h.length + 1) % 64)) % 64)}\n`;
  const out = new Uint8Array(10 + h.length + 48);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const view = new DataView(out.buffer);
  view.setUint16(8, h.length, true);
  for (let i = 0; i < h.length; i++) out[10 + i] = h.charCodeAt(i);
  for (let i = 0; i < 6; i++) view.setFloat64(10 + h.length + 8 * i, i / 4, true);
  write('fortran-f64.npy', out);
}

// IDX: uint8 images [3, 4, 4], raw and gzip; uint8 labels [3]; float32 [2, 3].
const idx = (type: number, dims: number[], body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(out.buffer);
  out.set([0, 0, type, dims.length]);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
};
const images = idx(0x08, [3, 4, 4], bytes(48));
write('images.idx', images);
write('images.idx.gz', gzipSync(images));
write('labels.idx', idx(0x08, [3], Uint8Array.from([0, 1, 2])));
{
  const body = new Uint8Array(24);
  for (let i = 0; i < 6; i++) new DataView(body.buffer).setFloat32(4 * i, i / 3, false);
  write('floats.idx.gz', gzipSync(idx(0x0d, [2, 3], body)));
}

// PNG: 8 x 8 grey and 5 x 4 RGBA written by pngjs; 7 x 5 grey interlaced (Adam7) by hand.
{
  const grey = new pngjs.PNG({ width: 8, height: 8 });
  grey.data.set(bytes(8 * 8 * 4));
  write('grey.png', pngjs.PNG.sync.write(grey, { colorType: 0 } as never));
  const rgba = new pngjs.PNG({ width: 5, height: 4 });
  rgba.data.set(bytes(5 * 4 * 4));
  write('rgba.png', pngjs.PNG.sync.write(rgba, { colorType: 6 } as never));
}
{
  const w = 7,
    h = 5;
  const scanlines: number[] = [];
  for (const [x0, y0, dx, dy] of ADAM7) {
    const pw = Math.ceil((w - x0) / dx),
      ph = Math.ceil((h - y0) / dy);
    if (pw <= 0 || ph <= 0) continue;
    for (let y = 0; y < ph; y++) scanlines.push(0, ...Array.from({ length: pw }, () => rng.int(0, 255)));
  }
  write('interlaced.png', rawPng(w, h, deflateSync(Buffer.from(scanlines)), 1));
}

// ONNX: the residual test model (MatMul, Relu, Add, Reshape: 6 -> 8).
write('residual.onnx', residualModel());

// .stitch: a 4 -> 3 main map with a per-position offset of 2 positions.
write(
  'cut.stitch',
  encodeStitch(
    {
      id: 'a-b',
      front: { anchor: 'a', cut: 'h1', dims: [4, 2, 1] },
      back: { anchor: 'b', cut: 'h2', dims: [3, 2, 1] },
    },
    { main: stitch({ data: floats(12), rows: 4, cols: 3 }, floats(3)), position: floats(6) },
  ),
);
