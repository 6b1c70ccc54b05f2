// Fuzz cases for the file readers: .npy (parseNpy), IDX raw and gzip (parseIdx), PNG folders
// (loadData), ONNX (FrozenModel.load) and `.stitch` (decodeStitch), each fed a mutated seed file
// from corpus/. Gzip and PNG seeds are also mutated inside their container (the IDX before
// compression, the PNG with its chunk CRCs fixed) so mutations reach the parsers behind them.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync, crc32 } from 'node:zlib';

import { parseIdx } from '../../lib/data/idx.js';
import { loadData } from '../../lib/formats/load.js';
import { parseNpy } from '../../lib/formats/npy.js';
import { FrozenModel } from '../../lib/onnx/frozen-model.js';
import { decodeStitch } from '../../lib/restnet/stitch-file.js';
import type { FuzzCase } from './native-cases.js';
import { mutate } from './mutate.js';
import type { Random } from './random.js';

const corpusDir = new URL('./corpus/', import.meta.url);
const corpus = new Map(readdirSync(corpusDir).map((f) => [f, new Uint8Array(readFileSync(new URL(f, corpusDir)))]));
const seeds = (test: (name: string) => boolean): [string, Uint8Array][] => [...corpus].filter(([n]) => test(n));

/** The PNG with every complete chunk's CRC recomputed, so a reader gets past the checksums. */
function fixPngCrcs(png: Uint8Array): Uint8Array {
  const out = Uint8Array.from(png);
  const view = new DataView(out.buffer);
  for (let at = 8; at + 12 <= out.length; ) {
    const length = view.getUint32(at);
    if (at + 12 + length > out.length) break;
    view.setUint32(at + 8 + length, crc32(out.subarray(at + 4, at + 8 + length)));
    at += 12 + length;
  }
  return out;
}

/** A mutated copy of one seed: `name` says which, for the reproducer. */
function mutated(rng: Random, from: [string, Uint8Array][]): { name: string; bytes: Uint8Array } {
  const [name, seed] = rng.pick(from);
  const other = rng.pick([...corpus.values()]);
  if (name.endsWith('.gz') && rng.chance(0.5)) {
    return { name: `gzip(mutated gunzip(${name}))`, bytes: gzipSync(mutate(gunzipSync(seed), rng, other)) };
  }
  const bytes = mutate(seed, rng, other);
  if (name.endsWith('.png') && rng.chance(0.5)) return { name: `fixCrcs(mutated ${name})`, bytes: fixPngCrcs(bytes) };
  return { name: `mutated ${name}`, bytes };
}

/** `what(label)` of a mutated seed; `label` names the seed and the case in any error message. */
function reader(
  rng: Random,
  from: [string, Uint8Array][],
  what: string,
  read: (bytes: Uint8Array, label: string) => unknown,
): FuzzCase {
  const { name, bytes } = mutated(rng, from);
  return { text: `${what}(${name}, ${bytes.length} bytes)`, run: () => read(bytes, name) };
}

/** The cases by reader; PNG cases write into folders under `scratch` (created here). */
export function fileCases(scratch: string): Record<string, (rng: Random) => FuzzCase> {
  // One folder for the mutated image alone, one where it follows an intact grey.png.
  mkdirSync(join(scratch, 'one'), { recursive: true });
  mkdirSync(join(scratch, 'two'), { recursive: true });
  writeFileSync(join(scratch, 'two', 'a.png'), corpus.get('grey.png')!);
  return {
    npy: (r) =>
      reader(
        r,
        seeds((n) => n.endsWith('.npy')),
        'parseNpy',
        parseNpy,
      ),
    idx: (r) =>
      reader(
        r,
        seeds((n) => n.includes('.idx')),
        'parseIdx',
        parseIdx,
      ),
    png: (r) => {
      const alone = r.chance(0.5);
      return reader(
        r,
        seeds((n) => n.endsWith('.png')),
        alone ? 'loadData(folder of one)' : 'loadData(folder after grey.png)',
        (bytes) => {
          const folder = join(scratch, alone ? 'one' : 'two');
          writeFileSync(join(folder, 'b.png'), bytes);
          return loadData(folder);
        },
      );
    },
    onnx: (r) =>
      reader(
        r,
        seeds((n) => n.endsWith('.onnx')),
        'FrozenModel.load',
        async (bytes) => {
          const model = await FrozenModel.load(bytes);
          await model.dispose();
        },
      ),
    stitch: (r) =>
      reader(
        r,
        seeds((n) => n.endsWith('.stitch')),
        'decodeStitch',
        decodeStitch,
      ),
  };
}
