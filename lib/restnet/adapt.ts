// The adaptive controller: holds a latency percentile target by moving a net along its ladder of
// offered configurations (cheapest first). It observes every run (queueing + inference) and keeps
// a sliding window of latencies. As soon as the window's percentile exceeds the target it steps
// down; once the window has stayed below target x (1 - hysteresis) for cooldownMs it steps up.
// Either way it goes to the most accurate rung whose predicted percentile (the window's, scaled
// by the rungs' cost ratio: profile latency, else MACs) meets the target, so a busy device drops
// in one step and a free one climbs back in one; down, at least one rung (the cheapest when
// nothing is predicted to fit). Two guards keep a steady load from oscillating: no step up to a
// rung predicted to break the target, and a step up that has to be undone within its cooldown
// doubles that rung's cooldown (reset once a step up to it holds). Time comes from an injectable
// clock so the policy is testable on simulated time.
import { EventEmitter } from 'node:events';

import type { Tensor } from '../matrix.js';
import type { Rung } from './selection.js';
import { integerArg, invalidArgument, NON_NEGATIVE, numberArg, POSITIVE } from '../validate.js';

/** What the controller drives: `use(id)` switches, `run` is timed by `controller.run`, `ladder()` when no ladder is given. */
export interface AdaptTarget {
  use(id: string): void;
  readonly current: string;
  run?(input: Tensor): Promise<Tensor>;
  ladder?(options?: { includeDominated?: boolean }): Rung[];
}

export interface AdaptOptions {
  /** The latency the percentile must stay under, in ms (queueing + inference); Infinity holds the top rung. */
  targetMs: number;
  /** Which percentile of the window is held under the target (default 95). */
  percentile?: number;
  /** How far back the window reaches, in ms (default 2000). */
  windowMs?: number;
  /** How long the window must stay below target x (1 - hysteresis) before a step up, in ms (default 5000). */
  cooldownMs?: number;
  /** The margin under the target that allows a step up, as a fraction (default 0.2). */
  hysteresis?: number;
  /** Rungs less accurate than this (or of unknown accuracy) are never used. */
  minAccuracy?: number;
  /** The rungs to move along, cheapest first (default: the target's `ladder()`). */
  ladder?: Rung[];
  /** Observations the window needs before it decides anything (default 20). */
  minSamples?: number;
  /** The time in ms (default `performance.now`). */
  clock?: () => number;
}

export type SwitchReason = 'over-target' | 'under-target' | 'pinned' | 'released';

export interface SwitchEvent {
  from: string;
  to: string;
  reason: SwitchReason;
  /** The window's percentile when the switch was decided (null for pin/release without observations). */
  observedMs: number | null;
}

export interface AdaptStats {
  current: string;
  /** The index of the current configuration on the ladder (cheapest = 0), or null when pinned off it. */
  rung: number | null;
  pinned: string | null;
  stopped: boolean;
  targetMs: number;
  percentile: number;
  /** The window's percentile, null with fewer than minSamples observations. */
  observedMs: number | null;
  samples: number;
  switches: number;
  /** Observations ignored because their request began before the last switch. */
  discarded: number;
  ladder: string[];
}

interface Sample {
  at: number;
  ms: number;
}

const positive = (name: string, v: unknown, infinite = false): number => numberArg(v, name, { ...POSITIVE, infinite });

export class AdaptiveController extends EventEmitter<{ switch: [SwitchEvent] }> {
  readonly targetMs: number;
  readonly percentile: number;
  readonly windowMs: number;
  readonly cooldownMs: number;
  readonly hysteresis: number;
  readonly minSamples: number;
  /** The rungs in use, cheapest first (after minAccuracy). */
  readonly ladder: readonly Rung[];
  private readonly clock: () => number;
  private samples: Sample[] = [];
  private rung: number | null;
  private pinnedId: string | null = null;
  private stopped = false;
  private switches = 0;
  private discarded = 0;
  /** When the last switch happened: observations of requests that began earlier are ignored. */
  private switchedAt: number;
  /** Since when the window has been below target x (1 - hysteresis), or null. */
  private belowSince: number | null = null;
  /** Per rung, the cooldown multiplier (doubles each time a step up to it fails). */
  private readonly backoff: number[];
  /** The rung last stepped up to and until when it is on probation. */
  private probation: { rung: number; until: number } | null = null;

