// Shared weights on disk: a family's fused <id>.onnx files reference the anchors' weights inside
// the anchors' own files (ONNX external data), so the family holds each anchor once. Such a
// family loads, runs and equals the self-contained export; onnxruntime opens the files by path;
// a changed anchor file, or a reference to a file that is not an anchor or outside it, is rejected.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadZooSplit } from '../lib/data/index.js';
import type { Tensor } from '../lib/matrix.js';
import { hasExternalData } from '../lib/onnx/external-data.js';
import { FrozenModel, OnnxModelError } from '../lib/onnx/index.js';
import { decodeModel, encodeModel } from '../lib/onnx/proto.js';
import { analyze, fit, loadAnchor, ManifestError, plan, ReStNet } from '../lib/restnet/index.js';
import { sha256 } from '../lib/restnet/anchor.js';
import type { RestnetManifest } from '../lib/restnet/manifest.js';
import { fixture, ortRun, relError } from './onnx-helpers.js';

const calibration = loadZooSplit('calibration');
const evalSplit = loadZooSplit('eval');
const x8: Tensor = { data: evalSplit.images.slice(0, 8 * 784), dims: [8, 1, 28, 28] };
const dirs: string[] = [];
const nets: ReStNet[] = [];
const tmp = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'restnet-shared-'));
  dirs.push(d);
  return d;
};
const manifestOf = (dir: string): RestnetManifest =>
  JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as RestnetManifest;
const sizeOf = (dir: string, file: string): number => statSync(join(dir, file)).size;
let net: ReStNet;
let shared: string;

beforeAll(async () => {
  const big = await loadAnchor({ name: 'cnn-a', model: fixture('cnn-a') }, { threads: 1 });
  const small = await loadAnchor({ name: 'vit-b', model: fixture('vit-b') }, { threads: 1 });
  const analysis = await analyze(big, small, calibration, { calibrationLimit: 64, batchSize: 64 });
  net = await fit(plan(analysis, { costRange: 'any' }), calibration, { calibrationLimit: 64 });
  nets.push(net);
  shared = tmp();
  await net.save(shared);
}, 120_000);

