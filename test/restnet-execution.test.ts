// How a loaded family runs: fused sessions against the shared segments (same outputs), the
// modes, the least-recently-used cache under a memory budget (checked against a simulation of
// the same rule over the fused files' sizes), and use() never waiting for a build.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadZooSplit } from '../lib/data/index.js';
import type { Tensor } from '../lib/matrix.js';
import { analyze, fit, loadAnchor, plan, ReStNet, type LoadOptions } from '../lib/restnet/index.js';
import { threadCandidates } from '../lib/restnet/threads.js';
import { fixture, relError } from './onnx-helpers.js';

const calibration = loadZooSplit('calibration');
const evalSplit = loadZooSplit('eval');
const x4: Tensor = { data: evalSplit.images.slice(0, 4 * 784), dims: [4, 1, 28, 28] };
const dir = mkdtempSync(join(tmpdir(), 'restnet-exec-'));
const nets: ReStNet[] = [];
let ids: string[] = [];
let anchors: string[] = [];
/** Bytes of each configuration's and anchor's fused ONNX file, as saved. */
const size = new Map<string, number>();

const load = async (options: LoadOptions): Promise<ReStNet> => {
  const net = await ReStNet.load(dir, { threads: 1, ...options });
  nets.push(net);
  return net;
};

beforeAll(async () => {
  const big = await loadAnchor({ name: 'cnn-a', model: fixture('cnn-a') }, { threads: 1 });
  const small = await loadAnchor({ name: 'vit-b', model: fixture('vit-b') }, { threads: 1 });
  const analysis = await analyze(big, small, calibration, { calibrationLimit: 64, batchSize: 64 });
  // kernel 3: the cnn-a-front stitches are 3 x 3 convolutions (a Conv in the fused graph, im2col
  // rows between the shared segments); the vit-b-front ones stay per-token maps.
  const built = await fit(plan(analysis, { order: 'both', costRange: 'any', kernel: 3 }), calibration, {
    calibrationLimit: 64,
  });
  expect(built.configs.map((c) => c.kernel).sort()).toEqual(
    built.configs.map((c) => (c.front === 'cnn-a' ? 3 : 1)).sort(),
  );
  await built.save(dir);
  ids = built.ids;
  anchors = built.anchorRecords.map((a) => a.name);
  // A session holds the self-contained graph: the family's file references the anchors' weights
  // (external data), which are put back before the session is built.
  for (const c of built.configs) size.set(c.id, built.model(c.id).toOnnx().length);
  for (const a of built.anchorRecords) size.set(a.name, statSync(join(dir, a.file)).size);
  await built.dispose();
}, 120_000);

afterAll(async () => {
  for (const n of nets) await n.dispose();
  rmSync(dir, { recursive: true, force: true });
});

describe('modes', () => {
  it('fused and shared give the same outputs (1e-4) for every configuration and anchor', async () => {
    const fused = await load({ mode: 'fused' });
    const shared = await load({ mode: 'shared' });
    expect(ids.length).toBeGreaterThanOrEqual(3);
    for (const id of [...ids, ...anchors])
      expect(relError(await fused.runWith(id, x4), await shared.runWith(id, x4)), id).toBeLessThan(1e-4);
    const f = fused.memory(),
      s = shared.memory();
    expect(f).toMatchObject({ mode: 'fused', threads: 1, budgetBytes: null });
    expect(new Set(f.fused.ids)).toEqual(new Set([...ids, ...anchors]));
    expect(f.fused.bytes).toBe([...ids, ...anchors].reduce((n, id) => n + size.get(id)!, 0));
    // warm: 'all' built every fused session, so no call needed a shared segment.
    expect(f.shared.sessions).toBe(0);
    expect(s.mode).toBe('shared');
    expect(s.fused).toEqual({ sessions: 0, bytes: 0, ids: [], building: [] });
    expect(s.shared.sessions).toBeGreaterThan(0);
    expect(s.sessions).toBe(s.shared.sessions);
  });

  it("'fused' with nothing warmed: the first call waits for its session and runs on it", async () => {
    const net = await load({ mode: 'fused', warm: 'none' });
    expect(net.memory().fused.sessions).toBe(0);
    net.use(ids[1]!);
    await net.run(x4);
    expect(net.memory().fused.ids).toEqual([ids[1]]);
    expect(net.memory().shared.sessions).toBe(0);
  });

  it('rejects unknown modes, budgets and warm lists', async () => {
    await expect(ReStNet.load(dir, { mode: 'fast' as never })).rejects.toThrow(
      /options.mode: expected one of fused, shared, auto, got "fast"/,
    );
    await expect(ReStNet.load(dir, { memoryBudgetBytes: -1 })).rejects.toThrow(
      /options.memoryBudgetBytes: expected a number >= 0/,
    );
    await expect(ReStNet.load(dir, { threads: 0 })).rejects.toThrow(/options.threads: expected a positive integer/);
    await expect(ReStNet.load(dir, { warm: 'some' as never })).rejects.toThrow(
      /options.warm: expected 'all', 'none' or an array of ids/,
    );
  });

  it('threads: without a setting, one of the candidates measured on this machine', async () => {
    const net = await ReStNet.load(dir, { warm: [ids[0]!] });
    nets.push(net);
    expect(threadCandidates()).toContain(net.memory().threads);
  });
});

