// Issue 12's targets, measured on Fashion-MNIST test images 5000-9999 (the project ships test
// images 0-4999 as its eval split and never trains, tunes or selects on 5000-9999), from the
// output folder of a plain `npm run demo` (default ./restnet-out; or argv[2]). For each pair of
// the demo: every configuration and both anchors on the held-out images through the saved family
// (ReStNet.load: the same stitches and anchors the manifest names), their distance to the
// straight line between the anchors there, and the checks:
//   - at least 3 offered configurations strictly between the anchors' MACs;
//   - every offered one at or above the line - 1.0 point and not below the small anchor - 0.3;
//   - the mean of the offered ones at or above the line - 0.5;
//   - every reported accuracy on >= 5,000 images, and the held-out figure inside its 95% interval.
// Rewrites the part of bench/results/pareto.md after its targets marker (the rest of that file,
// the levers and the method, is written by hand from bench/pareto-levers.mjs runs). Without a
// demo output folder it says so and changes nothing (`npm run bench` runs every *.bench.mjs).
//
// Env: BENCH_HELDOUT_DIR (default /usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadDataset } from '../dist/data/dataset.js';
import { capabilities, lineAt, predictions, ReStNet, wilsonInterval } from '../dist/index.js';
import { benchDir, machine } from './harness.mjs';

const out = process.argv[2] ?? './restnet-out';
if (!existsSync(join(out, 'manifest.json'))) {
  console.log(
    `pareto bench: no demo output in ${out} (run \`npm run demo\` first, or pass its --out folder); nothing measured`,
  );
  process.exit(0);
}
const dir = process.env.BENCH_HELDOUT_DIR ?? '/usr/share/datasets/fashion-mnist';
const imagesPath = join(dir, 't10k-images-idx3-ubyte.gz'),
  labelsPath = join(dir, 't10k-labels-idx1-ubyte.gz');
if (!existsSync(imagesPath))
  throw new Error(`${imagesPath} not found: install Debian's dataset-fashion-mnist or set BENCH_HELDOUT_DIR`);
const test = loadDataset(imagesPath, labelsPath);
const FROM = 5000;
const heldOut = {
  images: test.images.slice(FROM * test.cols),
  labels: test.labels.slice(FROM),
  rows: test.rows - FROM,
  cols: test.cols,
};

