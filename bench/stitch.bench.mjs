// Stitching-layer solvers against their peers on the same data and thread count (n = 20000,
// 512 -> 256). Targets: fitStitch <= 0.4x numpy's f64 lstsq with a bias column, at the same
// accuracy; one trainStitch epoch (Adam, batch 128, MSE) <= 0.5x a PyTorch CPU epoch of
// nn.Linear(512, 256) + Adam.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { capabilities, fitStitch, stitch, trainStitch } from '../dist/index.js';
import { fmt, machine, OPENBLAS_DIR, runPeer, timeMs, writeRaw, writeResults } from './harness.mjs';

const n = Number(process.env.BENCH_N ?? 20000);
const d = Number(process.env.BENCH_D ?? 512);
const k = Number(process.env.BENCH_K ?? 256);
const reps = Number(process.env.BENCH_REPS ?? 5);
const peerReps = Number(process.env.BENCH_PEER_REPS ?? 3);
const python = process.env.BENCH_PYTHON ?? 'python3';
const torchPython = process.env.BENCH_TORCH_PYTHON ?? '/usr/bin/python3';
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
const x = random(n, d, 1, 2);
const truth = stitch(random(d, k, 2, 0.2), random(1, k, 3, 2).data);
const y = truth.apply(x);
const noise = random(n, k, 4, 0.2);
for (let i = 0; i < y.data.length; i++) y.data[i] += noise.data[i];

const fitMs = await timeMs(() => fitStitch(x, y), reps);
const fit = fitStitch(x, y);
const epochMs = await timeMs(() => trainStitch(x, y, { epochs: 1, batchSize: batch, optimizer: 'adam', lr: 1e-3 }), reps);

const dir = mkdtempSync(join(tmpdir(), 'restnet-bench-'));
const files = { x: join(dir, 'x.f32'), y: join(dir, 'y.f32'), weight: join(dir, 'w.f32'), bias: join(dir, 'b.f32') };
writeRaw(files.x, x);
writeRaw(files.y, y);
writeRaw(files.weight, fit.weight);
writeRaw(files.bias, { data: fit.bias });
const numpy = runPeer(python, 'numpy_lstsq.py', { ...files, n, d, k, reps: peerReps }, caps.threads);
const torch = runPeer(torchPython, 'torch_linear.py', { ...files, n, d, k, reps: peerReps, threads: caps.threads, batch }, caps.threads);
rmSync(dir, { recursive: true });

const m = machine(caps);
const rows = [
  ['fitStitch (least squares, bias)', fitMs, numpy.seconds * 1e3, `numpy ${numpy.numpy} \`lstsq([X 1], Y)\` f64`, 0.4],
  ['trainStitch, 1 epoch (Adam, batch 128, MSE)', epochMs, torch.seconds * 1e3, `PyTorch ${torch.torch} nn.Linear + Adam, ${torch.threads} threads`, 0.5],
];
let md = '## Stitching layer: least squares vs numpy, SGD vs PyTorch\n\n';
md += `n = ${n} rows, ${d} -> ${k}, float32 data, ${caps.threads} threads on every side (OMP/OPENBLAS/MKL_NUM_THREADS, `;
md += `torch.set_num_threads). restnet: median of ${reps} runs after a warm-up; peers: median of ${peerReps}. `;
md += `restnet path: ${caps.simd}. CPU: ${m.cpu}, ${m.cores} cores.\n\n`;
md += '| operation | restnet ms | peer ms | peer | ratio | target | met |\n|---|---:|---:|---|---:|---:|:-:|\n';
for (const [op, ours, peer, name, target] of rows) {
  const ratio = ours / peer;
  md += `| ${op} | ${fmt(ours, 1)} | ${fmt(peer, 1)} | ${name} | ${fmt(ratio)}x | <= ${target}x | ${ratio <= target ? 'yes' : 'no'} |\n`;
}
// Context, no target: numpy running restnet's own algorithm (f64 normal equations + solve).
const normalRatio = fitMs / (numpy.normalSeconds * 1e3);
md += `| fitStitch, for context | ${fmt(fitMs, 1)} | ${fmt(numpy.normalSeconds * 1e3, 1)} | numpy f64 normal equations + \`solve\` | ${fmt(normalRatio)}x | - | - |\n`;
md += `\nAccuracy of fitStitch against numpy's f64 solution: weight relative error ${numpy.weightError.toExponential(2)}, `;
md += `bias ${numpy.biasError.toExponential(2)}; residual sum of squares ${numpy.residual.toPrecision(10)} `;
md += `(numpy ${numpy.residualReference.toPrecision(10)}, relative excess ${((numpy.residual - numpy.residualReference) / numpy.residualReference).toExponential(2)}). `;
md += `Solve path: ${fit.method}, condition ${fmt(fit.condition)}.\n\n`;
md += existsSync(OPENBLAS_DIR)
  ? 'The PyTorch peer (Debian\'s python3-torch) ran on OpenBLAS (libopenblas0-pthread on its library path), like numpy.\n'
  : 'Note on the PyTorch peer: Debian\'s python3-torch ran on the system\'s reference BLAS (libopenblas0-pthread is not ' +
    'installed), so its epoch is dominated by slow matrix products; install libopenblas0-pthread for a fair peer.\n';
writeResults('stitch', md);
console.log(md);
