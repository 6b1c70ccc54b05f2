// The refinement levers of issue 12, one pair at a time, measured on the validation split only
// (1,000 calibration images held out by holdOut(..., 1000, 0); the rest trains). For each variant:
// each configuration's validation accuracy, its distance to the line between the anchors there,
// and the fit time. Appends one JSON line per variant to bench/results/pareto-levers.jsonl and
// prints a markdown row. Never reads the eval split or Fashion-MNIST test images.
//
//   node bench/pareto-levers.mjs cnn-l cnn-s '[{"name":"base","refine":{}}, {"name":"flip","refine":{"augment":["flip"]}}]'
//
// A variant: { name, refine: RefineOptions, plan?: PlanOptions, validationEarlyStop?: boolean (default true), trainImages?: number }.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

import { analyze, fit, holdOut, lineAt, loadAnchor, loadZooSplit, markPareto, plan } from '../dist/index.js';
import { benchDir } from './harness.mjs';

const [nameA, nameB, variantsJson] = process.argv.slice(2);
const variants = JSON.parse(variantsJson);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const log = (...a) => console.error(`[levers ${new Date().toISOString().slice(11, 19)}]`, ...a);

const a = await loadAnchor(nameA, { threads: THREADS });
const b = await loadAnchor(nameB, { threads: THREADS });
const { train, validation } = holdOut(loadZooSplit('calibration'), 1000, 0);
const analysis = await analyze(a, b, train, { calibrationLimit: 1000 });
log(`analysis ${analysis.seconds.toFixed(1)} s`);
for (const v of variants) {
  const planned = plan(analysis, v.plan ?? {});
  // extraOnly: fit only the configurations the default plan does not have (the rest are the base run's).
  if (v.extraOnly) {
    const base = new Set(plan(analysis).configs.map((c) => c.id));
    planned.configs = planned.configs.filter((c) => !base.has(c.id));
  }
  const data = v.trainImages ? holdOut(train, train.rows - v.trainImages, 1).train : train;
  const t0 = performance.now();
  const net = await fit(planned, data, {
    calibrationLimit: 1000,
    refine: v.refine ?? {},
    ...(v.validationEarlyStop === false ? {} : { validation }),
  });
  const seconds = (performance.now() - t0) / 1000;
  const report = await markPareto(net, validation, { lineMargin: 0.01 });
  const anchors = net.anchorRecords.map((r) => ({
    id: r.name,
    kind: 'anchor',
    macs: r.macs,
    accuracy: report.accuracy.get(r.name),
  }));
  const small = anchors.reduce((x, y) => (x.macs <= y.macs ? x : y));
  const configs = net.configs.map((c) => {
    const acc = report.accuracy.get(c.id);
    const line = lineAt(anchors, c.macs);
    // Standard error of (accuracy - line) over the validation images: per image,
    // d = [config right] - (1 - t) [small right] - t [large right], paired on the same images.
    const large = anchors.find((x) => x !== small);
    const t = (c.macs - small.macs) / (large.macs - small.macs);
    const right = (id) => {
      const p = report.predictions.get(id);
      return (i) => (p[i] === validation.labels[i] ? 1 : 0);
    };
    const [rc, rs, rl] = [right(c.id), right(small.id), right(large.id)];
    const d = Array.from({ length: validation.rows }, (_, i) => rc(i) - (1 - t) * rs(i) - t * rl(i));
    const md = d.reduce((x, y) => x + y, 0) / d.length;
    const se = Math.sqrt(d.reduce((x, y) => x + (y - md) ** 2, 0) / (d.length - 1) / d.length);
    return {
      id: c.id,
      macs: c.macs,
      accuracy: acc,
      vsLine: line === null ? null : acc - line,
      vsLineSE: se,
      vsSmall: acc - small.accuracy,
      pareto: c.pareto,
      reason: c.reason ?? null,
    };
  });
  const between = configs.filter((c) => c.vsLine !== null);
  const meanGap = between.reduce((s, c) => s + c.vsLine, 0) / Math.max(1, between.length);
  const row = {
    pair: `${nameA}->${nameB}`,
    name: v.name,
    variant: v,
    trainImages: data.rows,
    seconds,
    anchors,
    configs,
    meanGap,
    offered: configs.filter((c) => c.pareto).length,
  };
  appendFileSync(join(benchDir, 'results', 'pareto-levers.jsonl'), `${JSON.stringify(row)}\n`);
  const pt = (x) => (x === null ? '-' : `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}`);
  console.log(
    `| ${row.pair} | ${v.name} | ${configs.map((c) => `${(c.macs / 1e6).toFixed(1)}: ${(c.accuracy * 100).toFixed(1)} (${pt(c.vsLine)} +- ${(c.vsLineSE * 100).toFixed(2)})`).join('; ')} | ${pt(meanGap)} | ${row.offered}/${configs.length} | ${seconds.toFixed(0)} |`,
  );
  log(`${v.name}: mean vs line ${pt(meanGap)} pt, ${seconds.toFixed(0)} s`);
  await net.dispose();
}
