// A brief run of the fuzz harness (test/fuzz/): a few seconds of mutated native calls and
// mutated files, each target in a child process. The child surviving is the assertion: a
// SIGSEGV or V8 abort fails the test with the case to replay. Longer runs: `npm run fuzz`.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseIdx } from '../lib/data/idx.js';
import { loadData } from '../lib/formats/load.js';
import { parseNpy } from '../lib/formats/npy.js';
import { FrozenModel } from '../lib/onnx/index.js';
import { decodeStitch } from '../lib/restnet/stitch-file.js';
import { mutate } from './fuzz/mutate.js';
import { Random } from './fuzz/random.js';
import { superviseFuzz, type FuzzRun } from './fuzz/supervise.js';

const SECONDS = 3;
const SEED = 20261201;

function expectSurvives(run: FuzzRun): void {
  const result = superviseFuzz(run);
  if (!result.ok) expect.fail(result.report);
  const { cases, outcomes } = result.summary;
  // Enough cases ran, and some of every kind got through the checks to the work behind them.
  expect(cases).toBeGreaterThan(100);
  expect(Object.keys(outcomes).some((k) => k.endsWith(': returned'))).toBe(true);
}

describe('fuzz harness', () => {
  it('the native calls survive mutated shapes, sizes and options', () => {
    expectSurvives({ target: 'native', seconds: SECONDS, seed: SEED });
  }, 120_000);

  it('the file readers survive mutated npy, IDX, PNG, ONNX and .stitch files', () => {
    expectSurvives({ target: 'files', seconds: SECONDS, seed: SEED });
  }, 120_000);

  it('draws the same case from the same seed and index, another from another', () => {
    const draw = (seed: number, index: number): number[] => {
      const r = Random.forCase(seed, index);
      return [r.next(), r.int(0, 1000), r.normal()];
    };
    expect(draw(7, 3)).toEqual(draw(7, 3));
    expect(draw(7, 3)).not.toEqual(draw(7, 4));
    expect(draw(7, 3)).not.toEqual(draw(8, 3));
    const seed = Uint8Array.from({ length: 64 }, (_, i) => i);
    expect(mutate(seed, Random.forCase(1, 2))).toEqual(mutate(seed, Random.forCase(1, 2)));
  });

  it('starts from seed files that every reader loads as they are', async () => {
    const dir = new URL('./fuzz/corpus/', import.meta.url);
    const files = readdirSync(dir);
    const bytes = (f: string): Uint8Array => new Uint8Array(readFileSync(new URL(f, dir)));
    for (const f of files.filter((n) => n.endsWith('.npy')))
      expect(parseNpy(bytes(f), f).shape.length).toBeGreaterThan(0);
    for (const f of files.filter((n) => n.includes('.idx')))
      expect(parseIdx(bytes(f), f).dims.length).toBeGreaterThan(0);
    for (const f of files.filter((n) => n.endsWith('.stitch')))
      expect(decodeStitch(bytes(f), f).maps.main.weight.rows).toBe(4);
    for (const f of files.filter((n) => n.endsWith('.onnx'))) await (await FrozenModel.load(bytes(f))).dispose();
    for (const f of files.filter((n) => n.endsWith('.png'))) {
      const folder = mkdtempSync(join(tmpdir(), 'restnet-fuzz-seed-'));
      writeFileSync(join(folder, f), bytes(f));
      expect(loadData(folder).dims[0]).toBe(1);
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
