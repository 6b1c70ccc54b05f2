// Files the CLI writes: never half-written. Each file goes to a temporary name in the same
// directory and is renamed over the target (atomic on POSIX file systems), so an interrupt or a
// crash leaves the old file or the new one, never a torn one.
import { accessSync, constants, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

import { writeFileAtomicSync } from '../atomic-write.js';
import { CliError } from './args.js';

function errorText(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  return e.code ? `${e.code}: ${e.message.replace(/^\w+: /, '')}` : String(e.message ?? e);
}

/** Writes data to path through a temporary file and a rename; a failure is a CliError naming the file. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  try {
    writeFileAtomicSync(path, data);
  } catch (error) {
    throw new CliError(`cannot write '${path}' (${errorText(error)})`);
  }
}

/** Creates the output directory if needed and checks that it is a writable directory. */
export function ensureOutDir(dir: string): string {
  const abs = resolve(dir);
  try {
    const st = statSync(abs, { throwIfNoEntry: false });
    if (st && !st.isDirectory()) throw new CliError(`output directory '${dir}' is a file, not a directory`);
    if (!st) mkdirSync(abs, { recursive: true });
    accessSync(abs, constants.W_OK);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`output directory '${dir}' is not writable (${errorText(error)})`);
  }
  return abs;
}

/** Removes `dir` when it is empty: a run that created its output directory and then failed leaves none behind. */
export function removeIfEmpty(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (files worth keeping) or already gone.
  }
}

/** Checks that a file exists and is readable; the message names what it is. */
export function requireFile(path: string, what: string): string {
  const abs = resolve(path);
  const st = statSync(abs, { throwIfNoEntry: false });
  if (!st) throw new CliError(`${what} '${path}' does not exist`);
  try {
    accessSync(abs, constants.R_OK);
  } catch (error) {
    throw new CliError(`${what} '${path}' is not readable (${errorText(error)})`);
  }
  return abs;
}
