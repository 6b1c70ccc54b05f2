// Fuzz cases for every call across the native boundary: similarity (gram, centerGram, hsic,
// cka, ckaAsync, ckaMatrix, MinibatchCKA), stitches (fitStitch, fitStitchAsync, applyStitch,
// trainStitch, epochOrders, learningRates, LeastSquaresAccumulator, TrainableStitch) and the
// layout and resampling calls.
// Each case calls the addon directly, where the JavaScript wrappers would not stop bad input.
import { native } from '../../lib/native.js';
import type { Random } from './random.js';
import { CKA_OPTIONS, EDGE_NUMBERS, count, floats, matrices, matrix, oddValue, options, show } from './values.js';

export interface FuzzCase {
  /** The calls and their arguments, for the reproducer. */
  text: string;
  /** Runs the case; a returned promise is awaited. */
  run(): unknown;
}

type Fn = (...args: never[]) => unknown;
type Maker = (rng: Random) => FuzzCase;

/** A case of one call: `name(args)`. */
function call(name: string, fn: Fn, args: unknown[]): FuzzCase {
  return { text: `${name}(${args.map(show).join(', ')})`, run: () => (fn as (...a: unknown[]) => unknown)(...args) };
}

/** A case of several steps run in order (each step's text joined with '; '). */
function steps(list: { text: string; run: (state: { self?: unknown }) => unknown }[]): FuzzCase {
  return {
    text: list.map((s) => s.text).join('; '),
    run: async () => {
      const state: { self?: unknown } = {};
      for (const s of list) await s.run(state);
    },
  };
}

// Output sizes stay off the range that is valid but gigabytes large (a correct 4 GB result is
// not a bug, only slow): no 1e9, 1e9 + 1 among them.
const OUT_SIZES = EDGE_NUMBERS.filter((v) => v !== 1e9 && v !== 1e9 + 1);

function token(rng: Random): unknown {
  if (rng.chance(0.6)) return undefined;
  if (rng.chance(0.2)) return oddValue(rng);
  const t = new native.CancelToken();
  if (rng.chance(0.5)) t.cancel();
  else setTimeout(() => t.cancel(), rng.int(0, 3));
  return t;
}

function progress(rng: Random): unknown {
  // (A callback that throws is the caller's uncaught exception, as in any event handler: not generated.)
  return rng.pick<unknown>([undefined, () => undefined, 'not a function']);
}

/** NCHW dims with data of the matching length (mostly), or dims that lie. */
function grid(rng: Random): { data: unknown; dims: unknown } {
  const dims = [rng.int(0, 3), rng.int(1, 4), rng.int(1, 6), rng.int(1, 6)];
  const size = dims.reduce((a, b) => a * b, 1);
  switch (rng.int(0, 5)) {
    case 0:
      return {
        data: new Float32Array(rng.pick([0, 1, 16])),
        dims: dims.map((d) => (rng.chance(0.4) ? rng.pick(EDGE_NUMBERS) : d)),
      };
    case 1:
      return { data: floats(rng, size), dims: rng.chance(0.5) ? dims.slice(0, rng.int(0, 3)) : oddValue(rng) };
    case 2:
      return { data: rng.chance(0.5) ? new Float64Array(size) : oddValue(rng), dims };
    default:
      return { data: floats(rng, size), dims };
  }
}

function stitchArg(rng: Random, inputs: number, outputs: number): unknown {
  if (rng.chance(0.15)) return oddValue(rng);
  const weight = matrix(rng, inputs, outputs);
  return {
    weight,
    bias: rng.chance(0.85) ? floats(rng, outputs) : rng.pick<unknown>([new Float32Array(outputs + 1), undefined, [1]]),
  };
}

