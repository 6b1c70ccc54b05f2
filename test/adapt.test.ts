// The adaptive controller on simulated time and latencies: a device whose per-configuration
// latency is a rung's base cost times a load factor (with seeded jitter). Checks step down, step
// up (and not before the cooldown), no oscillation on a steady load (with correct and with
// misleading rung costs), pinning, minAccuracy, stale observations, and option errors.
import { describe, expect, it } from 'vitest';

import { AdaptiveController, type AdaptOptions, type SwitchEvent } from '../lib/restnet/adapt.js';
import type { Rung } from '../lib/restnet/index.js';

const base: Record<string, number> = { tiny: 2, small: 4, mid: 8, big: 16 };
const accuracy: Record<string, number> = { tiny: 0.7, small: 0.8, mid: 0.85, big: 0.9 };
const rung = (id: string, latencyMs: number | null = base[id]!): Rung => ({
  id,
  kind: id === 'big' ? 'anchor' : 'stitched',
  accuracy: accuracy[id]!,
  macs: base[id]! * 1e6,
  latencyMs,
  source: latencyMs === null ? 'macs' : 'profile',
});
const LADDER = ['tiny', 'small', 'mid', 'big'].map((id) => rung(id));

/** A net that only switches (as ReStNet.use does: unknown ids are a RangeError). */
function simNet(ids = ['tiny', 'small', 'mid', 'big', 'other']): {
  current: string;
  use(id: string): void;
  uses: string[];
} {
  return {
    current: ids[0]!,
    uses: [],
    use(id: string) {
      if (!ids.includes(id)) throw new RangeError(`id: expected one of ${ids.join(', ')}, got ${JSON.stringify(id)}`);
      this.current = id;
      this.uses.push(id);
    },
  };
}

/** Seeded uniform [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Drives a controller: one request every `everyMs` of simulated time, each taking the current
 * configuration's base latency x load(t) x (1 + 0.1 u). Returns the switch events with their times.
 */
function simulate(
  options: Partial<AdaptOptions> & { targetMs: number },
  load: (t: number) => number,
  untilMs: number,
  opts: { latency?: (id: string) => number; everyMs?: number; net?: ReturnType<typeof simNet> } = {},
) {
  let now = 0;
  const net = opts.net ?? simNet();
  const c = new AdaptiveController(net, {
    ladder: LADDER,
    windowMs: 1000,
    cooldownMs: 5000,
    clock: () => now,
    ...options,
  });
  const events: (SwitchEvent & { t: number })[] = [];
  c.on('switch', (e) => events.push({ ...e, t: now }));
  const u = rng(7);
  const every = opts.everyMs ?? 10;
  const step = (until: number): void => {
    for (; now < until; now += every)
      c.observe((opts.latency ?? ((id) => base[id]!))(c.current) * load(now) * (1 + 0.1 * u()));
  };
  step(untilMs);
  return { c, net, events, step, at: () => now };
}

