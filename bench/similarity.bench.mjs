// Gram and CKA against numpy (OpenBLAS, float32) on the same data with the same thread count.
// Targets (n = 4096, d = 1024): gram <= 0.8x numpy X @ X.T; cka auto <= 1.0x numpy's feature
// form; the Gram-form path <= 0.8x numpy's Gram form. Also: efficiency per SIMD path as a
// fraction of nominal peak FLOP/s.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { capabilities, cka, gram, setSimd } from '../dist/index.js';
import { uniformMatrix as random } from '../dist/cli/board-bench.js';
import { fmt, machine, runPeer, timeMs, writeRaw, writeResults, cpuMhz } from './harness.mjs';

const n = Number(process.env.BENCH_N ?? 4096);
const d = Number(process.env.BENCH_D ?? 1024);
const reps = Number(process.env.BENCH_REPS ?? 5);
const python = process.env.BENCH_PYTHON ?? 'python3';

// Nominal single-precision FLOP per cycle per core with two vector pipes. The scalar path is
// plain C++ compiled for the x86-64 baseline, which the compiler vectorises with SSE2 (4 lanes,
// separate multiply and add). Zen 4 runs 512-bit instructions on 256-bit pipes, so there the
// AVX-512 peak equals the AVX2 peak; the table states what the ISA allows.
const FLOP_PER_CYCLE = { scalar: 16, avx2: 32, avx512: 64, neon: 16 };

const caps = capabilities();
const x = random(n, d, 1);
const y = random(n, d, 2);
for (let i = 0; i < y.data.length; i++) y.data[i] += 0.5 * x.data[i];

const dir = mkdtempSync(join(tmpdir(), 'restnet-bench-'));
writeRaw(join(dir, 'x.f32'), x);
writeRaw(join(dir, 'y.f32'), y);
const peer = runPeer(python, 'numpy_similarity.py', { x: join(dir, 'x.f32'), y: join(dir, 'y.f32'), n, d, reps }, caps.threads);
rmSync(dir, { recursive: true });

const ours = {
  gram: await timeMs(() => gram(x), reps),
  ckaAuto: await timeMs(() => cka(x, y), reps),
  ckaGram: await timeMs(() => cka(x, y, { method: 'gram' }), reps),
  ckaFeature: await timeMs(() => cka(x, y, { method: 'feature' }), reps),
};
const value = cka(x, y);

// Efficiency of the Gram (a rank-k update: n^2 d multiply-adds over the lower triangle and
// diagonal, n (n + 1) d / 2 FMAs = n (n + 1) d FLOP) on each path.
const mhz = cpuMhz();
const gramFlop = n * (n + 1) * d;
const paths = [];
for (const path of caps.available) {
  if (path === 'scalar' && n * d > 1 << 20) {
    // The scalar path is a correctness fallback; time it on a quarter-size problem.
    setSimd(path);
    const small = random(n / 2, d / 2, 3);
    const t = await timeMs(() => gram(small), 1);
    paths.push({ path, ms: t, gflops: ((n / 2) * (n / 2 + 1) * (d / 2)) / t / 1e6, note: `n=${n / 2}, d=${d / 2}` });
    continue;
  }
  setSimd(path);
  const t = await timeMs(() => gram(x), reps);
  paths.push({ path, ms: t, gflops: gramFlop / t / 1e6, note: '' });
}
setSimd(caps.simd);

const ratio = (a, b) => a / (b * 1000);
const rows = [
  ['gram (X X^T)', ours.gram, peer.gram, 'numpy `x @ x.T` (syrk)', 0.8],
  ['cka linear, method auto', ours.ckaAuto, peer.ckaFeature, 'numpy feature form', 1.0],
  ['cka linear, Gram form', ours.ckaGram, peer.ckaGram, 'numpy Gram form', 0.8],
  ['cka linear, feature form', ours.ckaFeature, peer.ckaFeature, 'numpy feature form', 1.0],
];
const m = machine(caps);
let md = `## Similarity: Gram and CKA vs numpy\n\n`;
md += `n = ${n}, d = ${d}, float32 input, ${caps.threads} threads on both sides, median of ${reps} runs after a warm-up. `;
md += `numpy ${peer.numpy} (OpenBLAS). restnet path: ${caps.simd}. CPU: ${m.cpu}, ${m.cores} cores${mhz ? ` at ${fmt(mhz / 1000)} GHz` : ''}.\n\n`;
md += `| operation | restnet ms | peer ms | peer | ratio | target | met |\n|---|---:|---:|---|---:|---:|:-:|\n`;
for (const [name, t, p, peerName, target] of rows) {
  const r = ratio(t, p);
  md += `| ${name} | ${fmt(t, 1)} | ${fmt(p * 1000, 1)} | ${peerName} | ${fmt(r)}x | <= ${target}x | ${r <= target ? 'yes' : 'no'} |\n`;
}
md += `\nlinear CKA: restnet ${value.toFixed(9)}, numpy f64 ${peer.ckaF64.toFixed(9)}, |difference| ${Math.abs(value - peer.ckaF64).toExponential(2)}.\n\n`;
md += `### Gram kernel efficiency per SIMD path\n\n`;
md += `Nominal peak = ${m.cores} cores x ${mhz ? fmt(mhz / 1000) : '?'} GHz x FLOP/cycle of the ISA (two FMA pipes).\n\n`;
md += `| path | ms | GFLOP/s | nominal peak GFLOP/s | fraction of peak | note |\n|---|---:|---:|---:|---:|---|\n`;
for (const p of paths) {
  const peak = mhz ? (m.cores * mhz * FLOP_PER_CYCLE[p.path]) / 1000 : NaN;
  md += `| ${p.path} | ${fmt(p.ms, 1)} | ${fmt(p.gflops, 1)} | ${fmt(peak, 0)} | ${fmt(p.gflops / peak)} | ${p.note} |\n`;
}
writeResults('similarity', md);
console.log(md);
