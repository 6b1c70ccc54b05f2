// Device profiles: net.profile() writes profile-<platform>-<arch>-<cpu>.json next to the manifest
// (the manifest untouched), load() picks it up, and select() / ladder() follow its latencies:
// a profile with crafted latencies changes the choice; one measured on other files is not used.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadZooSplit } from '../lib/data/index.js';
import { analyze, evaluate, fit, loadAnchor, plan, ReStNet, type DeviceProfile } from '../lib/restnet/index.js';
import { profileFileName, readDeviceProfile, thisDevice, validateProfile } from '../lib/restnet/profile-file.js';
import { fixture } from './onnx-helpers.js';

const calibration = loadZooSplit('calibration');
const evalSplit = loadZooSplit('eval');
const dir = mkdtempSync(join(tmpdir(), 'restnet-profile-'));
const nets: ReStNet[] = [];
const load = async (d: string): Promise<ReStNet> => {
  const net = await ReStNet.load(d, { threads: 1, warm: 'none' });
  nets.push(net);
  return net;
};

beforeAll(async () => {
  const big = await loadAnchor({ name: 'cnn-a', model: fixture('cnn-a') }, { threads: 1 });
  const small = await loadAnchor({ name: 'vit-b', model: fixture('vit-b') }, { threads: 1 });
  const net = await fit(
    plan(await analyze(big, small, calibration, { calibrationLimit: 64, batchSize: 64 }), { costRange: 'any' }),
    calibration,
    { calibrationLimit: 64 },
  );
  await evaluate(net, evalSplit, undefined, { evalLimit: 50, latencyRuns: 1, latencyRunsBatch32: 1 });
  await net.save(dir);
  await net.dispose();
}, 120_000);

afterAll(async () => {
  for (const n of nets) await n.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('profile file', () => {
  it('round trip: measured, written next to the manifest (which stays as it was), read back by load()', async () => {
    const manifest = readFileSync(join(dir, 'manifest.json'), 'utf8');
    const net = await load(dir);
    const stages = new Set<string>();
    let last = 0;
    const { path, profile } = await net.profile({
      runs: 3,
      batches: [1, 4],
      onProgress: (e) => {
        stages.add(e.stage);
        last = e.done / e.total;
      },
    });
    expect(stages).toEqual(new Set(['profile']));
    expect(last).toBe(1);
    expect(path).toBe(join(dir, profileFileName(thisDevice())));
    expect(readFileSync(join(dir, 'manifest.json'), 'utf8')).toBe(manifest);
    const ids = [...net.ids, ...net.anchorRecords.map((a) => a.name)];
    expect(profile.entries.map((e) => e.id).sort()).toEqual([...ids].sort());
    for (const e of profile.entries) {
      expect(Object.keys(e.batches).sort()).toEqual(['1', '4']);
      for (const b of Object.values(e.batches)) {
        expect(b.runs).toBe(3);
        expect(b.medianMs).toBeGreaterThan(0);
        expect(b.p95Ms).toBeGreaterThanOrEqual(b.medianMs);
      }
      expect(e.mode).toBe('fused');
    }
    const read = await readDeviceProfile(dir);
    expect(read!.profile).toEqual(JSON.parse(JSON.stringify(profile)));
    const again = await load(dir);
    expect(again.deviceProfile).toMatchObject({ path, mismatch: null });
    const chosen = again.select({});
    expect(chosen.latencySource).toBe('profile');
    expect(chosen.latencyMs).toBe(profile.entries.find((e) => e.id === chosen.id)!.batches['1']!.medianMs);
    expect(again.ladder().every((r) => r.source === 'profile')).toBe(true);
  });

  it('rejects malformed profiles with a ProfileError naming the file', () => {
    const good: DeviceProfile = {
      format: 'restnet-profile/1',
      device: thisDevice(),
      threads: 1,
      mode: 'auto',
      createdAt: 'now',
      entries: [
        {
          id: 'x',
          kind: 'anchor',
          sha256: 'a'.repeat(64),
          mode: 'fused',
          batches: { '1': { medianMs: 1, p95Ms: 2, runs: 3 } },
        },
      ],
    };
    expect(validateProfile(good, 'p.json')).toBe(good);
    const bad = (patch: (p: DeviceProfile) => void): unknown => {
      const p = structuredClone(good);
      patch(p);
      return () => validateProfile(p, 'p.json');
    };
    expect(bad((p) => (p.entries[0]!.batches['1']!.medianMs = -1))).toThrow(
      /p\.json: entries\[0\] \(x\) batch 1: expected medianMs >= 0/,
    );
    expect(bad((p) => (p.entries[0]!.batches['1']!.p95Ms = 0.5))).toThrow(/p95Ms >= medianMs/);
    expect(bad((p) => (p.threads = 0))).toThrow(/threads: expected a positive integer/);
    expect(bad((p) => (p.format = 'x'))).toThrow(/ProfileError|expected format "restnet-profile\/1"/);
  });
});

describe('select with a profile', () => {
  it('crafted latencies change the choice under a latency budget, and reorder the ladder; a stale profile is not used', async () => {
    const copy = mkdtempSync(join(tmpdir(), 'restnet-profile-copy-'));
    try {
      cpSync(dir, copy, { recursive: true });
      const net = await load(copy);
      const ids = [...net.ids, ...net.anchorRecords.map((a) => a.name)];
      // Crafted: latency falls as MACs rise, so the cheapest by MACs is the slowest on "this device".
      const macs = new Map([
        ...net.configs.map((c) => [c.id, c.macs] as const),
        ...net.anchorRecords.map((a) => [a.name, a.macs] as const),
      ]);
      const byMacs = [...ids].sort((a, b) => macs.get(a)! - macs.get(b)!);
      const crafted = new Map(byMacs.map((id, k) => [id, 10 * (byMacs.length - k)]));
      const { profile } = await net.profile({ runs: 1, batches: [1] });
      for (const e of profile.entries)
        e.batches['1'] = { medianMs: crafted.get(e.id)!, p95Ms: crafted.get(e.id)!, runs: 1 };
      writeFileSync(join(copy, profileFileName(thisDevice())), JSON.stringify(profile));
      const budget = 10 * 1.5; // only the largest by MACs is fast enough on this device
      const profiled = await load(copy);
      expect(profiled.select({ maxLatencyMs: budget })).toMatchObject({
        id: byMacs.at(-1),
        latencySource: 'profile',
        latencyMs: 10,
      });
      expect(profiled.ladder().map((r) => r.id)).toEqual([...byMacs].reverse());
      // Without the profile: the manifest's latencies and MACs order.
      rmSync(join(copy, profileFileName(thisDevice())));
      const plain = await load(copy);
      expect(plain.select({}).latencySource).toBe('manifest');
      expect(plain.ladder().map((r) => r.id)).toEqual(byMacs);
      // A profile measured on other files (one stitch hash changed) is read but not used.
      profile.entries[0]!.sha256 = 'b'.repeat(64);
      writeFileSync(join(copy, profileFileName(thisDevice())), JSON.stringify(profile));
      const stale = await load(copy);
      expect(stale.deviceProfile!.mismatch).toMatch(/was measured on another file/);
      expect(stale.select({}).latencySource).toBe('manifest');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
