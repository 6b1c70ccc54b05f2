// Step 4: measure every configuration and both anchors on labelled data: top-1 accuracy,
// with the number of images and its 95% Wilson interval, latency (medians and p95 of timed runs
// at batch 1 and batch 32, each configuration interleaved with the anchors, as many runs as a
// stable median needs: latency.ts), multiply-adds, parameters,
// memory, and the fit's CKA / residual / time from the records. The numbers are written into the
// net's records, which select() and save() use.
import { argmaxRow, type Tensor } from '../matrix.js';
import type { Anchor } from './anchor.js';
import {
  batches,
  checkLimit,
  imageRows,
  report,
  sampleCount,
  type ImageInput,
  type LongTaskOptions,
} from './inputs.js';
import { withoutProgress } from '../progress.js';
import { latencyStats, timeInterleaved, type LatencyOptions } from './latency.js';
import type { AnchorRecord, ConfigRecord } from './manifest.js';
import { wilsonInterval } from './wilson.js';
import type { MemoryReport, ReStNet } from './runtime.js';
import { withSession } from './session-scope.js';

export interface EvaluateOptions extends LongTaskOptions {
  /** Use at most this many images for accuracy (default: all). */
  evalLimit?: number;
  /** Images per accuracy batch (default 250). */
  batchSize?: number;
  /**
   * Timed runs at least, at batch 1 (default 15) and at batch 32 (default 5), after one untimed
   * run each. Each configuration is timed interleaved with the anchors (latency.ts), and the runs
   * go on until every median's 95% interval is within 5% of it or `latencySeconds` have passed.
   */
  latencyRuns?: number;
  latencyRunsBatch32?: number;
  /** Time cap of each configuration's timing rounds, per batch size (default 2 s). */
  latencySeconds?: number;
  /** Skip latency (accuracy only; latency fields are left as they are). */
  latency?: boolean;
  /** Only these configuration ids (anchors are always measured). */
  ids?: string[];
}

export interface Evaluation {
  configs: ConfigRecord[];
  anchors: AnchorRecord[];
  memory: MemoryReport;
  samples: number;
  seconds: number;
}

/**
 * The predicted class (argmax of the logits) of every image of `data` (at most `limit`) under a
 * configuration id or an anchor name of `net`. Progress: one 'predict' event per batch, `done`
 * and `total` in images.
 */
export async function predictions(
  net: ReStNet,
  id: string,
  data: ImageInput,
  options: LongTaskOptions & { batchSize?: number; limit?: number } = {},
): Promise<Uint8Array> {
  const out = new Uint8Array(sampleCount(data, options.limit));
  for (const { x, start } of batches(data, net.anchors[0].model.input.shape, options.batchSize ?? 250, options.limit)) {
    options.signal?.throwIfAborted();
    const logits = await net.runWith(id, x);
    for (let i = 0; i < x.dims[0]!; i++) out[start + i] = argmaxRow(logits, i);
    report(options, 'predict', start + x.dims[0]!, out.length, id);
  }
  return out;
}

/** Largest per-sample activation (elements) among the cut points of an anchor in [from, to]. */
function largestActivation(anchor: Anchor, from: number, to: number): number {
  let most = 0;
  for (const c of anchor.model.cutPoints()) {
    if (c.index < from || c.index > to) continue;
    most = Math.max(
      most,
      c.shape.reduce<number>((p, d) => p * (typeof d === 'number' ? d : 1), 1),
    );
  }
  return most;
}

/**
 * Measures each configuration and anchor of `net`. `labels` default to data.labels.
 * memoryBytes = 4 x (the parameters the configuration reads + its largest per-sample activation
 * at a cut point): the f32 model memory one batch-1 inference of this configuration needs on its
 * own. The whole family's footprint (both anchors + every stitch, shared) is `memory`.
 */
