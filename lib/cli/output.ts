// What the CLI prints while it works. Results go to stdout (tables, or JSON with --json);
// progress goes to stderr: a redrawn bar on a TTY, one plain line per step otherwise or with
// --quiet, so logs and pipes stay readable.
import { formatBytes, RssPeak } from './rss-peak.js';

export interface ProgressSink {
  /** A new step begins: "capturing activations of cnn-l". */
  step(label: string): void;
  /** Progress of the current step (done of total units). */
  update(done: number, total: number): void;
  /** The current step ended (a short note is printed after its label in plain mode). */
  end(note?: string): void;
  /** A plain message on stderr that is not part of a step (clears any bar first). */
  note(message: string): void;
}

export interface ReporterOptions {
  stream?: NodeJS.WriteStream | { write(s: string): unknown; isTTY?: boolean; columns?: number };
  /** Force plain lines even on a TTY. */
  plain?: boolean;
  /** Print nothing at all (used by tests and by embedding). */
  silent?: boolean;
  /** After each step, its peak resident set size (--verbose). */
  memory?: boolean;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 80;

export function formatSeconds(ms: number): string {
  return ms < 1000
    ? `${Math.round(ms)} ms`
    : ms < 60_000
      ? `${(ms / 1000).toFixed(1)} s`
      : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** Progress on stderr: bars on a TTY, plain lines elsewhere. */
export class Reporter implements ProgressSink {
  private readonly stream: NonNullable<ReporterOptions['stream']>;
  private readonly bars: boolean;
  private readonly silent: boolean;
  private readonly memory: boolean;
  private rss?: RssPeak;
  private label = '';
  private started = 0;
  private lastDraw = 0;
  private drawn = false;

  constructor(options: ReporterOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.silent = options.silent ?? false;
    this.memory = options.memory ?? false;
    this.bars = !options.plain && this.stream.isTTY === true && process.env.TERM !== 'dumb';
  }

  private write(s: string): void {
    if (!this.silent) this.stream.write(s);
  }

  private clear(): void {
    if (this.drawn) {
      this.write('\r\x1b[2K');
      this.drawn = false;
    }
  }

  step(label: string): void {
    if (this.label) this.end();
    this.label = label;
    this.started = performance.now();
    this.lastDraw = 0;
    if (this.memory) this.rss = new RssPeak();
    if (this.bars) this.draw(label);
    else this.write(`${label} ...\n`);
  }

  private draw(text: string): void {
    const columns = ('columns' in this.stream && this.stream.columns) || 80;
    this.write(`\r\x1b[2K${text.slice(0, columns - 1)}`);
    this.drawn = true;
  }

  update(done: number, total: number): void {
    if (!this.bars || !this.label) return;
    const now = performance.now();
    if (done < total && now - this.lastDraw < REDRAW_MS) return;
    this.lastDraw = now;
    const fraction = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
    const filled = Math.round(fraction * BAR_WIDTH);
    const elapsed = now - this.started;
    const eta = fraction > 0.02 && fraction < 1 ? `, ${formatSeconds((elapsed / fraction) * (1 - fraction))} left` : '';
    this.draw(`${this.label} [${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${done}/${total}${eta}`);
  }

  end(note?: string): void {
    if (!this.label) return;
    const elapsed = formatSeconds(performance.now() - this.started);
    const peak = this.rss ? `, peak RSS ${formatBytes(this.rss.stop())}` : '';
    this.rss = undefined;
    const text = `${this.label}: ${note ? `${note}, ` : ''}${elapsed}${peak}`;
    if (this.bars) {
      this.clear();
      this.write(`${text}\n`);
    } else {
      this.write(`${text}\n`);
    }
    this.label = '';
  }

  /** A detail line under the current step: printed in plain mode only (a bar shows the same progress). */
  detail(message: string): void {
    if (!this.bars) this.write(`${message}\n`);
  }

  note(message: string): void {
    this.clear();
    this.write(`${message}\n`);
    if (this.bars && this.label) this.draw(this.label);
  }

  /** Clears a bar left on screen (on errors and interrupts). */
  abandon(): void {
    this.clear();
    this.rss?.stop();
    this.rss = undefined;
    this.label = '';
  }
}

/** A text table with right-aligned numbers. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, j) => Math.max(...cells.map((r) => (r[j] ?? '').length)));
  const numeric = header.map(
    (_, j) =>
      rows.length > 0 &&
      rows.every((r) => typeof r[j] === 'number' || /^[-+]?[\d.]+(e[-+]?\d+)?\s*[%a-zA-Z]*$/.test(String(r[j]))),
  );
  const line = (r: string[]) =>
    r
      .map((c, j) => (numeric[j] ? c.padStart(widths[j]!) : c.padEnd(widths[j]!)))
      .join('  ')
      .trimEnd();
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** 9345920 -> "9.35M". */
export function si(n: number): string {
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toPrecision(3)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toPrecision(3)}M`;
  if (abs >= 1e3) return `${(n / 1e3).toPrecision(3)}k`;
  return String(n);
}