const folders = [
  out,
  ...readdirSync(out, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(out, d.name, 'manifest.json')))
    .map((d) => join(out, d.name)),
];
const pct = (x) => (x * 100).toFixed(2);
const pt = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}`;
const yes = (ok) => (ok ? 'yes' : '**NO**');

let md = '';
const m = machine(capabilities());
md += `From \`${out}\` (the output folder of \`restnet demo\`); ${m.cpu}, Node ${m.node}. 'vs line': the configuration's held-out accuracy minus the straight line between the two anchors' held-out accuracies at its MACs; 'in interval': the held-out figure lies inside the manifest's 95% Wilson interval (eval split, test images 0-4999). Greyed (not offered) configurations are listed for completeness; the checks count offered ones only.\n\n`;
const summary = [];
for (const folder of folders) {
  const net = await ReStNet.load(folder, { threads: 2 });
  const accuracy = async (id) => {
    const p = await predictions(net, id, heldOut);
    let correct = 0;
    for (let i = 0; i < heldOut.rows; i++) if (p[i] === heldOut.labels[i]) correct++;
    return correct;
  };
  const anchors = [];
  for (const a of net.anchorRecords)
    anchors.push({ id: a.name, kind: 'anchor', macs: a.macs, record: a, correct: await accuracy(a.name) });
  for (const a of anchors) a.accuracy = a.correct / heldOut.rows;
  const [small, large] = [...anchors].sort((x, y) => x.macs - y.macs);
  const rows = [];
  for (const c of net.configs) {
    const correct = await accuracy(c.id);
    const acc = correct / heldOut.rows;
    const line = lineAt(anchors, c.macs);
    rows.push({
      c,
      acc,
      line,
      vsLine: line === null ? null : acc - line,
      vsSmall: acc - small.accuracy,
      offered: c.pareto !== false,
      between: c.macs > small.macs && c.macs < large.macs,
    });
  }
  await net.dispose();
  const inInterval = (r, acc) => r.accuracyInterval && acc >= r.accuracyInterval[0] && acc <= r.accuracyInterval[1];
  const offered = rows.filter((r) => r.offered && r.between);
  const meanGap = offered.length ? offered.reduce((s, r) => s + r.vsLine, 0) / offered.length : NaN;
  const records = [
    ...anchors.map((a) => ({ r: a.record, acc: a.accuracy })),
    ...rows.map((r) => ({ r: r.c, acc: r.acc })),
  ];
  const checks = {
    count: offered.length >= 3,
    line: offered.every((r) => r.vsLine >= -0.01),
    small: offered.every((r) => r.vsSmall >= -0.003),
    mean: offered.length > 0 && meanGap >= -0.005,
    images: records.every(({ r }) => (r.evalImages ?? 0) >= 5000),
    interval: records.every(({ r, acc }) => inInterval(r, acc)),
  };
  const pair = `${large.id} -> ${small.id}`;
  summary.push({
    pair,
    offered: offered.length,
    total: rows.length,
    meanGap,
    checks,
    outside: records.filter(({ r, acc }) => !inInterval(r, acc)).length,
    records: records.length,
  });
  md += `#### ${pair}\n\n| configuration | MMACs | offered | manifest % (eval 0-4999, 95% interval) | validation % | held-out % | in interval | line % | vs line pt | vs ${small.id} pt |\n|---|---:|:-:|---:|---:|---:|:-:|---:|---:|---:|\n`;
  for (const a of [large, small])
    md += `| **${a.id}** (anchor) | ${(a.macs / 1e6).toFixed(1)} | - | ${pct(a.record.accuracy)} [${a.record.accuracyInterval?.map(pct).join(', ') ?? '-'}] | ${a.record.validationAccuracy == null ? '-' : pct(a.record.validationAccuracy)} | ${pct(a.accuracy)} | ${yes(inInterval(a.record, a.accuracy))} | - | - | - |\n`;
  for (const r of [...rows].sort((x, y) => x.c.macs - y.c.macs)) {
    const c = r.c;
    md += `| ${r.offered ? '' : '~~'}${c.frontCut} -> ${c.backCut}${r.offered ? '' : '~~'} | ${(c.macs / 1e6).toFixed(1)} | ${r.offered ? 'yes' : 'no'} | ${pct(c.accuracy)} [${c.accuracyInterval?.map(pct).join(', ') ?? '-'}] | ${c.validationAccuracy == null ? '-' : pct(c.validationAccuracy)} | ${pct(r.acc)} | ${yes(inInterval(c, r.acc))} | ${r.line === null ? '-' : pct(r.line)} | ${r.vsLine === null ? '-' : pt(r.vsLine)} | ${pt(r.vsSmall)} |\n`;
  }
  md += `\nOffered strictly between the anchors: ${offered.length} (>= 3: ${yes(checks.count)}); every offered >= line - 1.0: ${yes(checks.line)}; every offered >= ${small.id} - 0.3: ${yes(checks.small)}; mean vs line ${Number.isNaN(meanGap) ? '-' : pt(meanGap)} (>= -0.5: ${yes(checks.mean)}); every record on >= 5000 images: ${yes(checks.images)}; held-out inside the interval: ${records.length - summary.at(-1).outside} of ${records.length}.\n\n`;
}
let head =
  '| pair | offered between anchors | mean vs line pt | >= 3 | all >= line - 1 | all >= small - 0.3 | mean >= line - 0.5 | >= 5000 images | held-out in interval |\n|---|---:|---:|:-:|:-:|:-:|:-:|:-:|---:|\n';
for (const s of summary)
  head += `| ${s.pair} | ${s.offered} of ${s.total} | ${Number.isNaN(s.meanGap) ? '-' : pt(s.meanGap)} | ${yes(s.checks.count)} | ${yes(s.checks.line)} | ${yes(s.checks.small)} | ${yes(s.checks.mean)} | ${yes(s.checks.images)} | ${s.records - s.outside} of ${s.records} |\n`;
// Wilson half-width at the zoo's size, for the reader: how far two honest 5,000-image figures may differ.
const [lo, hi] = wilsonInterval(4600, 5000);
const intro = md.slice(0, md.indexOf('\n\n') + 2);
md = `${intro}${head}\nAt 92% on 5,000 images the 95% interval is ${pct(lo)}-${pct(hi)} (+-${((hi - lo) * 50).toFixed(2)} pt); two independent 5,000-image figures differ by more than that about 17% of the time.\n\n${md.slice(intro.length)}`;
const MARKER = '<!-- targets: written by bench/pareto.bench.mjs -->';
const file = join(benchDir, 'results', 'pareto.md');
const kept = readFileSync(file, 'utf8');
if (!kept.includes(MARKER)) throw new Error(`${file}: expected the marker ${MARKER}`);
writeFileSync(file, `${kept.slice(0, kept.indexOf(MARKER) + MARKER.length)}\n\n${md}`);
// In the project's Markdown format (aligned tables), so that npm run lint stays green.
spawnSync('npx', ['biome', 'format', '--write', file], { stdio: 'ignore' });
console.log(md);
