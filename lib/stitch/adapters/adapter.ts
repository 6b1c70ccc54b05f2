// Shape adapters between a front activation (model A at cut i) and what the back (model B after
// cut j) expects. Each turns the front activation into per-position rows aligned with the back's
// positions, applies the stitch (and, CNN -> Transformer, a second map that makes the CLS token
// from the mean-pooled feature map), and lays the result out as the back's input.
import type { Matrix, Tensor } from '../../matrix.js';
import {
  addPositionOffsets,
  depthToSpace,
  dropTokens,
  neighbourhoodRows,
  positionRows,
  prependCls,
  rectifyRows,
  resampleGrid,
  rowsToGrid,
  sampleRows,
  spaceToDepth,
} from './layout.js';
import { checkTensor } from '../../matrix.js';
import type { Stitch } from '../fit.js';
import { activationShape, shapeDims, type ActivationShape } from './shapes.js';
import { invalidArgument, oneOfArg } from '../../validate.js';

/** The maps an adapter applies: `main` per position; `cls` only for CNN -> Transformer with CLS. */
export interface AdapterMaps {
  main: Stitch;
  cls?: Stitch;
  /**
   * Optional per-position offset added to the main map's output: positions x outputs (row p is
   * added at position p of every sample: pixel p of the back's grid, or token p of the main rows).
   * It carries what a shared map cannot produce from translation-equivariant CNN features, such
   * as a Transformer's position embeddings.
   */
  position?: Float32Array;
}

export interface FitPair {
  x: Matrix;
  y: Matrix;
}

export type AdapterKind = 'cnn-cnn' | 'vit-vit' | 'cnn-vit' | 'vit-cnn';

export interface AdapterOptions {
  /** Whether token 0 of a [T, D] front / back activation is CLS (default: inferred from T). */
  frontCls?: boolean;
  backCls?: boolean;
  /**
   * How a CNN front's grid shrinks to the back's grid: 'average' pooling (the default), or
   * 'space-to-depth' when both sides shrink by the same integer factor f (the map then reads
   * C f^2 values per cell: every front pixel, nothing averaged away; otherwise average).
   */
  downsample?: 'average' | 'space-to-depth';
  /**
   * How the front's grid grows to a CNN back's grid: 'bilinear' (the default), or
   * 'depth-to-space' when both sides grow by the same integer factor f: the map runs on the
   * front's grid and writes C f^2 values per cell, one per back pixel (ONNX DepthToSpace, DCR).
   */
  upsample?: 'bilinear' | 'depth-to-space';
  /**
   * Transformer -> Transformer with CLS on both sides: map the CLS token with its own map
   * (maps.cls) and the patch tokens with the main map, instead of one map for every token. The
   * CLS token is what the head reads, and it is not distributed like the patch tokens.
   */
  clsMap?: boolean;
  /**
   * A CNN front's stitch as a k x k convolution instead of a per-pixel map (odd k; default 1):
   * the map reads, per cell of its grid, the front values its 1 x 1 form reads grown by
   * (k - 1) / 2 cells on every side, zero padded. Where the front's grid is brought to the map's
   * grid matters: with average pooling, bilinear resampling or none, the neighbourhood is taken
   * after it, on the map's grid (k x k cells, C k^2 inputs); with space-to-depth by f it is taken
   * on the front's own grid, where a cell's f x f block grows to (f + k - 1)^2 pixels
   * (C (f + k - 1)^2 inputs rather than C f^2 k^2: the neighbours' blocks would mostly repeat
   * what the cell's own block and its border say). Either way the rows are im2col rows, so least
   * squares and refinement treat the stitch as a wider linear map, and it exports as one Conv.
   * Ignored for a Transformer front.
   */
  kernel?: number;
  /**
   * End the stitch in a ReLU, after the per-position offsets (default false): when the back's
   * cut is a ReLU's output (CutPoint.rectified), the back never saw negative values, and a linear
   * stitch feeds it some. Worth it only for a stitch trained through it (refinement): clamping
   * the negative errors of an unbiased least-squares map biases every channel upward.
   */
  rectify?: boolean;
}

