// Stitching-layer solvers against their peers on the same data and thread count (n = 20000,
// 512 -> 256), timed rep by rep in alternation (harness.interleaved). Targets (issue 15):
// fitStitch <= 0.4x numpy's f64 lstsq with a bias column on full-rank data and <= 0.5x on
// rank-deficient data (128 of the 512 input columns repeat others, as dead or duplicated
// ReLU channels do), at the same accuracy; one trainStitch epoch (Adam, batch 128, MSE)
// <= 0.5x a PyTorch CPU epoch of nn.Linear(512, 256) + Adam.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { capabilities, fitStitch, stitch, trainStitch } from '../dist/index.js';
import { blasLine, fmt, interleaved, machine, WARM_MS, startPeer, writeRaw, writeResults } from './harness.mjs';

const n = Number(process.env.BENCH_N ?? 20000);
const d = Number(process.env.BENCH_D ?? 512);
const k = Number(process.env.BENCH_K ?? 256);
const reps = Number(process.env.BENCH_REPS ?? 5);
const batch = 128;

function random(rows, cols, seed, scale = 1) {
  let s = seed >>> 0;
  const data = new Float32Array(rows * cols);
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 4294967296 - 0.5) * scale;
  }
  return { data, rows, cols };
}

// y = x W + b + noise: a well-posed stitch with a non-zero bias.
const caps = capabilities();
const m = machine(caps);
const x = random(n, d, 1, 2);
const truth = stitch(random(d, k, 2, 0.2), random(1, k, 3, 2).data);
const y = truth.apply(x);
const noise = random(n, k, 4, 0.2);
for (let i = 0; i < y.data.length; i++) y.data[i] += noise.data[i];
// The rank-deficient case: the last quarter of the columns copy the first quarter.
const xr = { data: x.data.slice(), rows: n, cols: d };
for (let i = 0; i < n; i++) xr.data.copyWithin(i * d + d - d / 4, i * d, i * d + d / 4);

const dir = mkdtempSync(join(tmpdir(), 'restnet-bench-'));
const cases = [];
for (const [label, data, target] of [
  ['full rank', x, 0.4],
  [`rank-deficient (${d / 4} columns repeated)`, xr, 0.5],
]) {
  const fit = fitStitch(data, y);
  const files = {
    x: join(dir, `x${cases.length}.f32`),
    y: join(dir, 'y.f32'),
    weight: join(dir, 'w.f32'),
    bias: join(dir, 'b.f32'),
  };
  writeRaw(files.x, data);
  writeRaw(files.y, y);
  writeRaw(files.weight, fit.weight);
  writeRaw(files.bias, { data: fit.bias });
  const peer = startPeer('numpy_lstsq.py', { ...files, n, d, k }, caps.threads);
  const info = await peer.info(); // reads the weight files before the next case rewrites them
  const lstsq = await interleaved(() => fitStitch(data, y), peer, 'lstsq', reps);
  const normal = data === x ? await interleaved(() => fitStitch(data, y), peer, 'normal', reps) : null;
  peer.close();
  cases.push({ label, target, fit, info, lstsq, normal });
}
const torchFiles = { x: join(dir, 'x0.f32'), y: join(dir, 'y.f32') };
// OpenMP threads that wait by spinning take the CPU from the thread they wait for when the machine
// is shared (an epoch took 5-20 s instead of 0.7 s here): PyTorch's wait passively, as they
// would on a machine of their own.
const torch = startPeer('torch_linear.py', { ...torchFiles, n, d, k, threads: caps.threads, batch }, caps.threads, {
  OMP_WAIT_POLICY: 'PASSIVE',
});
const epoch = await interleaved(
  () => trainStitch(x, y, { epochs: 1, batchSize: batch, optimizer: 'adam', lr: 1e-3 }),
  torch,
  'epoch',
  reps,
);
const torchInfo = await torch.info();
torch.close();
rmSync(dir, { recursive: true });

let md = '## Stitching layer: least squares vs numpy, SGD vs PyTorch\n\n';
md += `n = ${n} rows, ${d} -> ${k}, float32 data, ${caps.threads} threads on every side (OMP/OPENBLAS/MKL_NUM_THREADS, `;
md += `torch.set_num_threads). restnet path: ${caps.simd}. CPU: ${m.cpu}, ${m.cores} cores; 1-minute load average at the start: ${fmt(m.load, 1)}`;
md += `${m.load > m.cores ? ' (the machine was shared with other jobs: read the ratios, not the milliseconds)' : ''}.\n\n`;
md += `Peers: numpy ${cases[0].info.numpy} on ${blasLine(cases[0].info)}; PyTorch ${torchInfo.torch} on ${blasLine(torchInfo)}. `;
md += `Each rep runs restnet then the peer (one timed call each, each after at least ${WARM_MS} ms of untimed calls of the same side, so that neither starts while the other's idle threads still spin: OpenBLAS's spun for about 100 ms after each call), ${reps} reps; the ratio is the median of the per-rep wall-time ratios (min-max in brackets); `;
md += 'the CPU-time ratio divides the CPU time of each process (every thread, user + system) over the same calls. ';
md +=
  'The PyTorch peer runs with OMP_WAIT_POLICY=PASSIVE: with its OpenMP threads spinning while they wait, its epoch took 5-20 s on this shared machine instead of 0.7 s.\n\n';
md +=
  '| operation | restnet ms | peer ms | peer | ratio (min-max) | CPU-time ratio | target | met |\n|---|---:|---:|---|---:|---:|---:|:-:|\n';
const row = (op, r, name, target) => {
  const met = target === null ? '-' : r.ratio <= target ? 'yes' : 'no';
  md += `| ${op} | ${fmt(r.ours, 1)} | ${fmt(r.peer, 1)} | ${name} | ${fmt(r.ratio)}x (${fmt(r.spread[0])}-${fmt(r.spread[1])}) | ${fmt(r.cpuRatio)}x | ${target === null ? '-' : `<= ${target}x`} | ${met} |\n`;
};
for (const c of cases) {
  row(`fitStitch, ${c.label}`, c.lstsq, `numpy \`lstsq([X 1], Y)\` f64 (SVD)`, c.target);
  // Context, no target: numpy running restnet's own algorithm (f64 normal equations + solve).
  if (c.normal) row(`fitStitch, ${c.label}, for context`, c.normal, 'numpy f64 normal equations + `solve`', null);
}
row(
  'trainStitch, 1 epoch (Adam, batch 128, MSE)',
  epoch,
  `PyTorch nn.Linear + Adam, ${torchInfo.threads} threads`,
  0.5,
);
md += '\n';
for (const c of cases) {
  md += `Accuracy of fitStitch (${c.label}) against numpy's f64 lstsq: weight relative error ${c.info.weightError.toExponential(2)}, `;
  md += `bias ${c.info.biasError.toExponential(2)}; residual sum of squares ${c.info.residual.toPrecision(10)} `;
  md += `(numpy ${c.info.residualReference.toPrecision(10)}, relative excess ${((c.info.residual - c.info.residualReference) / c.info.residualReference).toExponential(2)}). `;
  md += `Solve path: ${c.fit.method}, rank ${c.fit.rank} (numpy: ${c.info.rank} with the bias column), condition ${fmt(c.fit.condition)}.\n\n`;
}
writeResults('stitch', md);
console.log(md);
