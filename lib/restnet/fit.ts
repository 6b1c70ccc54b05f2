// Step 3: fit the stitching layers, and only them; the anchors never change. One pass over the
// calibration batches runs each anchor once per batch with every cut the plan uses exposed; each
// configuration's adapter turns (front activation, back activation) into per-position rows
// (alignment first: resampling, token <-> grid, CLS) that stream into a native
// LeastSquaresAccumulator, so memory stays at one batch of activations whatever the calibration
// size. Optional refinement (refine.ts) then trains the maps on the task: the cross-entropy of
// the stitched network's logits, differentiated through the frozen back.
import { addPositionSums } from '../stitch/adapters/layout.js';
import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import { LeastSquaresAccumulator, type Stitch } from '../stitch/fit.js';
import type { Anchor } from './anchor.js';
import { reshapeFor } from './analyze.js';
import { batches, checkLimit, report, sampleCount, type ImageInput, type LongTaskOptions } from './inputs.js';
import type { ConfigRecord } from './manifest.js';
import { adapterFor, type Plan, type PlannedConfig } from './plan.js';
import { refineOnTask, refineSettingsFor, refineTargets, type RefineOptions } from './refine.js';
import { checkStrict, refineOrKeep, type RefineOutcome } from './refine-or-keep.js';
import { ReStNet } from './runtime.js';
import { uniqueAnchors } from './execution.js';
import { integerArg, NON_NEGATIVE, numberArg } from '../validate.js';

export interface FitPipelineOptions extends LongTaskOptions {
  /** Least squares uses at most this many calibration images (default 1000); refinement has refine.images. */
  calibrationLimit?: number;
  /** Images per capture batch (default 100). */
  batchSize?: number;
  /** Ridge penalty per accumulated row (absolute penalty = ridge x rows; default 1e-4). */
  ridge?: number;
  /**
   * Task refinement after least squares (refine.ts): false (default), true (defaults) or options.
   * It trains the maps on the stitched network's cross-entropy against labels mixed with a
   * teacher's probabilities (the teacher's alone when the data have no labels), on every image
   * of the data (refine.images limits it; calibrationLimit does not).
   */
  refine?: boolean | RefineOptions;
  /**
   * Add a per-position offset to each stitch (default true): the mean residual of the shared
   * map at each position of the back's grid or token sequence, from per-position means
   * accumulated in the same pass. It gives a CNN -> Transformer stitch the position embeddings
   * a shared map cannot make (cnn-s -> vit-s at the stem: 49% -> 87% accuracy).
   */
  positionBias?: boolean;
  /**
   * Labelled images held out of `data` (never the eval split): refinement keeps, per
   * configuration, the maps of the epoch (or the least-squares start) that does best on them.
   */
  validation?: ImageInput;
  /**
   * A configuration that cannot be refined (plan.leastSquaresOnly, or its refinement fails) is an
   * error (RefineError, before any fitting for the former) instead of keeping its least-squares
   * stitch with refined: false and the reason in refineError (default false).
   */
  strict?: boolean;
}

interface Work {
  config: PlannedConfig;
  front: Anchor;
  back: Anchor;
  adapter: Exclude<ReturnType<typeof adapterFor>, string>;
  /** Dropped once solved: a wide stitch's normal equations are hundreds of MB. */
  main?: LeastSquaresAccumulator;
  cls?: LeastSquaresAccumulator;
  seconds: number;
  /** Per-position sums of the main rows' inputs and targets (positionBias). */
  sumX?: Float64Array;
  sumY?: Float64Array;
  count: number;
}

/** e_p = mean y_p - (mean x_p W + b): the mean residual of the shared map at each position. */
function positionOffsets(w: Work, main: Stitch): Float32Array {
  const positions = w.adapter.positions;
  const meanX = Float32Array.from(w.sumX!, (v) => v / w.count);
  const fitted = main.apply({ data: meanX, rows: positions, cols: main.weight.rows }).data;
  return Float32Array.from(fitted, (v, k) => w.sumY![k]! / w.count - v);
}

