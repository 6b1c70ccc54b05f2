// Argument generators for the native boundary: matrices that are valid, lie about their shape
// (dims whose product wraps past 2^64, NaN, negative, fractional), hold the wrong array type or
// are no matrix at all; counts from the edges of every integer range; options with wrong types
// and unknown keys. Valid inputs stay small, so every case finishes in milliseconds.
import type { Random } from './random.js';

/** Numbers at the edges: overflowing products, limits of the addon's ranges, non-integers. */
export const EDGE_NUMBERS = [
  0,
  -0,
  1,
  2,
  3,
  4,
  5,
  7,
  8,
  -1,
  0.5,
  2.5,
  NaN,
  Infinity,
  -Infinity,
  2 ** 31,
  2 ** 32,
  2 ** 32 + 1,
  1e9,
  1e9 + 1,
  2 ** 53,
  2 ** 53 + 2,
  2 ** 64,
  1e300,
  274177,
  67280421310721,
];

/** Anything that is not the expected kind of value. */
export function oddValue(rng: Random): unknown {
  return rng.pick<() => unknown>([
    () => rng.pick(EDGE_NUMBERS),
    () => undefined,
    () => null,
    () => '3',
    () => true,
    () => ({}),
    () => [],
    () => [1, 2],
    () => new Float64Array(4),
    () => Symbol('s'),
    () => 3n,
    () => () => 1,
    () => ({
      toString: () => {
        throw new Error('toString throws');
      },
    }),
  ])();
}

/** A small count most of the time, an edge number or an odd value otherwise. */
export function count(rng: Random, lo = 1, hi = 6): unknown {
  if (!rng.breaks()) return rng.int(lo, hi);
  return rng.chance(0.8) ? rng.pick(EDGE_NUMBERS) : oddValue(rng);
}

export function floats(rng: Random, n: number, special = 0.05): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++)
    out[i] = rng.chance(special) ? rng.pick([NaN, Infinity, -Infinity, 3e38, 1e-45, 0]) : rng.normal();
  return out;
}

export interface Shape {
  rows: number;
  cols: number;
}

/** A matrix argument: valid with the given rows most of the time, broken in one way otherwise. */
export function matrix(rng: Random, rows = rng.int(1, 12), cols = rng.int(1, 8)): unknown {
  const kind = rng.breaks() ? rng.int(5, 9) : 0;
  if (kind === 0) return { data: floats(rng, rows * cols, rng.chance(0.2) ? 0.05 : 0), rows, cols };
  switch (kind) {
    case 5: // dims that lie, with a small data array (products that wrap, NaN, negative, fractions)
      return {
        data: new Float32Array(rng.pick([0, 1, 2, 4, 16])),
        rows: rng.pick(EDGE_NUMBERS),
        cols: rng.pick(EDGE_NUMBERS),
      };
    case 6: // one element too many or too few
      return { data: floats(rng, Math.max(0, rows * cols + rng.pick([-1, 1]))), rows, cols };
    case 7: // the wrong data type
      return {
        data: rng.pick<unknown>([
          new Float64Array(rows * cols),
          Array(rows * cols).fill(1),
          new Int32Array(rows * cols),
          undefined,
          'x',
        ]),
        rows,
        cols,
      };
    case 8: // dims of the wrong type
      return { data: floats(rng, rows * cols), rows: oddValue(rng), cols };
    default:
      return oddValue(rng);
  }
}

/** A list of `n` matrices with shared rows (mostly). */
export function matrices(rng: Random, n: number, rows: number): unknown {
  if (rng.breaks() && rng.chance(0.2)) return oddValue(rng);
  return Array.from({ length: n }, () =>
    matrix(rng, rng.breaks() && rng.chance(0.2) ? rng.int(1, 12) : rows, rng.int(1, 6)),
  );
}

/** Valid and invalid values of one option. */
export interface Choice {
  ok: readonly unknown[];
  bad: readonly unknown[];
}

/** An options object drawn from `choices`, with invalid values, an unknown key or no object at all when breaking. */
export function options(rng: Random, choices: Record<string, Choice>): unknown {
  if (rng.chance(0.15)) return rng.breaks() ? oddValue(rng) : undefined;
  const out: Record<string, unknown> = {};
  for (const [key, c] of Object.entries(choices)) if (rng.chance(0.5)) out[key] = rng.pick(rng.breaks() ? c.bad : c.ok);
  if (rng.breaks() && rng.chance(0.2)) out.unknownOption = 1;
  return out;
}

export const CKA_OPTIONS = {
  kernel: { ok: ['linear', 'rbf'], bad: ['poly', 1] },
  threshold: { ok: [0.5, 1, 2], bad: [0, -1, NaN, Infinity, 1e300, '1'] },
  debiased: { ok: [true, false], bad: ['yes'] },
  method: { ok: ['auto', 'gram', 'feature'], bad: ['fast'] },
} satisfies Record<string, Choice>;

/** A readable rendering of an argument for reproducers: typed arrays by type and length. */
export function show(v: unknown): string {
  if (ArrayBuffer.isView(v)) {
    const a = v as unknown as ArrayLike<number>;
    const head = a.length <= 6 ? `[${Array.from(a).join(', ')}]` : `(${a.length})`;
    return `${v.constructor.name}${head}`;
  }
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'symbol' || typeof v === 'function') return typeof v;
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).map(([k, x]) => `${k}: ${typeof x === 'function' ? 'fn' : show(x)}`);
    return `{${entries.join(', ')}}`;
  }
  return String(v);
}
