// Step 2: which stitched networks to build. ReStNet's rule: the front comes from the anchor of
// larger capacity (params, then MACs), the back from the smaller; each front cut is joined to
// the back cut of highest CKA such that the chosen back cuts keep depth order along the front
// (a deeper front cut never goes to a shallower back cut) and an adapter exists between the two
// shapes. One configuration per front cut, so the configurations walk the cost range from about
// the back anchor's cost (early cut) to about the front anchor's (late cut).
import { Adapter, layoutOptions } from '../stitch/adapters/adapter.js';
import { integerArg, oneOfArg } from '../validate.js';
import type { Anchor } from './anchor.js';
import type { Analysis } from './analyze.js';
import { seededRandom } from './inputs.js';
import { leastSquaresOnly, type LeastSquaresOnly } from './plan-check.js';

export type StitchOrder = 'large-front' | 'small-front';

export interface PlannedConfig {
  id: string;
  /** Anchor names. */
  front: string;
  back: string;
  frontCut: string;
  backCut: string;
  /** CKA between the front activation at frontCut and the back activation at backCut. */
  cka: number;
  /** Multiply-adds per sample: front prefix + stitch + back suffix. */
  macs: number;
  order: StitchOrder;
  /** How the back cut was chosen: by CKA (the method) or at random (the ablation). */
  choice: 'cka' | 'random';
  /** How a CNN front's grid shrinks to the back's (see AdapterOptions.downsample). */
  downsample: Downsample;
  /** How the front's grid grows to a CNN back's (see AdapterOptions.upsample). */
  upsample: Upsample;
  /** Transformer -> Transformer: CLS has its own map (see AdapterOptions.clsMap). */
  clsMap: boolean;
  /** A CNN front's stitch as a k x k convolution (see AdapterOptions.kernel; 1 for a Transformer front). */
  kernel: number;
  /**
   * The back's cut is a ReLU output (CutPoint.rectified) and options.rectify allows it: the stitch
   * ends in a ReLU when refinement trains it (fit saves a least-squares-only stitch linear).
   */
  rectify: boolean;
}

export type Downsample = 'average' | 'space-to-depth';
export type Upsample = 'bilinear' | 'depth-to-space';

export interface PlanOptions {
  /** Which stitching direction(s): 'large-front' (ReStNet's, default), 'small-front', or 'both'. */
  order?: StitchOrder | 'both';
  /** 'cka' (default) or 'random': a back cut drawn uniformly among the valid ones (ablation). */
  choice?: 'cka' | 'random';
  /** Seed of the random choice. Default 0. */
  seed?: number;
  /** 'anchors' (default): drop configurations costing more MACs than the larger anchor or fewer than the smaller; 'any': keep all. */
  costRange?: 'anchors' | 'any';
  /**
   * How a CNN front's feature map shrinks to a smaller back grid: 'space-to-depth' (default:
   * the stitch reads every front pixel of a back cell, C f^2 inputs) or 'average' pooling.
   */
  downsample?: Downsample;
  /**
   * How the front's grid grows to a larger CNN back grid: 'depth-to-space' (default: the map
   * writes C f^2 values per front cell, one per back pixel) or 'bilinear' resampling.
   */
  upsample?: Upsample;
  /** Transformer -> Transformer with CLS on both sides: a separate map for CLS (default true). */
  clsMap?: boolean;
  /** A CNN front's stitch as a k x k convolution, odd k (default 1: a per-pixel map); see AdapterOptions.kernel. */
  kernel?: number;
  /**
   * End the stitch in a ReLU where the back's cut is a ReLU output (CutPoint.rectified), as the
   * back expects nonnegative input (default true; false: every stitch linear). Only stitches that
   * refinement trains are rectified: fit keeps a least-squares-only one linear.
   */
  rectify?: boolean;
  /**
   * Configurations per front cut (default 1): the depth-ordered CKA choice, then the valid back
   * cuts of next-highest CKA. More candidates cost fitting time; the Pareto filter
   * (pareto.ts) keeps the ones worth offering.
   */
  perFront?: number;
  /**
   * Configurations for the deepest front cut that gets one (default 3, at least perFront): the
   * CKA choice, then the valid back cuts of next-highest CKA, depth order aside. The deepest
   * stitch keeps most of the large anchor's accuracy, and moving its back cut trades MACs for
   * little of it (bench/results/pareto.md, the demo run: cnn-l -> vit-s, stage3.block0 to blocks.1 /
   * blocks.0 / embed, 93.3 / 93.7 / 93.7% at 29.4 / 31.3 / 33.3 MMACs on the 1,000-image validation
   * split, each above the anchors' line); shallower fronts' alternatives measured 2.5-15 points
   * below it. The Pareto filter keeps the ones worth offering.
   */
  deepestFront?: number;
  /**
   * Images the least-squares pass will see (fit's calibration images). A space-to-depth stitch
   * whose C f^2 inputs exceed what those rows can determine (images x positions - 1, the rank
   * of the centred rows) is planned with average pooling instead: its least squares would be
   * under-determined (the minimum-norm solve), and its normal equations grow with f^4 (8,192
   * inputs: 0.57 GB and a full eigendecomposition). Default: no check.
   */
  calibrationImages?: number;
}