afterAll(async () => {
  for (const n of nets) await n.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('a family with shared weights', () => {
  it('its fused files reference the anchor files instead of copying them', () => {
    const m = manifestOf(shared);
    const anchorFiles = new Set(m.anchors.map((a) => a.file));
    const copies = tmp();
    // The same family written with self-contained fused files, for comparison.
    return net.save(copies, { sharedWeights: false }).then(() => {
      let referenced = 0;
      for (const c of m.configs) {
        const model = decodeModel(readFileSync(join(shared, c.onnx!)), c.onnx!);
        const locations = model.graph!.initializer.map(
          (t) =>
            (t as { external_data?: { key: string; value: string }[] }).external_data?.find((e) => e.key === 'location')
              ?.value,
        );
        for (const l of locations) if (l !== undefined) expect(anchorFiles.has(l)).toBe(true);
        // Exactly the anchors' initializers of 1 KiB or more are references (the stitch's own weights stay inside).
        const self = decodeModel(readFileSync(join(copies, c.onnx!)), c.onnx!);
        expect(hasExternalData(self)).toBe(false);
        const large = self
          .graph!.initializer.filter((t) => !t.name!.startsWith('stitch/') && (t.raw_data?.byteLength ?? 0) >= 1024)
          .map((t) => t.name);
        expect(model.graph!.initializer.filter((_, k) => locations[k] !== undefined).map((t) => t.name)).toEqual(large);
        referenced += large.length;
        expect(sizeOf(shared, c.onnx!)).toBeLessThanOrEqual(sizeOf(copies, c.onnx!));
      }
      expect(referenced).toBeGreaterThan(0);
      const total = (dir: string) => readdirSync(dir).reduce((n, f) => n + sizeOf(dir, f), 0);
      expect(total(shared)).toBeLessThan(total(copies));
    });
  });

  it('loads, runs and equals the self-contained export within 1e-5; onnxruntime opens its files by path', async () => {
    const loaded = await ReStNet.load(shared, { threads: 1, mode: 'fused', warm: 'all' });
    nets.push(loaded);
    for (const id of loaded.ids) {
      expect(loaded.memory().fused.ids).toContain(id);
      const self = await ortRun(net.model(id).toOnnx(), x8);
      expect(relError(await loaded.runWith(id, x8), self)).toBeLessThan(1e-5);
      expect(relError(await ortRun(join(shared, loaded.record(id).onnx!), x8), self)).toBeLessThan(1e-5);
    }
  });

  it('a changed anchor file (the external data) is rejected', async () => {
    const dir = tmp();
    await net.save(dir);
    const file = join(dir, manifestOf(dir).anchors[0]!.file);
    const bytes = readFileSync(file);
    bytes[bytes.length - 100]! ^= 1;
    writeFileSync(file, bytes);
    await expect(ReStNet.load(dir, { threads: 1, warm: 'none' })).rejects.toThrow(ManifestError);
    await expect(ReStNet.load(dir, { threads: 1, warm: 'none' })).rejects.toThrow(/sha256/);
  });

  const rewrite = async (edit: (refs: { key: string; value: string }[]) => void): Promise<string> => {
    const dir = tmp();
    await net.save(dir);
    const m = manifestOf(dir);
    const c = m.configs.find((r) => hasExternalData(decodeModel(readFileSync(join(dir, r.onnx!)), r.onnx!)))!;
    const model = decodeModel(readFileSync(join(dir, c.onnx!)), c.onnx!);
    const t = model.graph!.initializer.find((i) => i.data_location === 1)!;
    edit(t.external_data!);
    const bytes = encodeModel(model);
    writeFileSync(join(dir, c.onnx!), bytes);
    // The manifest is made to agree, as someone replacing files on purpose would.
    c.onnxSha256 = sha256(bytes);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    return dir;
  };

  it('a reference to a file that is not one of the anchors, or outside its file, is rejected', async () => {
    for (const [edit, why] of [
      [
        (refs: { key: string; value: string }[]) => (refs.find((e) => e.key === 'location')!.value = '../secret.bin'),
        /keeps its data in '\.\.\/secret\.bin', which is not one of the family's anchor files/,
      ],
      [
        (refs: { key: string; value: string }[]) => (refs.find((e) => e.key === 'location')!.value = 'manifest.json'),
        /not one of the family's anchor files/,
      ],
      [
        (refs: { key: string; value: string }[]) => (refs.find((e) => e.key === 'offset')!.value = '999999999'),
        /lies outside/,
      ],
      [
        (refs: { key: string; value: string }[]) => (refs.find((e) => e.key === 'length')!.value = '8'),
        /external data of 8 bytes, its shape/,
      ],
      [
        (refs: { key: string; value: string }[]) => (refs.find((e) => e.key === 'offset')!.value = '-4'),
        /is not a whole number/,
      ],
    ] as const) {
      const dir = await rewrite(edit);
      await expect(ReStNet.load(dir, { threads: 1, warm: 'none' })).rejects.toThrow(ManifestError);
      await expect(ReStNet.load(dir, { threads: 1, warm: 'none' })).rejects.toThrow(why);
    }
  });

  it('FrozenModel.load opens a fused file by path, its weights read from beside it; bytes alone or a reference outside its folder are refused', async () => {
    const m = manifestOf(shared);
    const referencing = m.configs
      .map((c) => join(shared, c.onnx!))
      .filter((p) => hasExternalData(decodeModel(readFileSync(p), p)));
    expect(referencing.length).toBeGreaterThan(0);
    for (const path of referencing) {
      const model = await FrozenModel.load(path, { threads: 1 });
      expect(relError(await model.run(x8), await ortRun(path, x8))).toBeLessThan(1e-6);
      await model.dispose();
    }
    const path = referencing[0]!;
    await expect(FrozenModel.load(readFileSync(path))).rejects.toThrow(
      /pathOrBytes: \d+ initializers keep their values in external data files; load the model by its path/,
    );
    // A file that exists beside the folder: refused for where it is, not for being missing.
    const secret = `restnet-secret-${process.pid}.bin`;
    const outside = await rewrite((refs) => (refs.find((e) => e.key === 'location')!.value = `../${secret}`));
    writeFileSync(join(outside, '..', secret), new Uint8Array(1 << 20));
    const edited = manifestOf(outside).configs.map((c) => join(outside, c.onnx!));
    const refused = await Promise.allSettled(edited.map((p) => FrozenModel.load(p, { threads: 1 })));
    const errors = refused.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(OnnxModelError);
    expect(errors[0].message).toMatch(
      /keeps its data in '\.\.\/restnet-secret-\d+\.bin': expected a file name relative to the model's folder/,
    );
    for (const r of refused) if (r.status === 'fulfilled') await r.value.dispose();
    rmSync(join(outside, '..', secret));
    const missing = await rewrite((refs) => (refs.find((e) => e.key === 'location')!.value = 'gone.onnx'));
    const loads = await Promise.allSettled(
      manifestOf(missing).configs.map((c) => FrozenModel.load(join(missing, c.onnx!), { threads: 1 })),
    );
    const gone = loads.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason);
    expect(gone.map((e) => e.message)).toEqual([expect.stringMatching(/gone\.onnx', which cannot be read \(ENOENT/)]);
    for (const r of loads) if (r.status === 'fulfilled') await r.value.dispose();
  });
});
