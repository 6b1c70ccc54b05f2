// Task refinement of a fitted stitch, as ReStNet fine-tunes its stitching layers: the stitched
// network runs on calibration images, the cross-entropy of its logits against soft targets is
// differentiated through the frozen back (an ONNX gradient graph, lib/onnx/grad.ts) down to the
// stitch's output, and only the stitch (its maps and per-position offsets) takes optimizer steps.
// Least squares matches activations; this matches what the back does with them, which is what
// mid-depth stitches lack. The targets mix the labels with a teacher anchor's probabilities
// (knowledge distillation): a few thousand calibration images are little data for a stitch of
// 10-40 thousand parameters, and the teacher's full distributions carry more of it. For the same
// reason the images can be augmented (mirrored, shifted copies, bench/results/pareto.md), and with
// a validation split the maps of the epoch that does best there are kept.
import type { Adapter, AdapterMaps } from '../stitch/adapters/adapter.js';
import { addPositionOffsets, rectifiedGradient } from '../stitch/adapters/layout.js';
import { TrainableStitch } from '../stitch/train.js';
import { argmaxRow, type Tensor } from '../matrix.js';
import { native } from '../native.js';
import { dimsText, integerArg, numberArg, oneOfArg, POSITIVE } from '../validate.js';
import type { OptimizerName } from '../stitch/types.js';
import type { Anchor } from './anchor.js';
import { reshapeFor } from './analyze.js';
import {
  batches,
  imageRows,
  sampleInputDims,
  seededRandom,
  type ImageInput,
  type ImageRows,
  type LongTaskOptions,
} from './inputs.js';

export type Augmentation = 'flip' | 'shift';

export interface RefineOptions {
  /** Passes over the images (default 6; bench/results/pareto.md). */
  epochs?: number;
  /** Peak learning rate, annealed to 0 by a cosine over all steps (default 3e-3; bench/results/pareto.md). */
  lr?: number;
  /** 'adam' (default) or 'sgd'. */
  optimizer?: OptimizerName;
  /** Images per step (default 32). */
  batchSize?: number;
  /** Train on at most this many images of the data (default: all of them). */
  images?: number;
  /**
   * Weight of the teacher's probabilities in the targets, in [0, 1]; the labels get the rest
   * (default 0.5). 1 needs no labels: the stitch learns from the teacher alone.
   */
  distill?: number;
  /** The teacher: the configuration's 'front' anchor (default) or its 'back' anchor. */
  teacher?: 'front' | 'back';
  /** Seed of the per-epoch shuffles, trainStitch's order for the same seed (default 0), and of 'shift'. */
  seed?: number;
  /**
   * Keep the front's activations of every image when they take at most this many bytes
   * (default 128 MiB); otherwise the front runs again at every step. Deep cuts, whose prefix is
   * the expensive part, have the smallest activations.
   */
  cacheBytes?: number;
  /**
   * Copies of every image added to the training images: 'flip' mirrors it left-right, 'shift'
   * moves it by up to 2 pixels each way (seeded, edges replicated). Labels and the teacher's
   * targets follow the copy. Default: none.
   */
  augment?: Augmentation[];
}

export interface RefineEpoch {
  /** 1-based (0: the least-squares start, when a validation split measures it). */
  epoch: number;
  /** Mean cross-entropy against the targets over the epoch's batches, each measured before its step (NaN for epoch 0). */
  loss: number;
  /** Accuracy on the validation images after the epoch (with a validation split). */
  validationAccuracy?: number;
}

export interface RefineJob {
  front: Anchor;
  frontCut: string;
  back: Anchor;
  backCut: string;
  adapter: Adapter;
  /** The least-squares maps to start from. */
  maps: AdapterMaps;
  /** A name for progress. */
  id: string;
}

/** Refinement settings for `data`: without labels, the teacher alone (distill 1) unless options say otherwise. */
export function refineSettingsFor(data: ImageInput, options: RefineOptions): Required<RefineOptions> {
  return refineSettings(
    imageRows(data).labels !== undefined || options.distill !== undefined ? options : { ...options, distill: 1 },
  );
}

