// trainStitch and TrainableStitch: the update rules against the f64 oracle, convergence to the
// least-squares optimum, determinism, abort, the event loop, early stopping and bad input.
import { describe, expect, it } from 'vitest';

import {
  fitStitch,
  setThreads,
  trainStitch,
  TrainableStitch,
  type EpochRecord,
  type Matrix,
  type ProgressEvent,
} from '../lib/index.js';
import { randomMatrix } from './oracle.js';
import { describeEachSimd } from './simd-paths.js';
import { linearProblem, mse, optimizerSteps, relativeError, type OptimizerRule } from './stitch-oracle.js';

const x = randomMatrix(48, 12, 11, 0.5);
const y = linearProblem(x, 5, 0.3, 12, 1);
const init = { weight: randomMatrix(12, 5, 13), bias: randomMatrix(1, 5, 14).data };
const init64 = { weight: Float64Array.from(init.weight.data), bias: Float64Array.from(init.bias) };

const rules: OptimizerRule[] = [
  { optimizer: 'sgd', lr: 0.05 },
  { optimizer: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0.01 },
  { optimizer: 'sgd', lr: 0.05, momentum: 0.8, nesterov: true },
  { optimizer: 'adam', lr: 0.01 },
  { optimizer: 'adam', lr: 0.01, weightDecay: 0.1 },
  { optimizer: 'sgd', lr: 0.5, loss: 'huber' },
];

describeEachSimd('optimizer steps', () => {
  for (const rule of rules) {
    it(`trainStitch matches the hand-computed first steps: ${JSON.stringify(rule)}`, async () => {
      // One full batch per epoch, so the shuffle only reorders rows inside the gradient sums.
      const { stitch, history } = await trainStitch(x, y, { ...rule, init, epochs: 3, batchSize: x.rows });
      const expected = optimizerSteps(init64, x, y, rule, 3);
      expect(relativeError(stitch.weight.data, expected.weight)).toBeLessThan(2e-6);
      expect(relativeError(stitch.bias, expected.bias)).toBeLessThan(2e-6);
      expect(history.map((h) => h.epoch)).toEqual([1, 2, 3]);
      if (rule.loss === undefined) expect(history[0]!.trainLoss).toBeCloseTo(mse(init64, x, y), 5);
    });

    // The low-level API takes dLoss/dOutput from the caller; MSE's is computed here, so the
    // rules with another loss have no low-level twin.
    if (rule.loss !== undefined) continue;
    it(`forward / backward / step matches the same steps: ${JSON.stringify(rule)}`, () => {
      const t = new TrainableStitch(init, rule);
      for (let s = 0; s < 3; s++) {
        const out = t.forward(x);
        const grad = out.data.map((v, e) => (2 * (v - y.data[e]!)) / y.data.length);
        t.backward(x, { data: grad, rows: out.rows, cols: out.cols });
        t.step();
      }
      const expected = optimizerSteps(init64, x, y, rule, 3);
      expect(t.steps).toBe(3);
      expect(relativeError(t.stitch().weight.data, expected.weight)).toBeLessThan(2e-6);
      expect(relativeError(t.stitch().bias, expected.bias)).toBeLessThan(2e-6);
    });
  }

  it('is bit-identical for a seed and differs across seeds', async () => {
    const a = randomMatrix(500, 40, 21),
      b = linearProblem(a, 33, 0.5, 22);
    const run = (seed: number) => trainStitch(a, b, { epochs: 2, batchSize: 32, seed, lr: 0.01, schedule: 'cosine' });
    const [r1, r2, r3] = await Promise.all([run(5), run(5), run(6)]);
    expect(r1.stitch.weight.data).toEqual(r2.stitch.weight.data);
    expect(r1.history).toEqual(r2.history);
    expect(r1.stitch.weight.data).not.toEqual(r3.stitch.weight.data);
  });
});