/** The im2col window of a convolutional stitch: Conv kernel_shape [size, size], strides, pads. */
export interface Neighbourhood {
  size: number;
  stride: number;
  pad: number;
}

type LayoutOptions = Required<Pick<AdapterOptions, 'downsample' | 'upsample' | 'kernel' | 'rectify'>>;

/**
 * The layout choices of AdapterOptions, checked: the adapter checks what it is given, and plan
 * checks its own defaults with it once, before any configuration is built.
 */
export function layoutOptions(options: LayoutOptions): LayoutOptions {
  const kernel = options.kernel;
  if (!(Number.isInteger(kernel) && kernel >= 1 && kernel % 2 === 1))
    throw invalidArgument('options.kernel', 'an odd integer >= 1', kernel);
  if (typeof options.rectify !== 'boolean')
    throw invalidArgument('options.rectify', 'true or false', options.rectify, 'type');
  return {
    downsample: oneOfArg(options.downsample, 'options.downsample', ['average', 'space-to-depth']),
    upsample: oneOfArg(options.upsample, 'options.upsample', ['bilinear', 'depth-to-space']),
    kernel,
    rectify: options.rectify,
  };
}

export class Adapter {
  readonly kind: AdapterKind;
  readonly front: ActivationShape;
  readonly back: ActivationShape;
  /** Space-to-depth block size applied to a CNN front before the map (1: none). */
  readonly block: number;
  /** Depth-to-space block size applied after the map for a CNN back (1: none). */
  readonly upBlock: number;
  /** Transformer -> Transformer: CLS has its own map (options.clsMap with CLS on both sides). */
  readonly splitCls: boolean;
  /** The stitch's kernel (options.kernel for a CNN front, 1 otherwise). */
  readonly kernel: number;
  /** The stitch ends in a ReLU (options.rectify). */
  readonly rectify: boolean;

  /** An adapter from per-sample dims `front` ([C, H, W] or [T, D]) to `back`. */
  constructor(front: readonly number[], back: readonly number[], options: AdapterOptions = {}) {
    this.front = activationShape(front, 'front', options.frontCls);
    this.back = activationShape(back, 'back', options.backCls);
    this.kind = `${this.front.kind}-${this.back.kind}` as AdapterKind;
    if (this.front.kind === 'vit' && this.back.kind === 'vit' && this.front.tokens !== this.back.tokens) {
      throw new RangeError(
        `back: a Transformer -> Transformer adapter maps token by token and needs ${this.front.tokens} tokens like the front, got ${this.back.tokens}`,
      );
    }
    const { downsample, upsample, kernel, rectify } = layoutOptions({
      downsample: options.downsample ?? 'average',
      upsample: options.upsample ?? 'bilinear',
      kernel: options.kernel ?? 1,
      rectify: options.rectify ?? false,
    });
    this.splitCls =
      (options.clsMap ?? false) &&
      this.front.kind === 'vit' &&
      this.back.kind === 'vit' &&
      this.front.cls &&
      this.back.cls;
    this.upBlock = 1;
    if (upsample === 'depth-to-space' && this.back.kind === 'cnn') {
      const [fh, fw] =
        this.front.kind === 'cnn' ? [this.front.height, this.front.width] : [this.front.side, this.front.side];
      const f = this.back.height / fh;
      if (Number.isInteger(f) && f > 1 && this.back.width / fw === f) this.upBlock = f;
    }
    let block = 1;
    if (downsample === 'space-to-depth' && this.front.kind === 'cnn') {
      const [h, w] = this.grid;
      const f = this.front.height / h;
      if (Number.isInteger(f) && f > 1 && this.front.width / w === f) block = f;
    }
    this.block = block;
    this.kernel = this.front.kind === 'cnn' ? kernel : 1;
    this.rectify = rectify;
  }

