// Flags and help text shared by the commands that read data.
import type { FlagSpec } from '../args.js';
import { UsageError } from '../args.js';
import type { CliContext } from '../context.js';
import { zooAnchorsPresent } from '../pipeline.js';

export type { FlagSpec };

export const DATA_FLAGS: FlagSpec[] = [
  {
    name: 'data',
    short: 'd',
    type: 'string',
    value: 'DATA',
    help: 'calibration images: IDX (.gz or raw), .npy, a folder of PNGs, or zoo[:calibration|eval]',
    defaultText: 'zoo:calibration for zoo anchors',
  },
  {
    name: 'labels',
    short: 'l',
    type: 'string',
    value: 'FILE',
    help: 'labels of DATA: IDX, .npy or text (one per line, or file,label)',
  },
];

export const DATA_HELP = [
  'Data: IDX images [N, H, W] (uint8 scaled to [0, 1], or float32), gzip-compressed or raw;',
  '.npy float32 (as is) or uint8 (scaled to [0, 1]) shaped [N, H, W], [N, C, H, W], [N, H, W, C]',
  'or [N, D]; a folder of PNG images (name order) with labels.txt / labels.csv inside or',
  '--labels, or one sub-folder per class. Images are resized (area average down, bilinear up)',
  "and converted (grey <-> RGB, alpha dropped) to the model's input; what cannot be converted",
  'is an error.',
].join('\n');

/** --data, or the zoo's calibration split when every model is a zoo anchor. */
export function dataArg(ctx: CliContext, models: string[], fallback = 'zoo:calibration'): string {
  const given = ctx.args.string('data');
  if (given !== undefined) return given;
  const zoo = zooAnchorsPresent();
  if (models.every((m) => zoo.includes(m))) return fallback;
  throw new UsageError(
    `${ctx.args.command}: --data is required for models outside the zoo (see restnet ${ctx.args.command} --help)`,
  );
}