/** Refinement settings with defaults filled in, checked once for every job. */
export function refineSettings(options: RefineOptions): Required<RefineOptions> {
  const known = new Set([
    'epochs',
    'lr',
    'optimizer',
    'batchSize',
    'images',
    'distill',
    'teacher',
    'seed',
    'cacheBytes',
    'augment',
  ]);
  for (const key of Object.keys(options))
    if (!known.has(key))
      throw new TypeError(`options.refine.${key}: unknown option (expected one of ${[...known].join(', ')})`);
  const name = (key: string): string => `options.refine.${key}`;
  const teacher = oneOfArg(options.teacher ?? 'front', name('teacher'), ['front', 'back']);
  const augment = options.augment ?? [];
  if (
    !Array.isArray(augment) ||
    !augment.every((a) => a === 'flip' || a === 'shift') ||
    new Set(augment).size !== augment.length
  )
    throw new RangeError(
      `options.refine.augment: expected a list of distinct 'flip' and 'shift', got ${JSON.stringify(augment)}`,
    );
  const optimizer = oneOfArg(options.optimizer ?? 'adam', name('optimizer'), ['adam', 'sgd']);
  const images = options.images ?? Infinity;
  return {
    epochs: integerArg(options.epochs ?? 6, name('epochs'), 1),
    lr: numberArg(options.lr ?? 3e-3, name('lr'), POSITIVE),
    optimizer,
    batchSize: integerArg(options.batchSize ?? 32, name('batchSize'), 1),
    // Infinity: every image.
    images: images === Infinity ? images : integerArg(images, name('images'), 1),
    distill: numberArg(options.distill ?? 0.5, name('distill'), { min: 0, max: 1 }),
    teacher,
    seed: integerArg(options.seed ?? 0, name('seed'), 0),
    cacheBytes: integerArg(options.cacheBytes ?? 128 * 2 ** 20, name('cacheBytes'), 0),
    augment,
  };
}

/** Mirrors a [C, H, W] image left-right into `out`. */
function flipInto(src: Float32Array, out: Float32Array, [c, h, w]: [number, number, number]): void {
  for (let p = 0; p < c * h; p++) for (let x = 0; x < w; x++) out[p * w + x] = src[p * w + w - 1 - x]!;
}

/** Shifts a [C, H, W] image by (dy, dx) into `out`, replicating the edge pixels. */
function shiftInto(
  src: Float32Array,
  out: Float32Array,
  [c, h, w]: [number, number, number],
  dy: number,
  dx: number,
): void {
  const clamp = (v: number, n: number): number => Math.min(n - 1, Math.max(0, v));
  for (let ch = 0; ch < c; ch++) {
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) out[(ch * h + y) * w + x] = src[(ch * h + clamp(y - dy, h)) * w + clamp(x - dx, w)]!;
  }
}

const trainingCache = new WeakMap<object, Map<string, ImageRows>>();

/**
 * The images refinement trains on: the first settings.images of `data`, then one augmented
 * copy of each per settings.augment entry (in that order), labels alongside. Kept per data
 * object, so the targets and the training loop of every configuration share one copy.
 */