describe('AdaptiveController', () => {
  it('starts on the most accurate rung and steps down in one move to the most accurate rung predicted to meet the target', () => {
    // Load 1 until 20 s, then x3 (a busy device), then x10 from 40 s (nothing meets the target).
    const { events, c } = simulate({ targetMs: 10 }, (t) => (t < 20_000 ? 1 : t < 40_000 ? 3 : 10), 50_000);
    // big at load 1 (p95 ~ 17.5 ms): mid predicted 8.75 ms. mid at load 3 (~ 24.5 ms): small predicted 12.2, tiny 6.1.
    expect(events.map((e) => [e.from, e.to, e.reason])).toEqual([
      ['big', 'mid', 'over-target'],
      ['mid', 'tiny', 'over-target'],
    ]);
    // The percentile that decided each step: big at load 1 (16 ms + jitter), mid at load 3 (24 ms +).
    [16, 24].forEach((ms, k) => {
      expect(events[k]!.observedMs!).toBeGreaterThanOrEqual(ms);
      expect(events[k]!.observedMs!).toBeLessThan(ms * 1.1);
    });
    // The first decision waits for minSamples (20) observations, 200 ms at one per 10 ms, after
    // dropping the first two (their ~17 ms began before the controller started at t = 0).
    expect(events[0]!.t).toBe(210);
    const s = c.stats();
    // At load 10 tiny takes ~ 20 ms: over the target, but there is nothing cheaper.
    expect(s).toMatchObject({ current: 'tiny', rung: 0, pinned: null, switches: 2, targetMs: 10, percentile: 95 });
    expect(s.observedMs!).toBeGreaterThan(20);
  });

  it('steps up after the window stayed below target x (1 - hysteresis) for cooldownMs, to the most accurate rung predicted to meet the target', () => {
    // Load 4 first: big (p95 ~ 70 ms) drops straight to tiny (predicted 8.75 ms), whose p95 meets the target but is not below 8 ms.
    const { events } = simulate({ targetMs: 10, hysteresis: 0.2 }, (t) => (t < 10_000 ? 4 : 1), 60_000);
    expect(events.filter((e) => e.reason === 'over-target').map((e) => e.to)).toEqual(['tiny']);
    const ups = events.filter((e) => e.reason === 'under-target');
    // At load 1 tiny's p95 (2.2 ms) is below 8 ms from about 10 s on; after the 5 s cooldown it climbs in one
    // step to mid (predicted 8.8 ms), not big (17.6 ms), and stays there (8.8 ms is not below 8).
    expect(ups.map((e) => [e.from, e.to])).toEqual([['tiny', 'mid']]);
    expect(ups[0]!.t).toBeGreaterThanOrEqual(15_000);
    expect(ups[0]!.t).toBeLessThan(15_000 + 1000);
    expect(events.at(-1)!.to).toBe('mid');
  });

  it('does not oscillate on a steady load: one step down, then nothing for 10 minutes', () => {
    // mid's p95 (~7.7 ms at load 0.88) is below 8 ms, but big's predicted 15.4 ms would break 10 ms.
    const { events, c } = simulate({ targetMs: 10 }, () => 0.88, 600_000);
    expect(events.map((e) => e.to)).toEqual(['mid']);
    expect(c.stats().switches).toBe(1);
  });

  it('with misleading rung costs, failed step ups back off exponentially instead of flapping', () => {
    // The ladder says big costs 8.8 ms (1.1 x mid), the device runs it at 16: every step up to big fails.
    const ladder = LADDER.map((r) => (r.id === 'big' ? { ...r, latencyMs: 8.8 } : r));
    const { events } = simulate({ targetMs: 10, ladder }, () => 0.88, 600_000);
    const tries = events.filter((e) => e.reason === 'under-target' && e.to === 'big').map((e) => e.t);
    // Without the back-off it would try big every ~5 s (over 100 times in 10 minutes); with it the
    // waits double (5, 10, 20, ... s, at most 64 x), so about log2(600 / 5) tries.
    expect(tries.length).toBeGreaterThanOrEqual(4);
    expect(tries.length).toBeLessThanOrEqual(7);
    const gaps = tries.slice(1).map((t, k) => t - tries[k]!);
    for (let k = 1; k < gaps.length; k++) expect(gaps[k]!).toBeGreaterThan(1.5 * gaps[k - 1]!);
    // Every failed try is undone by the next over-target step, and each try is one climb of at most two steps.
    expect(events.filter((e) => e.reason === 'over-target' && e.from === 'big').length).toBe(tries.length + 1);
    expect(events.length).toBeLessThanOrEqual(3 * tries.length + 2);
  });

  it('pins any configuration the net knows, stops moving while pinned, and resumes on release', () => {
    const sim = simulate({ targetMs: 10 }, (t) => (t < 5000 ? 1 : 3), 1000);
    expect(sim.net.current).toBe('mid');
    sim.c.pin('big');
    expect(sim.events.at(-1)).toMatchObject({ from: 'mid', to: 'big', reason: 'pinned', observedMs: null });
    sim.step(20_000);
    // Overloaded (p95 ~ 48 ms) but pinned: no switch.
    expect(sim.net.current).toBe('big');
    expect(sim.c.stats()).toMatchObject({ pinned: 'big', rung: 3 });
    expect(sim.c.stats().observedMs!).toBeGreaterThan(40);
    // A pin off the ladder ('other' is not offered), then unknown ids fail without changing anything.
    sim.c.pin('other');
    expect(sim.c.stats()).toMatchObject({ pinned: 'other', rung: null, current: 'other' });
    expect(() => sim.c.pin('nope')).toThrow(RangeError);
    expect(() => sim.c.pin(3 as unknown as string)).toThrow(TypeError);
    expect(sim.c.stats()).toMatchObject({ pinned: 'other', current: 'other' });
    // Release: off the ladder, so it resumes at the top, and the overload steps it down to tiny.
    sim.c.pin(null);
    expect(sim.events.at(-1)).toMatchObject({ from: 'other', to: 'big', reason: 'released' });
    sim.step(25_000);
    expect(sim.net.current).toBe('tiny');
    expect(sim.c.stats().pinned).toBeNull();
  });

  it('never uses a rung below minAccuracy, even when the target cannot be met', () => {
    const { events, c } = simulate({ targetMs: 10, minAccuracy: 0.8 }, () => 3, 30_000);
    expect(c.ladder.map((r) => r.id)).toEqual(['small', 'mid', 'big']);
    // big at load 3 (~ 52 ms): nothing allowed is predicted to fit (small 13 ms), so the cheapest allowed.
    expect(events.map((e) => e.to)).toEqual(['small']);
    expect(c.current).toBe('small');
    expect(c.stats().observedMs!).toBeGreaterThan(10);
    expect(() => new AdaptiveController(simNet(), { targetMs: 10, ladder: LADDER, minAccuracy: 0.95 })).toThrow(
      /no rung has accuracy >= 0.95; the best is 0.9/,
    );
  });

  it('ignores observations of requests that began before the last switch', () => {
    let now = 0;
    const c = new AdaptiveController(simNet(), { targetMs: 10, ladder: LADDER, minSamples: 3, clock: () => now });
    now = 100;
    for (let k = 0; k < 3; k++, now += 10) c.observe(30);
    expect(c.current).toBe('small');
    // Slow requests still finishing from big (each began before the switch at t = 120).
    for (let k = 0; k < 10; k++, now += 1) c.observe(50);
    expect(c.current).toBe('small');
    expect(c.stats()).toMatchObject({ discarded: 10, samples: 0 });
  });

  it('run() times the net run and observes it', async () => {
    let now = 0;
    const net = {
      ...simNet(),
      async run(x: { data: Float32Array; dims: number[] }) {
        now += base[this.current]! * 3;
        return x;
      },
    };
    const c = new AdaptiveController(net, { targetMs: 10, ladder: LADDER, minSamples: 2, clock: () => now });
    const x = { data: new Float32Array(1), dims: [1] };
    expect(await c.run(x)).toBe(x);
    expect(c.stats()).toMatchObject({ samples: 1, current: 'big' });
    await c.run(x);
    // big took 48 ms twice: tiny is predicted at 6 ms.
    expect(c.current).toBe('tiny');
  });

  it('stop() freezes the configuration', () => {
    const { c, step, net } = simulate({ targetMs: 10 }, (t) => (t < 5000 ? 1 : 3), 2000);
    c.stop();
    step(20_000);
    expect(net.current).toBe('mid');
    expect(c.stats()).toMatchObject({ stopped: true, switches: 1, samples: 0 });
  });

  it('an infinite target holds the most accurate rung whatever the latency', () => {
    const { events, c } = simulate({ targetMs: Infinity }, () => 50, 30_000);
    expect(events).toEqual([]);
    expect(c.current).toBe('big');
  });

  it('uses the net ladder() when no ladder is given, and rejects bad options by name', () => {
    const net = { ...simNet(), ladder: () => LADDER };
    expect(new AdaptiveController(net, { targetMs: 5 }).current).toBe('big');
    expect(() => new AdaptiveController(simNet(), { targetMs: 5 })).toThrow(/options.ladder: required/);
    expect(() => new AdaptiveController(simNet(), { targetMs: 5, ladder: [] })).toThrow(
      /options.ladder: expected at least one rung/,
    );
    expect(() => new AdaptiveController(simNet(), { targetMs: -1, ladder: LADDER })).toThrow(RangeError);
    expect(() => new AdaptiveController(simNet(), { targetMs: '5' as unknown as number, ladder: LADDER })).toThrow(
      TypeError,
    );
    expect(() => new AdaptiveController(simNet(), { targetMs: 5, ladder: LADDER, percentile: 120 })).toThrow(
      /options.percentile/,
    );
    expect(() => new AdaptiveController(simNet(), { targetMs: 5, ladder: LADDER, hysteresis: 1 })).toThrow(
      /options.hysteresis/,
    );
    expect(
      () => new AdaptiveController(simNet(), { targetMs: 5, ladder: LADDER, windowMS: 5 } as unknown as AdaptOptions),
    ).toThrow(/options.windowMS: unknown/);
    const c = new AdaptiveController(simNet(), { targetMs: 5, ladder: LADDER });
    expect(() => c.observe(-1)).toThrow(RangeError);
    expect(() => c.observe(Number.NaN)).toThrow(RangeError);
  });
});
