// Files never half-written: data goes to a temporary name beside the target and is renamed over
// it (atomic on POSIX file systems), so an interrupt or a crash leaves the old file or the new
// one, never a torn one. The CLI writes synchronously, the library asynchronously; both share
// the temporary name and the cleanup.
import { randomBytes } from 'node:crypto';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/** Writes data to path through a temporary file and a rename; the error is the file system's. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = temporaryPath(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** writeFileAtomic for synchronous callers (the CLI). */
export function writeFileAtomicSync(path: string, data: Uint8Array | string): void {
  const tmp = temporaryPath(path);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}