export function trainingRows(
  data: ImageInput,
  settings: Required<RefineOptions>,
  inputShape: readonly (number | string)[],
): ImageRows {
  const { data: images, count: available, size, labels } = imageRows(data);
  const count = Math.min(available, settings.images);
  const key = `${count}:${settings.seed}:${settings.augment.join(',')}`;
  const hit = trainingCache.get(data)?.get(key);
  if (hit) return hit;
  if (settings.augment.length === 0) {
    // Nothing to add: a view of the first `count` images.
    const view: ImageRows = { images: images.subarray(0, count * size), rows: count, cols: size };
    if (labels) view.labels = labels.subarray(0, count);
    return view;
  }
  const dims = sampleInputDims(inputShape, 'model input');
  if (dims.length !== 3)
    throw new RangeError(
      `options.refine.augment: expected images [N, C, H, W] to mirror and shift, the model input is ${dimsText(inputShape)}`,
    );
  const copies = 1 + settings.augment.length;
  const out: ImageRows = { images: new Float32Array(copies * count * size), rows: copies * count, cols: size };
  out.images.set(images.subarray(0, count * size));
  if (labels) {
    out.labels = new Uint8Array(copies * count);
    for (let k = 0; k < copies; k++) out.labels.set(labels.subarray(0, count), k * count);
  }
  const random = seededRandom(settings.seed + 1);
  settings.augment.forEach((kind, k) => {
    for (let i = 0; i < count; i++) {
      const src = images.subarray(i * size, (i + 1) * size);
      const dst = out.images.subarray(((k + 1) * count + i) * size, ((k + 1) * count + i + 1) * size);
      if (kind === 'flip') {
        flipInto(src, dst, dims as [number, number, number]);
      } else {
        // A shift of 1-2 pixels in a random direction (never none).
        let dy = 0,
          dx = 0;
        while (dy === 0 && dx === 0) [dy, dx] = [Math.floor(random() * 5) - 2, Math.floor(random() * 5) - 2];
        shiftInto(src, dst, dims as [number, number, number], dy, dx);
      }
    }
  });
  (trainingCache.get(data) ?? trainingCache.set(data, new Map()).get(data)!).set(key, out);
  return out;
}

/**
 * The refinement targets of the training images (trainingRows): (1 - distill) one-hot labels +
 * distill softmax(teacher logits), count x K. Computed once per teacher and shared by its jobs.
 */
export async function refineTargets(
  teacher: Anchor,
  source: ImageInput,
  settings: Required<RefineOptions>,
  options: LongTaskOptions = {},
): Promise<Float32Array> {
  const data = trainingRows(source, settings, teacher.model.input.shape);
  const { rows: count, labels } = data;
  const outputDims = teacher.model.sampleDims(teacher.model.output.name);
  const k = outputDims[0];
  if (k === undefined || outputDims.length !== 1)
    throw new RangeError(
      `${teacher.name}: expected logits [N, K] to refine against, the output is [N, ${outputDims.join(', ')}]`,
    );
  const w = settings.distill;
  if (w < 1 && !labels)
    throw new RangeError(
      'data.labels: refining on the task needs labelled calibration images, or options.refine.distill = 1 to learn from the teacher alone',
    );
  const targets = new Float32Array(count * k);
  for (let i = 0; w < 1 && i < count; i++) {
    const label = labels![i]!;
    if (label >= k)
      throw new RangeError(
        `data.labels[${i}]: expected a class below ${k} (${teacher.name} has ${k} logits), got ${label}`,
      );
    targets[i * k + label] = 1 - w;
  }
  if (w > 0) {
    for (const { x, start } of batches(data, teacher.model.input.shape, 256, count)) {
      options.signal?.throwIfAborted();
      const logits = (await teacher.model.run(reshapeFor(x, teacher))).data;
      for (let i = 0; i < x.dims[0]!; i++) {
        const row = logits.subarray(i * k, (i + 1) * k);
        let max = -Infinity;
        for (const v of row) max = Math.max(max, v);
        let z = 0;
        for (const v of row) z += Math.exp(v - max);
        for (let c = 0; c < k; c++) targets[(start + i) * k + c]! += (w * Math.exp(row[c]! - max)) / z;
      }
    }
  }
  return targets;
}

/**
 * The front segment's activations of images by index: computed once and kept when all of them
 * fit in `cacheBytes`, else computed per batch.
 */
