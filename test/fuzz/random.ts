// A seeded random source for the fuzz harness. Case k of seed s always draws the same values
// (its generator is seeded from (s, k) alone), so any case can be replayed on its own.

export class Random {
  private state: number;
  /** How often a generated argument is broken on purpose (set per case: some cases stay valid). */
  breakRate = 0.3;

  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** The generator of case `index` under `seed`. */
  static forCase(seed: number, index: number): Random {
    // splitmix-style mixing so neighbouring cases do not start from neighbouring states
    let h = Math.imul(seed ^ 0x85ebca6b, 0xc2b2ae35) ^ Math.imul(index + 0x27d4eb2f, 0x165667b1);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return new Random(h ^ (h >>> 16));
  }

  /** Uniform in [0, 1) (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** Whether to break the next argument. */
  breaks(): boolean {
    return this.chance(this.breakRate);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** A standard normal value (Box-Muller). */
  normal(): number {
    return Math.sqrt(-2 * Math.log(1 - this.next())) * Math.cos(2 * Math.PI * this.next());
  }
}
