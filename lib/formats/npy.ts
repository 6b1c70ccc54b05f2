// Reader for NumPy's .npy format (versions 1.0, 2.0, 3.0): a magic string, a header dict
// {'descr': '<f4', 'fortran_order': False, 'shape': (N, 28, 28)}, then the array's bytes.
// Accepted element types: float32, float64 (converted to float32), uint8, and integer types for
// labels (int8/16/32/64, uint16/32/64, little- or big-endian). Fortran order is transposed to C order.
import { readFileSync } from 'node:fs';

export type NpyDtype =
  | 'float32'
  | 'float64'
  | 'uint8'
  | 'int8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64';

export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  /** C-order values. float32/uint8 keep their type; float64 becomes Float64Array; integers become Float64Array. */
  data: Float32Array | Float64Array | Uint8Array;
}

export class NpyFormatError extends Error {
  override name = 'NpyFormatError';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

const KINDS: Record<string, { dtype: NpyDtype; bytes: number }> = {
  f4: { dtype: 'float32', bytes: 4 },
  f8: { dtype: 'float64', bytes: 8 },
  u1: { dtype: 'uint8', bytes: 1 },
  i1: { dtype: 'int8', bytes: 1 },
  i2: { dtype: 'int16', bytes: 2 },
  u2: { dtype: 'uint16', bytes: 2 },
  i4: { dtype: 'int32', bytes: 4 },
  u4: { dtype: 'uint32', bytes: 4 },
  i8: { dtype: 'int64', bytes: 8 },
  u8: { dtype: 'uint64', bytes: 8 },
  b1: { dtype: 'uint8', bytes: 1 },
};

function field(header: string, key: string, label: string): string {
  const m = new RegExp(`['"]${key}['"]\\s*:\\s*`).exec(header);
  if (!m) throw new NpyFormatError(`${label}: .npy header has no '${key}' entry: ${header.trim()}`);
  return header.slice(m.index + m[0].length);
}

/** Parses .npy bytes; `label` names the source in messages. */
export function parseNpy(bytes: Uint8Array, label = '<bytes>'): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new NpyFormatError(`${label}: not a .npy file (expected the magic \\x93NUMPY at the start)`);
  }
  const major = bytes[6]!;
  if (major < 1 || major > 3)
    throw new NpyFormatError(`${label}: .npy format version ${major}.${bytes[7]} is not supported (1.0, 2.0, 3.0 are)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = major === 1 ? 10 : 12;
  if (bytes.length < start)
    throw new RangeError(`${label}: truncated .npy header: expected at least ${start} bytes, got ${bytes.length}`);
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (bytes.length < start + headerLen)
    throw new RangeError(
      `${label}: truncated .npy header: expected ${headerLen} header bytes, got ${bytes.length - start}`,
    );
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(start, start + headerLen));

  const descrText = field(header, 'descr', label);
  const descr = /^['"]([<>|=]?)([a-zA-Z]\d+)['"]/.exec(descrText);
  if (!descr)
    throw new NpyFormatError(
      `${label}: .npy 'descr' must be a simple type string like '<f4', got ${descrText.slice(0, 30)}`,
    );
  const kind = KINDS[descr[2]!];
  if (!kind)
    throw new NpyFormatError(
      `${label}: .npy element type '${descr[1]}${descr[2]}' is not supported: expected float32 ('<f4'), uint8 ('|u1'), float64 or an integer type`,
    );
  const bigEndian = descr[1] === '>';
  const fortran = /^True/.test(field(header, 'fortran_order', label));
  const shapeText = /^\(([^)]*)\)/.exec(field(header, 'shape', label));
  if (!shapeText) throw new NpyFormatError(`${label}: .npy 'shape' must be a tuple, got ${header.trim()}`);
  const shape = shapeText[1]!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isInteger(d) || d < 0))
    throw new NpyFormatError(`${label}: .npy shape (${shapeText[1]}) is not a tuple of sizes`);

  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLen;
  const expected = count * kind.bytes;
  const actual = bytes.length - dataStart;
  if (actual !== expected) {
    throw new RangeError(
      `${label}: ${actual < expected ? 'truncated .npy data' : '.npy data longer than its header says'}: shape (${shape.join(', ')}) of ${kind.dtype} needs ${expected} bytes, got ${actual}`,
    );
  }
  let data: Float32Array | Float64Array | Uint8Array;
  if (kind.dtype === 'uint8') {
    data = bytes.slice(dataStart, dataStart + count);
  } else if (kind.dtype === 'float32') {
    data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = view.getFloat32(dataStart + 4 * i, !bigEndian);
  } else {
    data = new Float64Array(count);
    const le = !bigEndian;
    const read: (o: number) => number = {
      float64: (o: number) => view.getFloat64(o, le),
      int8: (o: number) => view.getInt8(o),
      int16: (o: number) => view.getInt16(o, le),
      uint16: (o: number) => view.getUint16(o, le),
      int32: (o: number) => view.getInt32(o, le),
      uint32: (o: number) => view.getUint32(o, le),
      int64: (o: number) => Number(view.getBigInt64(o, le)),
      uint64: (o: number) => Number(view.getBigUint64(o, le)),
    }[kind.dtype as Exclude<NpyDtype, 'float32' | 'uint8'>];
    for (let i = 0; i < count; i++) data[i] = read(dataStart + kind.bytes * i);
  }
  if (fortran && shape.length > 1) data = toCOrder(data, shape);
  return { dtype: kind.dtype, shape, data };
}

/** Transposes a Fortran-order (column-major) array into C order. */
function toCOrder<T extends Float32Array | Float64Array | Uint8Array>(src: T, shape: number[]): T {
  const out = new (src.constructor as { new (n: number): T })(src.length);
  const n = shape.length;
  const fStride = new Array<number>(n);
  let s = 1;
  for (let k = 0; k < n; k++) {
    fStride[k] = s;
    s *= shape[k]!;
  }
  const idx = new Array<number>(n).fill(0);
  for (let c = 0; c < src.length; c++) {
    let off = 0;
    for (let k = 0; k < n; k++) off += idx[k]! * fStride[k]!;
    out[c] = src[off]!;
    for (let k = n - 1; k >= 0; k--) {
      if (++idx[k]! < shape[k]!) break;
      idx[k] = 0;
    }
  }
  return out;
}

/** Writes a C-order .npy (version 1.0) of float32 or uint8 values. */
export function encodeNpy(data: Float32Array | Uint8Array, shape: number[]): Uint8Array {
  const descr = data instanceof Float32Array ? '<f4' : '|u1';
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += `${' '.repeat((64 - (total % 64)) % 64)}\n`;
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

export function loadNpy(path: string): NpyArray {
  return parseNpy(readFileSync(path), path);
}
