// Gram and CKA against numpy (OpenBLAS, float32) on the same data with the same thread count,
// timed rep by rep in alternation (harness.interleaved), in BENCH_RUNS separate runs whose ratios
// are listed and their median reported. Targets (issue 15, n = 4096, d = 1024): gram <= 1.0x
// numpy `x @ x.T`; cka auto <= 0.9x numpy's best form; cka method 'gram' <= 1.0x numpy's
// Kornblith Gram form. Then the same two calls at small shapes (per-call overheads), and the GEMM
// behind them, per SIMD path and shape, in GFLOP/s and as a fraction of the machine's FMA peak
// (bench/peers/fma_peak.cpp), beside numpy's own efficiency on the same products (large shapes).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import { capabilities, cka, fitStitch, gram, LeastSquaresAccumulator, setSimd } from '../dist/index.js';
import { uniformMatrix as random } from '../dist/cli/board-bench.js';
import {
  benchDir,
  blasLine,
  fmt,
  interleaved,
  WARM_MS,
  machine,
  median,
  startPeer,
  writeRaw,
  writeResults,
} from './harness.mjs';

const n = Number(process.env.BENCH_N ?? 4096);
const d = Number(process.env.BENCH_D ?? 1024);
const reps = Number(process.env.BENCH_REPS ?? 7);
const runs = Number(process.env.BENCH_RUNS ?? 3);

const caps = capabilities();
const m = machine(caps);
// X, and Y = noise + X / 2 (related layers), with a numpy peer that reads the same data.
function pairWithPeer(rows, cols) {
  const x = random(rows, cols, 1);
  const y = random(rows, cols, 2);
  for (let i = 0; i < y.data.length; i++) y.data[i] += 0.5 * x.data[i];
  const dir = mkdtempSync(join(tmpdir(), 'restnet-bench-'));
  writeRaw(join(dir, 'x.f32'), x);
  writeRaw(join(dir, 'y.f32'), y);
  const files = { x: join(dir, 'x.f32'), y: join(dir, 'y.f32'), n: rows, d: cols };
  return { x, y, dir, peer: startPeer('numpy_similarity.py', files, caps.threads) };
}

// `runs` runs of `interleaved`: the median of their ratios (each a median over reps), every run's
// ratio, and the medians of the times.
async function repeated(ours, peer, op, repsPerRun) {
  const all = [];
  for (let r = 0; r < runs; r++) all.push(await interleaved(ours, peer, op, repsPerRun));
  const pick = (key) => median(all.map((a) => a[key]));
  return {
    ours: pick('ours'),
    peer: pick('peer'),
    ratio: pick('ratio'),
    perRun: all.map((a) => a.ratio),
    cpuRatio: pick('cpuRatio'),
  };
}

const { x, y, dir, peer } = pairWithPeer(n, d);
const rows = [
  ['gram (X X^T)', () => gram(x), 'gram', 'numpy `x @ x.T` (ssyrk)', 1.0],
  ['cka linear, method auto', () => cka(x, y), 'ckaFeature', "numpy's best form (feature)", 0.9],
  ['cka linear, method gram', () => cka(x, y, { method: 'gram' }), 'ckaGram', 'numpy Kornblith Gram form', 1.0],
  ['cka linear, method feature', () => cka(x, y, { method: 'feature' }), 'ckaFeature', 'numpy feature form', null],
];
const measured = [];
for (const [name, ours, op, peerName, target] of rows)
  measured.push({ name, peerName, target, ...(await repeated(ours, peer, op, reps)) });
const info = await peer.info();
const value = cka(x, y);

// Small shapes: what a call costs beyond its arithmetic (argument checks, the thread pool's
// hand-offs, packing, the result buffer V8 allocates and its first touch), against numpy's.
const smallShapes = [
  [1024, 256],
  [256, 64],
];
const small = [];
for (const [rows, cols] of smallShapes) {
  const pair = pairWithPeer(rows, cols);
  for (const [name, ours, op] of [
    ['gram (X X^T)', () => gram(pair.x), 'gram'],
    ['cka linear, method auto', () => cka(pair.x, pair.y), 'ckaFeature'],
  ]) {
    small.push({ name: `${name}, ${rows} x ${cols}`, ...(await repeated(ours, pair.peer, op, 41)) });
  }
  pair.peer.close();
  rmSync(pair.dir, { recursive: true });
}

