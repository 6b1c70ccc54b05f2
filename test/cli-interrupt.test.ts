// Ctrl-C inside a long fit, as a user presses it: `restnet stitch` runs as a child process, gets
// SIGINT once it is fitting (least squares, then refinement on every calibration image), and
// must stop within the current native call, exit 130 with one clear line, and leave nothing
// behind: no output folder it created, or the family that was there before, byte for byte.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { zooAnchorsPresent } from '../lib/cli/pipeline.js';

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const tmp = mkdtempSync(join(tmpdir(), 'restnet-interrupt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const present = zooAnchorsPresent();
const [A, B] = present.includes('cnn-l') ? ['cnn-l', 'cnn-s'] : ['cnn-s', 'cnn-s'];

/** Seconds from SIGINT to exit allowed: the zoo's longest native call (a capture or training batch) is well under one on 2 busy cores. */
const BOUND_S = 8;

/**
 * Runs `restnet stitch A B --out out ...extra`, sends SIGINT `delayMs` after it prints that it is
 * fitting, and resolves with its exit code, stderr and the seconds from SIGINT to exit.
 */
function interruptedStitch(
  out: string,
  extra: string[],
  delayMs: number,
): Promise<{ code: number | null; stderr: string; seconds: number }> {
  const child = spawn(process.execPath, [cli, 'stitch', A, B, '--out', out, '--eval', '200', '--quiet', ...extra], {
    cwd: tmp,
  });
  let stderr = '';
  let sentAt = 0;
  child.stderr.on('data', (d: Buffer) => {
    const before = stderr;
    stderr += d.toString();
    if (!/^fitting \d+ stitches/m.test(before) && /^fitting \d+ stitches/m.test(stderr))
      setTimeout(() => {
        sentAt = performance.now();
        child.kill('SIGINT');
      }, delayMs);
  });
  return new Promise((resolve) =>
    child.on('exit', (code) => resolve({ code, stderr, seconds: (performance.now() - sentAt) / 1000 })),
  );
}

/** Every file under dir (names starting with '.' included) with its sha256. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const path = join(dir, name);
    try {
      files[name] = createHash('sha256').update(readFileSync(path)).digest('hex');
    } catch {
      files[name] = 'directory';
    }
  }
  return files;
}

describe('Ctrl-C inside fitting', () => {
  it('stops within the current native call and leaves no output folder it created', async () => {
    const out = join(tmp, 'fresh');
    const r = await interruptedStitch(out, [], 2000);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^restnet: interrupted; stopped cleanly/m);
    // It was fitting when interrupted: the step never finished.
    expect(r.stderr).toMatch(/^fitting \d+ stitches/m);
    expect(r.stderr).not.toMatch(/^fitting \d+ stitches.*: \d/m);
    expect(r.seconds).toBeLessThan(BOUND_S);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.startsWith('.restnet-'))).toEqual([]);
  }, 120_000);

  it('leaves the family that was in the folder as it was, byte for byte', async () => {
    const out = join(tmp, 'family');
    const first = spawnSync(
      process.execPath,
      [cli, 'stitch', A, B, '--calibration', '128', '--no-refine', '--eval', '100', '--out', out, '--quiet'],
      { cwd: tmp, encoding: 'utf8' },
    );
    expect(first.status, first.stderr).toBe(0);
    const before = snapshot(out);
    expect(Object.keys(before)).toContain('manifest.json');
    // A different run (refinement on, another calibration size) into the same folder.
    const r = await interruptedStitch(out, ['--calibration', '256', '--force'], 3000);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).toMatch(/^restnet: interrupted; stopped cleanly/m);
    expect(r.stderr).not.toMatch(/^fitting \d+ stitches.*: \d/m);
    expect(r.seconds).toBeLessThan(BOUND_S);
    expect(snapshot(out)).toEqual(before);
    expect(readdirSync(tmp).filter((f) => f.startsWith('.restnet-'))).toEqual([]);
  }, 180_000);
});
