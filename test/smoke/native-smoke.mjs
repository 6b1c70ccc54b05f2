// A smoke suite of the native API for an installed package, runnable by any Node binary (the
// x64 one with prebuilds only, the arm64 one under qemu-aarch64). It prints one JSON line,
// {simd, checks: [{name, ok, detail}]}, and exits non-zero if a check fails.
//   node native-smoke.mjs <path to test/fixtures/cka-golden.json>
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
check('hsic unbiased', restnet.hsic(k, restnet.gram(toMatrix(g.y), { kernel: 'rbf' }), { unbiased: true }), g.hsicUnbiased, 1e-6);

const acc = new restnet.MinibatchCKA(2, 3);
for (const batch of fixture.minibatch.batches) acc.update(batch.a.map(toMatrix), batch.b.map(toMatrix));
const table = acc.result();
fixture.minibatch.expected.forEach((v, i) => check(`minibatch cka [${i}]`, table.data[i], v, 1e-6));

const matrix = await restnet.ckaMatrix([x], [y, x]);
check('ckaMatrix', matrix.data[0], pair.expected.linear, 1e-6);

const failed = checks.filter((c) => !c.ok);
console.log(JSON.stringify({ simd: restnet.capabilities().simd, arch: process.arch, checks }));
process.exit(failed.length === 0 ? 0 : 1);
