// The one training loop's order and schedule, as the addon exposes them to loops that train
// outside the core (task refinement, lib/restnet/refine.ts): epochOrders(rows, epochs, seed) is
// the order in which trainStitch visits the rows for that seed, recovered here from what
// trainStitch learns, and learningRates matches the schedules' closed forms.
import { describe, expect, it } from 'vitest';

import { trainStitch, type Matrix } from '../lib/index.js';
import { native } from '../lib/native.js';

/**
 * The order in which trainStitch's first epoch visits the rows, read from what it learns: rows
 * e_i of the identity with target 1, one row per SGD step from zeros. Step t moves the weight of
 * its row i and the shared bias b by 2 lr (1 - b); b rises towards 1 step by step, so rows
 * visited later end with smaller weights, and sorting the weights (largest first) gives the order.
 */
async function trainerOrder(rows: number, seed: number): Promise<number[]> {
  const x: Matrix = { data: new Float32Array(rows * rows), rows, cols: rows };
  for (let i = 0; i < rows; i++) x.data[i * rows + i] = 1;
  const y: Matrix = { data: new Float32Array(rows).fill(1), rows, cols: 1 };
  const { stitch } = await trainStitch(x, y, { optimizer: 'sgd', lr: 0.01, batchSize: 1, epochs: 1, seed });
  const w = stitch.weight.data;
  const order = Array.from({ length: rows }, (_, i) => i).sort((a, b) => w[b]! - w[a]!);
  // The weights are strictly decreasing along the order: the recovery is unambiguous.
  for (let t = 1; t < rows; t++) expect(w[order[t]!]!).toBeLessThan(w[order[t - 1]!]!);
  return order;
}

describe('epochOrders', () => {
  it("is trainStitch's order of the rows for the same seed", async () => {
    for (const seed of [0, 1, 12345]) {
      const orders = native.epochOrders(40, 3, seed);
      expect(orders).toHaveLength(120);
      expect(Array.from(orders.subarray(0, 40))).toEqual(await trainerOrder(40, seed));
    }
  });

  it('is a permutation per epoch, a new one each epoch, and the first epochs do not depend on how many follow', () => {
    const orders = native.epochOrders(50, 3, 7);
    const epochs = [0, 1, 2].map((e) => Array.from(orders.subarray(e * 50, (e + 1) * 50)));
    for (const order of epochs) expect([...order].sort((a, b) => a - b)).toEqual([...Array(50).keys()]);
    expect(epochs[1]).not.toEqual(epochs[0]);
    expect(epochs[2]).not.toEqual(epochs[1]);
    expect(Array.from(native.epochOrders(50, 2, 7))).toEqual([...epochs[0]!, ...epochs[1]!]);
    expect(Array.from(native.epochOrders(50, 1, 8))).not.toEqual(epochs[0]);
  });

  it('refuses what it cannot order', () => {
    expect(() => native.epochOrders(0, 1, 0)).toThrow(
      new RangeError('rows: expected an integer in [1, 4294967295], got 0'),
    );
    expect(() => native.epochOrders(4, 1, -1)).toThrow(new RangeError('seed: expected a non-negative integer, got -1'));
    expect(() => native.epochOrders(4, 1.5, 0)).toThrow(
      new RangeError('epochs: expected an integer in [1, 1000000000], got 1.5'),
    );
  });
});

describe('learningRates', () => {
  const perEpoch = 3;
  const epochs = 4;
  const total = perEpoch * epochs;
  const lr = 0.02;

  it('cosine: lr (1 + cos(pi s / total)) / 2 at step s', () => {
    const rates = native.learningRates(perEpoch, { schedule: 'cosine', lr, epochs });
    expect(rates).toHaveLength(total);
    rates.forEach((r, s) => expect(r).toBeCloseTo((lr * (1 + Math.cos((Math.PI * s) / total))) / 2, 15));
  });

  it('step: lr, then lr / 10 from half the epochs, lr / 100 from three quarters', () => {
    const rates = native.learningRates(perEpoch, { schedule: 'step', lr, epochs });
    const expected = [1, 1, 1, 1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01].map((f) => lr * f);
    Array.from(rates).forEach((r, s) => expect(r).toBeCloseTo(expected[s]!, 15));
  });

  it('constant: lr throughout', () => {
    expect(Array.from(native.learningRates(perEpoch, { lr, epochs }))).toEqual(new Array(total).fill(lr));
  });

  it("gives each epoch's first rate as trainStitch records it", async () => {
    const x: Matrix = { data: new Float32Array(18).fill(0.5), rows: 9, cols: 2 };
    const y: Matrix = { data: new Float32Array(9), rows: 9, cols: 1 };
    const { history } = await trainStitch(x, y, { schedule: 'cosine', lr, epochs, batchSize: 3 });
    const rates = native.learningRates(perEpoch, { schedule: 'cosine', lr, epochs });
    expect(history.map((h) => h.lr)).toEqual([0, 1, 2, 3].map((e) => rates[e * perEpoch]));
  });

  it('refuses what trainStitch refuses', () => {
    expect(() => native.learningRates(0)).toThrow(new RangeError('stepsPerEpoch: expected a positive integer, got 0'));
    expect(() => native.learningRates(1, { lr: 0 })).toThrow(
      new RangeError('options.lr: expected a finite number > 0, got 0'),
    );
    expect(() => native.learningRates(1, { schedule: 'linear' as never })).toThrow(TypeError);
  });
});
