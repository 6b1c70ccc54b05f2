// `restnet bench`, the board-side benchmark, run as a child process like a user would.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { capabilities } from '../lib/index.js';

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const restnet = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

describe('restnet bench', () => {
  it('prints machine facts and a timing per kernel and SIMD path as JSON', () => {
    const { status, stdout } = restnet('bench', '--json', '--reps', '1', '--scale', '0.125');
    expect(status).toBe(0);
    const report = JSON.parse(stdout);
    const caps = capabilities();
    expect(report.machine).toMatchObject({
      arch: process.arch,
      simd: caps.simd,
      available: caps.available,
      threads: caps.threads,
    });
    expect(new Set(report.timings.map((t: { simd: string }) => t.simd))).toEqual(new Set(caps.available));
    for (const t of report.timings) {
      expect(t.ms).toBeGreaterThan(0);
      expect(t.macs).toBeGreaterThan(0);
    }
  });

  it('has --help, and rejects bad options with one line and exit code 2', () => {
    expect(restnet('bench', '--help')).toMatchObject({ status: 0, stdout: expect.stringContaining('--scale S') });
    const bad = restnet('bench', '--reps', 'many');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('restnet: --reps: expected a positive number, got many\n');
    const unknown = restnet('frobnicate');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^restnet: unknown command 'frobnicate'/);
  });
});
