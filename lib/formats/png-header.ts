// What a PNG says about itself before it is decoded: the IHDR chunk (size, bit depth, colour
// type, interlacing). The folder loader checks it first, so a small file claiming 30000 x 30000
// pixels is refused in microseconds instead of being inflated to gigabytes.
import { inflateSync } from 'node:zlib';

import { DataFormatError } from './errors.js';

/** The most pixels one image of a data folder may have: 2^26 (8192 x 8192). */
export const MAX_PNG_PIXELS = 2 ** 26;

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
// Channels per colour type: grey, -, RGB, palette index, grey + alpha, -, RGBA.
const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
// Adam7 passes: first column, first row, column step, row step.
export const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

/** The IHDR of a PNG file's bytes (signature, chunk and colour type checked; see checkPngSize for the size). */
export function readPngHeader(bytes: Uint8Array, path: string): PngHeader {
  if (bytes.length < 33 || SIGNATURE.some((b, i) => bytes[i] !== b)) {
    throw new DataFormatError(
      `${path}: not a PNG file (expected the PNG signature and an IHDR chunk, got ${bytes.length} bytes)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = String.fromCharCode(...bytes.subarray(12, 16));
  if (view.getUint32(8) !== 13 || type !== 'IHDR') {
    throw new DataFormatError(
      `${path}: broken PNG: expected a 13-byte IHDR chunk first, got a ${view.getUint32(8)}-byte '${type}' chunk`,
    );
  }
  const header: PngHeader = {
    width: view.getUint32(16),
    height: view.getUint32(20),
    bitDepth: bytes[24]!,
    colorType: bytes[25]!,
    interlaced: bytes[28] === 1,
  };
  if (CHANNELS[header.colorType] === undefined) {
    throw new DataFormatError(`${path}: broken PNG: expected colour type 0, 2, 3, 4 or 6, got ${header.colorType}`);
  }
  return header;
}

/** Refuses a header whose pixel count is 0 or above MAX_PNG_PIXELS. */
export function checkPngSize(header: PngHeader, path: string): void {
  const pixels = header.width * header.height;
  if (pixels === 0 || pixels > MAX_PNG_PIXELS) {
    throw new DataFormatError(
      `${path}: implausible PNG size ${header.width}x${header.height}: expected 1 to ${MAX_PNG_PIXELS} pixels, got ${pixels}`,
    );
  }
}

/** Bytes of the filtered scanlines the header implies (every Adam7 pass when interlaced). */
export function scanlineBytes(h: PngHeader): number {
  const bits = CHANNELS[h.colorType]! * h.bitDepth;
  const passes = h.interlaced ? ADAM7 : [[0, 0, 1, 1] as const];
  let total = 0;
  for (const [x0, y0, dx, dy] of passes) {
    const w = Math.ceil((h.width - x0) / dx),
      rows = Math.ceil((h.height - y0) / dy);
    if (w > 0 && rows > 0) total += rows * (1 + Math.ceil((w * bits) / 8));
  }
  return total;
}

/**
 * Inflates the IDAT stream capped at the size the header implies. The decoder (pngjs) caps
 * non-interlaced images itself but inflates interlaced ones without a limit, so those are
 * checked here first.
 */
export function checkPngData(bytes: Uint8Array, header: PngHeader, path: string): void {
  if (!header.interlaced) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const parts: Uint8Array[] = [];
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (type === 'IDAT') parts.push(bytes.subarray(at + 8, Math.min(bytes.length, at + 8 + length)));
    if (type === 'IEND') break;
    at += 12 + length;
  }
  const expected = scanlineBytes(header);
  try {
    inflateSync(Buffer.concat(parts), { maxOutputLength: expected + 1 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataFormatError(
        `${path}: broken PNG: a ${header.width}x${header.height} interlaced image has ${expected} bytes of scanlines, its data inflate to more`,
      );
    }
    throw new DataFormatError(`${path}: broken PNG (${(error as Error).message})`);
  }
}
