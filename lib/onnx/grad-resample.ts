// Reverse-mode rules of the resampling ops (grad.ts runs them): Pad (every mode), Resize and
// Upsample. Each is separable and linear in its data input: along each axis it touches, output
// j is a weighted sum of inputs, a constant matrix M [out, in] built here from the op's
// attributes. The input gradient is then g multiplied by M along each such axis (M's transpose
// applied to g), whatever the mode: ties, edge clamping and out-of-range extrapolation are in M.
import type { Rule, RuleContext } from './grad-rule-types.js';
import { attribute, floatAttr, intAttr, intsAttr, stringAttr, tensorProto } from './proto.js';

/** The weights of one axis: row j holds output j's weights over the `size` inputs. */
interface AxisMap {
  axis: number;
  rows: number;
  size: number;
  weights: Float32Array;
}

function isIdentity(m: AxisMap): boolean {
  return m.rows === m.size && m.weights.every((w, k) => w === (Math.floor(k / m.size) === k % m.size ? 1 : 0));
}

/** g sent back through the axis maps: along each axis, the gradient [.., rows] times M gives [.., size]. */
function applyTransposed(c: RuleContext, g: string, maps: AxisMap[], rank: number): string {
  let t = g;
  for (const m of maps) {
    if (isIdentity(m)) continue;
    const w = c.emit.name('resample_w');
    c.emit.inits.push(tensorProto(w, [m.rows, m.size], m.weights));
    // MatMul works on the last axis: swap the map's axis there and back.
    const perm = Array.from({ length: rank }, (_, k) => k);
    [perm[m.axis], perm[rank - 1]] = [rank - 1, m.axis];
    const last = m.axis === rank - 1;
    const moved = last ? t : c.emit.op('Transpose', [t], [attribute('perm', perm)]);
    const product = c.emit.op('MatMul', [moved, w]);
    t = last ? product : c.emit.op('Transpose', [product], [attribute('perm', perm)]);
  }
  return t;
}

/** The input index that Pad's output index k (relative to the first input element) reads, or -1 for the constant. */
function padSource(k: number, n: number, mode: string): number {
  if (k >= 0 && k < n) return k;
  switch (mode) {
    case 'constant':
      return -1;
    case 'edge':
      return k < 0 ? 0 : n - 1;
    case 'wrap':
      return ((k % n) + n) % n;
    default: {
      // reflect: mirrored about the first and last elements, as often as it takes.
      if (n === 1) return 0;
      let r = k;
      while (r < 0 || r >= n) r = r < 0 ? -r : 2 * (n - 1) - r;
      return r;
    }
  }
}

const PAD_MODES = new Set(['constant', 'reflect', 'edge', 'wrap']);

const pad: Rule = (c, { nd, g, x0, x1, x2 }) => {
  const rank = c.rankOf(x0);
  const mode = stringAttr(nd, 'mode', 'constant');
  if (!PAD_MODES.has(mode))
    throw new Error(`${c.name}: Pad '${nd.name}' has mode '${mode}'; ONNX defines constant, reflect, edge and wrap`);
  // Pads are an attribute before opset 11, an input after; axes an input from opset 18.
  let pads: number[];
  let axes = Array.from({ length: rank }, (_, k) => k);
  if (c.opset >= 11) {
    pads = c.constInts(x1, 'pads', nd);
    if (x2) c.paramOnly(nd, x2);
    if (nd.input[3]) axes = c.constInts(nd.input[3], 'axes', nd).map((a) => (a + rank) % rank);
  } else pads = intsAttr(nd, 'pads', []);
  const maps: AxisMap[] = [];
  axes.forEach((axis, i) => {
    const before = pads[i]!,
      after = pads[i + axes.length]!;
    if (before === 0 && after === 0) return;
    const size = c.staticDim(x0, axis, nd);
    const rows = size + before + after;
    const weights = new Float32Array(rows * size);
    for (let j = 0; j < rows; j++) {
      const k = padSource(j - before, size, mode);
      if (k >= 0) weights[j * size + k]! += 1;
    }
    maps.push({ axis, rows, size, weights });
  });
  c.add(x0, applyTransposed(c, g, maps, rank));
};

/** How Resize / Upsample place an output index on the input axis, given the axis' scale and sizes. */
interface Sampling {
  coordinate: string;
  mode: string;
  nearest: string;
  antialias: boolean;
  cubicA: number;
  excludeOutside: boolean;
  roi?: [number, number];
}

/**
 * The input coordinate of output j, per ONNX's coordinate_transformation_mode, in float32 steps
 * as onnxruntime computes it (nearest rounding depends on the last bit at exact ties).
 */
