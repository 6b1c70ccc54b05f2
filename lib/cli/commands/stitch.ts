// `restnet stitch A.onnx B.onnx --data DATA --out DIR`: analyze -> plan -> fit -> evaluate ->
// save (manifest, anchors, stitches, fused ONNX per configuration), with the heat map and the
// Pareto plot beside them.
import { existsSync } from 'node:fs';

import { analyze } from '../../restnet/analyze.js';
import type { Anchor } from '../../restnet/anchor.js';
import { evaluate } from '../../restnet/evaluate.js';
import { fit, type FitPipelineOptions } from '../../restnet/fit.js';
import { loadData, type ModelRows, type SampleSet } from '../../formats/index.js';
import { holdOut, markPareto } from '../../restnet/pareto.js';
import { plan, type PlanOptions } from '../../restnet/plan.js';
import type { ReStNet } from '../../restnet/runtime.js';
import { CliError, UsageError } from '../args.js';
import type { CliContext, Command } from '../context.js';
import { ensureOutDir, removeIfEmpty } from '../files.js';
import {
  analysisJson,
  loadDataArg,
  loadModelArg,
  onProgress,
  resultsTable,
  saveNet,
  writeAnalysis,
  writePareto,
} from '../pipeline.js';
import { analyzeOptions, ANALYZE_FLAGS } from './analyze.js';
import { DATA_FLAGS, DATA_HELP, dataArg, type FlagSpec } from './common.js';

/** Candidates per front cut in `stitch` and `demo` (bench/results/pareto.md). */
export const DEFAULT_PER_FRONT = 1;

/** Candidates for the deepest front cut in `stitch` and `demo` (bench/results/pareto.md). */
export const DEFAULT_DEEPEST_FRONT = 3;

/** A CNN front's stitch in `stitch` and `demo`: per pixel (3 x 3 did not pay for its MACs: bench/results/pareto.md). */
export const DEFAULT_STITCH_KERNEL = 1;

export const FIT_FLAGS: FlagSpec[] = [
  { name: 'eval', type: 'integer', value: 'N', min: 1, help: 'evaluation images for accuracy', defaultText: 'all' },
  {
    name: 'validation',
    type: 'integer',
    value: 'N',
    min: 0,
    help: 'calibration images held out (seeded draw) to mark dominated configurations; 0: offer every one',
    defaultText: '1000',
  },
  {
    name: 'line-margin',
    type: 'number',
    value: 'PT',
    min: 0,
    help: 'drop configurations more than PT points below the line between the anchors on the validation split',
    defaultText: '1',
  },
  {
    name: 'order',
    type: 'string',
    value: 'ORDER',
    choices: ['large-front', 'small-front', 'both'],
    help: "stitching direction (ReStNet's: the larger model's front)",
    defaultText: 'large-front',
  },
  {
    name: 'per-front',
    type: 'integer',
    value: 'N',
    min: 1,
    help: 'candidate configurations per front cut (the CKA choice, then the next-highest-CKA back cuts); the validation split keeps the ones worth offering',
    defaultText: String(DEFAULT_PER_FRONT),
  },
  {
    name: 'deepest-front',
    type: 'integer',
    value: 'N',
    min: 1,
    help: "candidate configurations for the deepest front cut (its CKA choice, then the next-highest-CKA back cuts; at least --per-front): the deepest stitch keeps most of the larger anchor's accuracy, other back cuts trade MACs for little of it",
    defaultText: String(DEFAULT_DEEPEST_FRONT),
  },
  {
    name: 'stitch-kernel',
    type: 'string',
    value: 'K',
    choices: ['1', '3', '5'],
    help: "a CNN front's stitch as a K x K convolution (odd K; 1: a per-pixel linear map); a Transformer front's is per token",
    defaultText: String(DEFAULT_STITCH_KERNEL),
  },
  {
    name: 'no-rectify',
    type: 'boolean',
    help: "keep every stitch linear: no ReLU at the end of a refined stitch whose back's cut is a ReLU output",
  },
  {
    name: 'cost-range',
    type: 'string',
    value: 'RANGE',
    choices: ['anchors', 'any'],
    help: "keep configurations between the anchors' MACs, or all",
    defaultText: 'anchors',
  },
  {
    name: 'no-refine',
    type: 'boolean',
    help: 'least squares only: skip training the stitches on the task (cross-entropy through the frozen back)',
  },
  {
    name: 'refine-epochs',
    type: 'integer',
    value: 'N',
    min: 1,
    help: 'passes over the calibration images when refining',
    defaultText: '6',
  },
  {
    name: 'refine-images',
    type: 'integer',
    value: 'N',
    min: 1,
    help: 'calibration images to refine on',
    defaultText: 'all',
  },
  {
    name: 'strict',
    type: 'boolean',
    help: 'fail when a configuration cannot be refined, instead of keeping its least-squares stitch (refined: false, refineError)',
  },
  {
    name: 'ridge',
    type: 'number',
    value: 'R',
    min: 0,
    help: 'ridge penalty per row of the least squares',
    defaultText: '1e-4',
  },
  { name: 'no-export', type: 'boolean', help: 'do not write the fused .onnx files (export later with restnet export)' },
  { name: 'force', type: 'boolean', help: 'replace a family of other anchors already in the output directory' },
];

