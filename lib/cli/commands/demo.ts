// `restnet demo`: the whole method on the bundled zoo with no arguments: for cnn-l/cnn-s,
// vit-l/vit-s and a CNN/Transformer pair, CKA analysis, plan, fit, evaluate, save, fused export,
// a table per pair, the heat maps and Pareto plots.
import { join } from 'node:path';

import type { Anchor } from '../../restnet/anchor.js';
import { UsageError, CliError } from '../args.js';
import type { Command } from '../context.js';
import { ensureOutDir, writeFileAtomic } from '../files.js';
import { formatSeconds } from '../output.js';
import { loadDataArg, loadModelArg, resultsTable, zooAnchorsPresent } from '../pipeline.js';
import { ANALYZE_FLAGS } from './analyze.js';
import { FIT_FLAGS, stitchPair, type PairResult } from './stitch.js';

export const DEFAULT_PAIRS: [string, string][] = [
  ['cnn-l', 'cnn-s'],
  ['vit-l', 'vit-s'],
  ['cnn-l', 'vit-s'],
];

function parsePairs(text: string): [string, string][] {
  return text.split(',').map((p) => {
    const m = /^\s*([^/\s]+)\s*\/\s*([^/\s]+)\s*$/.exec(p);
    if (!m) throw new UsageError(`--pairs: expected A/B[,C/D...] such as cnn-l/cnn-s, got ${p}`);
    return [m[1]!, m[2]!];
  });
}

export const demo: Command = {
  spec: {
    name: 'demo',
    summary: 'The whole method on the bundled zoo: analyze, plan, fit, evaluate, save, export, plots.',
    description: [
      'Stitches three pairs of zoo anchors (Fashion-MNIST): cnn-l/cnn-s, vit-l/vit-s and the',
      'CNN/Transformer pair cnn-l/vit-s, and prints a table per pair (configuration, cut points, CKA,',
      'accuracy, latency, MACs, params) with the anchors. Writes into --out:',
      '  manifest.json + anchors, stitches and fused <id>.onnx of the first pair (the runtime format:',
      '  restnet select / export DIR, ReStNet.load(DIR)); the other pairs in DIR/<front>-<back>/;',
      '  cka-<A>-<B>.svg/.json and pareto-<front>-<back>.svg per pair; demo.json, a summary.',
      'Holds 1,000 calibration images out as a validation split and marks configurations that an',
      'anchor or a cheaper configuration beats there (or that lie over a point below the line between',
      'the anchors) as not offered; accuracy is measured on all 5,000 eval images, with a 95% interval.',
      'Takes 5-8 minutes on 2 idle cores with the defaults, most of it training the stitches on the',
      'task; --refine-images, --refine-epochs, --no-refine, --calibration and --eval make it quicker.',
    ].join('\n'),
    positionals: [],
    flags: [
      { name: 'out', short: 'o', type: 'string', value: 'DIR', help: 'output directory', defaultText: './restnet-out' },
      {
        name: 'pairs',
        type: 'string',
        value: 'A/B,...',
        help: 'zoo anchor pairs to stitch',
        defaultText: DEFAULT_PAIRS.map((p) => p.join('/')).join(','),
      },
      ...ANALYZE_FLAGS.filter((f) => f.name !== 'max-cuts'),
      ...FIT_FLAGS,
      {
        name: 'latency-runs',
        type: 'integer',
        value: 'N',
        min: 1,
        help: 'timed runs per configuration at batch 1',
        defaultText: '15',
      },
    ],
    examples: ['restnet demo', 'restnet demo --out /tmp/demo --calibration 200 --eval 500'],
  },
  async run(ctx) {
    const started = performance.now();
    const out = ensureOutDir(ctx.args.string('out', './restnet-out'));
    const requested = ctx.args.has('pairs') ? parsePairs(ctx.args.string('pairs')!) : DEFAULT_PAIRS;
    const present = zooAnchorsPresent();
    const pairs = requested.filter(([a, b]) => {
      const missing = [a, b].filter((m) => !present.includes(m));
      if (missing.length)
        ctx.progress.note(
          `skipping ${a}/${b}: zoo anchor ${missing.join(', ')} not in this installation${ctx.args.has('pairs') ? '' : ' (still training?)'}`,
        );
      return missing.length === 0;
    });
    if (pairs.length === 0)
      throw new CliError(`demo: no pair of zoo anchors available (present: ${present.join(', ') || 'none'})`);

    const cache = new Map<string, Anchor>();
    const results: { pair: [string, string]; dir: string; result: PairResult }[] = [];
    for (const [k, [nameA, nameB]] of pairs.entries()) {
      ctx.progress.note(`\n== ${nameA} / ${nameB} (${k + 1} of ${pairs.length}) ==`);
      const a = await loadModelArg(nameA, ctx, cache);
      const b = await loadModelArg(nameB, ctx, cache);
      // Every calibration image: --calibration limits the CKA and least squares, refinement trains on all.
      const calibration = loadDataArg('zoo:calibration', undefined, a);
      const evaluation = loadDataArg('zoo:eval', undefined, a, ctx.args.number('eval', Infinity));
      const dir = k === 0 ? out : ensureOutDir(join(out, `${nameA}-${nameB}`));
      // Plots of every pair go to the top directory.
      const result = await stitchPair(ctx, a, b, calibration, evaluation, dir, {
        plotsDir: out,
        latencyRuns: ctx.args.number('latency-runs', 15),
      });
      results.push({ pair: [nameA, nameB], dir, result });
      if (!ctx.json) {
        ctx.print(
          `\n${nameA} / ${nameB}: front ${result.net.configs[0]!.front}, back ${result.net.configs[0]!.back}, ${result.net.ids.length} stitched configurations`,
        );
        ctx.print(resultsTable(result.net));
      }
    }
    const summary = {
      out,
      seconds: (performance.now() - started) / 1000,
      pairs: results.map(({ pair, dir, result }) => ({
        a: pair[0],
        b: pair[1],
        dir,
        manifest: result.files.manifest,
        cka: result.files.cka,
        pareto: result.files.pareto,
        anchors: result.net.anchorRecords,
        configs: result.net.configs,
        skipped: result.skipped,
      })),
    };
    writeFileAtomic(join(out, 'demo.json'), `${JSON.stringify(summary, null, 2)}\n`);
    for (const { result } of results) await result.net.dispose();
    if (ctx.json) {
      ctx.print(JSON.stringify(summary, null, 2));
      return;
    }
    ctx.print(`\nwrote ${out} in ${formatSeconds(performance.now() - started)}:`);
    for (const { pair, result } of results) {
      ctx.print(`  ${pair.join('/')}: ${result.files.manifest}, ${result.files.cka.svg}, ${result.files.pareto}`);
    }
    ctx.print(
      `try: restnet select ${out} --max-latency-ms <X>   (the first pair; the others: restnet select ${out}/<A>-<B> ...)`,
    );
  },
};