  constructor(
    private readonly net: AdaptTarget,
    options: AdaptOptions,
  ) {
    super();
    if (!options || typeof options !== 'object') throw new TypeError('options: expected an object with targetMs');
    const known = [
      'targetMs',
      'percentile',
      'windowMs',
      'cooldownMs',
      'hysteresis',
      'minAccuracy',
      'ladder',
      'minSamples',
      'clock',
    ];
    for (const k of Object.keys(options))
      if (!known.includes(k)) throw new TypeError(`options.${k}: unknown; expected ${known.join(', ')}`);
    this.targetMs = positive('options.targetMs', options.targetMs, true);
    this.percentile = numberArg(options.percentile ?? 95, 'options.percentile', { min: 0, max: 100, minOpen: true });
    this.windowMs = positive('options.windowMs', options.windowMs ?? 2000);
    this.cooldownMs = positive('options.cooldownMs', options.cooldownMs ?? 5000);
    this.hysteresis = numberArg(options.hysteresis ?? 0.2, 'options.hysteresis', { min: 0, max: 1, maxOpen: true });
    this.minSamples = integerArg(options.minSamples ?? 20, 'options.minSamples', 1);
    if (options.clock !== undefined && typeof options.clock !== 'function')
      throw new TypeError('options.clock: expected a function returning ms');
    this.clock = options.clock ?? (() => performance.now());

    let ladder = options.ladder;
    if (ladder === undefined) {
      if (typeof net.ladder !== 'function')
        throw new TypeError('options.ladder: required when the net has no ladder()');
      ladder = net.ladder();
    }
    if (!Array.isArray(ladder)) throw new TypeError('options.ladder: expected an array of rungs, cheapest first');
    if (ladder.length === 0) throw new RangeError('options.ladder: expected at least one rung, got none');
    const min = options.minAccuracy;
    if (min !== undefined && (typeof min !== 'number' || Number.isNaN(min)))
      throw invalidArgument('options.minAccuracy', 'a number', min, 'type');
    const usable = min === undefined ? ladder : ladder.filter((r) => r.accuracy !== null && r.accuracy >= min);
    if (usable.length === 0) {
      const best = Math.max(...ladder.map((r) => r.accuracy ?? -Infinity));
      throw new RangeError(
        `options.minAccuracy: no rung has accuracy >= ${min}; the best is ${Number.isFinite(best) ? best : 'unmeasured'}`,
      );
    }
    this.ladder = Object.freeze([...usable]);
    this.backoff = this.ladder.map(() => 1);
    // Start on the most accurate rung (the top); the first window steps down if the device cannot hold it.
    this.rung = this.ladder.length - 1;
    this.switchedAt = this.clock();
    this.net.use(this.ladder[this.rung]!.id);
  }

  /** The configuration in use. */
  get current(): string {
    return this.net.current;
  }

  /**
   * Records one request's latency (queueing + inference, ms), ending now, and decides. A request
   * that began before the last switch is ignored: it describes the configuration before it.
   */
  observe(latencyMs: number): void {
    numberArg(latencyMs, 'latencyMs', NON_NEGATIVE);
    if (this.stopped) return;
    const now = this.clock();
    if (now - latencyMs < this.switchedAt) {
      this.discarded++;
      return;
    }
    this.samples.push({ at: now, ms: latencyMs });
    this.prune(now);
    if (this.pinnedId !== null || this.rung === null) return;
    const observed = this.observed();
    if (observed === null) return;
    if (observed > this.targetMs) {
      this.belowSince = null;
      if (this.probation?.rung === this.rung && now <= this.probation.until)
        this.backoff[this.rung] = Math.min(64, this.backoff[this.rung]! * 2);
      this.probation = null;
      // Down to the most accurate cheaper rung predicted to meet the target (else the cheapest).
      if (this.rung > 0)
        this.move(
          Math.max(
            0,
            this.bestFit(observed, 0, this.rung - 1, () => true),
          ),
          'over-target',
          observed,
          now,
        );
      return;
    }
    if (this.probation && now > this.probation.until) {
      this.backoff[this.probation.rung] = 1;
      this.probation = null;
    }
    if (observed >= this.targetMs * (1 - this.hysteresis) || this.rung === this.ladder.length - 1) {
      this.belowSince = null;
      return;
    }
    this.belowSince ??= now;
    const below = now - this.belowSince;
    // Up to the most accurate rung predicted to meet the target whose (backed-off) cooldown has passed.
    const up = this.bestFit(
      observed,
      this.rung + 1,
      this.ladder.length - 1,
      (r) => below >= this.cooldownMs * this.backoff[r]!,
    );
    if (up < 0) return;
    this.probation = { rung: up, until: now + this.cooldownMs };
    this.move(up, 'under-target', observed, now);
  }

