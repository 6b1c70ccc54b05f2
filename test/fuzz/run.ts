// The fuzz loop, run in its own process by supervise.ts (a native crash must not take the test
// runner with it): `run.ts --target native|files --seconds N --seed S [--case K] --journal F`.
// Case k draws from Random.forCase(S, k) only. Before each case its reproducer is written to the
// journal file, so the supervisor can name the case that killed the process. Every call must
// return or throw an Error; anything else (a thrown non-Error, a case that never settles) ends
// the run with exit code 1 and the reproducer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { fileCases } from './file-cases.js';
import { NATIVE_CASES, type FuzzCase } from './native-cases.js';
import { Random } from './random.js';

export interface RunArgs {
  target: 'native' | 'files';
  seconds: number;
  seed: number;
  case?: number;
  journal?: string;
}

const CASE_TIMEOUT_MS = 10_000;

function parse(argv: string[]): RunArgs {
  const get = (flag: string): string | undefined => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const target = get('--target');
  if (target !== 'native' && target !== 'files')
    throw new TypeError(`--target: expected native or files, got ${target}`);
  const out: RunArgs = { target, seconds: Number(get('--seconds') ?? 5), seed: Number(get('--seed') ?? 1) };
  if (get('--case') !== undefined) out.case = Number(get('--case'));
  if (get('--journal') !== undefined) out.journal = get('--journal')!;
  return out;
}

async function settle(c: FuzzCase): Promise<{ ok: true; kind: string; message?: string } | { ok: false; why: string }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangError()), CASE_TIMEOUT_MS);
  });
  try {
    await Promise.race([Promise.resolve().then(() => c.run()), timeout]);
    return { ok: true, kind: 'returned' };
  } catch (error) {
    if (error instanceof HangError) return { ok: false, why: `did not settle within ${CASE_TIMEOUT_MS} ms` };
    if (error instanceof Error) return { ok: true, kind: error.name, message: error.message };
    return { ok: false, why: `threw a non-Error: ${String(error)}` };
  } finally {
    clearTimeout(timer);
  }
}

class HangError extends Error {}

async function main(args: RunArgs): Promise<number> {
  const scratch = mkdtempSync(join(tmpdir(), 'restnet-fuzz-'));
  try {
    const makers: Record<string, (r: Random) => FuzzCase> =
      args.target === 'native' ? NATIVE_CASES : fileCases(scratch);
    const names = Object.keys(makers);
    const outcomes: Record<string, number> = {};
    const samples: Record<string, string> = {};
    const deadline = Date.now() + args.seconds * 1000;
    const first = args.case ?? 0;
    let index = first;
    for (; args.case === undefined ? Date.now() < deadline : index === first; index++) {
      const rng = Random.forCase(args.seed, index);
      rng.breakRate = rng.pick([0, 0.05, 0.2, 0.5]);
      const name = rng.pick(names);
      const c = makers[name]!(rng);
      const line = `${args.target} case ${index} (seed ${args.seed}): ${c.text}`;
      if (args.journal) writeFileSync(args.journal, line);
      if (args.case !== undefined) console.log(line);
      const result = await settle(c);
      if (!result.ok) {
        console.log(`FUZZ FAILURE: ${result.why}\n${line}`);
        return 1;
      }
      if (args.case !== undefined) console.log(`-> ${result.kind}${result.message ? `: ${result.message}` : ''}`);
      const key = `${name}: ${result.kind}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
      // A plain Error (no TypeError / RangeError / named class) is worth a look: keep one message.
      if (result.kind === 'Error') samples[key] ??= result.message!;
    }
    console.log(JSON.stringify({ target: args.target, seed: args.seed, cases: index - first, outcomes, samples }));
    return 0;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

process.exitCode = await main(parse(process.argv.slice(2)));
