#!/usr/bin/env node
// The `restnet` command. Each subcommand has --help; errors are one line on stderr and a
// non-zero exit code.
import { runBoardBench } from './board-bench.js';

const USAGE = `usage: restnet <command> [options]

commands:
  bench     time the native kernels on every SIMD path of this machine (board benchmark)

Run 'restnet <command> --help' for a command's options.`;

const BENCH_USAGE = `usage: restnet bench [--json] [--reps N] [--scale S]

Times Gram, CKA (feature and Gram forms) and minibatch CKA on every SIMD path this CPU offers,
with the machine's facts (CPU, cores, SIMD path, threads), so boards can be compared.

  --json      print one JSON object instead of a table
  --reps N    repetitions per timing, median reported (default 5)
  --scale S   problem size factor (default 1: n=1024, d=256; fine on a Raspberry Pi 4)`;

class UsageError extends Error {}

function numberFlag(args: string[], i: number, name: string): number {
  const value = Number(args[i + 1]);
  if (args[i + 1] === undefined || !Number.isFinite(value) || value <= 0) {
    throw new UsageError(`${name}: expected a positive number, got ${args[i + 1] ?? 'nothing'}`);
  }
  return value;
}

function bench(args: string[]): void {
  let json = false;
  let reps = 5;
  let scale = 1;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(BENCH_USAGE);
      return;
    } else if (arg === '--json') json = true;
    else if (arg === '--reps') reps = Math.round(numberFlag(args, i++, '--reps'));
    else if (arg === '--scale') scale = numberFlag(args, i++, '--scale');
    else throw new UsageError(`unknown option '${arg}' (see restnet bench --help)`);
  }
  const report = runBoardBench({ reps, scale });
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  const m = report.machine;
  console.log(`${m.cpu}, ${m.cores} cores, ${m.platform}-${m.arch}, Node ${m.node}`);
  console.log(`SIMD ${m.simd} (available: ${m.available.join(', ')}), ${m.threads} threads\n`);
  for (const t of report.timings) {
    const gflops = (2 * t.macs) / t.ms / 1e6;
    console.log(`${t.simd.padEnd(7)} ${t.name.padEnd(44)} ${t.ms.toFixed(2).padStart(9)} ms ${gflops.toFixed(1).padStart(7)} GFLOP/s`);
  }
}

function main(argv: string[]): number {
  const [command, ...rest] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h') {
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    }
    if (command === 'bench') {
      bench(rest);
      return 0;
    }
    throw new UsageError(`unknown command '${command}'\n${USAGE}`);
  } catch (error) {
    const verbose = rest.includes('--verbose');
    console.error(`restnet: ${verbose ? (error as Error).stack : (error as Error).message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = main(process.argv.slice(2));
