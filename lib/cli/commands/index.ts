// The commands of `restnet`, in the order --help lists them.
import type { Command } from '../context.js';
import { bench } from './bench.js';

export const commands: Command[] = [bench];
