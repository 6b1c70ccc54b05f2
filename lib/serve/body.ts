// Classify request bodies -> a tensor [N, ...the model's sample dims]:
//   application/octet-stream  float32 little-endian samples; N = length / one sample's bytes
//   image/png                 one image, converted as the CLI converts data (lib/formats: channels, resize)
//   application/json          { "data": [numbers], "dims": [N, ...] } with N x (the sample size) values
// Anything that does not fit is an HttpError 400 naming what was expected and what came.
import { conformTo, pngSample } from '../formats/index.js';
import type { Tensor } from '../matrix.js';
import { dimsText } from '../validate.js';
import { HttpError } from './errors.js';

/** The model input a service feeds: its name and its sample dims (after N). */
export interface InputSpec {
  name: string;
  sampleDims: number[];
}

export const CLASSIFY_TYPES = ['application/octet-stream', 'image/png', 'application/json'] as const;

/** The media type of a Content-Type header, lower case, without parameters. */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

export function toTensor(type: string, body: unknown, input: InputSpec): Tensor {
  const size = input.sampleDims.reduce((a, b) => a * b, 1);
  const expected = `[N, ${input.sampleDims.join(', ')}]`;
  if (type === 'application/octet-stream') {
    const bytes = body as Buffer;
    if (bytes.length === 0 || bytes.length % (4 * size) !== 0) {
      throw new HttpError(
        400,
        `application/octet-stream: expected float32 samples ${expected}, a multiple of ${4 * size} bytes (N >= 1), got ${bytes.length} bytes`,
      );
    }
    const n = bytes.length / (4 * size);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const data = new Float32Array(n * size);
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(4 * i, true);
    return { data, dims: [n, ...input.sampleDims] };
  }
  if (type === 'image/png') {
    try {
      const rows = conformTo(pngSample(body as Buffer, 'image/png body'), [1, ...input.sampleDims], input.name);
      return { data: rows.images, dims: [1, ...input.sampleDims] };
    } catch (error) {
      throw new HttpError(400, (error as Error).message);
    }
  }
  if (type === 'application/json') return fromJson(body, input, size, expected);
  throw new HttpError(415, `Content-Type: expected one of ${CLASSIFY_TYPES.join(', ')}, got ${type || 'none'}`);
}

function fromJson(body: unknown, input: InputSpec, size: number, expected: string): Tensor {
  const fail = (why: string): never => {
    throw new HttpError(400, `application/json: ${why}`);
  };
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    fail(
      `expected an object { "data": [...], "dims": ${expected} }, got ${Array.isArray(body) ? 'an array' : typeof body}`,
    );
  const { data, dims } = body as { data?: unknown; dims?: unknown };
  if (!Array.isArray(dims) || dims.length < 2 || !dims.every((d) => Number.isSafeInteger(d) && d >= 1))
    fail(`"dims": expected positive integers ${expected}, got ${JSON.stringify(dims)}`);
  const d = dims as number[];
  const per = d.slice(1).reduce((a, b) => a * b, 1);
  if (per !== size)
    fail(`"dims": expected ${expected} (${size} values per sample), got ${dimsText(d)} (${per} per sample)`);
  if (!Array.isArray(data)) fail(`"data": expected an array of numbers, got ${typeof data}`);
  const values = data as unknown[];
  const n = d[0]!;
  if (values.length !== n * size)
    fail(`"data": expected ${n} x ${size} = ${n * size} numbers for dims ${dimsText(d)}, got ${values.length}`);
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number' || !Number.isFinite(v))
      fail(`"data"[${i}]: expected a finite number, got ${JSON.stringify(v)}`);
    out[i] = v as number;
  }
  return { data: out, dims: [n, ...input.sampleDims] };
}
