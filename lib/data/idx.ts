// Reader for the IDX format (LeCun et al., used by MNIST and Fashion-MNIST), gzip-compressed or raw.
//
// Layout: a 4-byte magic 0x00 0x00 <type> <ndim>, then ndim big-endian uint32 dimensions, then
// prod(dims) big-endian elements in row-major order. Malformed input is rejected with a message
// that names the file and the expected and actual values; nothing is padded or cut to fit.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { constants as bufferConstants } from 'node:buffer';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';

export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';
export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  dims: number[];
  dtype: IdxDtype;
  /** prod(dims) elements, row-major, in host byte order. */
  data: IdxData;
}

/** The file is not IDX (bad magic, unknown type code, broken gzip stream). Size problems are RangeErrors. */
export class IdxFormatError extends Error {
  override name = 'IdxFormatError';
}

const TYPES: Record<number, { dtype: IdxDtype; bytes: number }> = {
  8: { dtype: 'uint8', bytes: 1 },
  9: { dtype: 'int8', bytes: 1 },
  11: { dtype: 'int16', bytes: 2 },
  12: { dtype: 'int32', bytes: 4 },
  13: { dtype: 'float32', bytes: 4 },
  14: { dtype: 'float64', bytes: 8 },
};

const MAX_LENGTH = bufferConstants.MAX_LENGTH;
const MAX_DEFLATE_RATIO = 1032;

const hex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

// The compressed prefix read for the header: a few KB inflate to at most a few MB, and a gzip
// header with a file name longer than the last prefix is not IDX as written by any tool.
const HEADER_PREFIXES = [1024, 16384, 65536];

function inflateError(label: string, err: unknown): IdxFormatError {
  // zlib says "unexpected end of file" for a cut-off stream; keep its words, add the file.
  return new IdxFormatError(`${label}: corrupt or truncated gzip stream (${(err as Error).message})`);
}

/**
 * Inflates a gzip stream without trusting it: first the IDX header from a prefix of the stream,
 * then the whole stream capped at the size that header implies (plus one byte, so a longer stream
 * is seen as such). A small file claiming more data is then a size error, not gigabytes inflated.
 */
function gunzip(bytes: Uint8Array, label: string): Uint8Array {
  let head = new Uint8Array(0);
  for (const prefix of HEADER_PREFIXES) {
    try {
      head = gunzipSync(bytes.subarray(0, prefix), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    } catch (err) {
      throw inflateError(label, err);
    }
    if (prefix >= bytes.length || (head.length >= 4 && head.length >= 4 + 4 * head[3]!)) break;
  }
  const { type, dims, headerBytes, expected } = readHeader(head, label);
  const need = `header dims [${dims.join(', ')}] of ${type.dtype} need ${expected} bytes`;
  // Deflate expands at most 1032:1, so a header claiming more than that is a truncated file.
  const most = bytes.length * MAX_DEFLATE_RATIO;
  if (headerBytes + expected > most) {
    throw new RangeError(
      `${label}: truncated IDX data: ${need}, a gzip stream of ${bytes.length} bytes holds at most ${most}`,
    );
  }
  try {
    return gunzipSync(bytes, { maxOutputLength: Math.min(headerBytes + expected + 1, MAX_LENGTH) });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new RangeError(`${label}: IDX data longer than its header says: ${need}, the gzip stream inflates to more`);
    }
    throw inflateError(label, err);
  }
}

interface IdxHeader {
  type: { dtype: IdxDtype; bytes: number };
  dims: number[];
  headerBytes: number;
  /** Data bytes the dims imply. */
  expected: number;
}

/** The magic and dims of (the start of) an IDX file; `bytes` may end anywhere after the header. */
function readHeader(bytes: Uint8Array, label: string): IdxHeader {
  if (bytes.length < 4) {
    throw new RangeError(
      `${label}: truncated IDX header: expected at least 4 bytes of magic number, got ${bytes.length}`,
    );
  }
  const magic = bytes.subarray(0, 4);
  const type = TYPES[magic[2]!];
  if (magic[0] !== 0 || magic[1] !== 0 || type === undefined) {
    throw new IdxFormatError(
      `${label}: bad IDX magic 0x${hex(magic)}: expected 0x0000TTDD with type TT in {08,09,0b,0c,0d,0e} and DD dimensions`,
    );
  }
  const ndim = magic[3]!;
  if (ndim === 0)
    throw new IdxFormatError(`${label}: bad IDX magic 0x${hex(magic)}: expected at least 1 dimension, got 0`);
  const headerBytes = 4 + 4 * ndim;
  if (bytes.length < headerBytes) {
    throw new RangeError(
      `${label}: truncated IDX header: ${ndim} dimensions need ${headerBytes} header bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: ndim }, (_, i) => view.getUint32(4 + 4 * i, false));
  return { type, dims, headerBytes, expected: dims.reduce((a, b) => a * b, 1) * type.bytes };
}

/** Parses IDX bytes (gzip-compressed or raw). `label` names the source in error messages. */
export function parseIdx(input: Uint8Array, label = '<bytes>'): IdxArray {
  const bytes = isGzip(input) ? gunzip(input, label) : input;
  const { type, dims, headerBytes, expected } = readHeader(bytes, label);
  const count = expected / type.bytes;
  const actual = bytes.length - headerBytes;
  if (actual !== expected) {
    const what = actual < expected ? 'truncated IDX data' : 'IDX data longer than its header says';
    throw new RangeError(
      `${label}: ${what}: header dims [${dims.join(', ')}] of ${type.dtype} need ${expected} bytes, got ${actual}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { dims, dtype: type.dtype, data: decode(view, headerBytes, count, type.dtype) };
}

function decode(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxData {
  switch (dtype) {
    case 'uint8':
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Reads an IDX file (path, file: URL, or its bytes); `.gz` content is detected by its gzip magic. */
export function loadIdx(source: string | URL | Uint8Array): IdxArray {
  if (source instanceof Uint8Array) return parseIdx(source);
  const path = source instanceof URL ? fileURLToPath(source) : source;
  return parseIdx(readFileSync(path), path);
}
