// The ReStNet method on the zoo, measured: for each anchor pair present in zoo/ (cnn-l -> cnn-s,
// vit-l -> vit-s, and the heterogeneous cnn-l -> vit-s, vit-l -> cnn-s, cnn-s -> vit-s), the CKA-planned
// large-front configurations fitted by least squares and evaluated on the shipped eval split
// and refined on the task (accuracy, latency, MACs, params, memory, CKA, residual, fit time),
// against the anchors; then the ablations in the same run: CKA-chosen vs randomly chosen back
// cuts (least squares, several seeds; refined, one seed), large-front vs small-front, least
// squares alone vs least squares + task refinement, and the cost of fitting every stitch vs
// training the anchors from scratch (the zoo's trainSeconds). Writes bench/results/restnet.md.
//
// Env: BENCH_PAIRS="cnn-l:cnn-s,vit-l:vit-s" (default: every listed pair whose anchors exist),
// BENCH_CAL (calibration images for CKA and least squares, default 1000; refinement trains on
// all 5,000), BENCH_EVAL (eval images, default 5000),
// BENCH_ABLATION_EVAL (eval images for the ablations, default 2000), BENCH_RANDOM_SEEDS (random-cut draws, default 3), BENCH_THREADS (onnxruntime threads, default 2).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  analyze,
  capabilities,
  evaluate,
  fit,
  loadAnchor,
  loadZooManifest,
  loadZooSplit,
  plan,
  ReStNet,
} from '../dist/index.js';
import { zooPath } from '../dist/data/zoo.js';
import { refineSettings } from '../dist/restnet/refine.js';
import { fmt, machine, median, writeResults } from './harness.mjs';

/** Median ms per sample at batch 1 of a whole ONNX file in one onnxruntime session (the fused export, or an anchor's own file). */
async function singleSessionMs(bytes, runs = 15) {
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: THREADS, interOpNumThreads: 1 });
  const x = new ort.Tensor('float32', evalSplit.images.slice(0, 784), [1, 1, 28, 28]);
  const feeds = { [session.inputNames[0]]: x };
  await session.run(feeds);
  const times = [];
  for (let r = 0; r < runs; r++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  await session.release();
  return median(times);
}

const CAL = Number(process.env.BENCH_CAL ?? 1000);
const EVAL = Number(process.env.BENCH_EVAL ?? 5000);
// The ablations compare means over configurations; they use the first BENCH_ABLATION_EVAL eval
// images (default 2000) to keep the run within minutes on 2 shared cores.
const ABLATION_EVAL = Math.min(EVAL, Number(process.env.BENCH_ABLATION_EVAL ?? 2000));
const SEEDS = Number(process.env.BENCH_RANDOM_SEEDS ?? 3);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
// fit()'s refinement defaults (epochs, batch 32, peak lr with a cosine, distill 0.5 from the front
// anchor), on every calibration image: this bench has no validation split (the demo's Pareto
// filter and its targets are bench/pareto.bench.mjs).
const REFINE = {};
const SETTINGS = refineSettings(REFINE);

const zoo = loadZooManifest();
const present = new Set(zoo.anchors.filter((a) => existsSync(zooPath(a.file))).map((a) => a.name));
const wanted = (process.env.BENCH_PAIRS ?? 'cnn-l:cnn-s,vit-l:vit-s,cnn-l:vit-s,vit-l:cnn-s')
  .split(',')
  .map((p) => p.split(':'));
let pairs = wanted.filter(([a, b]) => present.has(a) && present.has(b));
const missing = wanted.filter(([a, b]) => !(present.has(a) && present.has(b))).map((p) => p.join(' -> '));
// With only one anchor trained, the pipeline still runs (self-stitching), so the bench never fails on a partial zoo.
if (pairs.length === 0 && present.size > 0) pairs = [[[...present][0], [...present][0]]];

