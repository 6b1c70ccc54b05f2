// What every command gets: its parsed arguments, the interrupt signal, the progress reporter,
// and stdout.
import type { CommandSpec, ParsedArgs } from './args.js';
import type { Reporter } from './output.js';

export interface CliContext {
  args: ParsedArgs;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  signal: AbortSignal;
  progress: Reporter;
  /** --json: stdout carries one JSON document and nothing else. */
  json: boolean;
  /** A line (or block) on stdout. */
  print(text: string): void;
}

export interface Command {
  spec: CommandSpec;
  /** Resolves to the exit code (0 when undefined). */
  // biome-ignore lint/suspicious/noConfusingVoidType: a command that returns nothing is an async () => void.
  run(ctx: CliContext): Promise<number | void>;
}
