// Nothing lost to a late error: a configuration whose refinement cannot run (the plan said so up
// front, or it failed while running) keeps its least-squares stitch, marked refined: false with
// the reason, and the rest of the family goes on. `strict` makes either case an error instead.
import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import type { LeastSquaresOnly } from './plan-check.js';

/** Refinement could not run and the caller asked for it to be an error (strict). */
export class RefineError extends Error {
  override name = 'RefineError';
}

export interface RefineOutcome {
  maps: AdapterMaps;
  refined: boolean;
  /** With refined: the epoch whose maps were kept (0: the least-squares start; see refineOnTask). */
  epoch?: number;
  /** Why refinement did not happen (refined: false). */
  error?: string;
}

/** With `strict`, the plan's least-squares-only configurations are an error before any fitting starts. */
export function checkStrict(leastSquaresOnly: readonly LeastSquaresOnly[], strict: boolean): void {
  if (strict && leastSquaresOnly.length > 0) {
    throw new RefineError(
      `strict: ${leastSquaresOnly.length} configuration(s) cannot be refined: ${leastSquaresOnly.map((c) => `${c.id} (${c.reason})`).join('; ')}`,
    );
  }
}

/**
 * `refine()` from the least-squares `maps`, unless the plan found a `problem`; a failure other
 * than an abort keeps `maps` (or throws a RefineError with `strict`).
 */
export async function refineOrKeep(
  id: string,
  maps: AdapterMaps,
  problem: string | undefined,
  refine: () => Promise<{ maps: AdapterMaps; epoch: number }>,
  options: { strict: boolean; signal?: AbortSignal },
): Promise<RefineOutcome> {
  if (problem !== undefined) {
    if (options.strict) throw new RefineError(`${id}: cannot be refined (${problem})`);
    return { maps, refined: false, error: problem };
  }
  try {
    const { maps: refined, epoch } = await refine();
    return { maps: refined, refined: true, epoch };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    const why = `refinement failed: ${(error as Error).message}`;
    if (options.strict) throw new RefineError(`${id}: ${why}`, { cause: error });
    return { maps, refined: false, error: why };
  }
}