async function frontActivations(
  job: RefineJob,
  data: ImageInput,
  count: number,
  cacheBytes: number,
  options: LongTaskOptions,
): Promise<(indices: ArrayLike<number>) => Promise<Tensor>> {
  const { data: images, size } = imageRows(data);
  const inputDims = sampleInputDims(job.front.model.input.shape, `${job.front.name} input`);
  const front = job.front.model.segment(job.front.model.input.name, job.frontCut);
  const dims = job.front.model.sampleDims(job.frontCut);
  const per = dims.reduce((a, b) => a * b, 1);
  const gather = (source: Float32Array, width: number, indices: ArrayLike<number>): Float32Array => {
    const out = new Float32Array(indices.length * width);
    for (let i = 0; i < indices.length; i++)
      out.set(source.subarray(indices[i]! * width, (indices[i]! + 1) * width), i * width);
    return out;
  };
  const run = (indices: ArrayLike<number>): Promise<Tensor> =>
    front.run({ data: gather(images, size, indices), dims: [indices.length, ...inputDims] });
  if (count * per * 4 > cacheBytes) return run;
  const cache = new Float32Array(count * per);
  for (let start = 0; start < count; start += 256) {
    options.signal?.throwIfAborted();
    const indices = Array.from({ length: Math.min(256, count - start) }, (_, i) => start + i);
    cache.set((await run(indices)).data, start * per);
  }
  return async (indices) => ({ data: gather(cache, per, indices), dims: [indices.length, ...dims] });
}

/** Accuracy of the stitched network (front segment, maps, back segment) on labelled images. */
async function stitchedAccuracy(
  job: RefineJob,
  maps: AdapterMaps,
  validation: ImageInput,
  signal?: AbortSignal,
): Promise<number> {
  const { labels, count } = imageRows(validation, 'validation');
  if (!labels) throw new RangeError('validation.labels: choosing the epoch needs labelled validation images');
  const front = job.front.model.segment(job.front.model.input.name, job.frontCut);
  const back = job.back.model.segment(job.backCut, job.back.model.output.name);
  let correct = 0;
  for (const { x, start } of batches(validation, job.front.model.input.shape, 250, Infinity, 'validation')) {
    signal?.throwIfAborted();
    const logits = await back.run(job.adapter.run(await front.run(reshapeFor(x, job.front)), maps));
    for (let i = 0; i < x.dims[0]!; i++) if (argmaxRow(logits, i) === labels[start + i]) correct++;
  }
  return correct / count;
}

export interface RefineRunOptions extends LongTaskOptions {
  /**
   * Labelled images held out of the training images: the accuracy of the least-squares start
   * and of every epoch of the second half (the cosine schedule's low-rate end, where the best
   * epochs are; measuring every epoch would cost a tenth more time) is measured on them, and
   * the maps that do best are returned (the later of equals).
   */
  validation?: ImageInput;
}

/**
 * Trains the job's maps and per-position offsets on the cross-entropy of the stitched network's
 * logits against `targets` (refineTargets); the anchors stay frozen. Returns the trained maps,
 * the loss per epoch, and which epoch's maps they are (0: the least-squares start did best on
 * the validation split; the last epoch without one).
 */
