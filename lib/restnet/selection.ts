// Choosing a configuration for a device's budget: the most accurate candidate that fits (ties:
// the faster), from the numbers in the family's records.
import type { AnchorRecord, ConfigRecord } from './manifest.js';

export interface Budget {
  maxLatencyMs?: number;
  maxMacs?: number;
  maxParams?: number;
  maxMemoryBytes?: number;
  minAccuracy?: number;
}

/** What select() returns: a stitched configuration's record, or an anchor's (kind 'anchor'). */
export type Selection = (ConfigRecord & { kind: 'stitched' }) | (AnchorRecord & { id: string; kind: 'anchor' });

export interface SelectOptions {
  /** Whether the two anchors themselves are candidates (default true). */
  includeAnchors?: boolean;
}

const BUDGET_KEYS = ['maxLatencyMs', 'maxMacs', 'maxParams', 'maxMemoryBytes', 'minAccuracy'] as const;

function checkBudget(budget: Budget): void {
  for (const k of Object.keys(budget)) if (!(BUDGET_KEYS as readonly string[]).includes(k)) throw new TypeError(`budget.${k}: unknown; expected ${BUDGET_KEYS.join(', ')}`);
  for (const k of BUDGET_KEYS) {
    const v = budget[k];
    if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) throw new TypeError(`budget.${k}: expected a number, got ${String(v)}`);
  }
}

/** The candidates of a family as selections. */
export function candidatesOf(configs: ConfigRecord[], anchors: AnchorRecord[], options: SelectOptions = {}): Selection[] {
  const candidates: Selection[] = configs.map((r) => ({ ...r, kind: 'stitched' as const }));
  if (options.includeAnchors ?? true) for (const a of anchors) candidates.push({ ...a, id: a.name, kind: 'anchor' });
  return candidates;
}

/**
 * The most accurate candidate that fits the budget (ties: the faster). Throws a RangeError naming
 * the tightest budget that something meets.
 */
export function selectFrom(candidates: Selection[], budget: Budget): Selection {
  checkBudget(budget);
  if (candidates.length === 0) throw new RangeError('select: no candidates (no stitched configuration, and includeAnchors is false)');
  const unmeasured = candidates.filter((c) => c.accuracy === null || c.latencyMs === null);
  if (unmeasured.length > 0) throw new Error(`select: ${unmeasured.map((c) => c.id).join(', ')} not measured yet; run evaluate(net, data, labels) first`);
  const value = {
    maxLatencyMs: (c: Selection) => c.latencyMs!,
    maxMacs: (c: Selection) => c.macs,
    maxParams: (c: Selection) => c.params,
    maxMemoryBytes: (c: Selection) => c.memoryBytes ?? Infinity,
    minAccuracy: (c: Selection) => c.accuracy!,
  };
  const fits = (c: Selection): boolean => BUDGET_KEYS.every((k) => budget[k] === undefined || (k === 'minAccuracy' ? value[k](c) >= budget[k]! : value[k](c) <= budget[k]!));
  const ok = candidates.filter(fits).sort((x, y) => y.accuracy! - x.accuracy! || x.latencyMs! - y.latencyMs!);
  if (ok.length > 0) return ok[0]!;
  const given = BUDGET_KEYS.filter((k) => budget[k] !== undefined);
  const tightest = given.map((k) => {
    const best = [...candidates].sort((x, y) => (k === 'minAccuracy' ? value[k](y) - value[k](x) : value[k](x) - value[k](y)))[0]!;
    return `${k} ${k === 'minAccuracy' ? '<=' : '>='} ${fmt(value[k](best))} (${best.id})`;
  });
  // The candidate needing the least relative relaxation over all given limits.
  const stretch = (c: Selection): number => Math.max(...given.map((k) => {
    const v = value[k](c), b = budget[k]!;
    return k === 'minAccuracy' ? (v >= b ? 1 : b / Math.max(v, 1e-12)) : v <= b ? 1 : v / Math.max(b, 1e-12);
  }));
  const closest = [...candidates].sort((x, y) => stretch(x) - stretch(y))[0]!;
  const needs = given.map((k) => `${k}: ${fmt(value[k](closest))}`).join(', ');
  throw new RangeError(`select: nothing fits ${JSON.stringify(budget)}. Each limit alone is met from ${tightest.join('; ')}. The tightest feasible budget for all of them is {${needs}} (${closest.id})`);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}