function sourceCoordinate(s: Sampling, j: number, scaleIn: number, n: number, o: number): number {
  const f = Math.fround;
  const scale = f(scaleIn);
  const halfPixel = f(f(f(j + 0.5) / scale) - 0.5);
  switch (s.coordinate) {
    case 'half_pixel':
      return halfPixel;
    case 'half_pixel_symmetric': {
      const adjustment = f(o / f(scale * n));
      return f(f(f(n / 2) * f(1 - adjustment)) + halfPixel);
    }
    case 'pytorch_half_pixel':
      return o > 1 ? halfPixel : 0;
    case 'align_corners':
      return o === 1 ? 0 : f(f(j * (n - 1)) / (o - 1));
    case 'asymmetric':
      return f(j / scale);
    case 'tf_half_pixel_for_nn':
      return f(f(j + 0.5) / scale);
    default: {
      const [start, end] = s.roi!;
      return o > 1
        ? f(f(start * (n - 1)) + f(f(j * f(end - start) * (n - 1)) / (o - 1)))
        : f(0.5 * f(start + end) * (n - 1));
    }
  }
}

function nearestIndex(x: number, mode: string, scale: number): number {
  const f = Math.floor(x);
  const tie = x - f === 0.5;
  switch (mode) {
    case 'round_prefer_ceil':
      return tie ? f + 1 : Math.round(x);
    case 'floor':
      return f;
    case 'ceil':
      return Math.ceil(x);
    case 'simple':
      // Resize-10 and Upsample in onnxruntime: truncation when enlarging, ceiling when shrinking.
      return scale < 1 ? Math.ceil(x) : Math.trunc(x);
    default:
      return tie ? f : Math.round(x);
  }
}

/** Keys' cubic convolution kernel with coefficient a at distance d. */
function keys(d: number, a: number): number {
  const t = Math.abs(d);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  return t < 2 ? ((a * t - 5 * a) * t + 8 * a) * t - 4 * a : 0;
}

/**
 * The inputs and weights of an antialiased output at x when shrinking by `scale` (ONNX's
 * reference, which onnxruntime follows): the linear or cubic kernel stretched by 1 / scale over
 * the inputs nearest x, normalised; an integer x counts as the right end of its interval.
 */
function antialiased(s: Sampling, x: number, scale: number): { first: number; weights: number[] } {
  const base = Number.isInteger(x) ? x - 1 : Math.floor(x);
  const ratio = x - base;
  const start = Math.floor((s.mode === 'linear' ? -1 : -2) / scale) + 1;
  const weights = Array.from({ length: 2 - 2 * start }, (_, k) => {
    const d = (start + k - ratio) * scale;
    return s.mode === 'linear' ? Math.max(0, 1 - Math.abs(d)) : keys(d, s.cubicA);
  });
  return { first: base + start, weights };
}

/** The [o, n] weights of one resized axis. */
function resizeWeights(s: Sampling, scale: number, n: number, o: number): Float32Array {
  const w = new Float32Array(o * n);
  const clamp = (k: number): number => Math.min(Math.max(k, 0), n - 1);
  for (let j = 0; j < o; j++) {
    const x = sourceCoordinate(s, j, scale, n, o);
    // tf_crop_and_resize writes the extrapolation value (a constant) outside the input.
    if (s.coordinate === 'tf_crop_and_resize' && (x < 0 || x > n - 1)) continue;
    if (s.mode === 'nearest') {
      w[j * n + clamp(nearestIndex(x, s.nearest, scale))] = 1;
    } else if (s.antialias && scale < 1) {
      // Inputs outside the axis read its edge, or are left out (exclude_outside).
      const { first, weights } = antialiased(s, x, scale);
      const kept = weights.map((v, k) => (s.excludeOutside && (first + k < 0 || first + k >= n) ? 0 : v));
      const total = kept.reduce((p, v) => p + v, 0);
      kept.forEach((v, k) => (w[j * n + clamp(first + k)]! += v / total));
    } else if (s.mode === 'linear') {
      const xc = Math.min(Math.max(x, 0), n - 1);
      const i0 = Math.floor(xc),
        i1 = Math.min(i0 + 1, n - 1),
        f = xc - i0;
      w[j * n + i0]! += 1 - f;
      w[j * n + i1]! += f;
    } else {
      const i0 = Math.floor(x);
      const coeffs = [-1, 0, 1, 2].map((k) => keys(x - i0 - k, s.cubicA));
      const inside = coeffs.map((_, k) => i0 - 1 + k >= 0 && i0 - 1 + k < n);
      const total = s.excludeOutside ? coeffs.reduce((p, v, k) => p + (inside[k] ? v : 0), 0) : 1;
      coeffs.forEach((v, k) => {
        if (s.excludeOutside && !inside[k]) return;
        w[j * n + clamp(i0 - 1 + k)]! += v / total;
      });
    }
  }
  return w;
}