const GRAM_OPTIONS = {
  kernel: CKA_OPTIONS.kernel,
  threshold: CKA_OPTIONS.threshold,
  sigma: { ok: [0.5, 1], bad: [0, -1, NaN, Infinity] },
};
const FIT_OPTIONS = {
  ridge: { ok: [0, 1e-3, 1], bad: [-1, NaN, Infinity, 1e300] },
  bias: { ok: [true, false], bad: [0] },
};
const OPTIMIZER = {
  optimizer: { ok: ['adam', 'sgd'], bad: ['adagrad'] },
  lr: { ok: [1e-3, 0.1], bad: [0, -1, NaN, Infinity] },
  momentum: { ok: [0, 0.9], bad: [1, -0.5, NaN] },
  nesterov: { ok: [true, false], bad: [1] },
  weightDecay: { ok: [0, 1e-4], bad: [-1, NaN] },
};
const TRAIN_OPTIONS = {
  ...OPTIMIZER,
  schedule: { ok: ['constant', 'cosine', 'step'], bad: ['bogus'] },
  epochs: { ok: [1, 2, 3], bad: [0, -1, 2.5, NaN] },
  batchSize: { ok: [1, 2, 4], bad: [0, 2.5, 1e9, NaN] },
  seed: { ok: [0, 1, 2 ** 53 - 1], bad: [-1, 2 ** 60, NaN] },
  patience: { ok: [0, 1], bad: [-1, 2.5] },
  loss: { ok: ['mse', 'huber'], bad: ['hinge', 'cosine'] },
};

