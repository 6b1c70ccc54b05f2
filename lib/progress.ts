// The one long-task convention: every asynchronous entry point takes `{ signal, onProgress }`
// and reports ProgressEvents on the main thread, in order, before its promise settles.

/** Where a long task stands: `done` of `total` units of `stage`, with an optional payload. */
export interface ProgressEvent<Payload = unknown> {
  /** 'cka', 'fit', 'train', 'update', 'analyze', 'refine', 'evaluate', 'latency', ... */
  stage: string;
  done: number;
  total: number;
  /** What is being worked on (a configuration id, an anchor name, a batch range, an epoch). */
  detail: string;
  /** Stage-specific data, e.g. the EpochRecord of a 'train' event. */
  payload?: Payload;
}

/** The options every asynchronous entry point accepts. */
export interface LongTaskOptions<Payload = unknown> {
  /** Stops the work at its next check; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Called on the main thread as the work advances. */
  onProgress?: (event: ProgressEvent<Payload>) => void;
}

/** A long task's options for a step inside another task that reports progress its own way. */
export function withoutProgress<T extends LongTaskOptions>(options: T): Omit<T, 'onProgress'> {
  const { onProgress: _progress, ...rest } = options;
  return rest;
}

/**
 * The work of a one-step task (ckaAsync, fitStitchAsync, updateAsync), reporting its one step
 * (`done` 1 of 1) when it completes, before the returned promise settles.
 */
export async function singleStep<T>(
  stage: string,
  detail: string,
  onProgress: LongTaskOptions['onProgress'],
  work: Promise<T>,
): Promise<T> {
  const result = await work;
  onProgress?.({ stage, done: 1, total: 1, detail });
  return result;
}
