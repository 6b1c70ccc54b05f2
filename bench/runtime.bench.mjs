// The runtime against one fused file: a demo-style family (cnn-l -> cnn-s from the zoo, built
// quickly with the CLI's small settings), loaded with ReStNet.load defaults (auto mode, every
// fused session warmed, the measured thread count). Batch 1, interleaved in one process:
// net.run after use(id) against the same <id>.onnx (the anchors' own files) in one plain
// onnxruntime session with the same thread count; the ratio per configuration; the Spearman rank
// correlation of MACs and net.run latency; use() time; the first calls after use() of a
// configuration whose fused session was evicted (under a memory budget), against the shared
// segments' own latency; intra-op threads 1 vs 2 at batch 1 and batch 32. Writes
// bench/results/runtime.md.
//
// Env: BENCH_FAMILY (an existing family folder to use instead of building one), BENCH_RUNS
// (timed rounds, default 200).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import { capabilities, loadZooSplit, ReStNet } from '../dist/index.js';
import { runQuickDemo } from '../scripts/quick-demo.mjs';
import { fmt, machine, median, writeResults } from './harness.mjs';

const RUNS = Number(process.env.BENCH_RUNS ?? 200);
const load0 = loadavg()[0];
const log = (...a) => console.error(`[runtime bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const ort = await import('onnxruntime-node');

let dir = process.env.BENCH_FAMILY;
let built = false;
if (!dir) {
  dir = mkdtempSync(join(tmpdir(), 'restnet-runtime-bench-'));
  built = true;
  log('building a demo family (cnn-l -> cnn-s, quick settings)');
  runQuickDemo(dir);
}

const evalSplit = loadZooSplit('eval');
const x1 = { data: evalSplit.images.slice(0, 784), dims: [1, 1, 28, 28] };
const x32 = { data: evalSplit.images.slice(0, 32 * 784), dims: [32, 1, 28, 28] };

/** Spearman rank correlation (no ties expected). */
function spearman(xs, ys) {
  const rank = (v) => {
    const order = v.map((x, i) => [x, i]).sort((a, b) => a[0] - b[0]);
    const r = new Array(v.length);
    order.forEach(([, i], k) => (r[i] = k));
    return r;
  };
  const rx = rank(xs),
    ry = rank(ys),
    n = xs.length;
  const d2 = rx.reduce((s, r, i) => s + (r - ry[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

async function timeOnce(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

// 1. net.run against one plain session of the same file.
log('loading with the defaults');
const loadStart = performance.now();
const net = await ReStNet.load(dir);
const loadMs = performance.now() - loadStart;
const memory = net.memory();
const threads = memory.threads;
const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const items = [
  ...manifest.configs.map((c) => ({ id: c.id, macs: c.macs, file: join(dir, c.onnx) })),
  ...[...new Map(manifest.anchors.map((a) => [a.name, a])).values()].map((a) => ({
    id: a.name,
    macs: a.macs,
    file: join(dir, a.file),
    anchor: true,
  })),
].sort((a, b) => a.macs - b.macs);
for (const it of items) {
  // By path, as a user opens the file: a fused file keeps its anchors' weights as external data
  // in the anchor files beside it, which onnxruntime resolves from the model's own folder.
  it.session = await ort.InferenceSession.create(it.file, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  });
  it.feeds = { [it.session.inputNames[0]]: new ort.Tensor('float32', x1.data, x1.dims) };
  it.net = [];
  it.plain = [];
}
log(`${items.length} models, ${threads} thread(s); ${RUNS} interleaved rounds at batch 1`);
for (let r = -5; r < RUNS; r++) {
  for (const it of items) {
    net.use(it.id);
    // Alternate which goes first, so neither always follows the other's cache state.
    const pair =
      r % 2
        ? [
            ['net', () => net.run(x1)],
            ['plain', () => it.session.run(it.feeds)],
          ]
        : [
            ['plain', () => it.session.run(it.feeds)],
            ['net', () => net.run(x1)],
          ];
    for (const [k, fn] of pair) {
      const ms = await timeOnce(fn);
      if (r >= 0) it[k].push(ms);
    }
  }
}
for (const it of items) {
  it.netMs = median(it.net);
  it.plainMs = median(it.plain);
  it.ratio = it.netMs / it.plainMs;
}
const rho = spearman(
  items.map((i) => i.macs),
  items.map((i) => i.netMs),
);
const rhoPlain = spearman(
  items.map((i) => i.macs),
  items.map((i) => i.plainMs),
);

// 2. use(): a pointer change.
const useTimes = [];
for (let r = 0; r < 2000; r++) {
  const id = items[r % items.length].id;
  const t = performance.now();
  net.use(id);
  useTimes.push(performance.now() - t);
}
await net.dispose();

// 3. The first calls after use() of a configuration whose fused session is not built (a budget
// that holds the two smallest configurations' files; warm: 'all' warmed the segments of the rest).
const configs = items.filter((i) => !i.anchor);
const sizes = configs.map((c) => readFileSync(c.file).length).sort((a, b) => a - b);
const budget = sizes[0] + sizes[1];
const tight = await ReStNet.load(dir, { memoryBudgetBytes: budget });
const shared = await ReStNet.load(dir, { mode: 'shared', threads });
const cold = [];
for (let round = 0; round < 10; round++) {
  for (const c of configs) {
    if (tight.memory().fused.ids.includes(c.id)) continue;
    tight.use(c.id);
    const first = await timeOnce(() => tight.run(x1));
    const second = await timeOnce(() => tight.run(x1));
    await tight.ready();
    const fused = await timeOnce(() => tight.run(x1));
    // The same switch on the segments-only family: its first call after use(), then its steady latency.
    shared.use(c.id);
    const sharedFirst = await timeOnce(() => shared.run(x1));
    const seg = [];
    for (let k = 0; k < 5; k++) seg.push(await timeOnce(() => shared.run(x1)));
    cold.push({ id: c.id, first, second, fused, sharedFirst, segments: median(seg) });
  }
}
await tight.dispose();
await shared.dispose();
const coldBy = configs
  .map((c) => {
    const rows = cold.filter((r) => r.id === c.id);
    return {
      id: c.id,
      n: rows.length,
      first: median(rows.map((r) => r.first)),
      second: median(rows.map((r) => r.second)),
      fused: median(rows.map((r) => r.fused)),
      sharedFirst: median(rows.map((r) => r.sharedFirst)),
      segments: median(rows.map((r) => r.segments)),
    };
  })
  .filter((r) => r.n > 0);

// 4. Intra-op threads 1 vs 2, batch 1 and batch 32, on the largest anchor's file (interleaved).
const largest = items.filter((i) => i.anchor).sort((a, b) => b.macs - a.macs)[0];
const threadRows = [];
{
  const bytes = readFileSync(largest.file);
  const cands = [1, 2].map((t) => ({ t, b1: [], b32: [] }));
  for (const c of cands) {
    c.session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: c.t, interOpNumThreads: 1 });
    c.f1 = { [c.session.inputNames[0]]: new ort.Tensor('float32', x1.data, x1.dims) };
    c.f32 = { [c.session.inputNames[0]]: new ort.Tensor('float32', x32.data, x32.dims) };
  }
  for (let r = -2; r < 40; r++) {
    for (const c of cands) {
      const a = await timeOnce(() => c.session.run(c.f1));
      const b = await timeOnce(() => c.session.run(c.f32));
      if (r >= 0) {
        c.b1.push(a);
        c.b32.push(b);
      }
    }
  }
  for (const c of cands) {
    threadRows.push({ t: c.t, b1: median(c.b1), b32: median(c.b32) });
    await c.session.release();
  }
}
for (const it of items) await it.session.release();
if (built) rmSync(dir, { recursive: true, force: true });

const m = machine(capabilities());
const us = (ms) => `${fmt(ms * 1000, 1)} µs`;
let md = '## Runtime: net.run against one fused file\n\n';
md += `Written by \`bench/runtime.bench.mjs\` on ${new Date().toISOString().slice(0, 10)}: ${m.cpu}, ${m.cores} cores, Node ${m.node}, onnxruntime-node ${ort.env.versions?.common ?? ''}. `;
md += `The machine was busy (shared with other jobs; load average ${fmt(load0, 1)} on ${m.cores} cores when this started): every figure is a median of interleaved runs, read the ratios rather than the milliseconds.\n\n`;
md += `Family: \`restnet demo --pairs cnn-l/cnn-s --calibration 64 --refine-images 64 --refine-epochs 1 --eval 100\`, loaded with \`ReStNet.load(dir)\` defaults (mode auto, warm all, ${threads} intra-op thread(s) as measured at load; load took ${fmt(loadMs / 1000, 2)} s). `;
md += `Batch 1, ${RUNS} rounds; each round runs every model once through \`net.use(id); net.run(x)\` and once through its own \`<id>.onnx\` in a plain onnxruntime session (same threads), alternating which goes first.\n\n`;
md += '| id | MMACs | `net.run` ms | one file ms | ratio |\n|---|---:|---:|---:|---:|\n';
for (const it of items)
  md += `| ${it.id}${it.anchor ? ' (anchor)' : ''} | ${fmt(it.macs / 1e6, 1)} | ${fmt(it.netMs, 3)} | ${fmt(it.plainMs, 3)} | ${fmt(it.ratio, 2)} |\n`;
const worst = Math.max(...items.map((i) => i.ratio));
md += `\nWorst ratio ${fmt(worst, 2)} (target <= 1.15: ${worst <= 1.15 ? 'met' : 'missed'}). `;
md += `Spearman rank correlation of MACs and \`net.run\` latency: ${fmt(rho, 3)} (target >= 0.9: ${rho >= 0.9 ? 'met' : 'missed'}; the plain sessions' own: ${fmt(rhoPlain, 3)}).\n\n`;
const sortedUse = [...useTimes].sort((a, b) => a - b);
const p99 = sortedUse[Math.ceil(0.99 * sortedUse.length) - 1];
md += `\`use(id)\`: median ${us(median(useTimes))}, p99 ${us(p99)}, max ${us(sortedUse.at(-1))} over ${useTimes.length} switches (target < 1 ms: ${p99 < 1 ? 'met' : 'missed'} at p99; \`use()\` is a synchronous reference swap, so a max above that is the process being descheduled or collecting garbage, not work inside it).\n\n`;
md += `### A configuration whose fused session is not built\n\nLoaded with \`memoryBudgetBytes: ${budget}\` (the two smallest configurations' files): using the others in turn evicts and rebuilds. Per configuration not held: the first call after \`use()\` (on the shared segments; the build starts after it returns), the second (which may wait for that synchronous build), and a call once the session is built; against the same switch on a family loaded with \`mode: 'shared'\` (its first call after \`use()\`, and its steady latency). Medians over ${cold.length / Math.max(coldBy.length, 1)} rounds, ms.\n\n`;
md +=
  '| id | first call | second call | fused | shared mode: first call | shared mode: steady |\n|---|---:|---:|---:|---:|---:|\n';
for (const r of coldBy)
  md += `| ${r.id} | ${fmt(r.first, 3)} | ${fmt(r.second, 3)} | ${fmt(r.fused, 3)} | ${fmt(r.sharedFirst, 3)} | ${fmt(r.segments, 3)} |\n`;
md += `\n### Intra-op threads\n\n${largest.id}'s file in one session, interleaved, 40 runs each, median ms:\n\n| threads | batch 1 | batch 32 |\n|---:|---:|---:|\n`;
for (const r of threadRows) md += `| ${r.t} | ${fmt(r.b1, 3)} | ${fmt(r.b32, 2)} |\n`;
writeResults('runtime', md);
console.log(md);