  /**
   * The window the main map reads per cell when the stitch is a k x k convolution (kernel > 1):
   * k on the map's grid, or f + k - 1 with stride f on the front's grid under space-to-depth.
   */
  get neighbourhood(): Neighbourhood | undefined {
    if (this.kernel === 1) return undefined;
    const pad = (this.kernel - 1) / 2;
    return { size: this.block + this.kernel - 1, stride: this.block, pad };
  }

  private get frontWidth(): number {
    if (this.front.kind !== 'cnn') return this.front.dim;
    const side = this.neighbourhood?.size ?? this.block;
    return this.front.channels * side * side;
  }

  /** Width of the CLS map's input: the mean-pooled front channels. */
  private get frontChannels(): number {
    return this.front.kind === 'cnn' ? this.front.channels : this.front.dim;
  }

  private get backWidth(): number {
    return this.back.kind === 'cnn' ? this.back.channels * this.upBlock * this.upBlock : this.back.dim;
  }

  /** The grid (height, width) where the main map runs: the back's grid (divided by upBlock). */
  get grid(): [number, number] {
    const u = this.upBlock;
    return this.back.kind === 'cnn' ? [this.back.height / u, this.back.width / u] : [this.back.side, this.back.side];
  }

  /** [rows, cols] of the main map's weight, and of the CLS map's when there is one. */
  get weightShapes(): { main: [number, number]; cls?: [number, number] } {
    const shapes: { main: [number, number]; cls?: [number, number] } = { main: [this.frontWidth, this.backWidth] };
    if (this.needsClsMap) shapes.cls = [this.frontChannels, this.backWidth];
    return shapes;
  }

  /** Rows of the main map per sample (its positions): the back's grid cells, or tokens. */
  get positions(): number {
    const [h, w] = this.grid;
    if (this.kind === 'vit-vit' && this.back.kind === 'vit') return this.back.tokens - (this.splitCls ? 1 : 0);
    return h * w;
  }

  get needsClsMap(): boolean {
    return (this.kind === 'cnn-vit' && this.back.kind === 'vit' && this.back.cls) || this.splitCls;
  }

  private checkBatch(t: Tensor, shape: ActivationShape, name: string): number {
    checkTensor(t, name);
    const expected = shapeDims(shape);
    if (t.dims.length !== expected.length + 1 || expected.some((d, k) => t.dims[k + 1] !== d)) {
      throw new RangeError(`${name}: expected dims [N, ${expected.join(', ')}], got [${t.dims.join(', ')}]`);
    }
    return t.dims[0]!;
  }

  /** The front activation as the maps' inputs: per-position rows on the back's grid (and the CLS map's input). */
  inputs(front: Tensor): { main: Matrix; cls?: Matrix } {
    const n = this.checkBatch(front, this.front, 'front');
    const [h, w] = this.grid;
    const f = this.front;
    let main: Matrix;
    const hood = this.neighbourhood;
    if (f.kind === 'cnn' && hood)
      main = neighbourhoodRows(
        this.block > 1 ? front : resampleGrid(front, h, w, 'front'),
        hood.size,
        hood.stride,
        hood.pad,
      );
    else if (f.kind === 'cnn')
      main = positionRows(
        this.block > 1 ? spaceToDepth(front, this.block, 'front') : resampleGrid(front, h, w, 'front'),
      );
    else if (this.splitCls) return { main: dropTokens(front, 1), cls: sampleRows(front, 'cls', 'front') };
    else if (this.back.kind === 'vit') main = positionRows(front);
    else main = positionRows(resampleGrid(rowsToGrid(positionRows(front), n, f.side, f.side, f.cls ? 1 : 0), h, w));
    return this.needsClsMap ? { main, cls: sampleRows(front, 'mean', 'front') } : { main };
  }

