// `restnet select DIR --max-latency-ms X | --max-macs X | --max-params X`: the configuration a
// device with that budget should run (the most accurate that fits; ties: the faster).
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import type { Budget, LoadOptions, ReStNet, Selection } from '../../restnet/runtime.js';
import { CliError, UsageError } from '../args.js';
import type { Command, CliContext } from '../context.js';
import { si } from '../output.js';

/** Checks that dir is a directory with a manifest.json; a CliError says what is wrong. */
export function checkFamilyDir(dir: string): void {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st)
    throw new CliError(`'${dir}' does not exist (expected a directory written by restnet stitch or restnet demo)`);
  if (!st.isDirectory()) throw new CliError(`'${dir}' is not a directory (expected a directory with manifest.json)`);
  if (!statSync(join(dir, 'manifest.json'), { throwIfNoEntry: false }))
    throw new CliError(`'${dir}' has no manifest.json (write one with restnet stitch or restnet demo)`);
}

/** Loads a saved ReStNet (manifest.json in dir) without building any session. */
export async function loadNet(dir: string, ctx: CliContext, options: LoadOptions = {}): Promise<ReStNet> {
  checkFamilyDir(dir);
  const { ReStNet } = await import('../../restnet/runtime.js');
  ctx.progress.step(`loading ${join(dir, 'manifest.json')}`);
  // select and export run nothing: no sessions built, no thread count measured (serve overrides).
  const net = await ReStNet.load(resolve(dir), { warm: 'none', threads: 1, ...options });
  ctx.progress.end(`${net.ids.length} configurations`);
  return net;
}

const BUDGET_FLAGS = [
  ['max-latency-ms', 'maxLatencyMs'],
  ['max-macs', 'maxMacs'],
  ['max-params', 'maxParams'],
  ['max-memory-bytes', 'maxMemoryBytes'],
  ['min-accuracy', 'minAccuracy'],
] as const;

export function describeSelection(s: Selection, dir: string): string {
  const acc = s.accuracy === null ? '-' : `${(s.accuracy * 100).toFixed(2)}%`;
  const lat =
    s.latencyMs === null
      ? '-'
      : `${s.latencyMs.toFixed(3)} ms (${s.latencySource === 'profile' ? "this device's profile" : 'manifest'})`;
  const head = `${s.id} (${s.kind === 'anchor' ? 'anchor' : 'stitched'}): accuracy ${acc}, latency ${lat}, ${si(s.macs)} MACs, ${si(s.params)} params`;
  if (s.kind === 'anchor') return `${head}\nfile: ${join(dir, s.file)}`;
  return `${head}\ncuts: ${s.front} up to ${s.frontCut} -> stitch -> ${s.back} after ${s.backCut} (CKA ${s.cka.toFixed(3)})${s.onnx ? `\nfused ONNX: ${join(dir, s.onnx)}` : `\nexport it: restnet export ${dir} --config ${s.id} -o ${s.id}.onnx`}`;
}

export const select: Command = {
  spec: {
    name: 'select',
    summary: "Print the configuration of a saved ReStNet that fits a device's budget.",
    description: [
      'Among the stitched configurations and the two anchors of DIR/manifest.json, picks the most',
      'accurate one whose measured latency, MACs, params (and memory) fit every limit given; ties go',
      'to the faster. When nothing fits, says which budget would (exit code 1). Latencies come from',
      "this device's profile (restnet profile DIR) when DIR has one, else from the manifest; the",
      'output says which (latencySource in --json).',
    ].join('\n'),
    positionals: [{ name: 'DIR', help: 'a directory written by restnet stitch or restnet demo' }],
    flags: [
      { name: 'max-latency-ms', type: 'number', value: 'X', min: 0, help: 'latency per image at batch 1, in ms' },
      { name: 'max-macs', type: 'number', value: 'X', min: 0, help: 'multiply-adds per image' },
      { name: 'max-params', type: 'number', value: 'X', min: 0, help: 'parameters' },
      {
        name: 'max-memory-bytes',
        type: 'number',
        value: 'X',
        min: 0,
        help: 'weights + largest activation at batch 1, in bytes',
      },
      {
        name: 'min-accuracy',
        type: 'number',
        value: 'X',
        min: 0,
        help: 'accuracy as a fraction (0.9) or a percentage (90)',
      },
      { name: 'no-anchors', type: 'boolean', help: 'choose among the stitched configurations only' },
      {
        name: 'include-dominated',
        type: 'boolean',
        help: 'also consider configurations marked pareto: false (dominated on the validation split)',
      },
    ],
    examples: ['restnet select restnet-out --max-latency-ms 0.5', 'restnet select restnet-out --max-macs 20e6 --json'],
  },
  async run(ctx) {
    const [dir] = ctx.args.positionals as [string];
    const budget: Budget = {};
    for (const [flag, key] of BUDGET_FLAGS) {
      if (!ctx.args.has(flag)) continue;
      let v = ctx.args.number(flag)!;
      if (key === 'minAccuracy' && v > 1) v /= 100;
      budget[key] = v;
    }
    if (Object.keys(budget).length === 0)
      throw new UsageError(
        'select: give a budget: --max-latency-ms X, --max-macs X or --max-params X (see restnet select --help)',
      );
    const net = await loadNet(dir, ctx);
    let chosen: Selection;
    try {
      chosen = net.select(budget, {
        includeAnchors: !ctx.args.bool('no-anchors'),
        includeDominated: ctx.args.bool('include-dominated'),
      });
    } catch (error) {
      throw new CliError((error as Error).message);
    } finally {
      await net.dispose();
    }
    if (ctx.json) ctx.print(JSON.stringify({ budget, ...chosen }, null, 2));
    else ctx.print(describeSelection(chosen, dir));
  },
};
