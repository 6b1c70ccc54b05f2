// Which stitched configurations are worth offering.
//
// - holdOut: a seeded validation split of the calibration data. Selection happens on it and
//   never on the eval split, so the eval figures stay an honest estimate.
// - paretoVerdicts: the dominance filter. A configuration that another configuration or an
//   anchor dominates (accuracy not higher at MACs not lower) is not worth offering, nor one
//   further than `lineMargin` below the straight line between the two anchors: time-sharing the
//   anchors reaches that line on average, at the same average cost.
// - markPareto: measures a fitted net on the validation split and writes `pareto`, `reason` and
//   the validation figures into its records.
import { predictions } from './evaluate.js';
import { withSession } from './session-scope.js';
import { withoutProgress } from '../progress.js';
import { imageRows, report, seededRandom, type ImageInput, type ImageRows, type LongTaskOptions } from './inputs.js';
import type { ReStNet } from './runtime.js';

/**
 * Splits labelled rows into a training part and a validation part of `count` images chosen by a
 * seeded draw without replacement. Both keep the data's order. The arrays are copies.
 */
export function holdOut(data: ImageInput, count: number, seed = 0): { train: ImageRows; validation: ImageRows } {
  const { data: images, count: n, size, labels } = imageRows(data);
  if (!Number.isInteger(count) || count < 1 || count >= n)
    throw new RangeError(`count: expected an integer in [1, ${n - 1}] (the data hold ${n} images), got ${count}`);
  const random = seededRandom(seed);
  const held = new Uint8Array(n);
  // Floyd's sampling: `count` distinct indices in `count` draws.
  for (let j = n - count; j < n; j++) {
    const t = Math.floor(random() * (j + 1));
    held[held[t] ? j : t] = 1;
  }
  const take = (keep: 0 | 1): ImageRows => {
    const m = keep ? count : n - count;
    const out: ImageRows = { images: new Float32Array(m * size), rows: m, cols: size };
    if (labels) out.labels = new Uint8Array(m);
    let k = 0;
    for (let i = 0; i < n; i++) {
      if (held[i] !== keep) continue;
      out.images.set(images.subarray(i * size, (i + 1) * size), k * size);
      if (labels) out.labels![k] = labels[i]!;
      k++;
    }
    return out;
  };
  return { train: take(0), validation: take(1) };
}

/** A measured point: an anchor or a stitched configuration, its cost and its accuracy (fraction). */
export interface ParetoCandidate {
  id: string;
  kind: 'anchor' | 'config';
  macs: number;
  accuracy: number;
}

export interface Verdict {
  pareto: boolean;
  /** Why not (absent when pareto). */
  reason?: string;
}

export interface ParetoFilterOptions {
  /**
   * How far (a fraction: 0.01 = 1 point) below the straight line between the two anchors a
   * configuration may measure and still be offered; Infinity turns the line test off. Default
   * 0.01 (DEFAULT_LINE_MARGIN).
   */
  lineMargin?: number;
}

/**
 * Default margin of the line test: 1 point. On a 1,000-image validation split the accuracy of a
 * configuration minus the line has a bootstrap standard error of about 0.6-0.9 point
 * (bench/results/pareto.md), so a margin below that would drop configurations on noise.
 */
export const DEFAULT_LINE_MARGIN = 0.01;

const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;
const mmacs = (v: number): string => `${(v / 1e6).toFixed(2)} MMACs`;

/** The accuracy of the straight line between two anchors at `macs` (null outside their cost range). */
export function lineAt(anchors: readonly ParetoCandidate[], macs: number): number | null {
  if (anchors.length !== 2) return null;
  const [lo, hi] = anchors[0]!.macs <= anchors[1]!.macs ? [anchors[0]!, anchors[1]!] : [anchors[1]!, anchors[0]!];
  if (!(hi.macs > lo.macs) || macs < lo.macs || macs > hi.macs) return null;
  return lo.accuracy + ((hi.accuracy - lo.accuracy) * (macs - lo.macs)) / (hi.macs - lo.macs);
}

/**
 * The verdict on every configuration among `candidates` (anchors are always offered). A
 * configuration is dominated by another point that is at least as accurate and costs no more
 * MACs; between two configurations with equal accuracy and equal MACs the one listed first
 * stays. Then, with two anchors, a configuration more than `lineMargin` below their line is
 * dropped too. The reason names the dominating record and both figures.
 */
