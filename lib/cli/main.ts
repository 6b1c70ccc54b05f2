#!/usr/bin/env node
// The `restnet` command. Each subcommand has --help; a wrong command line is one line on stderr
// and exit code 2, a failure one line and exit code 1 (a stack trace only with --verbose), an
// interrupt (Ctrl-C) exit code 130 after the pipeline has stopped at its next check.
import { commandHelp, parseArgs, UsageError } from './args.js';
import { commands } from './commands/index.js';
import type { CliContext } from './context.js';
import { Reporter } from './output.js';

function usage(): string {
  const w = Math.max(...commands.map((c) => c.spec.name.length));
  return [
    'usage: restnet <command> [options]',
    '',
    'ReStNet hybrids: CKA-guided stitching of two pretrained ONNX models, and run-time selection',
    "of the stitched network that fits a device's budget.",
    '',
    'commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(w)}  ${c.spec.summary}`),
    '',
    "Run 'restnet <command> --help' for a command's options.",
  ].join('\n');
}

/** One line for the user: the message without the error class, newlines folded. */
function oneLine(error: unknown): string {
  if (error instanceof Error)
    return error.message
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean)
      .join(' ');
  return String(error);
}

function isAbort(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted || (error instanceof Error && error.name === 'AbortError');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1) {
      process.stderr.write('\nrestnet: interrupted twice, exiting now\n');
      process.exit(130);
    }
    controller.abort(new DOMException(`interrupted (${sig})`, 'AbortError'));
  };
  let progress: Reporter | undefined;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      console.log(usage());
      return name === undefined ? 2 : 0;
    }
    const command = commands.find((c) => c.spec.name === name);
    if (!command)
      throw new UsageError(
        `unknown command '${name}' (commands: ${commands.map((c) => c.spec.name).join(', ')}; see restnet --help)`,
      );
    const args = parseArgs(command.spec, rest);
    if (args.bool('help')) {
      console.log(commandHelp(command.spec));
      return 0;
    }
    progress = new Reporter({ plain: args.bool('quiet'), memory: args.bool('verbose') });
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const ctx: CliContext = {
      args,
      signal: controller.signal,
      progress,
      json: args.bool('json'),
      print: (text) => process.stdout.write(`${text}\n`),
    };
    const code = await command.run(ctx);
    return code ?? 0;
  } catch (error) {
    progress?.abandon();
    if (isAbort(error, controller.signal)) {
      process.stderr.write('restnet: interrupted; stopped cleanly (no partial files written)\n');
      return 130;
    }
    const text = verbose && error instanceof Error && error.stack ? error.stack : oneLine(error);
    process.stderr.write(`restnet: ${text}\n`);
    return error instanceof UsageError ? 2 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

process.exitCode = await main(process.argv.slice(2));