/** Fits every configuration of a plan; returns the runtime with one entry per configuration. */
export async function fit(plan: Plan, data: ImageInput, options: FitPipelineOptions = {}): Promise<ReStNet> {
  const limit =
    options.calibrationLimit === undefined ? 1000 : checkLimit(options.calibrationLimit, 'options.calibrationLimit');
  const batchSize = integerArg(options.batchSize ?? 100, 'options.batchSize', 1);
  const ridge = numberArg(options.ridge ?? 1e-4, 'options.ridge', NON_NEGATIVE);
  const positionBias = options.positionBias ?? true;
  const refineOptions =
    options.refine === true
      ? {}
      : options.refine === false || options.refine === undefined
        ? undefined
        : options.refine;
  const refine = refineOptions === undefined ? undefined : refineSettingsFor(data, refineOptions);
  if (refine) checkStrict(plan.leastSquaresOnly, options.strict ?? false);
  if (plan.configs.length === 0)
    throw new RangeError(
      `plan: no configurations to fit (skipped: ${plan.skipped.map((s) => `${s.frontCut}: ${s.reason}`).join('; ') || 'none'})`,
    );
  const byName = new Map(plan.anchors.map((a) => [a.name, a]));
  const work: Work[] = plan.configs.map((config) => {
    const front = byName.get(config.front)!,
      back = byName.get(config.back)!;
    // A ReLU only on a stitch that refinement trains through it: clamping a least-squares map's
    // (unbiased) errors biases every channel upward (cnn-l -> cnn-s, least squares only: mean
    // distance to the line -6.9 points linear, -10.4 rectified; refined: -1.37 -> -1.05).
    const trained = refine !== undefined && !plan.leastSquaresOnly.some((c) => c.id === config.id);
    const adapter = adapterFor(front, config.frontCut, back, config.backCut, {
      downsample: config.downsample,
      upsample: config.upsample,
      clsMap: config.clsMap,
      kernel: config.kernel,
      rectify: config.rectify && trained,
    });
    if (typeof adapter === 'string')
      throw new RangeError(`plan: configuration '${config.id}' has no valid adapter (${adapter})`);
    const shapes = adapter.weightShapes;
    const w: Work = {
      config,
      front,
      back,
      adapter,
      main: new LeastSquaresAccumulator(...shapes.main),
      seconds: 0,
      count: 0,
    };
    if (positionBias) {
      w.sumX = new Float64Array(adapter.positions * shapes.main[0]);
      w.sumY = new Float64Array(adapter.positions * shapes.main[1]);
    }
    if (shapes.cls) w.cls = new LeastSquaresAccumulator(...shapes.cls);
    return w;
  });
  const cutsOf = new Map<string, Set<string>>();
  for (const w of work) {
    (cutsOf.get(w.front.name) ?? cutsOf.set(w.front.name, new Set()).get(w.front.name)!).add(w.config.frontCut);
    (cutsOf.get(w.back.name) ?? cutsOf.set(w.back.name, new Set()).get(w.back.name)!).add(w.config.backCut);
  }
  const total = sampleCount(data, limit);
  let done = 0;
  let captureSeconds = 0;
  for (const { x } of batches(data, plan.anchors[0].model.input.shape, batchSize, limit)) {
    options.signal?.throwIfAborted();
    const t0 = performance.now();
    const acts = new Map<string, Record<string, { data: Float32Array; dims: number[] }>>();
    for (const [name, cuts] of cutsOf)
      acts.set(name, await byName.get(name)!.model.capture(reshapeFor(x, byName.get(name)!), [...cuts]));
    captureSeconds += (performance.now() - t0) / 1000;
    for (const w of work) {
      const t1 = performance.now();
      const pairs = w.adapter.pairs(
        acts.get(w.front.name)![w.config.frontCut]!,
        acts.get(w.back.name)![w.config.backCut]!,
      );
      // Off the main thread, so progress callbacks and aborts get through during long batches.
      const sig = options.signal ? { signal: options.signal } : {};
      await w.main!.updateAsync(pairs.main.x, pairs.main.y, sig);
      if (pairs.cls) await w.cls!.updateAsync(pairs.cls.x, pairs.cls.y, sig);
      if (w.sumX) {
        addPositionSums(w.sumX, pairs.main.x, w.adapter.positions);
        addPositionSums(w.sumY!, pairs.main.y, w.adapter.positions);
        w.count += x.dims[0]!;
      }
      w.seconds += (performance.now() - t1) / 1000;
    }
    done += x.dims[0]!;
    report(
      options,
      'fit',
      done,
      total,
      `capturing activations and accumulating least squares: ${done}/${total} images`,
    );
  }
  if (done === 0) throw new RangeError('data: expected at least one calibration image');
  // Sessions (and arenas) sized for calibration batches go once their work is done, so memory
  // does not grow with the number of configurations: the capture sessions here, each
  // configuration's front segment and gradient after its refinement.
  const releaseSessions = async () => {
    for (const a of uniqueAnchors(plan.anchors)) await a.model.dispose();
  };
  await releaseSessions();

  /** The least-squares maps (and per-position offsets) of one configuration; its accumulators are dropped. */
  const solveLeastSquares = async (w: Work): Promise<{ maps: AdapterMaps; residual: number }> => {
    // Off the main thread: a wide stitch's solve takes minutes, and Ctrl-C must get through.
    const sig = options.signal ? { signal: options.signal } : {};
    const solve = (acc: LeastSquaresAccumulator) => acc.solveAsync({ ridge: ridge * acc.rows, bias: true, ...sig });
    const main = await solve(w.main!);
    const cls = w.cls ? await solve(w.cls) : undefined;
    const elements = w.main!.rows * main.weight.cols + (w.cls ? w.cls.rows * cls!.weight.cols : 0);
    delete w.main;
    delete w.cls;
    const maps: AdapterMaps = { main };
    if (cls) maps.cls = cls;
    if (!w.sumX) return { maps, residual: (main.residual + (cls?.residual ?? 0)) / elements };
    maps.position = positionOffsets(w, maps.main);
    // Subtracting each position's mean residual lowers the squared error by count x |e_p|^2
    // (exact for the least-squares map).
    let drop = 0;
    for (const v of maps.position) drop += v * v;
    return { maps, residual: Math.max(0, (main.residual + (cls?.residual ?? 0) - w.count * drop) / elements) };
  };
  // Every configuration is solved before any is refined, so refinement's sessions never share
  // memory with the normal equations.
  const solved: Awaited<ReturnType<typeof solveLeastSquares>>[] = [];
  for (const w of work) {
    const t1 = performance.now();
    solved.push(await solveLeastSquares(w));
    w.seconds += (performance.now() - t1) / 1000;
  }

  // Refinement targets per teacher anchor, shared by every configuration it teaches.
  const targets = new Map<string, Promise<Float32Array>>();
  const configs: { record: ConfigRecord; maps: AdapterMaps }[] = [];
  for (const [k, w] of work.entries()) {
    options.signal?.throwIfAborted();
    const t1 = performance.now();
    let maps = solved[k]!.maps;
    const residualAfter = solved[k]!.residual;
    let refined: RefineOutcome | undefined;
    if (refine) {
      const teacher = refine.teacher === 'front' ? w.front : w.back;
      if (!targets.has(teacher.name)) targets.set(teacher.name, refineTargets(teacher, data, refine, options));
      const job = {
        front: w.front,
        frontCut: w.config.frontCut,
        back: w.back,
        backCut: w.config.backCut,
        adapter: w.adapter,
        maps,
        id: w.config.id,
      };
      const teacherTargets = await targets.get(teacher.name)!;
      const problem = plan.leastSquaresOnly.find((c) => c.id === w.config.id)?.reason;
      const refineOptions = options.validation ? { ...options, validation: options.validation } : options;
      refined = await refineOrKeep(
        w.config.id,
        maps,
        problem,
        () => refineOnTask(job, data, teacherTargets, refine, refineOptions),
        { strict: options.strict ?? false, ...(options.signal ? { signal: options.signal } : {}) },
      );
      maps = refined.maps;
      await releaseSessions();
    }
    w.seconds += (performance.now() - t1) / 1000;
    const trainable =
      [maps.main, maps.cls].reduce((n, m) => n + (m ? m.weight.data.length + m.bias.length : 0), 0) +
      (maps.position?.length ?? 0);
    const params =
      w.front.model.segment(w.front.model.input.name, w.config.frontCut).params +
      trainable +
      w.back.model.segment(w.config.backCut, w.back.model.output.name).params;
    configs.push({
      maps,
      record: {
        id: w.config.id,
        front: w.config.front,
        back: w.config.back,
        frontCut: w.config.frontCut,
        backCut: w.config.backCut,
        cka: w.config.cka,
        accuracy: null,
        latencyMs: null,
        macs: w.config.macs,
        params,
        onnx: null,
        stitch: `${w.config.id}.stitch`,
        stitchSha256: '0'.repeat(64),
        order: w.config.order,
        choice: w.config.choice,
        trainableParams: trainable,
        residual: residualAfter,
        fitSeconds: w.seconds + captureSeconds / work.length,
        refined: refined?.refined ?? false,
        ...(refined?.epoch !== undefined ? { refineEpoch: refined.epoch } : {}),
        latencyBatch32Ms: null,
        memoryBytes: null,
        downsample: w.config.downsample,
        upsample: w.config.upsample,
        clsMap: w.config.clsMap,
        kernel: w.config.kernel,
        // A failed refinement keeps the least-squares maps, fitted linear.
        rectify: w.adapter.rectify && refined?.refined === true,
        positionBias: maps.position !== undefined,
        ...(refined?.error !== undefined ? { refineError: refined.error } : {}),
      },
    });
    report(options, 'solve', k + 1, work.length, `fitted ${w.config.id}`);
  }
  return new ReStNet(plan.anchors, configs);
}
