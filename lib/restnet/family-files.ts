// Reading the files a family names, safely: each name must be a relative path that resolves,
// after following symlinks, to a regular file inside the family's folder (no '..', no absolute
// path, no symlink out, no device or FIFO), and no read is larger than a cap for its kind.
import { constants } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';

/** Largest file of each kind that load() reads. */
export const FILE_LIMITS = {
  manifest: 16 << 20,
  profile: 16 << 20,
  stitch: 256 << 20,
  onnx: 2 ** 31 - 1,
} as const;

/**
 * The real path of `rel` inside `dir`; `fail(why)` makes the error (it names the file that named
 * `rel`). Rejects absolute paths, '..' components and anything resolving outside dir.
 */
export async function resolveInside(dir: string, rel: string, fail: (why: string) => Error): Promise<string> {
  if (
    typeof rel !== 'string' ||
    rel.length === 0 ||
    isAbsolute(rel) ||
    rel.split(/[\\/]/).includes('..') ||
    rel.includes('\0')
  ) {
    throw fail(`'${rel}' is outside the manifest's directory (expected a relative path without '..')`);
  }
  let root: string, real: string;
  try {
    root = await realpath(dir);
    real = await realpath(join(dir, rel));
  } catch (cause) {
    throw fail(`cannot read '${rel}' (${(cause as Error).message})`);
  }
  const r = relative(root, real);
  if (r === '' || r === '..' || r.startsWith(`..${sep}`) || isAbsolute(r))
    throw fail(`'${rel}' resolves to ${real}, outside the manifest's directory`);
  return real;
}

/** Reads `rel` inside `dir` as a regular file of at most `maxBytes`. */
export async function readInside(
  dir: string,
  rel: string,
  maxBytes: number,
  fail: (why: string) => Error,
): Promise<Uint8Array> {
  const real = await resolveInside(dir, rel, fail);
  // O_NONBLOCK: opening a FIFO does not wait for a writer; O_NOFOLLOW: the path was resolved above.
  const handle = await open(real, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW).catch(
    (cause: Error) => {
      throw fail(`cannot read '${rel}' (${cause.message})`);
    },
  );
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw fail(`'${rel}' is not a regular file`);
    if (st.size > maxBytes)
      throw fail(`'${rel}' has ${st.size} bytes, more than the ${maxBytes} allowed for this kind of file`);
    const bytes = new Uint8Array(st.size);
    let done = 0;
    while (done < st.size) {
      const { bytesRead } = await handle.read(bytes, done, st.size - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    if (done !== st.size) throw fail(`'${rel}' changed while it was read (${done} of ${st.size} bytes)`);
    return bytes;
  } finally {
    await handle.close();
  }
}
