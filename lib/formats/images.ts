// Samples as loaded from a file ([N, ...] with a known layout) and their conversion to a model's
// input: channel conversion (grey <-> RGB, alpha dropped), resizing (area average down, bilinear
// with half-pixel centres up), layout HWC -> CHW. What cannot be converted is an error that names
// the data, the model input and why.
import { dimsText } from '../validate.js';

/** Per-sample layout of image data: grey [H, W], channels first [C, H, W], channels last [H, W, C], or flat vectors [D]. */
export type SampleLayout = 'hw' | 'chw' | 'hwc' | 'flat';

export interface SampleSet {
  /** N x prod(sample dims) values in C order; images already scaled (uint8 / 255). */
  data: Float32Array;
  /** [N, ...sample dims]. */
  dims: number[];
  layout: SampleLayout;
  labels?: Uint8Array;
  /** Where the data came from, for messages. */
  source: string;
}

/** What the pipeline takes (lib/restnet's ImageRows): one sample per row, shaped as the model input. */
export interface ModelRows {
  images: Float32Array;
  labels?: Uint8Array;
  rows: number;
  cols: number;
}

/** Guesses the layout of an image array's sample dims (after N). */
export function guessLayout(sample: number[]): SampleLayout {
  if (sample.length === 1) return 'flat';
  if (sample.length === 2) return 'hw';
  if (sample.length === 3) {
    const ch = (d: number): boolean => d === 1 || d === 3 || d === 4;
    if (ch(sample[2]!) && !ch(sample[0]!)) return 'hwc';
    if (ch(sample[0]!)) return 'chw';
    if (ch(sample[2]!)) return 'hwc';
  }
  return 'flat';
}

/** Resamples one axis: out[o] from in[i] along `n -> m` (area average when shrinking, bilinear half-pixel when growing). */
function axisWeights(n: number, m: number): { index: number[]; weight: number[] }[] {
  const out: { index: number[]; weight: number[] }[] = [];
  const scale = n / m;
  for (let o = 0; o < m; o++) {
    const index: number[] = [],
      weight: number[] = [];
    if (scale > 1) {
      const lo = o * scale,
        hi = (o + 1) * scale;
      for (let i = Math.floor(lo); i < Math.min(n, Math.ceil(hi)); i++) {
        const w = Math.min(hi, i + 1) - Math.max(lo, i);
        if (w > 0) {
          index.push(i);
          weight.push(w / scale);
        }
      }
    } else {
      const x = Math.min(n - 1, Math.max(0, (o + 0.5) * scale - 0.5));
      const i0 = Math.floor(x),
        i1 = Math.min(n - 1, i0 + 1),
        u = x - i0;
      index.push(i0, i1);
      weight.push(1 - u, u);
    }
    out.push({ index, weight });
  }
  return out;
}

/** Resizes a channels-first image [C, h, w] to [C, H, W]. */
export function resizeChw(src: Float32Array, c: number, h: number, w: number, H: number, W: number): Float32Array {
  if (h === H && w === W) return src;
  const wy = axisWeights(h, H),
    wx = axisWeights(w, W);
  const tmp = new Float32Array(c * h * W);
  for (let k = 0; k < c; k++) {
    for (let y = 0; y < h; y++) {
      const row = k * h * w + y * w;
      for (let x = 0; x < W; x++) {
        const { index, weight } = wx[x]!;
        let s = 0;
        for (let t = 0; t < index.length; t++) s += src[row + index[t]!]! * weight[t]!;
        tmp[k * h * W + y * W + x] = s;
      }
    }
  }
  const out = new Float32Array(c * H * W);
  for (let k = 0; k < c; k++) {
    for (let y = 0; y < H; y++) {
      const { index, weight } = wy[y]!;
      for (let x = 0; x < W; x++) {
        let s = 0;
        for (let t = 0; t < index.length; t++) s += tmp[k * h * W + index[t]! * W + x]! * weight[t]!;
        out[k * H * W + y * W + x] = s;
      }
    }
  }
  return out;
}