describe('trainStitch', () => {
  const n = 4000,
    d = 32,
    k = 8;
  const tx = randomMatrix(n, d, 31, 1),
    ty = linearProblem(tx, k, 0.5, 32, 2);
  const vx = randomMatrix(1000, d, 33, 1),
    vy = linearProblem(vx, k, 0.5, 32, 2);
  // linearProblem draws the same W for the same seed; the noise differs with the rows.

  it('from zeros reaches within 5% of the least-squares validation error', async () => {
    const ls = fitStitch(tx, ty);
    const target = mse({ weight: ls.weight.data, bias: ls.bias }, vx, vy);
    const events: ProgressEvent<EpochRecord>[] = [];
    const { stitch, history } = await trainStitch(tx, ty, {
      optimizer: 'adam',
      lr: 0.02,
      schedule: 'cosine',
      epochs: 25,
      batchSize: 64,
      seed: 1,
      validation: { x: vx, y: vy },
      onProgress: (e) => events.push(e),
    });
    // One event per epoch, in order, all before the promise settled, each carrying its record.
    expect(events.map((e) => [e.stage, e.done, e.total])).toEqual(history.map((h) => ['train', h.epoch, 25]));
    expect(events.map((e) => e.payload)).toEqual(history);
    expect(history).toHaveLength(25);
    const best = Math.min(...history.map((h) => h.validationLoss));
    expect(best).toBeLessThanOrEqual(1.05 * target);
    expect(mse({ weight: stitch.weight.data, bias: stitch.bias }, vx, vy)).toBeCloseTo(best, 6);
    expect(history[0]!.trainLoss).toBeGreaterThan(history.at(-1)!.trainLoss);
  });

  it('is identical for any thread count', async () => {
    const run = () => trainStitch(tx, ty, { epochs: 1, batchSize: 100, seed: 3 });
    setThreads(1);
    const one = await run();
    setThreads(2);
    const two = await run();
    setThreads(0);
    expect(one.stitch.weight.data).toEqual(two.stitch.weight.data);
  });

  it('stops early with patience and keeps the best epoch', async () => {
    const noise = randomMatrix(n, k, 41),
      vnoise = randomMatrix(1000, k, 42);
    const { history } = await trainStitch(tx, noise, {
      lr: 0.05,
      epochs: 100,
      validation: { x: vx, y: vnoise },
      patience: 2,
    });
    expect(history.length).toBeLessThan(100);
  });

  it('supports the huber loss, sgd with a step schedule, and reports the learning rate', async () => {
    const { history } = await trainStitch(tx, ty, {
      optimizer: 'sgd',
      momentum: 0.9,
      lr: 0.01,
      schedule: 'step',
      loss: 'huber',
      epochs: 4,
    });
    expect(history.map((h) => h.lr)).toEqual([0.01, 0.01, 0.001, 0.0001]);
    expect(Number.isNaN(history[0]!.validationLoss)).toBe(true);
    expect(history[3]!.trainLoss).toBeLessThan(history[0]!.trainLoss);
  });

  it('rejects promptly with an AbortError, and the event loop keeps running', async () => {
    const big = randomMatrix(20000, 128, 51),
      bigY = linearProblem(big, 64, 0.1, 52);
    const controller = new AbortController();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const started = performance.now();
    const training = trainStitch(big, bigY, { epochs: 1000, signal: controller.signal, batchSize: 16 });
    setTimeout(() => controller.abort(), 150);
    await expect(training).rejects.toMatchObject({ name: 'AbortError' });
    clearInterval(timer);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(ticks).toBeGreaterThan(5);
    const aborted = AbortSignal.abort();
    await expect(trainStitch(x, y, { signal: aborted })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('stops when onProgress throws and rejects with that error', async () => {
    let calls = 0;
    const failure = new Error('stop here');
    await expect(
      trainStitch(tx, ty, {
        epochs: 50,
        onProgress: () => {
          if (++calls === 2) throw failure;
        },
      }),
    ).rejects.toBe(failure);
    expect(calls).toBe(2);
  });
});

describe('bad input', () => {
  const bad = (options: object, xs: Matrix = x, ys: Matrix = y) => trainStitch(xs, ys, options as never);

  it('names the argument in TypeError / RangeError', async () => {
    await expect(bad({ epoch: 3 })).rejects.toThrow(TypeError);
    await expect(bad({ epoch: 3 })).rejects.toThrow(/options.epoch: unknown option/);
    await expect(bad({ optimizer: 'adamw' })).rejects.toThrow(TypeError);
    await expect(bad({ lr: -0.1 })).rejects.toThrow(/^options.lr: expected a finite number > 0/);
    await expect(bad({ lr: -0.1 })).rejects.toThrow(RangeError);
    await expect(bad({ batchSize: 0 })).rejects.toThrow(/^options.batchSize: expected an integer in \[1, 48\]/);
    await expect(bad({ batchSize: 49 })).rejects.toThrow(RangeError);
    await expect(bad({ batchSize: 2.5 })).rejects.toThrow(RangeError);
    await expect(bad({ epochs: 0 })).rejects.toThrow(/^options.epochs/);
    await expect(bad({ patience: 2 })).rejects.toThrow(/^options.patience: early stopping needs options.validation/);
    await expect(bad({ nesterov: true, optimizer: 'sgd' })).rejects.toThrow(/^options.nesterov/);
    await expect(bad({ init: { weight: randomMatrix(12, 4, 1), bias: new Float32Array(4) } })).rejects.toThrow(
      /^options.init: expected a stitch of 12 -> 5 \(x.cols -> y.cols\), got 12 -> 4/,
    );
    await expect(bad({}, x, randomMatrix(47, 5, 1))).rejects.toThrow(/^y: expected 48 rows \(as x\), got 47 x 5/);
    const nan = randomMatrix(48, 5, 1);
    nan.data[3] = Number.POSITIVE_INFINITY;
    await expect(bad({}, x, nan)).rejects.toThrow(/^y: expected finite values/);
    await expect(bad({ validation: { x: randomMatrix(10, 3, 1), y: randomMatrix(10, 5, 1) } })).rejects.toThrow(
      /^options.validation.x: expected 12 columns/,
    );
    await expect(bad({ validation: { x, y, z: 1 } })).rejects.toThrow(/options.validation.z: unknown option/);
    await expect(bad({ validation: { x, y: randomMatrix(48, 4, 1) } })).rejects.toThrow(
      /^options.validation.y: expected 5 columns \(as y\), got 48 x 4/,
    );
    await expect(bad({ validation: { x: randomMatrix(9, 12, 1), y } })).rejects.toThrow(
      /^options.validation.y: expected 9 rows \(as options.validation.x\), got 48 x 5/,
    );
    // The addon names the options as JavaScript spells them; the core's own names never reach here.
    const nanInit = { weight: randomMatrix(12, 5, 1), bias: new Float32Array(5) };
    nanInit.weight.data[7] = Number.NaN;
    await expect(bad({ init: nanInit })).rejects.toThrow(/^options.init.weight: expected finite values/);
    await expect(bad({ optimizer: 'adamw' })).rejects.toThrow(
      "options.optimizer: expected 'sgd' or 'adam', got 'adamw'",
    );
    await expect(bad({ schedule: 'linear' })).rejects.toThrow(
      "options.schedule: expected 'constant', 'cosine' or 'step', got 'linear'",
    );
    await expect(bad({ momentum: 0.9 })).rejects.toThrow(/^options.momentum: only used by optimizer 'sgd'/);
    await expect(bad({ weightDecay: -1 })).rejects.toThrow(/^options.weightDecay: expected a finite number >= 0/);
    expect(() => new TrainableStitch(init, { lr: 0 })).toThrow(RangeError);
    expect(() => new TrainableStitch(init, { learningRate: 1 } as never)).toThrow(TypeError);
    const t = TrainableStitch.zeros(12, 5);
    expect(() => t.backward(x, randomMatrix(48, 4, 1))).toThrow(/^gradOut: expected 48 x 5/);
    expect(() => new TrainableStitch(init, { optimizer: 'adam', nesterov: true })).toThrow(
      /^options.nesterov: needs optimizer 'sgd' with momentum > 0/,
    );
    expect(() => t.forward(randomMatrix(3, 11, 1))).toThrow(/^x: expected 12 columns/);
    expect(() => t.step(-1)).toThrow(RangeError);
  });
});
