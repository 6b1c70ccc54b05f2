// Task refinement of a fitted stitch, as ReStNet fine-tunes its stitching layers: the stitched
// network runs on labelled calibration images, the cross-entropy of its logits is differentiated
// through the frozen back (an ONNX gradient graph, lib/onnx/grad.ts) down to the stitch's output,
// and only the stitch's maps take optimizer steps. Least squares matches activations; this
// matches what the back does with them, which is what mid-depth stitches lack.
import { addPositionOffsets, type Adapter, type AdapterMaps } from '../stitch/adapters/adapter.js';
import { TrainableStitch } from '../stitch/train.js';
import type { OptimizerName } from '../stitch/types.js';
import type { Anchor } from './anchor.js';
import { imageRows, sampleInputDims, seededRandom, type ImageInput, type LongTaskOptions } from './inputs.js';

export interface RefineOptions {
  /** Passes over the images (default 2). */
  epochs?: number;
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** 'adam' (default) or 'sgd'. */
  optimizer?: OptimizerName;
  /** Images per step (default 64). */
  batchSize?: number;
  /** Train on at most this many images of the data (default: all of them). */
  images?: number;
  /** Seed of the per-epoch shuffles (default 0). */
  seed?: number;
}

export interface RefineEpoch {
  /** 1-based. */
  epoch: number;
  /** Mean cross-entropy of the epoch's batches, each measured before its step. */
  loss: number;
}

export interface RefineJob {
  front: Anchor;
  frontCut: string;
  back: Anchor;
  backCut: string;
  adapter: Adapter;
  /** The least-squares maps to start from; the position offsets stay as they are. */
  maps: AdapterMaps;
  /** A name for progress and errors. */
  id: string;
}

function positive(value: number | undefined, fallback: number, arg: string, integer: boolean): number {
  const v = value ?? fallback;
  if (!(v > 0) || (integer && !Number.isInteger(v))) throw new RangeError(`${arg}: expected a positive ${integer ? 'integer' : 'number'}, got ${v}`);
  return v;
}

/** Resolved refinement settings, checked once for every job. */
export function refineSettings(options: RefineOptions): Required<RefineOptions> {
  return {
    epochs: positive(options.epochs, 2, 'options.refine.epochs', true),
    lr: positive(options.lr, 1e-3, 'options.refine.lr', false),
    optimizer: options.optimizer ?? 'adam',
    batchSize: positive(options.batchSize, 64, 'options.refine.batchSize', true),
    images: options.images === undefined || options.images === Infinity ? Infinity : positive(options.images, 1, 'options.refine.images', true),
    seed: options.seed ?? 0,
  };
}

/** A seeded Fisher-Yates permutation of 0..n-1. */
function permutation(n: number, random: () => number): Uint32Array {
  const p = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

/**
 * Trains the job's maps on the cross-entropy of the stitched network's logits against the
 * labels; the anchors and the position offsets stay fixed. Returns the trained maps and the
 * loss per epoch.
 */
export async function refineOnTask(job: RefineJob, data: ImageInput, settings: Required<RefineOptions>, options: LongTaskOptions = {}): Promise<{ maps: AdapterMaps; history: RefineEpoch[] }> {
  const { data: images, count: available, size, labels } = imageRows(data);
  if (!labels) throw new RangeError('data.labels: refining a stitch on the task needs labelled calibration images');
  const count = Math.min(available, settings.images);
  const inputDims = sampleInputDims(job.front.model.input.shape, `${job.front.name} input`);
  const classes = job.back.model.sampleDims(job.back.model.output.name);
  if (classes.length !== 1) throw new RangeError(`${job.back.name}: expected logits [N, K] to refine against labels, the output has dims [N, ${classes.join(', ')}]`);
  const k = classes[0]!;
  const bad = labels.subarray(0, count).findIndex((l) => l >= k);
  if (bad >= 0) throw new RangeError(`data.labels[${bad}]: expected a class below ${k} (${job.back.name} has ${k} logits), got ${labels[bad]}`);

  const front = job.front.model.segment(job.front.model.input.name, job.frontCut);
  const back = job.back.model.gradient(job.backCut);
  const optimizer = { optimizer: settings.optimizer, lr: settings.lr };
  const main = new TrainableStitch(job.maps.main, optimizer);
  const cls = job.maps.cls ? new TrainableStitch(job.maps.cls, optimizer) : undefined;
  const random = seededRandom(settings.seed);
  const history: RefineEpoch[] = [];
  for (let epoch = 1; epoch <= settings.epochs; epoch++) {
    const order = permutation(count, random);
    let lossSum = 0;
    for (let start = 0; start < count; start += settings.batchSize) {
      options.signal?.throwIfAborted();
      const m = Math.min(settings.batchSize, count - start);
      const x = new Float32Array(m * size);
      const target = new Float32Array(m * k);
      for (let i = 0; i < m; i++) {
        const s = order[start + i]!;
        x.set(images.subarray(s * size, (s + 1) * size), i * size);
        target[i * k + labels[s]!] = 1;
      }
      const inputs = job.adapter.inputs(await front.run({ data: x, dims: [m, ...inputDims] }));
      const y = addPositionOffsets(main.forward(inputs.main), job.maps.position);
      const { loss, grad } = await back.run(job.adapter.assemble(y, cls && inputs.cls ? cls.forward(inputs.cls) : undefined, m), { data: target, dims: [m, k] });
      const dOut = job.adapter.targets(grad);
      main.backward(inputs.main, dOut.main);
      main.step();
      if (cls) {
        cls.backward(inputs.cls!, dOut.cls!);
        cls.step();
      }
      lossSum += loss * m;
      options.onProgress?.({ stage: 'refine', done: (epoch - 1) * count + start + m, total: settings.epochs * count, detail: job.id });
    }
    history.push({ epoch, loss: lossSum / count });
  }
  const maps: AdapterMaps = { main: main.stitch() };
  if (cls) maps.cls = cls.stitch();
  if (job.maps.position) maps.position = job.maps.position;
  return { maps, history };
}