const calibration = loadZooSplit('calibration');
const evalSplit = loadZooSplit('eval');
const log = (...a) => console.error(`[restnet bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const pct = (x) => (x === null || x === undefined ? '-' : `${(x * 100).toFixed(2)}`);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const short = (c) => `${c.frontCut} -> ${c.backCut}`;
const mega = (x) => (x / 1e6).toFixed(2);

async function accuracyOnly(net) {
  await evaluate(net, evalSplit, undefined, { evalLimit: ABLATION_EVAL, latency: false });
  return net.configs;
}

const sections = [];
const summary = [];
for (const [nameA, nameB] of pairs) {
  const t0 = performance.now();
  log(`${nameA} x ${nameB}: loading`);
  const a = await loadAnchor(nameA, { threads: THREADS });
  const b = nameA === nameB ? a : await loadAnchor(nameB, { threads: THREADS });
  const analysis = await analyze(a, b, calibration, { calibrationLimit: CAL });
  log(`analysis ${analysis.seconds.toFixed(1)} s`);
  const main = plan(analysis, { order: 'large-front' });
  const fitStart = performance.now();
  const net = await fit(main, calibration, { calibrationLimit: CAL, refine: REFINE });
  const fitSeconds = (performance.now() - fitStart) / 1000;
  log(`fit ${fitSeconds.toFixed(1)} s, ${net.ids.length} configurations`);
  const ev = await evaluate(net, evalSplit, undefined, { evalLimit: EVAL });
  log(`evaluate ${ev.seconds.toFixed(1)} s`);
  const dir = mkdtempSync(join(tmpdir(), 'restnet-bench-'));
  await net.save(dir);
  const loaded = await ReStNet.load(dir, { threads: THREADS });
  const sessionsBefore = loaded.sessionCount;
  let switchMs = 0;
  for (const id of [...loaded.ids, ...loaded.ids]) {
    const s = performance.now();
    loaded.use(id);
    switchMs = Math.max(switchMs, performance.now() - s);
  }
  const memory = loaded.memory();
  // The same configurations as one fused ONNX file each (one session per configuration: what a
  // device that runs a single configuration would deploy), and the anchors' own files.
  const fusedMs = new Map();
  for (const id of loaded.ids) fusedMs.set(id, await singleSessionMs((await loaded.export(id)).bytes));
  for (const x of new Set([a, b])) fusedMs.set(x.name, await singleSessionMs(x.bytes));
  const sessionsAfter = loaded.sessionCount;
  await loaded.dispose();
  rmSync(dir, { recursive: true, force: true });

  // Ablations, accuracy only, same calibration and eval images.
  const lsOnly = await accuracyOnly(await fit(main, calibration, { calibrationLimit: CAL }));
  const randomRuns = [];
  for (let seed = 1; seed <= SEEDS; seed++) {
    const p = plan(analysis, { order: 'large-front', choice: 'random', seed });
    randomRuns.push({ seed, configs: await accuracyOnly(await fit(p, calibration, { calibrationLimit: CAL })) });
  }
  const randomRefined = await accuracyOnly(
    await fit(plan(analysis, { order: 'large-front', choice: 'random', seed: 1 }), calibration, {
      calibrationLimit: CAL,
      refine: REFINE,
    }),
  );
  const smallPlan = plan(analysis, { order: 'small-front' });
  const small =
    smallPlan.configs.length > 0
      ? await accuracyOnly(await fit(smallPlan, calibration, { calibrationLimit: CAL, refine: REFINE }))
      : [];
  log(`ablations done`);

  const [large, smallAnchor] = [
    ev.anchors.find((x) => x.name === main.large),
    ev.anchors.find((x) => x.name === main.small),
  ].map((r) => ({ ...r }));
  const configs = ev.configs.map((c) => ({ ...c }));
  const lo = Math.min(a.macs, b.macs),
    hi = Math.max(a.macs, b.macs);
  const floor = smallAnchor.accuracy - 0.03;
  const checks = {
    count: configs.length >= 4,
    // A self-stitch (one anchor) has no range: every configuration costs the anchor + a stitch.
    cost: lo === hi || configs.every((c) => c.macs >= lo && c.macs <= hi),
    accuracy: configs.every((c) => c.accuracy >= floor),
  };
  const randomMean = mean(randomRuns.map((r) => mean(r.configs.map((c) => c.accuracy))));
  const smallMean = small.length ? mean(small.map((c) => c.accuracy)) : NaN;
  const lsMean = mean(lsOnly.map((c) => c.accuracy));
  const randomRefinedMean = mean(randomRefined.map((c) => c.accuracy));
  const trainable = configs.reduce((n, c) => n + c.trainableParams, 0);
  const fitAll = configs.reduce((n, c) => n + c.fitSeconds, 0);
  const scratch = (a.zoo?.trainSeconds ?? NaN) + (b === a ? 0 : (b.zoo?.trainSeconds ?? NaN));
  // The CKA plan again on the ablation images (this overwrites net's records; the copies above keep the full-eval numbers).
  const ckaMean = mean((await accuracyOnly(net)).map((c) => c.accuracy));
  const worst = Math.min(...configs.map((c) => c.accuracy));
  summary.push({
    pair: `${main.large} -> ${main.small}`,
    n: configs.length,
    checks,
    worst,
    floor,
    ckaMean,
    lsMean,
    randomMean,
    randomRefinedMean,
    smallMean,
    large,
    smallAnchor,
    trainable,
    fitAll,
    scratch,
    seconds: (performance.now() - t0) / 1000,
  });

  let md = `### ${main.large} -> ${main.small}\n\n`;
  md += `Calibration: ${analysis.samples} images (CKA: ${analysis.batches} minibatches of 128, linear, flattened activations; least squares on every position; then refined on the task: ${SETTINGS.epochs} epochs at peak lr ${SETTINGS.lr} over all ${calibration.rows} calibration images, cross-entropy against labels mixed 1:1 with ${main.large}'s probabilities, through the frozen back). Eval: ${ev.samples} images of the shipped eval split. Latency: median of 15 runs at batch 1 (ms per sample) and of 5 runs at batch 32 (ms per batch), ${THREADS} onnxruntime threads, through the shared-segment runtime (an anchor too runs as its chain of segments); 'one file' is batch 1 of the fused export (or the anchor's own file) in a single session.\n\n`;
  md +=
    '| configuration | cut (front -> back) | CKA | accuracy % | ms (b1) | ms (b32) | ms (b1, one file) | MMACs | params | memory KB | LS residual | fit s | stitch params |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
  for (const r of main.large === main.small ? [large] : [large, smallAnchor])
    md += `| **${r.name}** (anchor) | - | - | ${pct(r.accuracy)} | ${fmt(r.latencyMs, 3)} | ${fmt(r.latencyBatch32Ms, 2)} | ${fmt(fusedMs.get(r.name), 3)} | ${mega(r.macs)} | ${r.params} | ${(r.memoryBytes / 1024).toFixed(0)} | - | - | - |\n`;
  for (const c of [...configs].sort((x, y) => x.macs - y.macs)) {
    md += `| ${c.front} -> ${c.back} | ${short(c)} | ${fmt(c.cka, 3)} | ${pct(c.accuracy)} | ${fmt(c.latencyMs, 3)} | ${fmt(c.latencyBatch32Ms, 2)} | ${fmt(fusedMs.get(c.id), 3)} | ${mega(c.macs)} | ${c.params} | ${(c.memoryBytes / 1024).toFixed(0)} | ${c.residual.toExponential(2)} | ${fmt(c.fitSeconds, 2)} | ${c.trainableParams} |\n`;
  }
  md += `\nChecks: ${configs.length} configurations (>= 4: ${checks.count ? 'yes' : 'NO'}); cost between the anchors (${mega(lo)}-${mega(hi)} MMACs: ${checks.cost ? 'yes' : 'NO'}); none below the small anchor's accuracy - 3 points (${pct(floor)}%: ${checks.accuracy ? 'yes' : 'NO'}).`;
  if (main.skipped.length)
    md += ` Front cuts without a configuration: ${main.skipped.map((s) => `${s.frontCut} (${s.reason})`).join('; ')}.`;
  md += `\n\nMemory: both anchors + all ${memory.configs} stitches = ${(memory.totalModelBytes / 1024).toFixed(0)} KB of model (${(memory.stitchBytes / 1024).toFixed(1)} KB of stitches), ${sessionsBefore} onnxruntime sessions after loading, ${sessionsAfter} after switching through every configuration (slowest use(): ${switchMs.toFixed(3)} ms); process RSS ${(memory.rssBytes / 2 ** 20).toFixed(0)} MB.\n\n`;
  md += `| ablation (mean accuracy over the configurations, %, first ${Math.min(ABLATION_EVAL, ev.samples)} eval images) | value |\n|---|---:|\n`;
  md += `| CKA-chosen back cut, large-front, least squares + task refinement (the configurations above) | ${pct(ckaMean)} |\n`;
  md += `| CKA-chosen back cut, least squares alone | ${pct(lsMean)} |\n`;
  md += `| random back cut, least squares alone (${SEEDS} seeds; ${randomRuns.map((r) => `seed ${r.seed}: ${pct(mean(r.configs.map((c) => c.accuracy)))}`).join(', ')}) | ${pct(randomMean)} |\n`;
  md += `| random back cut (seed 1), least squares + task refinement | ${pct(randomRefinedMean)} |\n`;
  md += `| small-front, refined (${small.length} configurations: ${small.map((c) => `${short(c)} ${pct(c.accuracy)}`).join('; ') || 'none'}) | ${small.length ? pct(smallMean) : '-'} |\n`;
  md += `\nFitting all ${configs.length} stitches: ${fmt(fitAll, 1)} s and ${trainable} trainable parameters, vs training the anchors from scratch: ${fmt(scratch, 0)} s (zoo trainSeconds${b === a ? '' : ', both anchors'}) and ${a.params + (b === a ? 0 : b.params)} parameters.\n\n`;
  sections.push(md);
  for (const x of new Set([a, b])) await x.model.dispose();
  log(`${nameA} x ${nameB}: ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}

const m = machine(capabilities());
let out = '## ReStNet on the zoo: stitched configurations, ablations, fitting cost\n\n';
out += `${m.cpu}, ${m.cores} cores, Node ${m.node}, SIMD path ${m.simd}. Pairs: ${summary.map((s) => s.pair).join(', ') || 'none'}${missing.length ? ` (not run, anchors not in zoo/ yet: ${missing.join(', ')})` : ''}.\n\n`;
out += `Means over a plan's configurations on the first ${ABLATION_EVAL} eval images; 'worst' is the least accurate configuration on the full eval split against the floor (small anchor - 3 points).\n\n`;
out +=
  '| pair | configs | checks | worst % (floor) | CKA cut, LS + refine % | CKA cut, LS % | random cut, LS % | random cut, LS + refine % | small-front, refined % | fit all s | anchors from scratch s |\n|---|---:|:-:|---:|---:|---:|---:|---:|---:|---:|---:|\n';
for (const s of summary) {
  out += `| ${s.pair} | ${s.n} | ${Object.values(s.checks).every(Boolean) ? 'pass' : 'FAIL'} | ${pct(s.worst)} (${pct(s.floor)}) | ${pct(s.ckaMean)} | ${pct(s.lsMean)} | ${pct(s.randomMean)} | ${pct(s.randomRefinedMean)} | ${Number.isNaN(s.smallMean) ? '-' : pct(s.smallMean)} | ${fmt(s.fitAll, 1)} | ${fmt(s.scratch, 0)} |\n`;
}
out += `\n${sections.join('\n')}`;
writeResults('restnet', out);
console.log(out);
