// The commands of `restnet`, in the order --help lists them.
import type { Command } from '../context.js';
import { analyze } from './analyze.js';
import { bench } from './bench.js';
import { demo } from './demo.js';
import { exportCommand } from './export.js';
import { profile } from './profile.js';
import { select } from './select.js';
import { serve } from './serve.js';
import { stitch } from './stitch.js';

export const commands: Command[] = [demo, analyze, stitch, select, exportCommand, profile, bench, serve];