describe('least recently used fused sessions under a memory budget', () => {
  it('holds what the budget allows, evicts the least recently used, and runs the rest on the segments', async () => {
    const sorted = [...ids].sort((a, b) => size.get(a)! - size.get(b)!);
    // Room for the two smallest configurations together, not for a third.
    const budget = size.get(sorted[0]!)! + size.get(sorted[1]!)! + 1;
    const net = await load({ mode: 'auto', warm: 'none', memoryBudgetBytes: budget });
    const reference = await load({ mode: 'shared', warm: 'none' });
    // The same rule, simulated: most recently used last; evict from the front until the new one fits.
    let held: string[] = [];
    const simulate = (id: string): void => {
      if (size.get(id)! > budget) return;
      if (held.includes(id)) {
        held = [...held.filter((h) => h !== id), id];
        return;
      }
      while (held.reduce((n, h) => n + size.get(h)!, 0) + size.get(id)! > budget) held.shift();
      held.push(id);
    };
    const order = [sorted[0]!, sorted[1]!, sorted[0]!, sorted[2]!, sorted[1]!, ...anchors, sorted[0]!];
    for (const id of order) {
      net.use(id);
      const out = await net.run(x4);
      expect(relError(out, await reference.runWith(id, x4)), id).toBeLessThan(1e-4);
      await net.ready();
      simulate(id);
      const m = net.memory();
      expect(m.fused.ids, `after ${id}`).toEqual(held);
      expect(m.fused.bytes).toBeLessThanOrEqual(budget);
    }
    // Something larger than the whole budget never gets a session, and still runs.
    const big = [...ids, ...anchors].find((id) => size.get(id)! > budget)!;
    expect(big).toBeDefined();
    expect(relError(await net.runWith(big, x4), await reference.runWith(big, x4))).toBeLessThan(1e-4);
    await net.ready();
    expect(net.memory().fused.ids).not.toContain(big);
  });
});

describe('concurrent calls under a budget that holds one session', () => {
  it("'fused': calls on different configurations evict each other's sessions and still all return the right outputs", async () => {
    const sorted = [...ids].sort((a, b) => size.get(a)! - size.get(b)!);
    const three = sorted.slice(0, 3);
    const net = await load({ mode: 'fused', warm: 'none', memoryBudgetBytes: size.get(three[2]!)! });
    const reference = await load({ mode: 'shared', warm: 'none' });
    const expected = new Map<string, Tensor>();
    for (const id of three) expected.set(id, await reference.runWith(id, x4));
    const calls = Array.from({ length: 12 }, (_, k) => three[k % 3]!);
    const outs = await Promise.all(calls.map((id) => net.runWith(id, x4)));
    outs.forEach((out, k) => expect(relError(out, expected.get(calls[k]!)!), calls[k]).toBeLessThan(1e-4));
    await net.ready();
    expect(net.memory().fused.ids).toHaveLength(1);
  });
});

describe('use() and a cold configuration', () => {
  it('use() builds nothing; the first call runs on the segments, the session is built after it, then calls switch to it', async () => {
    const net = await load({ mode: 'auto', warm: 'none' });
    const id = ids.at(-1)!;
    net.use(id);
    expect(net.current).toBe(id);
    expect(net.memory().fused).toEqual({ sessions: 0, bytes: 0, ids: [], building: [] });
    const first = await net.run(x4);
    // The result came back before the session existed: the call did not wait for a build.
    expect(net.memory().fused.ids).toEqual([]);
    expect(net.memory().shared.sessions).toBeGreaterThan(0);
    await net.ready();
    expect(net.memory().fused.ids).toEqual([id]);
    const shared = net.memory().shared.sessions;
    const second = await net.run(x4);
    expect(relError(second, first)).toBeLessThan(1e-4);
    // The second call ran on the fused session: no new shared segment session.
    expect(net.memory().shared.sessions).toBe(shared);
  });
});
