// `restnet bench`: the board-side benchmark (machine facts + native kernel timings per SIMD path),
// or with --peers, in a repository checkout, the full suite against numpy / PyTorch / plain JS.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { CliError } from '../args.js';
import { runBoardBench } from '../board-bench.js';
import type { Command } from '../context.js';

export const bench: Command = {
  spec: {
    name: 'bench',
    summary: 'Time the native kernels on every SIMD path of this machine (the board benchmark).',
    description: [
      'Times Gram, CKA (feature and Gram forms) and minibatch CKA on every SIMD path this CPU offers,',
      "with the machine's facts (CPU, cores, SIMD path, threads), so boards can be compared. It needs",
      'nothing but this package, so it runs on a Raspberry Pi or Jetson as installed. The ratios against',
      'peers (numpy, PyTorch, plain JS) are the full suite of a repository checkout: `npm run bench`',
      '(bench/run.mjs, which writes bench/RESULTS.md), which --peers runs too.',
    ].join('\n'),
    positionals: [],
    flags: [
      {
        name: 'reps',
        type: 'number',
        value: 'N',
        min: 0,
        exclusiveMin: true,
        help: 'repetitions per timing, median reported',
        defaultText: '5',
      },
      {
        name: 'scale',
        type: 'number',
        value: 'S',
        min: 0,
        exclusiveMin: true,
        help: 'problem size factor (1: n=1024, d=256; fine on a Raspberry Pi 4)',
        defaultText: '1',
      },
      {
        name: 'peers',
        type: 'boolean',
        help: 'run the peer suite bench/run.mjs instead (repository checkout, python3 + numpy/torch)',
      },
    ],
    examples: ['restnet bench', 'restnet bench --json --scale 0.5'],
  },
  async run(ctx) {
    if (ctx.args.bool('peers')) {
      // dist/cli/commands/bench.js -> the package root.
      const script = fileURLToPath(new URL('../../../bench/run.mjs', import.meta.url));
      if (!existsSync(script))
        throw new CliError(
          'bench --peers: the peer suite (bench/run.mjs) is in a repository checkout, not in the npm package',
        );
      const r = spawnSync(process.execPath, [script], { stdio: 'inherit' });
      return r.status ?? 1;
    }
    const reps = Math.max(1, Math.round(ctx.args.number('reps', 5)));
    const scale = ctx.args.number('scale', 1);
    const report = runBoardBench({ reps, scale });
    if (ctx.json) {
      ctx.print(JSON.stringify(report, null, 2));
      return;
    }
    const m = report.machine;
    ctx.print(`${m.cpu}, ${m.cores} cores, ${m.platform}-${m.arch}, Node ${m.node}`);
    ctx.print(`SIMD ${m.simd} (available: ${m.available.join(', ')}), ${m.threads} threads\n`);
    for (const t of report.timings) {
      const gflops = (2 * t.macs) / t.ms / 1e6;
      ctx.print(
        `${t.simd.padEnd(7)} ${t.name.padEnd(44)} ${t.ms.toFixed(2).padStart(9)} ms ${gflops.toFixed(1).padStart(7)} GFLOP/s`,
      );
    }
  },
};