export async function evaluate(
  net: ReStNet,
  data: ImageInput,
  labels?: Uint8Array,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const started = performance.now();
  const rows = imageRows(data);
  const truth = labels ?? rows.labels;
  if (!(truth instanceof Uint8Array)) throw new TypeError('labels: expected a Uint8Array (or data.labels)');
  if (truth.length < rows.count) throw new RangeError(`labels: expected ${rows.count} labels, got ${truth.length}`);
  const limit = checkLimit(options.evalLimit, 'options.evalLimit');
  const batchSize = options.batchSize ?? 250;
  const n = sampleCount(data, limit);
  const ids = options.ids ?? net.ids;
  for (const id of ids) net.record(id);
  const anchorNames = net.anchorRecords.map((a) => a.name);
  const all = [...ids, ...anchorNames];
  const inputShape = net.anchors[0].model.input.shape;
  const sampleDims = inputShape.slice(1) as number[];
  const size = sampleDims.reduce((a, b) => a * b, 1);
  const stride = Math.min(32, rows.count); // rows.count is a positive integer: no NaN to keep apart
  const one: Tensor = { data: rows.data.slice(0, size), dims: [1, ...sampleDims] };
  const b32: Tensor = { data: rows.data.slice(0, stride * size), dims: [stride, ...sampleDims] };
  const measureLatency = options.latency ?? true;
  const latency1: LatencyOptions = { minRuns: options.latencyRuns ?? 15, maxSeconds: options.latencySeconds ?? 2 };
  const latency32: LatencyOptions = {
    minRuns: options.latencyRunsBatch32 ?? 5,
    maxSeconds: options.latencySeconds ?? 2,
  };
  // Every run of an anchor counts towards its figures: it is timed beside each configuration.
  const anchorTimes1 = anchorNames.map((): number[] => []),
    anchorTimes32 = anchorNames.map((): number[] => []);
  const runner = (id: string, x: Tensor) => () => net.runWith(id, x);
  const accuracyOf = async (
    id: string,
  ): Promise<Pick<ConfigRecord, 'accuracy' | 'evalImages' | 'accuracyInterval'>> => {
    await net.warmup([id]);
    // Progress is per configuration here ('evaluate' events), not per batch.
    const predicted = await predictions(net, id, data, { ...withoutProgress(options), batchSize, limit });
    let correct = 0;
    for (let i = 0; i < n; i++) if (predicted[i] === truth[i]) correct++;
    return { accuracy: correct / n, evalImages: n, accuracyInterval: wilsonInterval(correct, n) };
  };
  const anchorAccuracy = new Map<string, Awaited<ReturnType<typeof accuracyOf>>>();
  for (const name of anchorNames) anchorAccuracy.set(name, await accuracyOf(name));
  const line = (id: string, r: { accuracy: number | null; latencyMs: number | null }): string =>
    `${id}: accuracy ${(r.accuracy! * 100).toFixed(2)}%${measureLatency ? `, ${r.latencyMs!.toFixed(3)} ms/sample` : ''}`;
  // One configuration's session at a time beside the anchors' (session-scope.ts): memory holds
  // the anchors and one configuration whatever their number.
  for (const [k, id] of ids.entries()) {
    const r = net.record(id);
    await withSession(net, id, async () => {
      Object.assign(r, await accuracyOf(id));
      if (!measureLatency) return;
      options.signal?.throwIfAborted();
      report(options, 'latency', k, all.length, id);
      const [one1] = await timeInterleaved([runner(id, one), ...anchorNames.map((a) => runner(a, one))], latency1, [
        [],
        ...anchorTimes1,
      ]);
      const [one32] = await timeInterleaved([runner(id, b32), ...anchorNames.map((a) => runner(a, b32))], latency32, [
        [],
        ...anchorTimes32,
      ]);
      r.latencyMs = one1!.medianMs;
      r.latencyP95Ms = one1!.p95Ms;
      r.latencyRuns = one1!.runs;
      r.latencyBatch32Ms = one32!.medianMs;
    });
    const front = net.anchors.find((a) => a.name === r.front)!,
      back = net.anchors.find((a) => a.name === r.back)!;
    const fi = front.model.cutPoints().find((c) => c.name === r.frontCut)!.index;
    const bi = back.model.cutPoints().find((c) => c.name === r.backCut)!.index;
    const act = Math.max(largestActivation(front, 0, fi), largestActivation(back, bi, Infinity));
    r.memoryBytes = 4 * (r.params + act);
    report(options, 'evaluate', k + 1, all.length, line(id, r));
  }
  // Without configurations the anchors are timed beside each other only.
  if (measureLatency && ids.length === 0) {
    await timeInterleaved(
      anchorNames.map((a) => runner(a, one)),
      latency1,
      anchorTimes1,
    );
    await timeInterleaved(
      anchorNames.map((a) => runner(a, b32)),
      latency32,
      anchorTimes32,
    );
  }
  for (const [j, name] of anchorNames.entries()) {
    const r = net.anchorRecord(name);
    const a = net.anchors.find((x) => x.name === name)!;
    Object.assign(r, anchorAccuracy.get(name)!);
    if (measureLatency) {
      const s1 = latencyStats(anchorTimes1[j]!);
      r.latencyMs = s1.medianMs;
      r.latencyP95Ms = s1.p95Ms;
      r.latencyRuns = s1.runs;
      r.latencyBatch32Ms = latencyStats(anchorTimes32[j]!).medianMs;
    }
    r.memoryBytes = 4 * (r.params + largestActivation(a, 0, Infinity));
    report(options, 'evaluate', ids.length + j + 1, all.length, line(name, r));
  }
  return {
    configs: ids.map((id) => net.record(id)),
    anchors: net.anchorRecords,
    memory: net.memory(),
    samples: n,
    seconds: (performance.now() - started) / 1000,
  };
}
