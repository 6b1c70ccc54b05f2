// The CLI's quick demo (the README's quick run): settings small enough to build a family in
// seconds on 2 cores. Tests and benches that need a family build it here, so they all build the
// same one.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** The compiled CLI (npm run compile:ts). */
export const cliPath = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');

export const QUICK_DEMO_ARGS = [
  '--calibration',
  '64',
  '--refine-images',
  '64',
  '--refine-epochs',
  '1',
  '--eval',
  '100',
  '--latency-runs',
  '2',
];

/**
 * Runs `restnet demo --out OUT` with the quick settings, quietly, plus `extra` flags (by default
 * the cnn-l/cnn-s pair only). Returns its stdout; throws with its stderr when it fails.
 */
export function runQuickDemo(out, extra = ['--pairs', 'cnn-l/cnn-s']) {
  const r = spawnSync(process.execPath, [cliPath, 'demo', '--out', out, ...QUICK_DEMO_ARGS, '--quiet', ...extra], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`restnet demo failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}