const RESIZE_MODES = new Set(['nearest', 'linear', 'cubic']);
const COORDINATE_MODES = new Set([
  'half_pixel',
  'half_pixel_symmetric',
  'pytorch_half_pixel',
  'align_corners',
  'asymmetric',
  'tf_half_pixel_for_nn',
  'tf_crop_and_resize',
]);
const NEAREST_MODES = new Set(['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']);

/** Resize (opset 10 on) and Upsample (opsets 7-9). */
const resize: Rule = (c, { nd, g, y, x0 }) => {
  const rank = c.rankOf(x0);
  const resize11 = nd.op_type === 'Resize' && c.opset >= 11;
  // Upsample and Resize-10: 'linear' may be written 'bilinear'; asymmetric coordinates, onnxruntime's simple rounding.
  const mode = stringAttr(nd, 'mode', 'nearest').replace(/^(bi|tri)linear$/, 'linear');
  const s: Sampling = {
    mode,
    coordinate: resize11 ? stringAttr(nd, 'coordinate_transformation_mode', 'half_pixel') : 'asymmetric',
    nearest: resize11 ? stringAttr(nd, 'nearest_mode', 'round_prefer_floor') : 'simple',
    cubicA: floatAttr(nd, 'cubic_coeff_a', -0.75),
    antialias: intAttr(nd, 'antialias', 0) === 1,
    excludeOutside: intAttr(nd, 'exclude_outside', 0) === 1,
  };
  const what = `${nd.op_type} '${nd.name}'`;
  if (!RESIZE_MODES.has(mode))
    throw new Error(`${c.name}: ${what} has mode '${mode}'; ONNX defines nearest, linear and cubic`);
  if (!COORDINATE_MODES.has(s.coordinate))
    throw new Error(
      `${c.name}: ${what} has coordinate_transformation_mode '${s.coordinate}', which ONNX does not define`,
    );
  if (resize11 && !NEAREST_MODES.has(s.nearest))
    throw new Error(`${c.name}: ${what} has nearest_mode '${s.nearest}', which ONNX does not define`);
  const policy = stringAttr(nd, 'keep_aspect_ratio_policy', 'stretch');
  // Inputs: Upsample-7/8 scales attribute; Upsample-9 and Resize-10 (x, scales); Resize-11+ (x, roi, scales, sizes).
  const [scalesName, sizesName, roiName] = resize11
    ? [nd.input[2] ?? '', nd.input[3] ?? '', nd.input[1] ?? '']
    : [nd.input[1] ?? '', '', ''];
  const given =
    nd.op_type === 'Upsample' && c.opset < 9
      ? (nd.attribute.find((a) => a.name === 'scales')?.floats ?? [])
      : c.isEmpty(scalesName)
        ? []
        : c.constFloats(scalesName, 'scales', nd);
  const axesAttr = intsAttr(nd, 'axes', []).map((a) => (a + rank) % rank);
  const axes = axesAttr.length > 0 ? axesAttr : Array.from({ length: rank }, (_, k) => k);
  const roi = s.coordinate === 'tf_crop_and_resize' ? c.constFloats(roiName, 'roi', nd) : [];
  // With sizes and a kept aspect ratio, one scale (the smallest or largest sizes / input ratio) serves every axis.
  let common: number | undefined;
  if (given.length === 0 && policy !== 'stretch') {
    const sizes = c.constInts(sizesName, 'sizes', nd);
    const ratios = axes.map((a, i) => sizes[i]! / c.staticDim(x0, a, nd));
    common = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
  }
  const maps: AxisMap[] = [];
  axes.forEach((axis, i) => {
    const din = c.dims(x0)[axis]!,
      dout = c.dims(y)[axis]!;
    const region: [number, number] | undefined = roi.length > 0 ? [roi[i]!, roi[i + axes.length]!] : undefined;
    if (typeof din !== 'number' || typeof dout !== 'number') {
      // The batch axis must map each sample to itself (some modes shift even at scale 1).
      const sampled = { ...s, ...(region ? { roi: region } : {}) };
      const unchanged =
        typeof din !== 'number' &&
        typeof dout !== 'number' &&
        din.batch === dout.batch &&
        (given.length === 0 || given[i] === 1);
      if (!unchanged || !isIdentity({ axis, rows: 5, size: 5, weights: resizeWeights(sampled, 1, 5, 5) })) {
        throw new Error(
          `${c.name}: ${what} resamples along the batch axis ${axis} (mixing samples); only other axes can be differentiated`,
        );
      }
      return;
    }
    const scale = given.length > 0 ? given[i]! : (common ?? dout / din);
    maps.push({
      axis,
      rows: dout,
      size: din,
      weights: resizeWeights({ ...s, ...(region ? { roi: region } : {}) }, scale, din, dout),
    });
  });
  c.add(x0, applyTransposed(c, g, maps, rank));
};

export const RESAMPLE_RULES: Record<string, Rule> = { Pad: pad, Resize: resize, Upsample: resize };