export interface Plan {
  analysis: Analysis;
  anchors: [Anchor, Anchor];
  /** Anchor names by capacity. */
  large: string;
  small: string;
  configs: PlannedConfig[];
  /** Front cuts that got no configuration, and why. */
  skipped: { order: StitchOrder; frontCut: string; reason: string }[];
  /** Configurations that refinement cannot train (plan-check.ts): fitted by least squares only, and why. */
  leastSquaresOnly: LeastSquaresOnly[];
  /** Configurations planned with average pooling instead of space-to-depth (options.calibrationImages), and why. */
  averaged: { id: string; reason: string }[];
}

/** A file-name-safe, readable label of a cut point ('/block1/Relu_output_0' -> 'block1_Relu_output_0'). */
export function cutLabel(cut: string): string {
  return cut.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[_.]+|_+$/g, '') || 'cut';
}

export function configId(front: string, frontCut: string, back: string, backCut: string): string {
  return `${cutLabel(front)}.${cutLabel(frontCut)}~${cutLabel(back)}.${cutLabel(backCut)}`;
}

/** The stitch's multiply-adds per sample (as StitchedModel.macs counts them). */
export function stitchMacs(adapter: Adapter): number {
  const shapes = adapter.weightShapes;
  const positions = adapter.positions;
  return positions * shapes.main[0] * shapes.main[1] + (shapes.cls ? shapes.cls[0] * shapes.cls[1] : 0);
}

/** The adapter between two cuts, or the reason there is none. */
export function adapterFor(
  front: Anchor,
  frontCut: string,
  back: Anchor,
  backCut: string,
  layout: { downsample?: Downsample; upsample?: Upsample; clsMap?: boolean; kernel?: number; rectify?: boolean } = {},
): Adapter | string {
  const fp = front.model.cutPoints(),
    bp = back.model.cutPoints();
  const fi = fp.findIndex((c) => c.name === frontCut),
    bi = bp.findIndex((c) => c.name === backCut);
  if (fi <= 0) return `front cut '${frontCut}' is the input or not a cut point`;
  if (bi < 0 || bi === bp.length - 1) return `back cut '${backCut}' is the output or not a cut point`;
  try {
    return new Adapter(front.model.sampleDims(frontCut), back.model.sampleDims(backCut), layout);
  } catch (error) {
    return (error as Error).message;
  }
}

/** The larger-capacity anchor first (params, then MACs, then name for a stable order). */
export function bySize(a: Anchor, b: Anchor): [Anchor, Anchor] {
  const key = (x: Anchor): [number, number] => [x.params, x.macs];
  const [pa, ma] = key(a),
    [pb, mb] = key(b);
  if (pa !== pb) return pa > pb ? [a, b] : [b, a];
  if (ma !== mb) return ma > mb ? [a, b] : [b, a];
  return a.name <= b.name ? [a, b] : [b, a];
}

