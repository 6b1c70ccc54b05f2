// Async CKA: off the main thread, concurrent, inputs kept alive by the native side, progress
// reported, and AbortSignal honoured.
import { describe, expect, it } from 'vitest';

import { cka, ckaAsync, ckaMatrix, MinibatchCKA, type Matrix } from '../lib/index.js';
import { randomMatrix, relatedMatrix } from './oracle.js';

const gc = (globalThis as { gc?: () => void }).gc;

function bigLayers(count: number, n: number, d: number, seed: number): Matrix[] {
  return Array.from({ length: count }, (_, i) => randomMatrix(n, d, seed + i));
}

describe('async CKA', () => {
  it('runs concurrent calls and gives the synchronous answers', async () => {
    const pairs = Array.from({ length: 6 }, (_, i) => {
      const x = randomMatrix(200, 20 + i, i);
      return [x, relatedMatrix(x, 15, 100 + i)] as const;
    });
    const results = await Promise.all(pairs.map(([x, y]) => ckaAsync(x, y, { debiased: true })));
    results.forEach((r, i) => expect(r).toBe(cka(pairs[i]![0], pairs[i]![1], { debiased: true })));
  });

  it('keeps inputs alive when JavaScript drops them mid-call', async () => {
    expect(gc).toBeTypeOf('function');
    const expected = cka(randomMatrix(600, 300, 1), randomMatrix(600, 200, 2), { method: 'gram' });
    // The only references to the inputs are inside the pending call.
    const pending = ckaAsync(randomMatrix(600, 300, 1), randomMatrix(600, 200, 2), { method: 'gram' });
    for (let i = 0; i < 5; i++) {
      gc!();
      new Float32Array(1 << 20).fill(1); // churn the heap so freed memory would be reused
      await new Promise((r) => setImmediate(r));
    }
    expect(await pending).toBe(expected);
  });

  it('keeps the event loop responsive and reports progress during a long ckaMatrix', async () => {
    const a = bigLayers(3, 1500, 400, 10);
    const b = bigLayers(3, 1500, 400, 20);
    const progress: [number, number][] = [];
    let ticks = 0;
    let running = true;
    const tick = (): void => {
      ticks++;
      if (running) setImmediate(tick);
    };
    setImmediate(tick);
    const started = performance.now();
    const m = await ckaMatrix(a, b, { method: 'gram', onProgress: (e) => progress.push([e.done, e.total]) });
    running = false;
    const elapsed = performance.now() - started;
    expect([m.rows, m.cols]).toEqual([3, 3]);
    // 3 + 3 layers and 9 pairs, reported in order, every one before the promise settled.
    expect(progress.at(-1)).toEqual([15, 15]);
    expect(progress.map(([d]) => d)).toEqual(progress.map((_, i) => i + 1));
    // The loop turned over many times while the native work ran (it would not once if blocked).
    expect(ticks).toBeGreaterThan(Math.min(50, elapsed / 10));
  });

  it('stops a ckaMatrix when its signal aborts and rejects with the reason', async () => {
    const a = bigLayers(4, 800, 300, 30);
    const controller = new AbortController();
    let lastDone = 0;
    const pending = ckaMatrix(a, a, {
      method: 'gram',
      signal: controller.signal,
      onProgress: ({ done }) => {
        lastDone = done;
        if (done === 1) controller.abort();
      },
    });
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    await new Promise((r) => setImmediate(r));
    // 4 + 4 layers and 16 pairs in all: the native loop stopped long before the end.
    expect(lastDone).toBeLessThan(24);
  });

  it('rejects at once for an already aborted signal, with a custom reason kept', async () => {
    const x = randomMatrix(20, 3, 1);
    const controller = new AbortController();
    controller.abort(new Error('budget changed'));
    await expect(ckaAsync(x, x, { signal: controller.signal })).rejects.toThrow('budget changed');
    const acc = new MinibatchCKA(1, 1);
    await expect(acc.updateAsync([x], [x], { signal: controller.signal })).rejects.toThrow('budget changed');
    expect(acc.batches).toBe(0);
  });

  it('accumulates minibatches asynchronously and merges workers to the one-pass result', async () => {
    const batches = Array.from({ length: 6 }, (_, i) => {
      const x = randomMatrix(32, 10, 40 + i);
      return { a: [x, relatedMatrix(x, 6, 50 + i)], b: [relatedMatrix(x, 4, 60 + i)] };
    });
    const one = new MinibatchCKA(2, 1);
    const left = new MinibatchCKA(2, 1);
    const right = new MinibatchCKA(2, 1);
    for (const [i, batch] of batches.entries()) {
      one.update(batch.a, batch.b);
      await (i % 2 ? left : right).updateAsync(batch.a, batch.b);
    }
    left.merge(right);
    expect(left.batches).toBe(6);
    const r1 = one.result().data;
    const r2 = left.result().data;
    r1.forEach((v, k) => expect(r2[k]).toBeCloseTo(v, 12));
  });
});
