// `restnet analyze A.onnx B.onnx --data DATA`: the CKA of every candidate cut of A against every
// candidate cut of B, as a heat map (SVG) and JSON.
import { analyze as analyzePair, type AnalyzeOptions } from '../../restnet/analyze.js';
import type { Command, CliContext } from '../context.js';
import { ensureOutDir } from '../files.js';
import { analysisJson, analysisTable, loadDataArg, loadModelArg, onProgress, writeAnalysis } from '../pipeline.js';
import { loadData } from '../../formats/index.js';
import { DATA_FLAGS, DATA_HELP, dataArg, type FlagSpec } from './common.js';

export const ANALYZE_FLAGS: FlagSpec[] = [
  {
    name: 'calibration',
    type: 'integer',
    value: 'N',
    min: 4,
    help: 'calibration images (CKA analysis and stitch fitting)',
    defaultText: '1000',
  },
  { name: 'batch-size', type: 'integer', value: 'N', min: 4, help: 'images per CKA minibatch', defaultText: '128' },
  {
    name: 'features',
    type: 'string',
    value: 'MODE',
    choices: ['flatten', 'mean'],
    help: 'activation to rows: all values, or the spatial/token mean',
    defaultText: 'flatten',
  },
  {
    name: 'max-cuts',
    type: 'integer',
    value: 'N',
    min: 1,
    help: 'at most N candidate cuts per model without a zoo entry',
    defaultText: '8',
  },
  { name: 'threads', type: 'integer', value: 'N', min: 1, help: 'onnxruntime threads per session' },
];

export function analyzeOptions(ctx: CliContext): AnalyzeOptions {
  const a = ctx.args;
  const opts: AnalyzeOptions = {
    signal: ctx.signal,
    onProgress: onProgress(ctx),
    calibrationLimit: a.number('calibration', 1000),
  };
  if (a.has('batch-size')) opts.batchSize = a.number('batch-size')!;
  if (a.has('features')) opts.features = a.string('features') as 'flatten' | 'mean';
  return opts;
}

export const analyze: Command = {
  spec: {
    name: 'analyze',
    summary: 'CKA of every cut point of model A against every cut point of model B (heat map SVG + JSON).',
    description: [
      'Runs both models on the calibration images with their candidate cut points exposed, turns',
      'every activation into one row per image and accumulates minibatch linear CKA (unbiased HSIC,',
      'Nguyen et al. 2021). Writes cka-<A>-<B>.svg and cka-<A>-<B>.json into --out.',
      '',
      DATA_HELP,
    ].join('\n'),
    positionals: [
      { name: 'A', help: 'first model: an ONNX file or a zoo anchor name (cnn-s, cnn-l, vit-s, vit-l)' },
      { name: 'B', help: 'second model' },
    ],
    flags: [
      ...DATA_FLAGS,
      {
        name: 'out',
        short: 'o',
        type: 'string',
        value: 'DIR',
        help: 'where the SVG and JSON go',
        defaultText: './restnet-out',
      },
      ...ANALYZE_FLAGS,
    ],
    examples: [
      'restnet analyze cnn-l cnn-s --data zoo',
      'restnet analyze big.onnx small.onnx --data images/ --calibration 500 --out report/',
    ],
  },
  async run(ctx) {
    const [pathA, pathB] = ctx.args.positionals as [string, string];
    const data = dataArg(ctx, [pathA, pathB]);
    const out = ensureOutDir(ctx.args.string('out', './restnet-out'));
    const set = loadData(data, ctx.args.string('labels'));
    const cache = new Map();
    const a = await loadModelArg(pathA, ctx, cache);
    const b = await loadModelArg(pathB, ctx, cache);
    const rows = loadDataArg(set, undefined, a, ctx.args.number('calibration', 1000));
    ctx.progress.step(`CKA ${a.name} x ${b.name} (${a.cuts.length} x ${b.cuts.length} cuts)`);
    const analysis = await analyzePair(a, b, rows, analyzeOptions(ctx));
    ctx.progress.end(`${analysis.samples} images`);
    const files = writeAnalysis(out, analysis);
    if (ctx.json) {
      ctx.print(JSON.stringify({ ...analysisJson(analysis), files }, null, 2));
    } else {
      ctx.print(analysisTable(analysis));
      ctx.print(`\nwrote ${files.svg}\n      ${files.json}`);
    }
  },
};