export function configMacs(front: Anchor, frontCut: string, back: Anchor, backCut: string, adapter: Adapter): number {
  const prefix = (anchor: Anchor, cut: string): number => anchor.model.cutPoints().find((c) => c.name === cut)!.macs;
  return prefix(front, frontCut) + stitchMacs(adapter) + (back.macs - prefix(back, backCut));
}

/**
 * The back cut per front cut that maximises the total CKA under depth order (dynamic
 * programming over (front cut, last back cut); a front cut may be left out when no valid back
 * cut keeps the order). Returns the chosen back index per front (-1: none).
 */
export function monotoneAssignment(
  score: (i: number, j: number) => number | undefined,
  fronts: number,
  backs: number,
): number[] {
  // states[k]: the best assignment of the fronts so far whose last chosen back index is k - 1
  // (k = 0: none chosen yet), kept with its path (the sizes are a handful of cuts).
  let states: { total: number; path: number[] }[] = [
    { total: 0, path: [] },
    ...Array.from({ length: backs }, () => ({ total: -Infinity, path: [] as number[] })),
  ];
  for (let i = 0; i < fronts; i++) {
    const next = states.map((s) => ({ total: s.total, path: [...s.path, -1] }));
    let bestPrefix = { total: -Infinity, path: [] as number[] };
    for (let j = 0; j < backs; j++) {
      const s = states[j]!;
      if (s.total > bestPrefix.total) bestPrefix = s;
      if (states[j + 1]!.total > bestPrefix.total) bestPrefix = states[j + 1]!;
      const v = score(i, j);
      if (v === undefined || bestPrefix.total === -Infinity) continue;
      // +1 keeps every (possibly slightly negative) CKA worth including: more configurations beat fewer.
      const total = bestPrefix.total + v + 1;
      if (total > next[j + 1]!.total) next[j + 1] = { total, path: [...bestPrefix.path, j] };
    }
    states = next;
  }
  return states.reduce((a, b) => (b.total > a.total ? b : a)).path;
}