export interface PairResult {
  net: ReStNet;
  files: { manifest: string; cka: { json: string; svg: string }; pareto: string };
  analysis: ReturnType<typeof analysisJson>;
  skipped: { frontCut: string; reason: string }[];
}

/** The whole method on one pair of loaded anchors; writes into `out`. */
export async function stitchPair(
  ctx: CliContext,
  a: Anchor,
  b: Anchor,
  calibration: ModelRows,
  evaluation: ModelRows,
  out: string,
  options: { plotsDir?: string; latencyRuns?: number } = {},
): Promise<PairResult> {
  const args = ctx.args;
  const plots = options.plotsDir ?? out;
  const calibrationLimit = args.number('calibration', 1000);
  const validationCount = args.number('validation', 1000);
  let validation: ModelRows | undefined;
  if (validationCount > 0) {
    if (!calibration.labels || calibration.rows < 2 * validationCount) {
      ctx.progress.note(
        `no validation split (${calibration.labels ? `${calibration.rows} calibration images, fewer than twice --validation ${validationCount}` : 'unlabelled calibration data'}): every configuration is offered`,
      );
    } else {
      // Seed 0: the same images every run. Everything below trains on the rest.
      ({ train: calibration, validation } = holdOut(calibration, validationCount, 0));
      ctx.progress.note(
        `validation: ${validationCount} calibration images held out (seeded draw) to mark dominated configurations; ${calibration.rows} left to fit on`,
      );
    }
  }
  ctx.progress.step(`CKA ${a.name} x ${b.name} (${a.cuts.length} x ${b.cuts.length} cuts)`);
  const analysis = await analyze(a, b, calibration, analyzeOptions(ctx));
  ctx.progress.end(`${analysis.samples} images`);

  const planOptions: PlanOptions = {};
  if (args.has('order')) planOptions.order = args.string('order') as PlanOptions['order'];
  planOptions.perFront = args.number('per-front', DEFAULT_PER_FRONT);
  planOptions.deepestFront = args.number('deepest-front', DEFAULT_DEEPEST_FRONT);
  planOptions.kernel = Number(args.string('stitch-kernel', String(DEFAULT_STITCH_KERNEL)));
  if (args.bool('no-rectify')) planOptions.rectify = false;
  if (args.has('cost-range')) planOptions.costRange = args.string('cost-range') as PlanOptions['costRange'];
  // fit's least squares sees this many images (sampleCount in fit.ts).
  planOptions.calibrationImages = Math.min(calibrationLimit, calibration.rows);
  const planned = plan(analysis, planOptions);
  if (planned.configs.length === 0) {
    // The heat map shows why: the run ends here, so it is written now.
    writeAnalysis(plots, analysis, planned);
    const why = planned.skipped.map((s) => `${s.frontCut}: ${s.reason}`).join('; ');
    throw new CliError(
      `${a.name} x ${b.name}: no stitched configuration is possible (${why || 'no candidate cuts'})${args.string('cost-range') !== 'any' ? "; --cost-range any keeps configurations outside the anchors' cost range" : ''}`,
    );
  }
  ctx.progress.note(
    `plan: ${planned.configs.length} configurations, front ${planned.configs[0]!.front}, back ${planned.configs[0]!.back}${planned.skipped.length ? ` (${planned.skipped.length} front cuts skipped)` : ''}`,
  );

  for (const c of planned.averaged) ctx.progress.note(`plan: ${c.id}: ${c.reason}`);
  const refine = !args.bool('no-refine');
  if (refine)
    for (const c of planned.leastSquaresOnly)
      ctx.progress.note(`plan: ${c.id} will be least squares only: ${c.reason}`);
  ctx.progress.step(
    `fitting ${planned.configs.length} stitches (capture + least squares${refine ? ' + refinement on the task' : ''})`,
  );
  const fitOptions: FitPipelineOptions = {
    signal: ctx.signal,
    onProgress: onProgress(ctx),
    calibrationLimit,
    strict: args.bool('strict'),
  };
  if (validation) fitOptions.validation = validation;
  if (args.has('ridge')) fitOptions.ridge = args.number('ridge')!;
  if (refine) {
    fitOptions.refine = {};
    if (args.has('refine-epochs')) fitOptions.refine.epochs = args.number('refine-epochs')!;
    if (args.has('refine-images')) fitOptions.refine.images = args.number('refine-images')!;
  }
  const net = await fit(planned, calibration, fitOptions);
  ctx.progress.end();

  ctx.progress.step(
    `evaluating ${net.ids.length} configurations and ${net.anchorRecords.length === 1 ? 'the anchor' : 'both anchors'}`,
  );
  const evalLimit = args.number('eval', Infinity);
  await evaluate(net, evaluation, evaluation.labels, {
    signal: ctx.signal,
    onProgress: onProgress(ctx, true),
    evalLimit,
    ...(options.latencyRuns !== undefined
      ? { latencyRuns: options.latencyRuns, latencyRunsBatch32: Math.max(1, Math.ceil(options.latencyRuns / 3)) }
      : {}),
  });
  ctx.progress.end(`${Math.min(evalLimit, evaluation.rows)} images`);

  if (validation) {
    ctx.progress.step(`marking dominated configurations on ${validation.rows} validation images`);
    const lineMargin = args.number('line-margin', 1) / 100;
    const report = await markPareto(net, validation, {
      signal: ctx.signal,
      onProgress: onProgress(ctx, true),
      lineMargin,
    });
    ctx.progress.end(`${[...report.verdicts.values()].filter((v) => v.pareto).length} of ${net.ids.length} offered`);
  }

  ctx.signal.throwIfAborted();
  ctx.progress.step(`saving to ${out}`);
  const manifest = await saveNet(net, out, {
    exportOnnx: !args.bool('no-export'),
    force: args.bool('force'),
    signal: ctx.signal,
  });
  // The plots go with the saved family: an interrupted run leaves none of its files beside the old one.
  const cka = writeAnalysis(plots, analysis, planned);
  const pareto = writePareto(plots, net, planned.configs[0]!.front, planned.configs[0]!.back);
  ctx.progress.end();
  return {
    net,
    files: { manifest, cka, pareto },
    analysis: analysisJson(analysis, planned),
    skipped: planned.skipped.map(({ frontCut, reason }) => ({ frontCut, reason })),
  };
}