  /**
   * The highest rung in [lo, hi] that `eligible` accepts and whose predicted percentile (the
   * window's, scaled by the cost ratio to the current rung) meets the target; -1 when none.
   */
  private bestFit(observed: number, lo: number, hi: number, eligible: (rung: number) => boolean): number {
    for (let r = hi; r >= lo; r--)
      if (eligible(r) && observed * this.costRatio(this.rung!, r) <= this.targetMs) return r;
    return -1;
  }

  /** Runs the net's configuration in use and observes the call's time. */
  async run(input: Tensor): Promise<Tensor> {
    if (typeof this.net.run !== 'function') throw new TypeError('run: the net has no run(input)');
    const started = this.clock();
    const out = await this.net.run(input);
    this.observe(this.clock() - started);
    return out;
  }

  /**
   * Pins a configuration (any id the net's use() accepts; the controller stops moving) or, with
   * null, releases it: the controller resumes from the pinned rung, or from the top of the
   * ladder when the pinned id is not on it.
   */
  pin(id: string | null): void {
    if (id !== null && typeof id !== 'string') throw invalidArgument('id', 'a configuration id or null', id, 'type');
    const now = this.clock();
    const from = this.net.current;
    if (id !== null) {
      this.net.use(id);
      this.pinnedId = id;
      const at = this.ladder.findIndex((r) => r.id === id);
      this.rung = at >= 0 ? at : null;
      this.reset(now);
      if (from !== id) this.emitSwitch(from, id, 'pinned', null);
      return;
    }
    if (this.pinnedId === null) return;
    this.pinnedId = null;
    if (this.rung === null) {
      this.rung = this.ladder.length - 1;
      this.net.use(this.ladder[this.rung]!.id);
    }
    this.reset(now);
    if (this.net.current !== from) this.emitSwitch(from, this.net.current, 'released', null);
  }

  /** Stops adapting: observations are ignored from now on and the configuration stays. */
  stop(): void {
    this.stopped = true;
    this.samples = [];
  }

  stats(): AdaptStats {
    this.prune(this.clock());
    return {
      current: this.net.current,
      rung: this.rung,
      pinned: this.pinnedId,
      stopped: this.stopped,
      targetMs: this.targetMs,
      percentile: this.percentile,
      observedMs: this.observed(),
      samples: this.samples.length,
      switches: this.switches,
      discarded: this.discarded,
      ladder: this.ladder.map((r) => r.id),
    };
  }

  /** The window's percentile (nearest rank), or null with fewer than minSamples observations. */
  private observed(): number | null {
    if (this.samples.length < this.minSamples) return null;
    const sorted = this.samples.map((s) => s.ms).sort((a, b) => a - b);
    const rank = Math.ceil((this.percentile / 100) * sorted.length);
    return sorted[Math.max(0, rank - 1)]!;
  }

  private prune(now: number): void {
    let k = 0;
    while (k < this.samples.length && now - this.samples[k]!.at > this.windowMs) k++;
    if (k > 0) this.samples.splice(0, k);
  }

  /**
   * cost(b) / cost(a): by this device's profile latency when both rungs have one, else by MACs
   * (the ladder's own order; a manifest latency was measured elsewhere, often on few runs).
   */
  private costRatio(a: number, b: number): number {
    const ra = this.ladder[a]!,
      rb = this.ladder[b]!;
    if (ra.source === 'profile' && rb.source === 'profile' && ra.latencyMs! > 0) return rb.latencyMs! / ra.latencyMs!;
    return ra.macs > 0 ? rb.macs / ra.macs : 1;
  }

  private move(to: number, reason: SwitchReason, observedMs: number, now: number): void {
    const from = this.net.current;
    this.rung = to;
    this.net.use(this.ladder[to]!.id);
    this.reset(now);
    this.emitSwitch(from, this.ladder[to]!.id, reason, observedMs);
  }

  /** A new configuration starts with an empty window. */
  private reset(now: number): void {
    this.samples = [];
    this.belowSince = null;
    this.switchedAt = now;
  }

  private emitSwitch(from: string, to: string, reason: SwitchReason, observedMs: number | null): void {
    this.switches++;
    this.emit('switch', { from, to, reason, observedMs });
  }
}