// The ceiling: the FMA throughput of one core, measured with every core busy (bench/peers/fma_peak.cpp),
// and the nominal figure (base clock x 2 FMA pipes x lanes x 2 FLOP) for comparison.
const fmaBinary = join(tmpdir(), 'restnet-fma-peak');
execFileSync('g++', ['-O2', '-o', fmaBinary, join(benchDir, 'peers', 'fma_peak.cpp'), '-lpthread']);
const fmaPeak = JSON.parse(execFileSync(fmaBinary, [String(m.cores)]).toString());
const lanes = { avx2: 8, avx512: 16 };

// FLOP of the products behind each public call, per SIMD path: the Gram (a rank-k update,
// n (n + 1) d), the feature-form CKA (the lower triangle of [Xc Yc]^T [Xc Yc]: 2d (2d + 1) n),
// the least-squares normal equations of fitStitch (LeastSquaresAccumulator.update: centring, then
// Xc^T Xc and Xc^T Yc, n d (d + 1) + 2 n d k) and a stitch's apply (2 n d k).
// Efficiency = FLOP per CPU-second of the process (every thread) / one core's FMA peak: on a
// shared machine, time a thread spends descheduled does not count against it.
const half = { data: y.data.subarray(0, (n * d) / 2), rows: n, cols: d / 2 };
const smallX = random(n / 4, d / 4, 3);
const smallY = random(n / 4, d / 4, 4);
const stitchModel = fitStitch(x, half);
// The large shapes also run numpy's version of the same products (peer op, same FLOP count):
// the whole-call efficiency OpenBLAS reaches on this machine, the yardstick for the 80% target.
const shapes = [
  [`gram ${n} x ${d}`, () => gram(x), n * (n + 1) * d, 'gram'],
  [`cka feature ${n} x ${d}, ${d}`, () => cka(x, y, { method: 'feature' }), 2 * d * (2 * d + 1) * n, 'ckaFeature'],
  [`gram ${n / 4} x ${d / 4}`, () => gram(smallX), (n / 4) * (n / 4 + 1) * (d / 4), null],
  [
    `cka feature ${n / 4} x ${d / 4}, ${d / 4}`,
    () => cka(smallX, smallY, { method: 'feature' }),
    (d / 2) * (d / 2 + 1) * (n / 4),
    null,
  ],
  [
    `least-squares normal equations ${n} x ${d} -> ${d / 2}`,
    () => new LeastSquaresAccumulator(d, d / 2).update(x, half),
    n * d * (d + 1) + n * d * d,
    'normalEquations',
  ],
  [`stitch apply ${n} x ${d} -> ${d / 2}`, () => stitchModel.apply(x), n * d * d, 'stitchApply'],
];
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
};
const gemmReps = Math.max(3, reps >> 1);
const perPath = [];
for (const path of caps.available.filter((p) => p in lanes)) {
  setSimd(path);
  for (const [shape, fn, flop, op] of shapes) {
    if (op !== null) {
      const r = await interleaved(fn, peer, op, gemmReps);
      perPath.push({ path, shape, ms: r.ours, cpuMs: r.cpuOurs, flop, peerMs: r.peer, peerCpuMs: r.cpuPeer });
      continue;
    }
    fn();
    const wall = [],
      cpu = [];
    for (let r = 0; r < gemmReps; r++) {
      const c = cpuMs(),
        t = performance.now();
      fn();
      wall.push(performance.now() - t);
      cpu.push(cpuMs() - c);
    }
    perPath.push({ path, shape, ms: median(wall), cpuMs: median(cpu), flop, peerMs: null, peerCpuMs: null });
  }
}
setSimd(caps.simd);
peer.close();
rmSync(dir, { recursive: true });

