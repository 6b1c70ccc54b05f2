// The data formats of the CLI's --data and --labels:
//   - IDX images ([N, H, W] or [N, H, W, C] uint8, or float32), gzip-compressed or raw, with IDX labels
//   - .npy float32 (taken as is) or uint8 (scaled by 1/255), [N, H, W], [N, C, H, W], [N, H, W, C] or [N, D]
//   - a folder of PNG images (8 or 16 bit, grey/RGB/palette, with or without alpha), in name order,
//     with labels from a labels file (labels.txt / labels.csv in the folder, or --labels), or one
//     sub-folder per class (classes numbered in name order)
//   - `zoo`, `zoo:calibration`, `zoo:eval`: the shipped Fashion-MNIST splits
// Labels files: IDX, .npy of integers, or text: one integer per line (in image order) or
// `file,label` / `file label` lines (a header line is skipped).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';

import pngjs from 'pngjs';

import { IdxFormatError, parseIdx } from '../data/idx.js';
import { loadZooSplit } from '../data/zoo.js';
import { DataFormatError } from './errors.js';
import { guessLayout, type SampleSet } from './images.js';
import { NpyFormatError, parseNpy } from './npy.js';
import { checkPngData, checkPngSize, readPngHeader, type PngHeader } from './png-header.js';

export { DataFormatError };

const isGzip = (b: Uint8Array): boolean => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const isNpy = (b: Uint8Array): boolean =>
  b.length >= 6 && b[0] === 0x93 && String.fromCharCode(...b.subarray(1, 6)) === 'NUMPY';
const isPng = (b: Uint8Array): boolean =>
  b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47;
const naturalCompare = new Intl.Collator('en', { numeric: true }).compare;

function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    throw new DataFormatError(
      `${what} '${path}' ${e.code === 'ENOENT' ? 'does not exist' : `cannot be read (${e.code ?? e.message})`}`,
    );
  }
}

function toLabels(values: ArrayLike<number>, path: string): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isInteger(v) || v < 0 || v > 255)
      throw new DataFormatError(`${path}: label ${i} is ${v}; expected class indices 0-255`);
    out[i] = v;
  }
  return out;
}

/** Reads a labels file: IDX, .npy or text (one label per line, or `file,label` lines). */
export function loadLabels(path: string, files?: string[]): Uint8Array {
  return asDataFormatError(() => readLabels(path, files));
}

function readLabels(path: string, files?: string[]): Uint8Array {
  const bytes = readBytes(path, 'labels file');
  const raw = isGzip(bytes) || (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && bytes[2]! >= 8);
  if (isNpy(bytes)) {
    const a = parseNpy(bytes, path);
    if (a.shape.length !== 1 && !(a.shape.length === 2 && a.shape[1] === 1))
      throw new DataFormatError(`${path}: expected labels of shape (N,), got (${a.shape.join(', ')})`);
    return toLabels(a.data, path);
  }
  if (raw) {
    const a = parseIdx(bytes, path);
    if (a.dims.length !== 1)
      throw new DataFormatError(`${path}: expected IDX labels with 1 dimension [N], got [${a.dims.join(', ')}]`);
    return toLabels(a.data, path);
  }
  const lines = new TextDecoder()
    .decode(bytes)
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const pairs = lines.map((l) => l.split(/\s*[,;\t]\s*|\s+/));
  if (pairs.length > 0 && pairs[0]!.length >= 1 && !/^\d+$/.test(pairs[0]![pairs[0]!.length - 1]!)) pairs.shift(); // header
  if (pairs.every((p) => p.length === 1))
    return toLabels(
      pairs.map((p) => Number(p[0])),
      path,
    );
  if (!files) throw new DataFormatError(`${path}: expected one integer label per line`);
  const byName = new Map<string, number>();
  for (const [k, p] of pairs.entries()) {
    const label = Number(p[p.length - 1]);
    if (p.length < 2 || !Number.isInteger(label))
      throw new DataFormatError(`${path}: line ${k + 1}: expected 'file,label', got '${p.join(' ')}'`);
    byName.set(p.slice(0, -1).join(' '), label);
  }
  return toLabels(
    files.map((f) => {
      const label = byName.get(f) ?? byName.get(basename(f));
      if (label === undefined) throw new DataFormatError(`${path}: no label for image '${f}'`);
      return label;
    }),
    path,
  );
}

/**
 * Decodes one image of a folder. The header is read first: an implausible size, or (given the
 * folder's first image) a size other than the first one's, is refused before any decoding.
 */