export function paretoVerdicts(
  candidates: readonly ParetoCandidate[],
  options: ParetoFilterOptions = {},
): Map<string, Verdict> {
  const margin = options.lineMargin ?? DEFAULT_LINE_MARGIN;
  if (!(margin >= 0)) throw new RangeError(`options.lineMargin: expected a number >= 0 (or Infinity), got ${margin}`);
  candidates.forEach((c, k) => {
    if (!Number.isFinite(c.accuracy) || !Number.isFinite(c.macs))
      throw new RangeError(
        `candidates[${k}] (${c.id}): expected finite accuracy and macs, got ${c.accuracy} and ${c.macs}`,
      );
  });
  const anchors = candidates.filter((c) => c.kind === 'anchor');
  const out = new Map<string, Verdict>();
  candidates.forEach((p, i) => {
    if (p.kind === 'anchor') return;
    const by = candidates.find((q, j) => {
      if (j === i || q.accuracy < p.accuracy || q.macs > p.macs) return false;
      const strictly = q.accuracy > p.accuracy || q.macs < p.macs;
      return strictly || q.kind === 'anchor' || j < i;
    });
    if (by) {
      out.set(p.id, {
        pareto: false,
        reason: `dominated by ${by.kind === 'anchor' ? 'anchor ' : ''}${by.id}: ${pct(by.accuracy)} at ${mmacs(by.macs)} vs ${pct(p.accuracy)} at ${mmacs(p.macs)} on the validation split`,
      });
      return;
    }
    const line = lineAt(anchors, p.macs);
    if (line !== null && p.accuracy < line - margin) {
      const [a, b] = anchors;
      out.set(p.id, {
        pareto: false,
        reason: `${((line - p.accuracy) * 100).toFixed(2)} points below the line between anchors ${a!.id} and ${b!.id} (${pct(line)} at ${mmacs(p.macs)}; allowed ${(margin * 100).toFixed(2)}): ${pct(p.accuracy)} on the validation split`,
      });
      return;
    }
    out.set(p.id, { pareto: true });
  });
  return out;
}

export interface MarkParetoOptions extends ParetoFilterOptions, LongTaskOptions {
  /** Images per batch (default 250). */
  batchSize?: number;
}

export interface ParetoReport {
  /** Validation images. */
  images: number;
  /** Validation accuracy of every configuration and anchor, by id / name. */
  accuracy: Map<string, number>;
  verdicts: Map<string, Verdict>;
  /** Predicted class of every validation image, by id / name (for paired comparisons). */
  predictions: Map<string, Uint8Array>;
}

/**
 * Measures every configuration and both anchors of `net` on the labelled `validation` images
 * and writes into each record `validationAccuracy`, `validationImages` and (configurations)
 * `pareto` and `reason`.
 */
export async function markPareto(
  net: ReStNet,
  validation: ImageInput,
  options: MarkParetoOptions = {},
): Promise<ParetoReport> {
  const { labels, count } = imageRows(validation, 'validation');
  if (!labels) throw new RangeError('validation.labels: the Pareto filter needs labelled validation images');
  const anchors = net.anchorRecords;
  const ids = [...net.ids, ...anchors.map((a) => a.name)];
  const accuracy = new Map<string, number>();
  const predicted = new Map<string, Uint8Array>();
  for (const [k, id] of ids.entries()) {
    const p = await withSession(net, id, () => predictions(net, id, validation, withoutProgress(options)));
    let correct = 0;
    for (let i = 0; i < count; i++) if (p[i] === labels[i]) correct++;
    accuracy.set(id, correct / count);
    predicted.set(id, p);
    report(options, 'validate', k + 1, ids.length, `${id}: ${pct(correct / count)} on ${count} validation images`);
  }
  const candidates: ParetoCandidate[] = [
    ...anchors.map((a) => ({ id: a.name, kind: 'anchor' as const, macs: a.macs, accuracy: accuracy.get(a.name)! })),
    ...net.configs.map((c) => ({ id: c.id, kind: 'config' as const, macs: c.macs, accuracy: accuracy.get(c.id)! })),
  ];
  const verdicts = paretoVerdicts(candidates, options);
  for (const a of anchors) {
    a.validationAccuracy = accuracy.get(a.name)!;
    a.validationImages = count;
  }
  for (const c of net.configs) {
    const v = verdicts.get(c.id)!;
    c.validationAccuracy = accuracy.get(c.id)!;
    c.validationImages = count;
    c.pareto = v.pareto;
    if (v.reason === undefined) delete c.reason;
    else c.reason = v.reason;
  }
  return { images: count, accuracy, verdicts, predictions: predicted };
}
