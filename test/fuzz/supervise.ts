// Runs run.ts in a child process and judges it: exit 0 with a summary line is a pass; a signal
// (SIGSEGV, SIGABRT, ...), an exit code other than 0, or a run past its time is a failure whose
// report names the case the child was running (from the journal it writes before each case).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FuzzRun {
  target: 'native' | 'files';
  seconds: number;
  seed: number;
  case?: number;
}

export interface FuzzSummary {
  cases: number;
  outcomes: Record<string, number>;
  samples: Record<string, string>;
}

/** A pass carries the summary and, for a replayed case, the child's account of it. */
export type FuzzResult = { ok: true; summary: FuzzSummary; replay: string } | { ok: false; report: string };

const here = (file: string): string => fileURLToPath(new URL(file, import.meta.url));

/** How to replay one case from the repository root. */
export function reproduce(run: FuzzRun, index: number | string): string {
  return `npm run fuzz -- --target ${run.target} --seed ${run.seed} --case ${index}`;
}

export function superviseFuzz(run: FuzzRun): FuzzResult {
  const dir = mkdtempSync(join(tmpdir(), 'restnet-fuzz-journal-'));
  const journal = join(dir, 'journal');
  try {
    const args = [
      '--import',
      here('./register.mjs'),
      here('./run.ts'),
      '--target',
      run.target,
      '--seconds',
      String(run.seconds),
      '--seed',
      String(run.seed),
      '--journal',
      journal,
    ];
    if (run.case !== undefined) args.push('--case', String(run.case));
    const limit = run.seconds + 60;
    const started = Date.now();
    const child = spawnSync(process.execPath, args, {
      encoding: 'utf8',
      timeout: limit * 1000,
      maxBuffer: 64 * 2 ** 20,
    });
    const timedOut = child.signal === 'SIGKILL' && Date.now() - started >= limit * 1000;
    const stdout = child.stdout ?? '';
    const last = stdout.trim().split('\n').at(-1) ?? '';
    if (child.status === 0 && last.startsWith('{')) {
      const summary = JSON.parse(last) as FuzzSummary;
      return { ok: true, summary, replay: stdout.trim().split('\n').slice(0, -1).join('\n') };
    }
    let current = '';
    try {
      current = readFileSync(journal, 'utf8');
    } catch {
      current = '(no case started)';
    }
    const index = /case (\d+)/.exec(current)?.[1] ?? '?';
    const how = timedOut
      ? `was still running after ${limit} s (a case that does not return)`
      : child.error
        ? `did not run (${child.error.message})`
        : child.signal
          ? `died of ${child.signal}`
          : `exited with code ${child.status}`;
    const stderr = (child.stderr ?? '').trim().split('\n').slice(-15).join('\n');
    return {
      ok: false,
      report: [
        `fuzz child ${how} in ${current}`,
        `reproduce: ${reproduce(run, index)}`,
        stdout.trim().split('\n').slice(-5).join('\n'),
        stderr,
      ]
        .filter(Boolean)
        .join('\n'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