function decodePng(
  path: string,
  first?: { file: string; h: number; w: number },
): { data: Float32Array; h: number; w: number; c: number } {
  const bytes = readBytes(path, 'image');
  const header = readPngHeader(bytes, path);
  if (first && (header.height !== first.h || header.width !== first.w)) {
    throw new DataFormatError(
      `${path}: ${header.width}x${header.height} pixels, but ${basename(first.file)} has ${first.w}x${first.h}; the images of a folder must have one size`,
    );
  }
  if (!first) checkPngSize(header, path); // the others have the first one's size
  return decodeCheckedPng(bytes, header, path);
}

/** One PNG image from memory (header and size checked first) as a sample set of one ([1, H, W] grey or [1, H, W, C]); `source` names it in errors. */
export function pngSample(bytes: Uint8Array, source: string): SampleSet {
  const header = readPngHeader(bytes, source);
  checkPngSize(header, source);
  const { data, h, w, c } = decodeCheckedPng(bytes, header, source);
  return { data, dims: c === 1 ? [1, h, w] : [1, h, w, c], layout: c === 1 ? 'hw' : 'hwc', source };
}

function decodeCheckedPng(
  bytes: Uint8Array,
  header: PngHeader,
  path: string,
): { data: Float32Array; h: number; w: number; c: number } {
  checkPngData(bytes, header, path);
  let png: pngjs.PNGWithMetadata;
  try {
    png = pngjs.PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { skipRescale: false });
  } catch (error) {
    throw new DataFormatError(`${path}: broken PNG (${(error as Error).message})`);
  }
  const { width: w, height: h } = png;
  // pngjs gives RGBA, 8 bits per channel (16-bit files are rescaled, palettes expanded).
  const rgba = png.data;
  const scale = 255;
  const grey = !png.color;
  const alpha = png.alpha;
  const c = (grey ? 1 : 3) + (alpha ? 1 : 0);
  const data = new Float32Array(h * w * c);
  for (let p = 0; p < h * w; p++) {
    const o = p * c;
    if (grey) data[o] = rgba[4 * p]! / scale;
    else for (let k = 0; k < 3; k++) data[o + k] = rgba[4 * p + k]! / scale;
    if (alpha) data[o + c - 1] = rgba[4 * p + 3]! / scale;
  }
  return { data, h, w, c };
}

function pngFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => extname(f).toLowerCase() === '.png')
    .sort(naturalCompare);
}

/** A folder of PNG images: files in name order with a labels file, or one sub-folder per class. */
export function loadPngFolder(dir: string, labelsPath?: string): SampleSet {
  let files = pngFiles(dir).map((f) => join(dir, f));
  let labels: Uint8Array | undefined;
  if (files.length === 0) {
    const classes = readdirSync(dir)
      .filter((d) => statSync(join(dir, d)).isDirectory())
      .sort(naturalCompare);
    const perClass = classes.map((cls) => pngFiles(join(dir, cls)).map((f) => join(dir, cls, f)));
    files = perClass.flat();
    if (files.length === 0) throw new DataFormatError(`${dir}: no .png images in the folder or in class sub-folders`);
    if (classes.length > 256)
      throw new DataFormatError(`${dir}: ${classes.length} class folders; at most 256 are supported`);
    if (!labelsPath) labels = Uint8Array.from(perClass.flatMap((fs, k) => fs.map(() => k)));
  }
  const names = files.map((f) => relative(dir, f));
  if (labelsPath) labels = loadLabels(labelsPath, names);
  else if (!labels) {
    const found = ['labels.txt', 'labels.csv']
      .map((n) => join(dir, n))
      .find((p) => statSync(p, { throwIfNoEntry: false })?.isFile());
    if (found) labels = loadLabels(found, names);
  }
  if (labels && labels.length !== files.length) {
    throw new DataFormatError(`${labelsPath ?? dir}: ${labels.length} labels for ${files.length} images`);
  }
  const first = decodePng(files[0]!);
  const { h, w } = first;
  // Every image is converted to the first one's channel count (grey+alpha and RGBA keep alpha)
  // and must have its size; conformTo resizes to the model afterwards.
  const c = first.c;
  const data = new Float32Array(files.length * h * w * c);
  for (const [i, file] of files.entries()) {
    const img = i === 0 ? first : decodePng(file, { file: files[0]!, h, w });
    if (img.c === c) data.set(img.data, i * h * w * c);
    else {
      // Mixed colour types: widen to the first image's channels (grey -> RGB, add opaque alpha) or narrow by luma.
      for (let p = 0; p < h * w; p++) {
        const src = img.data.subarray(p * img.c, (p + 1) * img.c);
        const rgb = img.c >= 3 ? [src[0]!, src[1]!, src[2]!] : [src[0]!, src[0]!, src[0]!];
        const a = img.c === 2 || img.c === 4 ? src[img.c - 1]! : 1;
        const grey = 0.299 * rgb[0]! + 0.587 * rgb[1]! + 0.114 * rgb[2]!;
        const vals = c === 1 ? [grey] : c === 2 ? [grey, a] : c === 3 ? rgb : [...rgb, a];
        data.set(vals, (i * h * w + p) * c);
      }
    }
  }
  const set: SampleSet = {
    data,
    dims: c === 1 ? [files.length, h, w] : [files.length, h, w, c],
    layout: c === 1 ? 'hw' : 'hwc',
    source: dir,
  };
  if (labels) set.labels = labels;
  return set;
}

