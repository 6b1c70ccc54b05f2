// What a plan can promise before any fitting: refinement needs each configuration's back segment
// differentiated (its gradient graph) and its front segment extracted as a model of its own
// (it runs the front during refinement; the fused export is made of it). Both are graph
// transformations without a session, cheap next to fitting, so the plan tries them up front and
// names the configurations that will be least-squares only, and why.
import type { Anchor } from './anchor.js';

/** The cut pair of a configuration: what its check reads of a planned configuration (plan.ts). */
export interface CutPair {
  front: string;
  frontCut: string;
  back: string;
  backCut: string;
}

export interface LeastSquaresOnly {
  id: string;
  reason: string;
}

/** Why configuration `config` cannot be refined, or undefined when it can. */
export function refineProblem(config: CutPair, anchors: readonly Anchor[]): string | undefined {
  const front = anchors.find((a) => a.name === config.front)!,
    back = anchors.find((a) => a.name === config.back)!;
  try {
    front.model.subModel(undefined, config.frontCut);
  } catch (error) {
    return `the front segment of ${front.name} up to '${config.frontCut}' cannot be extracted: ${(error as Error).message}`;
  }
  try {
    back.model.gradientGraph(config.backCut);
  } catch (error) {
    return `the back segment of ${back.name} from '${config.backCut}' cannot be differentiated: ${(error as Error).message}`;
  }
  return undefined;
}

/** The configurations whose refinement cannot run (each back cut and front cut tried once). */
export function leastSquaresOnly(
  configs: readonly (CutPair & { id: string })[],
  anchors: readonly Anchor[],
): LeastSquaresOnly[] {
  const seen = new Map<string, string | undefined>();
  const out: LeastSquaresOnly[] = [];
  for (const c of configs) {
    const key = JSON.stringify([c.front, c.frontCut, c.back, c.backCut]);
    if (!seen.has(key)) seen.set(key, refineProblem(c, anchors));
    const reason = seen.get(key);
    if (reason !== undefined) out.push({ id: c.id, reason });
  }
  return out;
}
