// An image-classification dataset from a pair of IDX files (images N x H x W uint8, labels N uint8),
// as the rest of restnet wants it: one image per row, pixels scaled to [0, 1].

import { fileURLToPath } from 'node:url';

import { IdxFormatError, loadIdx, type IdxArray } from './idx.js';

export interface Dataset {
  /** rows x cols float32, row-major: image i is images[i*cols, (i+1)*cols), pixel/255 in [0, 1]. */
  images: Float32Array;
  labels: Uint8Array;
  /** Number of images (samples in rows, as in restnet's Matrix). */
  rows: number;
  /** Pixels per image: height * width (784 for Fashion-MNIST). */
  cols: number;
  height: number;
  width: number;
}

const nameOf = (source: string | URL): string => (source instanceof URL ? fileURLToPath(source) : source);

/** Combines already-parsed IDX arrays; `names` label them in error messages. */
export function toDataset(
  images: IdxArray,
  labels: IdxArray,
  names = { images: '<images>', labels: '<labels>' },
): Dataset {
  if (images.dtype !== 'uint8' || images.dims.length !== 3) {
    throw new IdxFormatError(
      `${names.images}: expected uint8 images with 3 dimensions [N, height, width], got ${images.dtype} [${images.dims.join(', ')}]`,
    );
  }
  if (labels.dtype !== 'uint8' || labels.dims.length !== 1) {
    throw new IdxFormatError(
      `${names.labels}: expected uint8 labels with 1 dimension [N], got ${labels.dtype} [${labels.dims.join(', ')}]`,
    );
  }
  const [rows, height, width] = images.dims as [number, number, number];
  if (labels.dims[0] !== rows) {
    throw new RangeError(`${names.labels}: expected ${rows} labels to match ${names.images}, got ${labels.dims[0]}`);
  }
  const pixels = images.data as Uint8Array;
  const scaled = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) scaled[i] = pixels[i]! / 255;
  return { images: scaled, labels: labels.data as Uint8Array, rows, cols: height * width, height, width };
}

/** Loads an images file and a labels file (IDX, gzip-compressed or raw). */
export function loadDataset(imagesPath: string | URL, labelsPath: string | URL): Dataset {
  return toDataset(loadIdx(imagesPath), loadIdx(labelsPath), {
    images: nameOf(imagesPath),
    labels: nameOf(labelsPath),
  });
}
