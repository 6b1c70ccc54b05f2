// The board-side benchmark: machine facts and timings of the native kernels on every SIMD path
// this CPU offers, so users can compare boards (Raspberry Pi 4/5, Jetson, x86 gateways). No
// peers are needed: it runs wherever the package loads.
import { cpus } from 'node:os';

import type { Matrix } from '../matrix.js';
import { cka, gram, MinibatchCKA } from '../similarity.js';
import { capabilities, setSimd, type SimdPath } from '../system.js';

export interface BoardTiming {
  name: string;
  simd: SimdPath;
  /** Median milliseconds over the repetitions, after one warm-up run. */
  ms: number;
  /** Multiply-adds of the operation, for GFLOP/s = 2 * macs / ms / 1e6. */
  macs: number;
}

export interface BoardReport {
  machine: {
    cpu: string;
    cores: number;
    arch: string;
    platform: string;
    node: string;
    simd: SimdPath;
    available: SimdPath[];
    threads: number;
  };
  timings: BoardTiming[];
}

/** A seeded matrix of uniform values in [-0.5, 0.5): the same data on every machine. */
export function uniformMatrix(rows: number, cols: number, seed: number): Matrix {
  let s = seed >>> 0;
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s / 4294967296 - 0.5;
  }
  return { data, rows, cols };
}

function medianMs(fn: () => void, reps: number): number {
  fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1]!;
}

/** Sizes scale with `scale` (1 = the default, small enough for a Raspberry Pi 4). */
export function runBoardBench(options: { reps?: number; scale?: number } = {}): BoardReport {
  const reps = options.reps ?? 5;
  const scale = options.scale ?? 1;
  const n = Math.round(1024 * scale);
  const d = Math.round(256 * scale);
  const x = uniformMatrix(n, d, 1);
  const y = uniformMatrix(n, d, 2);
  const batch = [0, 1, 2, 3].map((i) => uniformMatrix(256, Math.round(512 * scale), 10 + i));
  const caps = capabilities();
  const cases: [string, number, () => void][] = [
    [`gram linear ${n}x${d}`, (n * (n + 1) * d) / 2, () => gram(x)],
    [`cka linear feature ${n}x${d}`, n * d * d * 2, () => cka(x, y, { method: 'feature' })],
    [`cka linear gram ${n}x${d}`, n * (n + 1) * d, () => cka(x, y, { method: 'gram' })],
    [
      `minibatch cka 2x2 layers, batch 256x${batch[0]!.cols}`,
      (4 * 256 * 257 * batch[0]!.cols) / 2,
      () => {
        new MinibatchCKA(2, 2).update(batch.slice(0, 2), batch.slice(2));
      },
    ],
  ];
  const timings: BoardTiming[] = [];
  try {
    for (const simd of caps.available) {
      setSimd(simd);
      for (const [name, macs, fn] of cases) timings.push({ name, simd, ms: medianMs(fn, reps), macs });
    }
  } finally {
    setSimd(caps.simd);
  }
  return {
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      arch: process.arch,
      platform: process.platform,
      node: process.version,
      simd: caps.simd,
      available: caps.available,
      threads: caps.threads,
    },
    timings,
  };
}