/** Reads --data/--labels and --eval-data/--eval-labels (before any model is loaded: bad paths fail fast). */
export function readSplits(
  ctx: CliContext,
  models: string[],
): { data: string; calibration: SampleSet; evaluation?: SampleSet } {
  const args = ctx.args;
  const data = dataArg(ctx, models);
  const calibration = loadData(data, args.string('labels'));
  // The zoo's calibration split pairs with its eval split; other data hold out their last 20%.
  const evalData = args.string('eval-data') ?? (/^zoo(:calibration)?$/.test(data) ? 'zoo:eval' : undefined);
  if (evalData === undefined) return { data, calibration };
  return { data, calibration, evaluation: loadData(evalData, args.string('eval-labels')) };
}

/** Calibration and evaluation rows shaped as the anchor's input; without evaluation data, the last 20% of the data. */
export function conformSplits(
  ctx: CliContext,
  sets: ReturnType<typeof readSplits>,
  anchor: Anchor,
): { calibration: ModelRows; evaluation: ModelRows; note?: string } {
  const args = ctx.args;
  const evalLimit = args.number('eval', Infinity);
  const calibration = loadDataArg(sets.calibration, undefined, anchor);
  let evaluation: ModelRows;
  let note: string | undefined;
  if (sets.evaluation) {
    evaluation = loadDataArg(sets.evaluation, undefined, anchor, evalLimit);
  } else {
    const n = calibration.rows;
    const held = Math.min(evalLimit, Math.floor(n / 5));
    const start = n - held;
    if (held < 1)
      throw new UsageError(`stitch: ${n} images are too few to hold some out for evaluation; give --eval-data`);
    const cols = calibration.cols;
    evaluation = { images: calibration.images.subarray(start * cols), rows: n - start, cols };
    if (calibration.labels) evaluation.labels = calibration.labels.subarray(start);
    calibration.images = calibration.images.subarray(0, start * cols);
    calibration.rows = start;
    if (calibration.labels) calibration.labels = calibration.labels.subarray(0, start);
    note = `no --eval-data: images ${start}-${n - 1} of ${sets.data} are held out for evaluation, 0-${start - 1} calibrate`;
  }
  if (!evaluation.labels)
    throw new CliError(
      `evaluation needs labels: give --labels${args.has('eval-data') ? ' / --eval-labels' : ''} (or a labels file inside the PNG folder)`,
    );
  return note === undefined ? { calibration, evaluation } : { calibration, evaluation, note };
}