export async function refineOnTask(
  job: RefineJob,
  source: ImageInput,
  targets: Float32Array,
  settings: Required<RefineOptions>,
  options: RefineRunOptions = {},
): Promise<{ maps: AdapterMaps; history: RefineEpoch[]; epoch: number }> {
  const data = trainingRows(source, settings, job.front.model.input.shape);
  const count = data.rows;
  const k = targets.length / count;
  if (!Number.isInteger(k) || k < 1)
    throw new RangeError(`targets: expected ${count} rows of class probabilities, got ${targets.length} values`);

  const back = job.back.model.gradient(job.backCut);
  const front = await frontActivations(job, data, count, settings.cacheBytes, options);
  const optimizer = { optimizer: settings.optimizer, lr: settings.lr };
  const main = new TrainableStitch(job.maps.main, optimizer);
  const cls = job.maps.cls ? new TrainableStitch(job.maps.cls, optimizer) : undefined;
  // The offsets e (positions x outputs) train as a 1 -> e.length stitch read at x = 1, so
  // e = W + b. W and b get the same gradient, hence (SGD or Adam) the same step, and e moves by
  // twice it: at half the learning rate, e takes exactly the optimizer's step.
  const e0 = job.maps.position;
  const offsets = e0
    ? new TrainableStitch(
        { weight: { data: e0.slice(), rows: 1, cols: e0.length }, bias: new Float32Array(e0.length) },
        optimizer,
      )
    : undefined;
  const one = { data: new Float32Array([1]), rows: 1, cols: 1 };

  // The core trainer's batches and schedule (trainStitch's seeded order, cosine annealing over
  // all steps), so a seed orders the images as it orders trainStitch's rows.
  const perEpoch = Math.ceil(count / settings.batchSize);
  const orders = native.epochOrders(count, settings.epochs, settings.seed);
  const rates = native.learningRates(perEpoch, { schedule: 'cosine', lr: settings.lr, epochs: settings.epochs });
  let step = 0;
  const history: RefineEpoch[] = [];
  const current = (): AdapterMaps => {
    const maps: AdapterMaps = { main: main.stitch() };
    if (cls) maps.cls = cls.stitch();
    if (offsets) {
      const { weight, bias } = offsets.stitch();
      maps.position = weight.data.map((v, i) => v + bias[i]!);
    }
    return maps;
  };
  let best: { maps: AdapterMaps; accuracy: number; epoch: number } | undefined;
  if (options.validation) {
    best = {
      maps: job.maps,
      accuracy: await stitchedAccuracy(job, job.maps, options.validation, options.signal),
      epoch: 0,
    };
    history.push({ epoch: 0, loss: NaN, validationAccuracy: best.accuracy });
  }
  for (let epoch = 1; epoch <= settings.epochs; epoch++) {
    const order = orders.subarray((epoch - 1) * count, epoch * count);
    let lossSum = 0;
    for (let start = 0; start < count; start += settings.batchSize) {
      options.signal?.throwIfAborted();
      const m = Math.min(settings.batchSize, count - start);
      const batch = order.subarray(start, start + m);
      const target = new Float32Array(m * k);
      batch.forEach((s, i) => target.set(targets.subarray(s * k, (s + 1) * k), i * k));
      const inputs = job.adapter.inputs(await front(batch));
      // adapter.output: the maps' rows as the stitch emits them (rectified with adapter.rectify).
      const y = job.adapter.output(addPositionOffsets(main.forward(inputs.main), offsets?.forward(one).data));
      const yCls = cls && inputs.cls ? job.adapter.output(cls.forward(inputs.cls)) : undefined;
      const { loss, grad } = await back.run(job.adapter.assemble(y, yCls, m), { data: target, dims: [m, k] });
      // targets() inverts assemble(), so dOut's rows and columns are y's (and yCls's).
      const dOut = job.adapter.targets(grad);
      if (job.adapter.rectify) {
        rectifiedGradient(y, dOut.main);
        if (yCls) rectifiedGradient(yCls, dOut.cls!);
      }
      const lr = rates[step++]!;
      main.backward(inputs.main, dOut.main);
      main.step(lr);
      if (cls) {
        cls.backward(inputs.cls!, dOut.cls!);
        cls.step(lr);
      }
      if (offsets) {
        offsets.backward(
          { data: new Float32Array(m).fill(1), rows: m, cols: 1 },
          { data: dOut.main.data, rows: m, cols: e0!.length },
        );
        offsets.step(lr / 2);
      }
      lossSum += loss * m;
      options.onProgress?.({
        stage: 'refine',
        done: (epoch - 1) * count + start + m,
        total: settings.epochs * count,
        detail: job.id,
      });
    }
    const entry: RefineEpoch = { epoch, loss: lossSum / count };
    if (best && 2 * epoch >= settings.epochs) {
      const maps = current();
      entry.validationAccuracy = await stitchedAccuracy(job, maps, options.validation!, options.signal);
      if (entry.validationAccuracy >= best.accuracy) best = { maps, accuracy: entry.validationAccuracy, epoch };
    }
    history.push(entry);
  }
  return best ? { maps: best.maps, history, epoch: best.epoch } : { maps: current(), history, epoch: settings.epochs };
}
