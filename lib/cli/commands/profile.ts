// `restnet profile DIR [--runs N] [--batch 1,32]`: measures every configuration and anchor of a
// saved family on this device and writes profile-<platform>-<arch>-<cpu>.json next to its
// manifest, which restnet select (and ReStNet.load) then use on this kind of device.
import { resolve } from 'node:path';

import type { ProfileEntry } from '../../restnet/profile-file.js';
import { RUN_MODES } from '../../restnet/execution.js';
import { CliError, UsageError } from '../args.js';
import type { Command } from '../context.js';
import { si, table } from '../output.js';
import { onProgress } from '../pipeline.js';
import { checkFamilyDir } from './select.js';

function parseBatches(text: string): number[] {
  const batches = text.split(',').map((s) => Number(s.trim()));
  if (batches.length === 0 || !batches.every((b) => Number.isInteger(b) && b >= 1))
    throw new UsageError(`--batch: expected positive integers separated by commas (1,32), got ${text}`);
  return batches;
}

function profileTable(entries: ProfileEntry[], macs: Map<string, number>, batches: number[]): string {
  const ms = (v: number): string => v.toFixed(3);
  const rows = [...entries]
    .sort((x, y) => macs.get(x.id)! - macs.get(y.id)!)
    .map((e) => [
      `${e.id}${e.kind === 'anchor' ? ' (anchor)' : ''}`,
      si(macs.get(e.id)!),
      e.mode,
      ...batches.flatMap((b) => [ms(e.batches[String(b)]!.medianMs), ms(e.batches[String(b)]!.p95Ms)]),
    ]);
  return table(['configuration', 'MACs', 'mode', ...batches.flatMap((b) => [`batch ${b} median ms`, 'p95 ms'])], rows);
}

export const profile: Command = {
  spec: {
    name: 'profile',
    summary: 'Measure every configuration of a saved ReStNet on this device (the board benchmark).',
    description: [
      'Runs every configuration and anchor of DIR at each batch size, interleaved (one untimed round',
      'first), and writes the median and p95 latency per call, with the mode each ran in, to',
      'DIR/profile-<platform>-<arch>-<cpu>.json (atomically; manifest.json is not changed). On this',
      'kind of device, restnet select and ReStNet.load then use these latencies instead of the',
      "manifest's, which were measured where the family was built.",
    ].join('\n'),
    positionals: [{ name: 'DIR', help: 'a directory written by restnet stitch or restnet demo' }],
    flags: [
      {
        name: 'runs',
        type: 'integer',
        value: 'N',
        min: 1,
        help: 'timed runs per configuration and batch size',
        defaultText: '20',
      },
      { name: 'batch', type: 'string', value: 'B,...', help: 'batch sizes', defaultText: '1,32' },
      {
        name: 'mode',
        type: 'string',
        value: 'MODE',
        choices: RUN_MODES,
        help: 'how the family runs',
        defaultText: 'auto',
      },
      {
        name: 'threads',
        type: 'integer',
        value: 'N',
        min: 1,
        help: 'onnxruntime intra-op threads',
        defaultText: 'the faster at batch 1, measured',
      },
    ],
    examples: ['restnet profile restnet-out', 'restnet profile restnet-out --runs 50 --batch 1 --json'],
  },
  async run(ctx) {
    const [dir] = ctx.args.positionals as [string];
    const batches = parseBatches(ctx.args.string('batch', '1,32'));
    const runs = ctx.args.number('runs', 20);
    checkFamilyDir(dir);
    const { ReStNet } = await import('../../restnet/runtime.js');
    ctx.progress.step(`loading ${dir}`);
    const threads = ctx.args.number('threads');
    const net = await ReStNet.load(resolve(dir), {
      warm: 'none',
      mode: ctx.args.string('mode', 'auto') as (typeof RUN_MODES)[number],
      ...(threads === undefined ? {} : { threads }),
    });
    try {
      ctx.progress.step(`profiling ${net.ids.length} configurations and ${net.anchorRecords.length} anchors`);
      let result: Awaited<ReturnType<typeof net.profile>>;
      try {
        result = await net.profile({ runs, batches, signal: ctx.signal, onProgress: onProgress(ctx) });
      } catch (error) {
        if ((error as Error).name === 'AbortError') throw error;
        throw new CliError(`profile: ${(error as Error).message}`);
      }
      ctx.progress.end(`wrote ${result.path}`);
      const macs = new Map<string, number>([
        ...net.configs.map((c) => [c.id, c.macs] as const),
        ...net.anchorRecords.map((a) => [a.name, a.macs] as const),
      ]);
      if (ctx.json) ctx.print(JSON.stringify({ path: result.path, ...result.profile }, null, 2));
      else
        ctx.print(
          `${profileTable(result.profile.entries, macs, batches)}\n\n${result.profile.device.cpu} (${result.profile.device.platform}-${result.profile.device.arch}, ${result.profile.device.cores} cores), ${result.profile.threads} intra-op thread(s), mode ${result.profile.mode}\nwrote ${result.path}`,
        );
    } finally {
      await net.dispose();
    }
  },
};