export const stitch: Command = {
  spec: {
    name: 'stitch',
    summary: 'Build a ReStNet from two models: CKA analysis, plan, fit the stitches, evaluate, save.',
    description: [
      'The front of the larger model is joined to the back of the smaller at the cut pairs of',
      'highest CKA (keeping depth order); each linear stitch is fitted by least squares, then trained',
      'on the task through the frozen back (--no-refine skips it); every configuration and both',
      'anchors are measured (accuracy, latency, MACs, params). --out receives manifest.json (the',
      'runtime format: restnet select / export, ReStNet.load), the anchors, one .stitch and one fused',
      '.onnx per configuration,',
      'cka-<A>-<B>.svg/.json and pareto-<front>-<back>.svg. The manifest is written last, by rename.',
      '',
      'With labelled calibration data, --validation images (default 1000, a seeded draw) are held out',
      'of it: refinement keeps the epoch that does best on them, and a configuration that an anchor or',
      'a cheaper configuration beats there, or that lies more than --line-margin points below the line',
      'between the anchors, is saved with pareto: false and a reason (restnet select skips it).',
      '',
      "Evaluation uses --eval-data; else the zoo's eval split when --data is the zoo's calibration",
      'split; else the last 20% of --data (at most --eval images), held out from calibration.',
      '',
      DATA_HELP,
    ].join('\n'),
    positionals: [
      { name: 'A', help: 'first model: an ONNX file or a zoo anchor name' },
      { name: 'B', help: 'second model' },
    ],
    flags: [
      ...DATA_FLAGS,
      {
        name: 'eval-data',
        type: 'string',
        value: 'DATA',
        help: 'evaluation images (same formats as --data)',
        defaultText: 'zoo:eval for zoo data, else 20% of --data',
      },
      { name: 'eval-labels', type: 'string', value: 'FILE', help: 'labels of --eval-data' },
      { name: 'out', short: 'o', type: 'string', value: 'DIR', help: '(required) output directory' },
      ...ANALYZE_FLAGS,
      ...FIT_FLAGS,
    ],
    examples: [
      'restnet stitch cnn-l cnn-s --out hybrid/',
      'restnet stitch big.onnx small.onnx --data train.npy --labels train-labels.npy --eval-data test.npy --eval-labels test-labels.npy --out hybrid/',
    ],
  },
  async run(ctx) {
    const [pathA, pathB] = ctx.args.positionals as [string, string];
    const outArg = ctx.args.string('out');
    if (outArg === undefined) throw new UsageError('stitch: --out DIR is required (see restnet stitch --help)');
    const fresh = !existsSync(outArg);
    const out = ensureOutDir(outArg);
    let result: PairResult;
    try {
      const sets = readSplits(ctx, [pathA, pathB]);
      const cache = new Map<string, Anchor>();
      const a = await loadModelArg(pathA, ctx, cache);
      const b = await loadModelArg(pathB, ctx, cache);
      const { calibration, evaluation, note } = conformSplits(ctx, sets, a);
      if (note) ctx.progress.note(note);
      result = await stitchPair(ctx, a, b, calibration, evaluation, out);
    } catch (error) {
      if (fresh) removeIfEmpty(out);
      throw error;
    }
    if (ctx.json) {
      ctx.print(
        JSON.stringify(
          {
            anchors: result.net.anchorRecords,
            configs: result.net.configs,
            files: result.files,
            skipped: result.skipped,
          },
          null,
          2,
        ),
      );
    } else {
      ctx.print(resultsTable(result.net));
      ctx.print(`\nwrote ${result.files.manifest}\n      ${result.files.cka.svg}\n      ${result.files.pareto}`);
    }
    await result.net.dispose();
  },
};
