// Fused models that share their weights with the anchors on disk: an initializer whose bytes are
// a slice of an anchor's .onnx file is stored as ONNX external data pointing at that slice
// (location = the anchor's file, offset, length), so a family holds each anchor's weights once.
// onnxruntime can open such a file by path; restnet itself puts the bytes back from the anchors
// it has already verified (inlineExternalData) and builds sessions from self-contained bytes.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';

import type { ModelProto, TensorProto } from './proto.js';
import { int } from './proto.js';

/** A file the external references may point into: its name beside the model, and its bytes. */
export interface ExternalSource {
  location: string;
  bytes: Uint8Array;
}

const EXTERNAL = 1;
/** Bytes per element of the ONNX data types an initializer may hold as raw data. */
const ELEMENT_BYTES: Record<number, number> = {
  1: 4,
  2: 1,
  3: 1,
  4: 2,
  5: 2,
  6: 4,
  7: 8,
  9: 1,
  10: 2,
  11: 8,
  12: 4,
  13: 8,
  16: 2,
};

/** The source whose bytes `raw` is a view into, and where. */
function sliceOf(
  raw: Uint8Array,
  sources: readonly ExternalSource[],
): { location: string; offset: number } | undefined {
  for (const s of sources) {
    const offset = raw.byteOffset - s.bytes.byteOffset;
    if (raw.buffer === s.bytes.buffer && offset >= 0 && offset + raw.byteLength <= s.bytes.byteLength)
      return { location: s.location, offset };
  }
  return undefined;
}

/**
 * The model with every initializer of at least `minBytes` whose raw bytes are a view into one of
 * `sources` (as decoding an anchor's bytes leaves them) stored as a reference into that source.
 * Other initializers (the stitch's weights, tensors a transformation made) stay inside.
 */
export function referenceExternalData(
  model: ModelProto,
  sources: readonly ExternalSource[],
  minBytes = 1024,
): ModelProto {
  const graph = model.graph!;
  const initializer = graph.initializer.map((t): TensorProto => {
    const raw = t.raw_data;
    if (!raw || raw.byteLength < minBytes) return t;
    const at = sliceOf(raw, sources);
    if (!at) return t;
    const { raw_data: _inline, ...rest } = t;
    return {
      ...rest,
      data_location: EXTERNAL,
      external_data: [
        { key: 'location', value: at.location },
        { key: 'offset', value: String(at.offset) },
        { key: 'length', value: String(raw.byteLength) },
      ],
    };
  });
  return { ...model, graph: { ...graph, initializer } };
}

/** Whether any initializer keeps its bytes outside the model. */
export function hasExternalData(model: ModelProto): boolean {
  return model.graph!.initializer.some((t) => t.data_location === EXTERNAL);
}

/**
 * The model with every external reference replaced by the bytes it names in `files` (location ->
 * bytes). A location that is not one of `files`, an offset or length that is not a whole number
 * inside the file, or a length that does not match the tensor's shape and type is an error made
 * by `fail(why)`.
 */
export function inlineExternalData(
  model: ModelProto,
  files: ReadonlyMap<string, Uint8Array>,
  fail: (why: string) => Error,
): ModelProto {
  const graph = model.graph!;
  const initializer = graph.initializer.map((t): TensorProto => {
    if (t.data_location !== EXTERNAL) return t;
    const entries = new Map((t.external_data ?? []).map((e) => [e.key, e.value]));
    const location = entries.get('location') ?? '';
    const file = files.get(location);
    if (!file)
      throw fail(
        `initializer '${t.name}' keeps its data in '${location}', which is not one of the family's anchor files (${[...files.keys()].join(', ')})`,
      );
    const number = (key: string, fallback: string): number => {
      const text = entries.get(key) ?? fallback;
      const v = /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isSafeInteger(v))
        throw fail(`initializer '${t.name}': external data ${key} '${text}' is not a whole number`);
      return v;
    };
    const offset = number('offset', '0');
    const length = number('length', String(file.byteLength - offset));
    if (offset + length > file.byteLength)
      throw fail(
        `initializer '${t.name}': external data [${offset}, ${offset + length}) lies outside '${location}' (${file.byteLength} bytes)`,
      );
    const size = ELEMENT_BYTES[t.data_type ?? 0];
    const expected = size === undefined ? undefined : t.dims.reduce<number>((n, d) => n * int(d), size);
    if (expected !== length)
      throw fail(
        `initializer '${t.name}': external data of ${length} bytes, its shape [${t.dims.map(int).join(', ')}] and type ${t.data_type} need ${expected ?? 'a known element size'}`,
      );
    const { external_data: _refs, data_location: _where, ...rest } = t;
    return { ...rest, raw_data: file.subarray(offset, offset + length) };
  });
  return { ...model, graph: { ...graph, initializer } };
}

/**
 * location -> bytes of every file the external data of `model` (read from `path`) names, read
 * from beside it: the ONNX convention (locations relative to the model's folder), as
 * onnxruntime resolves them when it opens the file by path. A location that is absolute or
 * leaves the folder is refused, as onnxruntime refuses it; errors are made by `fail(why)`.
 */
export async function readExternalFiles(
  model: ModelProto,
  path: string,
  fail: (why: string) => Error,
): Promise<Map<string, Uint8Array>> {
  const folder = dirname(resolve(path));
  const files = new Map<string, Uint8Array>();
  for (const t of model.graph!.initializer) {
    if (t.data_location !== EXTERNAL) continue;
    const location = t.external_data?.find((e) => e.key === 'location')?.value ?? '';
    if (files.has(location)) continue;
    const file = resolve(folder, location);
    const inside = relative(folder, file);
    if (location === '' || isAbsolute(location) || inside === '' || inside === '..' || inside.startsWith(`..${sep}`))
      throw fail(
        `initializer '${t.name}' keeps its data in '${location}': expected a file name relative to the model's folder '${folder}', inside it`,
      );
    try {
      files.set(location, await readFile(file));
    } catch (cause) {
      throw fail(
        `initializer '${t.name}' keeps its data in '${file}', which cannot be read (${(cause as Error).message})`,
      );
    }
  }
  return files;
}
