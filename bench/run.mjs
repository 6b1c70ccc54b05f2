// `npm run bench`: runs every bench/*.bench.mjs in turn (each compares restnet with a named
// peer in the same run and writes bench/results/<suite>.md), then assembles bench/RESULTS.md
// (bench/assemble.mjs).
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { assembleResults } from './assemble.mjs';
import { benchDir } from './harness.mjs';

const only = process.argv.slice(2);
const suites = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
for (const suite of suites) {
  console.log(`\n# ${suite}`);
  execFileSync(process.execPath, [join(benchDir, suite)], { stdio: 'inherit' });
}

writeFileSync(join(benchDir, 'RESULTS.md'), assembleResults());
console.log('\nwrote bench/RESULTS.md');