function fromArray(data: Float32Array | Float64Array | Uint8Array, dims: number[], source: string): SampleSet {
  if (dims.length < 2)
    throw new DataFormatError(`${source}: expected samples [N, ...], got shape [${dims.join(', ')}]`);
  const values =
    data instanceof Float32Array
      ? data
      : data instanceof Uint8Array
        ? Float32Array.from(data, (v) => v / 255)
        : Float32Array.from(data);
  return { data: values, dims, layout: guessLayout(dims.slice(1)), source };
}

/**
 * Loads --data (and optional --labels) in any supported format. `spec` is a path, or `zoo`,
 * `zoo:calibration`, `zoo:eval` for the shipped splits.
 */
export function loadData(spec: string, labelsPath?: string): SampleSet {
  const zoo = /^zoo(?::(calibration|eval))?$/.exec(spec);
  if (zoo) {
    const d = loadZooSplit((zoo[1] ?? 'calibration') as 'calibration' | 'eval');
    return {
      data: d.images,
      dims: [d.rows, d.height, d.width],
      layout: 'hw',
      labels: labelsPath ? loadLabels(labelsPath) : d.labels,
      source: spec,
    };
  }
  const st = statSync(spec, { throwIfNoEntry: false });
  if (!st) throw new DataFormatError(`data '${spec}' does not exist`);
  if (st.isDirectory()) return loadPngFolder(spec, labelsPath);
  const bytes = readBytes(spec, 'data');
  const set = asDataFormatError((): SampleSet => {
    if (isNpy(bytes)) {
      const a = parseNpy(bytes, spec);
      if (a.dtype !== 'float32' && a.dtype !== 'uint8')
        throw new DataFormatError(`${spec}: .npy images must be float32 or uint8, got ${a.dtype}`);
      return fromArray(a.data, a.shape, spec);
    } else if (isPng(bytes)) {
      throw new DataFormatError(`${spec}: a single PNG; pass the folder that holds the images (and a labels file)`);
    } else if (isGzip(bytes) || (bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0)) {
      const a = parseIdx(bytes, spec);
      if (a.dtype !== 'uint8' && a.dtype !== 'float32')
        throw new DataFormatError(`${spec}: IDX images must be uint8 or float32, got ${a.dtype}`);
      return fromArray(a.data as Float32Array | Uint8Array, a.dims, spec);
    } else {
      throw new DataFormatError(
        `${spec}: unknown data format: expected IDX (.gz or raw), .npy, a folder of PNG images, or zoo[:calibration|eval]`,
      );
    }
  });
  if (labelsPath) {
    const labels = loadLabels(labelsPath);
    if (labels.length !== set.dims[0])
      throw new DataFormatError(`${labelsPath}: ${labels.length} labels for ${set.dims[0]} samples in ${spec}`);
    set.labels = labels;
  }
  return set;
}

/**
 * Runs a reader so that a malformed IDX or npy file surfaces as a DataFormatError: the one error
 * class loadData and loadLabels throw for a bad data or labels file, whatever its format.
 */
function asDataFormatError<T>(read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (error instanceof IdxFormatError || error instanceof NpyFormatError) throw new DataFormatError(error.message);
    throw error;
  }
}

/** The first `n` samples (and labels). */
export function takeSamples(set: SampleSet, n: number): SampleSet {
  const count = set.dims[0]!;
  if (n >= count) return set;
  const per = set.data.length / count;
  const out: SampleSet = { ...set, data: set.data.subarray(0, n * per), dims: [n, ...set.dims.slice(1)] };
  if (set.labels) out.labels = set.labels.subarray(0, n);
  return out;
}