let md = `## Similarity: Gram and CKA vs numpy\n\n`;
md += `n = ${n}, d = ${d}, float32 input, ${caps.threads} threads on both sides. restnet path: ${caps.simd}. `;
md += `CPU: ${m.cpu}, ${m.cores} cores${m.mhz ? ` (${fmt(m.mhz / 1000)} GHz nominal)` : ''}; 1-minute load average at the start: ${fmt(m.load, 1)}`;
md += `, at the end: ${fmt(loadavg()[0], 1)}`;
md += `${Math.max(m.load, loadavg()[0]) > m.cores ? ' (the machine was shared with other jobs: read the ratios, not the milliseconds)' : ''}.\n\n`;
md += `Peer: numpy ${info.numpy} on ${blasLine(info)}. Each rep runs restnet then the peer (one timed call each, each after at least ${WARM_MS} ms of untimed calls of the same side, so that neither starts while the other's idle threads still spin: OpenBLAS's spun for about 100 ms after each call); `;
md += `a run is ${reps} reps and its ratio the median of the per-rep wall-time ratios; ${runs} runs, one after another. `;
md += `The ratio column is the median of the runs' ratios (every run's in brackets), the ms columns the median of the runs' medians. `;
md += `The CPU-time ratio divides the CPU time of each process (every thread, user + system) over the same calls: the work done, whatever the scheduler did.\n\n`;
md += `| operation | restnet ms | peer ms | peer | ratio (runs) | CPU-time ratio | target | met |\n|---|---:|---:|---|---:|---:|---:|:-:|\n`;
const perRun = (r) => r.perRun.map((v) => fmt(v)).join(', ');
for (const r of measured) {
  const met = r.target === null ? '-' : r.ratio <= r.target ? 'yes' : 'no';
  md += `| ${r.name} | ${fmt(r.ours, 1)} | ${fmt(r.peer, 1)} | ${r.peerName} | ${fmt(r.ratio)}x (${perRun(r)}) | ${fmt(r.cpuRatio)}x | ${r.target === null ? '-' : `<= ${r.target}x`} | ${met} |\n`;
}
md += `\nSmall shapes, the same peers (41 reps per run, ${runs} runs): per-call costs beyond the arithmetic weigh more here.\n\n`;
md += `| operation | restnet ms | peer ms | ratio (runs) | CPU-time ratio |\n|---|---:|---:|---:|---:|\n`;
for (const r of small) {
  md += `| ${r.name} | ${fmt(r.ours, 3)} | ${fmt(r.peer, 3)} | ${fmt(r.ratio)}x (${perRun(r)}) | ${fmt(r.cpuRatio)}x |\n`;
}
md += `\nlinear CKA: restnet ${value.toFixed(9)}, numpy f64 ${info.ckaF64.toFixed(9)}, |difference| ${Math.abs(value - info.ckaF64).toExponential(2)}.\n\n`;
md += `### GEMM throughput per SIMD path\n\n`;
md += `One core's f32 FMA peak, measured in the same run with all ${m.cores} cores busy (bench/peers/fma_peak.cpp: 12 or 16 independent FMA chains per thread, `;
md += `FLOP over the thread's own CPU time, best of 5): `;
md += Object.entries(fmaPeak)
  .filter(([, v]) => v !== null)
  .map(([k, v]) => `${k} ${fmt(v, 1)} GFLOP/s`)
  .join(', ');
md += `. Divided by lanes x 2 FLOP x 2 FMA pipes that is ${['avx2', 'avx512']
  .filter((p) => fmaPeak[p])
  .map((p) => `${fmt(fmaPeak[p] / (lanes[p] * 4), 2)} GHz (${p})`)
  .join(', ')}: `;
md += `a plausible all-core turbo clock above the ${m.mhz ? fmt(m.mhz / 1000, 2) : '?'} GHz base, so this CPU has two FMA pipes of each width (with one, the clock would have to be twice that). `;
md += `The nominal figure at the base clock is ${['avx2', 'avx512'].map((p) => `${p} ${m.mhz ? fmt((m.mhz * lanes[p] * 4) / 1000, 1) : '?'}`).join(', ')} GFLOP/s per core. `;
md += `Efficiency below = FLOP per CPU-second of the whole process / that per-core peak (time a thread spends descheduled on a shared machine does not count); GFLOP/s = FLOP per wall second with ${caps.threads} threads. `;
md += `At the large shapes numpy computes the same products in the same run, timed call by call in alternation with ours (as above): \`x @ x.T\`, the feature form, the normal equations in f32 (centre, \`xc.T @ xc\`, \`xc.T @ yc\`) and \`x @ w + b\`; its efficiency is its CPU time's against the avx512 peak, since OpenBLAS runs its own AVX-512 kernel whichever path restnet takes.\n\n`;
md += `| path | shape | ms (wall) | CPU ms | GFLOP/s | efficiency (% of peak) | numpy ms (wall) | numpy GFLOP/s | numpy efficiency (% of avx512 peak) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n`;
const efficiency = (flop, cpu, peak) => (peak ? fmt((100 * flop) / cpu / 1e6 / peak, 0) : '-');
for (const p of perPath) {
  md += `| ${p.path} | ${p.shape} | ${fmt(p.ms, 1)} | ${fmt(p.cpuMs, 1)} | ${fmt(p.flop / p.ms / 1e6, 1)} | ${efficiency(p.flop, p.cpuMs, fmaPeak[p.path])} | `;
  md +=
    p.peerMs === null
      ? '- | - | - |\n'
      : `${fmt(p.peerMs, 1)} | ${fmt(p.flop / p.peerMs / 1e6, 1)} | ${efficiency(p.flop, p.peerCpuMs, fmaPeak.avx512)} |\n`;
}
writeResults('similarity', md);
console.log(md);
