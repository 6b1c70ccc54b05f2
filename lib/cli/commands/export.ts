// `restnet export DIR --config ID -o FILE.onnx`: one configuration as a single fused ONNX file
// (front segments, stitch, back segments) that runs wherever ONNX Runtime runs.
import { resolve } from 'node:path';

import { CliError, UsageError } from '../args.js';
import type { Command } from '../context.js';
import { writeFileAtomic } from '../files.js';
import { si } from '../output.js';
import { loadNet } from './select.js';

export const exportCommand: Command = {
  spec: {
    name: 'export',
    summary: 'Write one configuration of a saved ReStNet as a single fused ONNX file.',
    description: [
      'Without -o, the file is written into DIR as <ID>.onnx and recorded in its manifest.json.',
      "The ids are in the manifest's configs list (restnet select --json prints the chosen one).",
    ].join('\n'),
    positionals: [{ name: 'DIR', help: 'a directory written by restnet stitch or restnet demo' }],
    flags: [
      { name: 'config', short: 'c', type: 'string', value: 'ID', help: '(required) the configuration id' },
      {
        name: 'output',
        short: 'o',
        type: 'string',
        value: 'FILE',
        help: 'the .onnx file to write',
        defaultText: 'DIR/<ID>.onnx',
      },
    ],
    examples: ['restnet export restnet-out --config cnn-l.stage2.block0~cnn-s.stage2.block0 -o hybrid.onnx'],
  },
  async run(ctx) {
    const [dir] = ctx.args.positionals as [string];
    const id = ctx.args.string('config');
    if (id === undefined) throw new UsageError('export: --config ID is required (see restnet export --help)');
    const net = await loadNet(dir, ctx);
    try {
      if (!net.ids.includes(id))
        throw new CliError(`export: no configuration '${id}' in ${dir}; expected one of ${net.ids.join(', ')}`);
      const output = ctx.args.string('output');
      let path: string;
      let bytes: Uint8Array;
      if (output === undefined) {
        const r = await net.export(id);
        bytes = r.bytes;
        path = r.path!;
      } else {
        bytes = net.model(id).toOnnx();
        path = resolve(output);
        writeFileAtomic(path, bytes);
      }
      const r = net.record(id);
      if (ctx.json)
        ctx.print(
          JSON.stringify(
            {
              id,
              path,
              bytes: bytes.length,
              macs: r.macs,
              params: r.params,
              accuracy: r.accuracy,
              latencyMs: r.latencyMs,
            },
            null,
            2,
          ),
        );
      else ctx.print(`wrote ${path} (${si(bytes.length)}B): ${id}, ${si(r.macs)} MACs, ${si(r.params)} params`);
    } finally {
      await net.dispose();
    }
  },
};