export const NATIVE_CASES: Record<string, Maker> = {
  gram: (r) => call('gram', native.gram, [matrix(r), options(r, GRAM_OPTIONS)]),
  centerGram: (r) => {
    const n = r.int(1, 8);
    return call('centerGram', native.centerGram, [
      matrix(r, n, r.chance(0.8) ? n : n + 1),
      options(r, { unbiased: { ok: [true, false], bad: ['no'] } }),
    ]);
  },
  hsic: (r) => {
    const n = r.int(1, 8);
    return call('hsic', native.hsic, [
      matrix(r, n, n),
      matrix(r, r.chance(0.8) ? n : n + 1, n),
      options(r, { unbiased: { ok: [true, false], bad: [1] } }),
    ]);
  },
  cka: (r) => {
    const rows = r.int(1, 12);
    return call('cka', native.cka, [
      matrix(r, rows),
      matrix(r, r.chance(0.85) ? rows : rows + 1),
      options(r, CKA_OPTIONS),
    ]);
  },
  ckaAsync: (r) => {
    const rows = r.int(1, 12);
    return call('ckaAsync', native.ckaAsync, [matrix(r, rows), matrix(r, rows), options(r, CKA_OPTIONS), token(r)]);
  },
  ckaMatrix: (r) => {
    const rows = r.int(1, 12);
    return call('ckaMatrix', native.ckaMatrix, [
      matrices(r, r.int(0, 3), rows),
      matrices(r, r.int(0, 3), rows),
      options(r, CKA_OPTIONS),
      token(r),
      progress(r),
    ]);
  },
  MinibatchCKA: (r) => {
    const a = r.int(1, 3),
      b = r.int(1, 3);
    const ctor = [
      r.chance(0.7) ? a : count(r),
      r.chance(0.7) ? b : count(r),
      options(r, { kernel: CKA_OPTIONS.kernel, threshold: CKA_OPTIONS.threshold, method: CKA_OPTIONS.method }),
    ];
    const list: Parameters<typeof steps>[0] = [
      {
        text: `acc = new MinibatchCKA(${ctor.map(show).join(', ')})`,
        run: (s) => {
          s.self = new native.MinibatchCKA(...(ctor as [number, number]));
        },
      },
    ];
    for (let k = r.int(1, 3); k > 0; k--) {
      const rows = r.int(2, 10);
      const args = [matrices(r, a, rows), matrices(r, b, rows)];
      const update = r.chance(0.3) ? 'updateAsync' : 'update';
      const more = update === 'updateAsync' ? [token(r)] : [];
      list.push({
        text: `acc.${update}(${[...args, ...more].map(show).join(', ')})`,
        run: (s) => (s.self as Record<string, Fn>)[update]!(...(args as never[]), ...(more as never[])),
      });
    }
    if (r.chance(0.3))
      list.push({ text: 'acc.merge(acc)', run: (s) => (s.self as { merge(o: unknown): void }).merge(s.self) });
    list.push({ text: 'acc.result()', run: (s) => (s.self as { result(): unknown }).result() });
    return steps(list);
  },
  fitStitch: (r) => {
    const rows = r.int(1, 12);
    return call('fitStitch', native.fitStitch, [matrix(r, rows), matrix(r, rows), options(r, FIT_OPTIONS)]);
  },
  fitStitchAsync: (r) => {
    const rows = r.int(1, 12);
    return call('fitStitchAsync', native.fitStitchAsync, [
      matrix(r, rows),
      matrix(r, rows),
      options(r, FIT_OPTIONS),
      token(r),
    ]);
  },
  applyStitch: (r) => {
    const inputs = r.int(1, 6);
    return call('applyStitch', native.applyStitch, [
      stitchArg(r, inputs, r.int(1, 6)),
      matrix(r, r.int(1, 8), r.chance(0.85) ? inputs : inputs + 1),
    ]);
  },
  trainStitch: (r) => {
    const rows = r.int(1, 12);
    const o = options(r, TRAIN_OPTIONS);
    if (o && typeof o === 'object' && !Array.isArray(o) && r.chance(0.2))
      (o as Record<string, unknown>).validation = { x: matrix(r, 4), y: matrix(r, 4) };
    const onEpoch = r.pick<unknown>([undefined, () => undefined, 3]);
    return call('trainStitch', native.trainStitch, [matrix(r, rows), matrix(r, rows), o, token(r), onEpoch]);
  },
  epochOrders: (r) => {
    const size = (): unknown => (r.chance(0.7) ? r.int(1, 40) : r.chance(0.8) ? r.pick(OUT_SIZES) : oddValue(r));
    return call('epochOrders', native.epochOrders, [size(), size(), r.chance(0.8) ? r.int(0, 99) : count(r, 0)]);
  },
  learningRates: (r) => {
    const steps = r.chance(0.7) ? r.int(1, 20) : r.chance(0.8) ? r.pick(OUT_SIZES) : oddValue(r);
    const o = options(r, { schedule: TRAIN_OPTIONS.schedule, lr: OPTIMIZER.lr, epochs: TRAIN_OPTIONS.epochs });
    return call('learningRates', native.learningRates, [steps, o]);
  },
  LeastSquaresAccumulator: (r) => {
    const inputs = r.int(1, 5),
      outputs = r.int(1, 5);
    const ctor = [r.chance(0.7) ? inputs : count(r), r.chance(0.7) ? outputs : count(r)];
    const list: Parameters<typeof steps>[0] = [
      {
        text: `acc = new LeastSquaresAccumulator(${ctor.map(show).join(', ')})`,
        run: (s) => {
          s.self = new native.LeastSquaresAccumulator(...(ctor as [number, number]));
        },
      },
    ];
    for (let k = r.int(1, 3); k > 0; k--) {
      const rows = r.int(1, 10);
      const args = [matrix(r, rows, inputs), matrix(r, rows, outputs)];
      const update = r.chance(0.3) ? 'updateAsync' : 'update';
      const more = update === 'updateAsync' ? [token(r)] : [];
      list.push({
        text: `acc.${update}(${[...args, ...more].map(show).join(', ')})`,
        run: (s) => (s.self as Record<string, Fn>)[update]!(...(args as never[]), ...(more as never[])),
      });
    }
    const solve = options(r, FIT_OPTIONS);
    list.push({
      text: `acc.solve(${show(solve)})`,
      run: (s) => (s.self as { solve(o: unknown): unknown }).solve(solve),
    });
    return steps(list);
  },
  TrainableStitch: (r) => {
    const inputs = r.int(1, 5),
      outputs = r.int(1, 5);
    const init = stitchArg(r, inputs, outputs),
      o = options(r, OPTIMIZER);
    const list: Parameters<typeof steps>[0] = [
      {
        text: `t = new TrainableStitch(${show(init)}, ${show(o)})`,
        run: (s) => {
          s.self = new native.TrainableStitch(init as never, o as never);
        },
      },
    ];
    for (let k = r.int(1, 3); k > 0; k--) {
      const rows = r.int(1, 8);
      const x = matrix(r, rows, inputs),
        g = matrix(r, rows, outputs);
      const lr = r.chance(0.7) ? undefined : r.pick<unknown>([0.1, 0, -1, NaN, '1']);
      list.push({ text: `t.forward(${show(x)})`, run: (s) => (s.self as { forward(x: unknown): unknown }).forward(x) });
      list.push({
        text: `t.backward(${show(x)}, ${show(g)})`,
        run: (s) => (s.self as { backward(x: unknown, g: unknown): unknown }).backward(x, g),
      });
      list.push({ text: `t.step(${show(lr)})`, run: (s) => (s.self as { step(lr: unknown): unknown }).step(lr) });
    }
    list.push({ text: 't.stitch()', run: (s) => (s.self as { stitch(): unknown }).stitch() });
    return steps(list);
  },
  nchwToRows: (r) => {
    const g = grid(r);
    return call('nchwToRows', native.nchwToRows, [g.data, g.dims]);
  },
  rowsToNchw: (r) => {
    const g = grid(r);
    return call('rowsToNchw', native.rowsToNchw, [g.data, g.dims, r.chance(0.7) ? 0 : count(r, 0, 2)]);
  },
  resample2d: (r) => {
    const g = grid(r);
    const size = (): unknown => (r.chance(0.7) ? r.int(1, 12) : r.chance(0.8) ? r.pick(OUT_SIZES) : oddValue(r));
    return call('resample2d', native.resample2d, [g.data, g.dims, size(), size()]);
  },
  spaceToDepth: (r) => {
    const g = grid(r);
    return call('spaceToDepth', native.spaceToDepth, [g.data, g.dims, count(r, 1, 3)]);
  },
  depthToSpace: (r) => {
    const g = grid(r);
    return call('depthToSpace', native.depthToSpace, [g.data, g.dims, count(r, 1, 3)]);
  },
  neighbourhoodRows: (r) => {
    const g = grid(r);
    return call('neighbourhoodRows', native.neighbourhoodRows, [
      g.data,
      g.dims,
      count(r, 1, 7),
      count(r, 1, 4),
      count(r, 0, 3),
    ]);
  },
  addPositionSums: (r) => {
    const rows = r.int(1, 8),
      cols = r.int(1, 4),
      positions = r.int(1, 4);
    const sum = r.chance(0.8)
      ? new Float64Array(positions * cols)
      : r.pick<unknown>([new Float32Array(positions * cols), new Float64Array(1), undefined]);
    return call('addPositionSums', native.addPositionSums, [
      matrix(r, rows, cols),
      r.chance(0.7) ? positions : count(r),
      sum,
    ]);
  },
  addPositionOffsets: (r) => {
    const rows = r.int(1, 8),
      cols = r.int(1, 4),
      positions = r.int(1, 4);
    const offsets = r.chance(0.8)
      ? floats(r, positions * cols)
      : r.pick<unknown>([new Float64Array(positions * cols), new Float32Array(1), undefined]);
    return call('addPositionOffsets', native.addPositionOffsets, [
      matrix(r, rows, cols),
      offsets,
      r.chance(0.7) ? positions : count(r),
    ]);
  },
};
