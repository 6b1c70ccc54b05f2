// A smoke suite of the native API for an installed package, runnable by any Node binary (the
// x64 one with prebuilds only, the arm64 one under qemu-aarch64). It prints one JSON line,
// {simd, checks: [{name, ok, detail}]}, and exits non-zero if a check fails.
//   node native-smoke.mjs <cka-golden.json> <lstsq-golden.json>
import { readFileSync } from 'node:fs';

import * as restnet from 'restnet';

const fixture = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const toMatrix = (m) => ({ data: Float32Array.from(m.data), rows: m.rows, cols: m.cols });
const checks = [];
function check(name, actual, expected, tol) {
  const ok = Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected));
  checks.push({ name, ok, detail: `${actual} vs ${expected}` });
}

const pair = fixture.pairs[0];
const x = toMatrix(pair.x);
const y = toMatrix(pair.y);
check('cka linear', restnet.cka(x, y), pair.expected.linear, 1e-6);
check('cka linear feature form', restnet.cka(x, y, { method: 'feature' }), pair.expected.linear, 1e-6);
check('cka rbf 0.5', restnet.cka(x, y, { kernel: 'rbf', threshold: 0.5 }), pair.expected['rbf0.5'], 1e-6);
check('cka debiased', restnet.cka(x, y, { debiased: true }), pair.expected.linearDebiased, 1e-6);

const g = fixture.gramHsic;
const k = restnet.gram(toMatrix(g.x));
check('gram linear', k.data[3], g.gramLinearX[3], 1e-6);
check(
  'hsic unbiased',
  restnet.hsic(k, restnet.gram(toMatrix(g.y), { kernel: 'rbf' }), { unbiased: true }),
  g.hsicUnbiased,
  1e-6,
);

const acc = new restnet.MinibatchCKA(2, 3);
for (const batch of fixture.minibatch.batches) acc.update(batch.a.map(toMatrix), batch.b.map(toMatrix));
const table = acc.result();
fixture.minibatch.expected.forEach((v, i) => check(`minibatch cka [${i}]`, table.data[i], v, 1e-6));

const matrix = await restnet.ckaMatrix([x], [y, x]);
check('ckaMatrix', matrix.data[0], pair.expected.linear, 1e-6);

// Least squares against numpy's lstsq, and one full-batch SGD step from zeros against its
// closed form: with the mean squared error over all n x k outputs, the first step is
// W = 2 lr / (n k) X^T Y and b = 2 lr / (n k) sum(Y).
const lstsq = JSON.parse(readFileSync(process.argv[3], 'utf8')).cases[0];
// This fixture stores its f32 inputs as base64 bytes.
const decode = (m) => {
  const bytes = Buffer.from(m.data, 'base64');
  // Copied out: a pooled Buffer's offset need not be 4-byte aligned.
  const data = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { data, rows: m.rows, cols: m.cols };
};
const lx = decode(lstsq.x);
const ly = decode(lstsq.y);
const fitted = restnet.fitStitch(lx, ly, { ridge: lstsq.ridge, bias: lstsq.bias });
const worst = (a, b) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0) / b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
check('fitStitch weight vs numpy', worst(Array.from(fitted.weight.data), lstsq.weight), 0, 1e-4);
check('fitStitch bias vs numpy', worst(Array.from(fitted.bias), lstsq.biasValues), 0, 1e-4);

const lr = 0.01;
const { stitch } = await restnet.trainStitch(lx, ly, { optimizer: 'sgd', lr, epochs: 1, batchSize: lx.rows });
const n = lx.rows,
  d = lx.cols,
  outs = ly.cols,
  scale = (2 * lr) / (n * outs);
const w1 = new Float64Array(d * outs);
const b1 = new Float64Array(outs);
for (let i = 0; i < n; i++) {
  for (let j = 0; j < outs; j++) {
    const yv = ly.data[i * outs + j];
    b1[j] += scale * yv;
    for (let p = 0; p < d; p++) w1[p * outs + j] += scale * lx.data[i * d + p] * yv;
  }
}
check('trainStitch first SGD step, weight', worst(Array.from(stitch.weight.data), Array.from(w1)), 0, 1e-5);
check('trainStitch first SGD step, bias', worst(Array.from(stitch.bias), Array.from(b1)), 0, 1e-5);

const failed = checks.filter((c) => !c.ok);
console.log(JSON.stringify({ simd: restnet.capabilities().simd, arch: process.arch, checks }));
process.exit(failed.length === 0 ? 0 : 1);
