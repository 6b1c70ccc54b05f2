// Bridges an AbortSignal to the native CancelToken that long native calls poll.
import { native, type NativeCancelToken } from './native.js';

/**
 * Runs a native async call with a cancel token tied to `signal`. An abort stops the native
 * loop at its next check and the promise rejects with `signal.reason` (an AbortError
 * DOMException unless the caller gave another reason).
 */
export async function withAbort<T>(
  signal: AbortSignal | undefined,
  start: (token: NativeCancelToken | undefined) => Promise<T>,
): Promise<T> {
  if (signal === undefined) return start(undefined);
  signal.throwIfAborted();
  const token = new native.CancelToken();
  const onAbort = (): void => token.cancel();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await start(token);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
