// Choosing a configuration for a device's budget: the most accurate candidate that fits (ties:
// the faster), from the numbers in the family's records.
import type { AnchorRecord, ConfigRecord } from './manifest.js';
import { invalidArgument } from '../validate.js';

export interface Budget {
  maxLatencyMs?: number;
  maxMacs?: number;
  maxParams?: number;
  maxMemoryBytes?: number;
  minAccuracy?: number;
}

/**
 * What select() returns: a stitched configuration's record, or an anchor's (kind 'anchor'), with
 * `latencyMs` from this device's profile when one is loaded (`latencySource: 'profile'`), else the
 * manifest's figure (`'manifest'`).
 */
export type Selection = ((ConfigRecord & { kind: 'stitched' }) | (AnchorRecord & { id: string; kind: 'anchor' })) & {
  latencySource: 'profile' | 'manifest';
};

export interface SelectOptions {
  /** Whether the two anchors themselves are candidates (default true). */
  includeAnchors?: boolean;
  /** Whether configurations marked `pareto: false` (dominated on the validation split) are candidates (default false). */
  includeDominated?: boolean;
}

/** One step of the ladder of offered configurations and anchors. */
export interface Rung {
  id: string;
  kind: 'anchor' | 'stitched';
  accuracy: number | null;
  macs: number;
  latencyMs: number | null;
  /**
   * Where latencyMs comes from: this device's profile (batch 1), or the manifest's figure (measured
   * where the family was built); 'macs' when neither has one. The ladder is ordered by the profile
   * when one is loaded, else by MACs.
   */
  source: 'profile' | 'manifest' | 'macs';
}

const BUDGET_KEYS = ['maxLatencyMs', 'maxMacs', 'maxParams', 'maxMemoryBytes', 'minAccuracy'] as const;

function checkBudget(budget: Budget): void {
  for (const k of Object.keys(budget))
    if (!(BUDGET_KEYS as readonly string[]).includes(k))
      throw new TypeError(`budget.${k}: unknown; expected ${BUDGET_KEYS.join(', ')}`);
  for (const k of BUDGET_KEYS) {
    const v = budget[k];
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v)))
      throw invalidArgument(`budget.${k}`, 'a number', v, 'type');
  }
}

/** Latencies of one id measured on this device (a profile): batch 1, and batch 32 when measured. */
export type DeviceLatency = (id: string) => { latencyMs: number; latencyBatch32Ms?: number };

/** The candidates of a family as selections, with this device's latencies when `profile` is given. */
export function candidatesOf(
  configs: ConfigRecord[],
  anchors: AnchorRecord[],
  options: SelectOptions = {},
  profile?: DeviceLatency,
): Selection[] {
  const offered = options.includeDominated ? configs : configs.filter((r) => r.pareto !== false);
  const latency = (id: string) =>
    profile ? { ...profile(id), latencySource: 'profile' as const } : { latencySource: 'manifest' as const };
  const candidates: Selection[] = offered.map((r) => ({ ...r, kind: 'stitched' as const, ...latency(r.id) }));
  if (options.includeAnchors ?? true)
    for (const a of anchors) candidates.push({ ...a, id: a.name, kind: 'anchor', ...latency(a.name) });
  return candidates;
}

/**
 * The most accurate candidate that fits the budget (ties: the faster). Throws a RangeError naming
 * the tightest budget that something meets.
 */
export function selectFrom(candidates: Selection[], budget: Budget): Selection {
  checkBudget(budget);
  if (candidates.length === 0)
    throw new RangeError('select: no candidates (no offered stitched configuration, and includeAnchors is false)');
  const unmeasured = candidates.filter((c) => c.accuracy === null || c.latencyMs === null);
  if (unmeasured.length > 0)
    throw new Error(
      `select: ${unmeasured.map((c) => c.id).join(', ')} not measured yet; run evaluate(net, data, labels) first`,
    );
  const value = {
    maxLatencyMs: (c: Selection) => c.latencyMs!,
    maxMacs: (c: Selection) => c.macs,
    maxParams: (c: Selection) => c.params,
    maxMemoryBytes: (c: Selection) => c.memoryBytes ?? Infinity,
    minAccuracy: (c: Selection) => c.accuracy!,
  };
  const fits = (c: Selection): boolean =>
    BUDGET_KEYS.every(
      (k) => budget[k] === undefined || (k === 'minAccuracy' ? value[k](c) >= budget[k]! : value[k](c) <= budget[k]!),
    );
  const ok = candidates.filter(fits).sort((x, y) => y.accuracy! - x.accuracy! || x.latencyMs! - y.latencyMs!);
  if (ok.length > 0) return ok[0]!;
  const given = BUDGET_KEYS.filter((k) => budget[k] !== undefined);
  const tightest = given.map((k) => {
    const best = [...candidates].sort((x, y) =>
      k === 'minAccuracy' ? value[k](y) - value[k](x) : value[k](x) - value[k](y),
    )[0]!;
    return `${k} ${k === 'minAccuracy' ? '<=' : '>='} ${fmt(value[k](best))} (${best.id})`;
  });
  // The candidate needing the least relative relaxation over all given limits.
  const stretch = (c: Selection): number =>
    Math.max(
      ...given.map((k) => {
        const v = value[k](c),
          b = budget[k]!;
        return k === 'minAccuracy' ? (v >= b ? 1 : b / Math.max(v, 1e-12)) : v <= b ? 1 : v / Math.max(b, 1e-12);
      }),
    );
  const closest = [...candidates].sort((x, y) => stretch(x) - stretch(y))[0]!;
  const needs = given.map((k) => `${k}: ${fmt(value[k](closest))}`).join(', ');
  throw new RangeError(
    `select: nothing fits ${JSON.stringify(budget)}. Each limit alone is met from ${tightest.join('; ')}. The tightest feasible budget for all of them is {${needs}} (${closest.id})`,
  );
}

/**
 * The candidates cheapest first: by their profile latency when they come from a device profile,
 * else by MACs (ties: fewer MACs, then the id).
 */
export function ladderOf(candidates: Selection[]): Rung[] {
  const rungs: Rung[] = candidates.map((c) => ({
    id: c.id,
    kind: c.kind,
    accuracy: c.accuracy,
    macs: c.macs,
    latencyMs: c.latencyMs,
    source: c.latencySource === 'profile' ? 'profile' : c.latencyMs !== null ? 'manifest' : 'macs',
  }));
  const key = (r: Rung): number => (r.source === 'profile' ? r.latencyMs! : r.macs);
  return rungs.sort((x, y) => key(x) - key(y) || x.macs - y.macs || (x.id < y.id ? -1 : 1));
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}
