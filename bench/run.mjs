// `npm run bench`: runs every bench/*.bench.mjs in turn (each compares restnet with a named
// peer in the same run and writes bench/results/<suite>.md), then assembles bench/RESULTS.md.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { capabilities } from '../dist/index.js';
import { benchDir, machine } from './harness.mjs';

const only = process.argv.slice(2);
const suites = readdirSync(benchDir)
  .filter((f) => f.endsWith('.bench.mjs'))
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
  .sort();
for (const suite of suites) {
  console.log(`\n# ${suite}`);
  execFileSync(process.execPath, [join(benchDir, suite)], { stdio: 'inherit' });
}

const m = machine(capabilities());
let md = '# Benchmark results\n\n';
md += 'Written by `npm run bench` (bench/run.mjs). Every number compares restnet with a named peer ';
md += 'measured in the same run on the same data and thread count; ratios below 1 mean restnet is faster. ';
md += 'Timings on a shared 2-core machine are noisy: read the ratios, not the milliseconds.\n\n';
md += `Machine: ${m.cpu}, ${m.cores} cores, SIMD ${m.simd} (available: ${m.available.join(', ')}), `;
md += `${m.threads} threads, Node ${m.node}, ${new Date().toISOString().slice(0, 10)}.\n\n`;
const resultsDir = join(benchDir, 'results');
for (const f of existsSync(resultsDir) ? readdirSync(resultsDir).sort() : []) {
  if (f.endsWith('.md')) md += `${readFileSync(join(resultsDir, f), 'utf8')}\n`;
}
writeFileSync(join(benchDir, 'RESULTS.md'), md);
console.log('\nwrote bench/RESULTS.md');