  /** The back activation as the maps' targets. */
  targets(back: Tensor): { main: Matrix; cls?: Matrix } {
    this.checkBatch(back, this.back, 'back');
    if (this.upBlock > 1) return { main: positionRows(spaceToDepth(back, this.upBlock, 'back')) };
    if (this.kind !== 'cnn-vit' && !this.splitCls) return { main: positionRows(back) };
    const b = this.back as Extract<ActivationShape, { kind: 'vit' }>;
    const main = dropTokens(back, b.cls ? 1 : 0);
    return b.cls ? { main, cls: sampleRows(back, 'cls', 'back') } : { main };
  }

  /** Inputs and targets of the maps, for fitStitch on (x, y). */
  pairs(front: Tensor, back: Tensor): { main: FitPair; cls?: FitPair } {
    const nf = this.checkBatch(front, this.front, 'front');
    const nb = this.checkBatch(back, this.back, 'back');
    if (nf !== nb) throw new RangeError(`back: expected the same batch as front (${nf}), got ${nb}`);
    const x = this.inputs(front),
      y = this.targets(back);
    const out: { main: FitPair; cls?: FitPair } = { main: { x: x.main, y: y.main } };
    if (x.cls && y.cls) out.cls = { x: x.cls, y: y.cls };
    return out;
  }

  checkMaps(maps: AdapterMaps): void {
    const shapes = this.weightShapes;
    for (const key of ['main', 'cls'] as const) {
      const expected = shapes[key];
      const map = maps?.[key];
      if (!expected) continue;
      if (!map?.weight || !(map.bias instanceof Float32Array) || typeof map.apply !== 'function') {
        throw new TypeError(
          `maps.${key}: expected a stitch {weight, bias, apply}${key === 'cls' ? ' (this adapter makes a CLS token)' : ''}`,
        );
      }
      if (map.weight.rows !== expected[0] || map.weight.cols !== expected[1] || map.bias.length !== expected[1]) {
        throw new RangeError(
          `maps.${key}: expected a ${expected[0]} x ${expected[1]} weight and ${expected[1]} biases, got ${map.weight.rows} x ${map.weight.cols} and ${map.bias.length}`,
        );
      }
    }
    if (maps.position !== undefined) {
      const size = this.positions * shapes.main[1];
      if (!(maps.position instanceof Float32Array) || maps.position.length !== size) {
        throw new RangeError(
          `maps.position: expected a Float32Array of ${this.positions} positions x ${shapes.main[1]} outputs = ${size} values, got ${maps.position instanceof Float32Array ? maps.position.length : typeof maps.position}`,
        );
      }
    }
  }

  /**
   * The maps' outputs laid out as the back's input, for a batch of n samples: main rows (one per
   * position) and, when the back has a CLS token made by a map, the CLS rows. targets() is its
   * inverse, so it also carries a gradient at the back's input back to the maps' outputs.
   */
  assemble(main: Matrix, cls: Matrix | undefined, n: number): Tensor {
    const b = this.back;
    if (b.kind === 'cnn') {
      const [h, w] = this.grid;
      return this.upBlock > 1 ? depthToSpace(rowsToGrid(main, n, h, w), this.upBlock) : rowsToGrid(main, n, h, w);
    }
    if ((this.kind === 'vit-vit' && !this.splitCls) || !b.cls)
      return { data: main.data, dims: [n, main.rows / n, b.dim] };
    if (!cls) throw new TypeError("cls: expected the CLS map's output rows (this adapter makes a CLS token)");
    return prependCls(cls, main, n);
  }

  /** Runs the adapter and its maps: the front activation as the back expects it. */
  run(front: Tensor, maps: AdapterMaps): Tensor {
    this.checkMaps(maps);
    const x = this.inputs(front);
    const y = this.output(addPositionOffsets(maps.main.apply(x.main), maps.position));
    const cls = x.cls && maps.cls ? this.output(maps.cls.apply(x.cls)) : undefined;
    return this.assemble(y, cls, front.dims[0]!);
  }

  /** A map's output rows (offsets added) as the stitch emits them: rectified in place with options.rectify. */
  output(y: Matrix): Matrix {
    return this.rectify ? rectifyRows(y) : y;
  }
}
