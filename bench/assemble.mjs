// Writes bench/RESULTS.md as the concatenation of bench/results/*.md (file-name order) under one
// fixed header, so that RESULTS.md never drifts from the per-suite files the benchmarks and their
// notes write: every section names its own machine, date and load, because sections come from
// different runs. `node bench/assemble.mjs --check` (part of `npm run lint`) fails when the
// committed RESULTS.md differs from what it would write.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { benchDir } from './harness.mjs';

const HEADER = `# Benchmark results

Assembled by \`node bench/assemble.mjs\` (also the last step of \`npm run bench\`) from the files in
[bench/results/](results/), one section per file. Every number compares restnet with a named peer
measured in the same run on the same data and thread count; ratios below 1 mean restnet is faster.
Sections come from different runs: each names its machine, date and load. Timings on a shared
2-core machine are noisy: read the ratios, not the milliseconds, and never compare figures across
sections.
`;

/** RESULTS.md's text: the header, then every bench/results/*.md in file-name order. */
export function assembleResults() {
  const dir = join(benchDir, 'results');
  const sections = readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8').trimEnd());
  return `${[HEADER.trimEnd(), ...sections].join('\n\n')}\n`;
}

const resultsPath = join(benchDir, 'RESULTS.md');

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const text = assembleResults();
  if (process.argv.includes('--check')) {
    if (readFileSync(resultsPath, 'utf8') !== text) {
      console.error(
        'error: bench/RESULTS.md differs from bench/results/*.md: run node bench/assemble.mjs and commit it',
      );
      process.exit(1);
    }
  } else {
    writeFileSync(resultsPath, text);
    console.log('wrote bench/RESULTS.md');
  }
}
