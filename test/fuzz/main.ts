// `npm run fuzz -- [--seconds 300] [--seed S] [--target native|files|all] [--case K]`: the fuzz
// harness on demand. The time is split between the native calls and the file readers; each
// runs in a child process (supervise.ts). Without --seed a fresh seed is drawn and printed.
import { superviseFuzz, type FuzzRun } from './supervise.js';

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seconds = Number(flag('seconds') ?? 60);
const seed = Number(flag('seed') ?? Math.floor(Math.random() * 2 ** 31));
const target = flag('target') ?? 'all';
const caseIndex = flag('case');
if (!(seconds > 0) || !Number.isInteger(seed) || !['native', 'files', 'all'].includes(target)) {
  console.error('usage: npm run fuzz -- [--seconds N > 0] [--seed integer] [--target native|files|all] [--case K]');
  process.exit(2);
}
const targets = (target === 'all' ? ['native', 'files'] : [target]) as FuzzRun['target'][];
let failed = false;
for (const t of targets) {
  const run: FuzzRun = { target: t, seconds: seconds / targets.length, seed };
  if (caseIndex !== undefined) run.case = Number(caseIndex);
  const result = superviseFuzz(run);
  if (result.ok && caseIndex !== undefined) {
    console.log(result.replay);
  } else if (result.ok) {
    const errors = Object.entries(result.summary.outcomes).reduce(
      (a, [k, v]) => a + (k.endsWith(': returned') ? 0 : v),
      0,
    );
    console.log(
      `${t}: ${result.summary.cases} cases in ${run.seconds} s (seed ${seed}), ${result.summary.cases - errors} returned, ${errors} threw JavaScript errors, 0 crashes`,
    );
    for (const [k, m] of Object.entries(result.summary.samples)) console.log(`  plain Error from ${k}: ${m}`);
  } else {
    failed = true;
    console.log(`${t}: FAILED\n${result.report}`);
  }
}
process.exitCode = failed ? 1 : 0;
