// The peak resident set size of the process during a span of work (a CLI step): sampled every
// 100 ms while the event loop is free, and the kernel's high-water mark (getrusage maxrss),
// which is exact whenever the process-wide peak was set inside the span.

const SAMPLE_MS = 100;

export class RssPeak {
  private peak = 0;
  private readonly maxAtStart = process.resourceUsage().maxRSS * 1024;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.sample();
    this.timer = setInterval(() => this.sample(), SAMPLE_MS);
    this.timer.unref();
  }

  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }

  /** Stops sampling; the span's peak RSS in bytes. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    const max = process.resourceUsage().maxRSS * 1024;
    return max > this.maxAtStart ? Math.max(this.peak, max) : this.peak;
  }
}

/** 1234567890 -> "1.23 GB". */
export function formatBytes(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(0)} MB`;
}