/** Plans the stitched configurations of an analysis. */
export function plan(analysis: Analysis, options: PlanOptions = {}): Plan {
  const order = oneOfArg(options.order ?? 'large-front', 'options.order', ['large-front', 'small-front', 'both']);
  const choice = oneOfArg(options.choice ?? 'cka', 'options.choice', ['cka', 'random']);
  const costRange = oneOfArg(options.costRange ?? 'anchors', 'options.costRange', ['anchors', 'any']);
  const { downsample, upsample, kernel, rectify } = layoutOptions({
    downsample: options.downsample ?? 'space-to-depth',
    upsample: options.upsample ?? 'depth-to-space',
    kernel: options.kernel ?? 1,
    rectify: options.rectify ?? true,
  });
  const clsMap = options.clsMap ?? true;
  const perFront = integerArg(options.perFront ?? 1, 'options.perFront', 1);
  const deepestFront = Math.max(perFront, integerArg(options.deepestFront ?? 3, 'options.deepestFront', 1));
  const images =
    options.calibrationImages === undefined
      ? undefined
      : integerArg(options.calibrationImages, 'options.calibrationImages', 1);
  const { a, b } = analysis;
  const [large, small] = bySize(a, b);
  const random = seededRandom(options.seed ?? 0);
  const configs: PlannedConfig[] = [];
  const skipped: Plan['skipped'] = [];
  const averaged: Plan['averaged'] = [];
  const lo = Math.min(a.macs, b.macs),
    hi = Math.max(a.macs, b.macs);
  const orders: StitchOrder[] = order === 'both' ? ['large-front', 'small-front'] : [order];
  for (const o of orders) {
    const [front, back] = o === 'large-front' ? [large, small] : [small, large];
    const fronts = front === a ? analysis.cutsA : analysis.cutsB;
    const backs = back === a ? analysis.cutsA : analysis.cutsB;
    const ckaOf = (f: string, k: string): number => {
      const [ca, cb] = front === a ? [f, k] : [k, f];
      return analysis.cka.data[analysis.cutsA.indexOf(ca) * analysis.cka.cols + analysis.cutsB.indexOf(cb)]!;
    };
    // Why (i, j) is planned with average pooling instead of space-to-depth (options.calibrationImages).
    const averagedWhy = new Map<string, string>();
    const adapters = fronts.map((f, i) =>
      backs.map((k, j) => {
        const ad = adapterFor(front, f, back, k, { downsample, upsample, clsMap, kernel });
        if (typeof ad === 'string' || ad.block === 1 || images === undefined) return ad;
        const inputs = ad.weightShapes.main[0];
        // Centred rows (the bias is fitted) determine at most rows - 1 inputs.
        if (inputs <= images * ad.positions - 1) return ad;
        averagedWhy.set(
          `${i},${j}`,
          `space-to-depth's ${inputs} inputs exceed the ${images * ad.positions - 1} that ${images} calibration images x ${ad.positions} position${ad.positions === 1 ? '' : 's'} determine: average pooling`,
        );
        return adapterFor(front, f, back, k, { downsample: 'average', upsample, clsMap, kernel });
      }),
    );
    const valid = (i: number, j: number): boolean => {
      const ad = adapters[i]![j]!;
      if (typeof ad === 'string') return false;
      // Equal-cost anchors (a model stitched to itself) have no range to span.
      if (costRange === 'any' || lo === hi) return true;
      const m = configMacs(front, fronts[i]!, back, backs[j]!, ad);
      return m >= lo && m <= hi;
    };
    let chosen: number[];
    if (choice === 'cka') {
      chosen = monotoneAssignment(
        (i, j) => (valid(i, j) ? ckaOf(fronts[i]!, backs[j]!) : undefined),
        fronts.length,
        backs.length,
      );
    } else {
      chosen = fronts.map((_, i) => {
        const options = backs.map((_, j) => j).filter((j) => valid(i, j));
        return options.length === 0 ? -1 : options[Math.floor(random() * options.length)]!;
      });
    }
    const deepest = chosen.reduce((last, j, i) => (j >= 0 ? i : last), -1);
    fronts.forEach((f, i) => {
      const j = chosen[i] ?? -1;
      if (j < 0) {
        const reasons = backs.map((_, jj) => adapters[i]![jj]).filter((x): x is string => typeof x === 'string');
        const reason = backs.some((_, jj) => valid(i, jj))
          ? 'every valid back cut breaks depth order'
          : reasons.length === backs.length
            ? `no valid adapter (${reasons[0]})`
            : 'every valid stitch costs more than the larger anchor or less than the smaller';
        skipped.push({ order: o, frontCut: f, reason });
        return;
      }
      const extra = backs
        .map((_, jj) => jj)
        .filter((jj) => jj !== j && valid(i, jj))
        .sort((x, y) => ckaOf(f, backs[y]!) - ckaOf(f, backs[x]!));
      for (const jj of [j, ...extra.slice(0, (i === deepest ? deepestFront : perFront) - 1)]) {
        const k = backs[jj]!;
        const ad = adapters[i]![jj] as Adapter;
        const why = averagedWhy.get(`${i},${jj}`);
        if (why) averaged.push({ id: configId(front.name, f, back.name, k), reason: why });
        configs.push({
          id: configId(front.name, f, back.name, k),
          front: front.name,
          back: back.name,
          frontCut: f,
          backCut: k,
          cka: ckaOf(f, k),
          macs: configMacs(front, f, back, k, ad),
          order: o,
          choice,
          downsample: why ? 'average' : downsample,
          upsample,
          clsMap,
          kernel: ad.kernel,
          rectify: rectify && back.model.cutPoints().find((c) => c.name === k)!.rectified,
        });
      }
    });
  }
  return {
    analysis,
    anchors: [a, b],
    large: large.name,
    small: small.name,
    configs,
    skipped,
    leastSquaresOnly: leastSquaresOnly(configs, [a, b]),
    averaged,
  };
}
