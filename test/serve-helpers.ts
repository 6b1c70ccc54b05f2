// Shared by the service tests: a small family built by the CLI's quick demo settings (cnn-l /
// cnn-s, about 10 s on 2 cores), and an independent parser of the Prometheus text format.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cliPath, runQuickDemo } from '../scripts/quick-demo.mjs';

export const cli = cliPath;

/** Builds a family into a temporary directory; returns it and a cleanup. */
export function buildFamily(): { dir: string; cleanup: () => void } {
  const tmp = mkdtempSync(join(tmpdir(), 'restnet-serve-'));
  const dir = join(tmp, 'family');
  runQuickDemo(dir);
  return { dir, cleanup: () => rmSync(tmp, { recursive: true, force: true }) };
}

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition format 0.0.4: TYPE lines and samples (no timestamps). */
export function parseProm(text: string): { types: Map<string, string>; samples: PromSample[] } {
  const types = new Map<string, string>();
  const samples: PromSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3]);
    if (Number.isNaN(value) && m[3] !== 'NaN') throw new Error(`bad value in: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { types, samples };
}

export function promValue(
  samples: PromSample[],
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}