/** Converts [c, H, W] to [C, H, W]: grey -> RGB by repetition, RGB -> grey by luma (ITU-R 601), alpha dropped. */
export function convertChannels(src: Float32Array, c: number, plane: number, C: number): Float32Array | undefined {
  if (c === C) return src;
  const colour = c === 4 ? 3 : c === 2 ? 1 : c; // drop alpha (RGBA, grey+alpha)
  const base = colour === c ? src : src.subarray(0, colour * plane);
  if (colour === C) return base.slice();
  const out = new Float32Array(C * plane);
  if (colour === 1 && (C === 3 || C === 4)) {
    for (let k = 0; k < 3; k++) out.set(base.subarray(0, plane), k * plane);
    if (C === 4) out.fill(1, 3 * plane);
    return out;
  }
  if (colour === 3 && C === 1) {
    for (let p = 0; p < plane; p++) out[p] = 0.299 * base[p]! + 0.587 * base[plane + p]! + 0.114 * base[2 * plane + p]!;
    return out;
  }
  if (colour === 3 && C === 4) {
    out.set(base, 0);
    out.fill(1, 3 * plane);
    return out;
  }
  return undefined;
}

/**
 * Converts samples to the model's input shape ([N, C, H, W], [N, H, W] or [N, D]) as rows. Images
 * are resized and their channels converted; flat vectors must match in size. Errors name the data,
 * the model input, and what does not fit.
 */
export function conformTo(set: SampleSet, inputShape: readonly (number | string)[], inputName = 'input'): ModelRows {
  const n = set.dims[0]!;
  const sample = set.dims.slice(1);
  const target = inputShape.slice(1);
  const what = `${set.source}: samples ${dimsText(sample)} cannot be fed to the model input '${inputName}' ${dimsText(inputShape)}`;
  if (!target.every((d): d is number => typeof d === 'number' && d > 0)) {
    throw new RangeError(`${what}: the model's sample dims must be fixed numbers`);
  }
  const size = target.reduce((a, b) => a * b, 1);
  const sampleSize = sample.reduce((a, b) => a * b, 1);
  const done = (images: Float32Array): ModelRows => {
    const out: ModelRows = { images, rows: n, cols: size };
    if (set.labels) out.labels = set.labels;
    return out;
  };
  // Image target: [C, H, W] or [H, W] (grey).
  const imageTarget =
    target.length === 3
      ? { C: target[0]!, H: target[1]!, W: target[2]! }
      : target.length === 2
        ? { C: 1, H: target[0]!, W: target[1]! }
        : undefined;
  if (!imageTarget || set.layout === 'flat') {
    if (sampleSize === size) return done(set.data);
    const why = !imageTarget
      ? `the model takes ${size} values per sample, the data have ${sampleSize}`
      : `the data are flat vectors of ${sampleSize} values, not images, and the model takes ${size}`;
    throw new RangeError(`${what}: ${why}`);
  }
  const { C, H, W } = imageTarget;
  const [c, h, w] =
    set.layout === 'hw'
      ? [1, sample[0]!, sample[1]!]
      : set.layout === 'chw'
        ? [sample[0]!, sample[1]!, sample[2]!]
        : [sample[2]!, sample[0]!, sample[1]!];
  if (convertChannels(new Float32Array(c), c, 1, C) === undefined) {
    throw new RangeError(
      `${what}: cannot convert ${c} channel${c === 1 ? '' : 's'} to the model's ${C} (grey, grey+alpha, RGB and RGBA convert to 1, 3 or 4)`,
    );
  }
  if (c === C && h === H && w === W && set.layout !== 'hwc') return done(set.data);
  const out = new Float32Array(n * size);
  const per = c * h * w;
  const chw = new Float32Array(per);
  for (let s = 0; s < n; s++) {
    const src = set.data.subarray(s * per, (s + 1) * per);
    if (set.layout === 'hwc') {
      for (let p = 0; p < h * w; p++) for (let k = 0; k < c; k++) chw[k * h * w + p] = src[p * c + k]!;
    } else {
      chw.set(src);
    }
    const converted = convertChannels(chw, c, h * w, C)!;
    out.set(resizeChw(converted, C, h, w, H, W), s * size);
  }
  return done(out);
}
