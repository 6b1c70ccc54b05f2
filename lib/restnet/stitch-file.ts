// The binary format of one configuration's stitch weights (`<id>.stitch`):
//   8 bytes  magic "RSTNSTCH"
//   u32 LE   format version (1)
//   u32 LE   header length H in bytes
//   H bytes  UTF-8 JSON header: {id, front: {anchor, cut, dims}, back: {anchor, cut, dims},
//            tensors: [{name, dims}]} (tensors in payload order: main.weight, main.bias, then
//            cls.weight, cls.bias for CNN -> Transformer with CLS, then position [P, out] when
//            the stitch has a per-position offset)
//   0-3 bytes zero padding to a multiple of 4
//   payload  the tensors as little-endian f32, nothing after them
// The header names every shape so a reader can check the file against the anchors before
// using a byte of it; the manifest also records the file's sha256.
import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import { stitch } from '../stitch/fit.js';

const MAGIC = 'RSTNSTCH';
const VERSION = 1;

export interface StitchEnd {
  anchor: string;
  cut: string;
  /** Per-sample dims of the activation at the cut. */
  dims: number[];
}

export interface StitchHeader {
  id: string;
  front: StitchEnd;
  back: StitchEnd;
  /** The adapter's grid shrink ('average' when absent). */
  downsample?: 'average' | 'space-to-depth';
  /** The adapter's grid growth ('bilinear' when absent). */
  upsample?: 'bilinear' | 'depth-to-space';
  /** Transformer -> Transformer: CLS has its own map (false when absent). */
  clsMap?: boolean;
  /** A CNN front's stitch as a k x k convolution (1 when absent). */
  kernel?: number;
  /** The stitch ends in a ReLU (false when absent). */
  rectify?: boolean;
  tensors: { name: string; dims: number[] }[];
}

export class StitchFileError extends Error {
  override name = 'StitchFileError';
}

export function encodeStitch(header: Omit<StitchHeader, 'tensors'>, maps: AdapterMaps): Uint8Array {
  const parts: { name: string; dims: number[]; data: Float32Array }[] = [];
  for (const key of ['main', 'cls'] as const) {
    const m = maps[key];
    if (!m) continue;
    parts.push({ name: `${key}.weight`, dims: [m.weight.rows, m.weight.cols], data: m.weight.data });
    parts.push({ name: `${key}.bias`, dims: [m.bias.length], data: m.bias });
  }
  if (maps.position) {
    const outputs = maps.main.weight.cols;
    parts.push({ name: 'position', dims: [maps.position.length / outputs, outputs], data: maps.position });
  }
  const json = new TextEncoder().encode(
    JSON.stringify({ ...header, tensors: parts.map(({ name, dims }) => ({ name, dims })) }),
  );
  const headerEnd = 16 + json.length;
  const payloadStart = Math.ceil(headerEnd / 4) * 4;
  const floats = parts.reduce((a, p) => a + p.data.length, 0);
  const out = new Uint8Array(payloadStart + floats * 4);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, VERSION, true);
  view.setUint32(12, json.length, true);
  out.set(json, 16);
  let offset = payloadStart;
  for (const p of parts) {
    for (let i = 0; i < p.data.length; i++, offset += 4) view.setFloat32(offset, p.data[i]!, true);
  }
  return out;
}

/** Parses a stitch file; `name` labels errors. Checks magic, version, header and exact size. */
export function decodeStitch(bytes: Uint8Array, name = 'stitch file'): { header: StitchHeader; maps: AdapterMaps } {
  const fail = (why: string): never => {
    throw new StitchFileError(`${name}: ${why}`);
  };
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC)
    fail(`not a restnet stitch file (expected the magic "${MAGIC}")`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== VERSION) fail(`format version ${version}, this restnet reads version ${VERSION}`);
  const length = view.getUint32(12, true);
  if (16 + length > bytes.length) fail(`header of ${length} bytes runs past the end of the ${bytes.length}-byte file`);
  let header: StitchHeader;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + length)),
    ) as StitchHeader;
  } catch (cause) {
    throw new StitchFileError(`${name}: the header is not valid JSON (${(cause as Error).message})`, { cause });
  }
  const dimsOk = (d: unknown): d is number[] =>
    Array.isArray(d) && d.length > 0 && d.every((x) => Number.isInteger(x) && x > 0);
  if (typeof header?.id !== 'string' || !Array.isArray(header.tensors)) fail('the header lacks id or tensors');
  for (const end of ['front', 'back'] as const) {
    const e = header[end];
    if (!e || typeof e.anchor !== 'string' || typeof e.cut !== 'string' || !dimsOk(e.dims))
      fail(`the header's ${end} needs {anchor, cut, dims}`);
  }
  const names = header.tensors.map((t) => t?.name);
  const hasPosition = names[names.length - 1] === 'position';
  const expectedNames = [
    ...(names.length - (hasPosition ? 1 : 0) === 4
      ? ['main.weight', 'main.bias', 'cls.weight', 'cls.bias']
      : ['main.weight', 'main.bias']),
    ...(hasPosition ? ['position'] : []),
  ];
  if (names.join() !== expectedNames.join())
    fail(`expected tensors ${expectedNames.join(', ')}, got ${names.join(', ')}`);
  if (!header.tensors.every((t) => dimsOk(t.dims))) fail('every tensor needs positive integer dims');
  const payloadStart = Math.ceil((16 + length) / 4) * 4;
  const floats = header.tensors.reduce((a, t) => a + t.dims.reduce((p, d) => p * d, 1), 0);
  if (bytes.length !== payloadStart + floats * 4)
    fail(
      `the header's tensors take ${floats * 4} bytes after offset ${payloadStart}, the file has ${bytes.length - payloadStart}`,
    );
  let offset = payloadStart;
  const read = (count: number): Float32Array => {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++, offset += 4) out[i] = view.getFloat32(offset, true);
    return out;
  };
  const maps: Partial<AdapterMaps> = {};
  const pairs = header.tensors.length - (hasPosition ? 1 : 0);
  for (let k = 0; k < pairs; k += 2) {
    const w = header.tensors[k]!,
      b = header.tensors[k + 1]!;
    if (w.dims.length !== 2 || b.dims.length !== 1 || b.dims[0] !== w.dims[1])
      fail(`${w.name} [${w.dims}] and ${b.name} [${b.dims}] are not a weight (in x out) and its bias (out)`);
    const weight = { data: read(w.dims[0]! * w.dims[1]!), rows: w.dims[0]!, cols: w.dims[1]! };
    const bias = read(b.dims[0]!);
    for (const v of weight.data) if (!Number.isFinite(v)) fail(`${w.name} holds a non-finite value`);
    for (const v of bias) if (!Number.isFinite(v)) fail(`${b.name} holds a non-finite value`);
    maps[w.name.startsWith('main') ? 'main' : 'cls'] = stitch(weight, bias);
  }
  if (hasPosition) {
    const p = header.tensors[pairs]!;
    if (p.dims.length !== 2 || p.dims[1] !== maps.main!.weight.cols)
      fail(`position [${p.dims}] must be positions x ${maps.main!.weight.cols} (the main map's outputs)`);
    const position = read(p.dims[0]! * p.dims[1]!);
    for (const v of position) if (!Number.isFinite(v)) fail('position holds a non-finite value');
    maps.position = position;
  }
  return { header, maps: maps as AdapterMaps };
}
