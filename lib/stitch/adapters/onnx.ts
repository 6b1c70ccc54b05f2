// An adapter and its maps written as ONNX nodes, so a stitched network exports as one file:
// Slice/Transpose/Reshape for the layouts, AveragePool and Resize (linear, half_pixel) for the
// grid, MatMul + Add for the maps (one Conv for a k x k convolutional stitch), ReduceMean +
// Unsqueeze + Concat for a CLS token, and one Relu at the end of a rectified stitch.
import { attribute, DataType, node, tensorProto, type NodeProto, type TensorProto } from '../../onnx/proto.js';
import type { Stitch } from '../fit.js';
import type { Adapter, AdapterMaps, Neighbourhood } from './adapter.js';

export interface OnnxFragment {
  nodes: NodeProto[];
  initializers: TensorProto[];
}

export interface AdapterOnnxOptions {
  /** Name of the front activation tensor (the fragment's input). */
  input: string;
  /** Name to give the adapted tensor (the fragment's output). */
  output: string;
  /** Prefix of every name the fragment creates. */
  prefix: string;
  /** The default-domain opset of the model the fragment goes into (>= 13). */
  opset: number;
}

/**
 * Adaptive average pooling of an axis of length `n` to `m` as a matrix: row o averages inputs
 * floor(o n / m) .. ceil((o + 1) n / m) - 1. [m, n], or [n, m] when `transposed`.
 */
function poolingMatrix(n: number, m: number, transposed: boolean): Float32Array {
  const p = new Float32Array(n * m);
  for (let o = 0; o < m; o++) {
    const begin = Math.floor((o * n) / m),
      end = Math.ceil(((o + 1) * n) / m);
    for (let i = begin; i < end; i++) p[transposed ? i * m + o : o * n + i] = 1 / (end - begin);
  }
  return p;
}

class Builder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  private count = 0;

  constructor(
    private readonly prefix: string,
    readonly opset: number,
  ) {}

  name(s: string): string {
    return `${this.prefix}${s}_${this.count++}`;
  }

  ints(values: number[]): string {
    const n = this.name('const');
    this.initializers.push(tensorProto(n, [values.length], values, DataType.INT64));
    return n;
  }

  floats(data: Float32Array, dims: number[], label = 'weight'): string {
    const n = this.name(label);
    this.initializers.push(tensorProto(n, dims, data));
    return n;
  }

  op(type: string, inputs: string[], attrs: ReturnType<typeof attribute>[] = [], output?: string): string {
    const out = output ?? this.name(type.toLowerCase());
    this.nodes.push(node(type, inputs, [out], attrs, `${this.prefix}${type}_${this.nodes.length}`));
    return out;
  }

  /** x W + b on the last axis, plus a per-position offset of dims `positionDims` when given. */
  linear(x: string, map: Stitch, output?: string, position?: { data: Float32Array; dims: number[] }): string {
    const w = this.floats(map.weight.data, [map.weight.rows, map.weight.cols]);
    const b = this.floats(map.bias, [map.bias.length]);
    if (!position) return this.op('Add', [this.op('MatMul', [x, w]), b], [], output);
    const y = this.op('Add', [this.op('MatMul', [x, w]), b]);
    return this.op('Add', [y, this.floats(position.data, position.dims, 'position')], [], output);
  }

  /**
   * NCHW [.., .., h, w] -> [.., .., oh, ow] as the native resample does: AveragePool for integer
   * shrink factors, otherwise adaptive average pooling as a MatMul by a constant pooling matrix;
   * Resize (linear, half_pixel) to grow.
   */
  resample(x: string, h: number, w: number, oh: number, ow: number): string {
    let y = x;
    const poolH = oh < h,
      poolW = ow < w;
    if ((poolH && h % oh !== 0) || (poolW && w % ow !== 0)) {
      if (poolH) y = this.op('MatMul', [this.floats(poolingMatrix(h, oh, false), [oh, h], 'pool'), y]);
      if (poolW) y = this.op('MatMul', [y, this.floats(poolingMatrix(w, ow, true), [w, ow], 'pool')]);
    } else if (poolH || poolW) {
      const kh = poolH ? h / oh : 1,
        kw = poolW ? w / ow : 1;
      y = this.op('AveragePool', [y], [attribute('kernel_shape', [kh, kw]), attribute('strides', [kh, kw])]);
    }
    if (oh > h || ow > w) {
      const nc = this.op('Slice', [this.op('Shape', [y]), this.ints([0]), this.ints([2]), this.ints([0])]);
      const sizes = this.op('Concat', [nc, this.ints([oh, ow])], [attribute('axis', 0)]);
      y = this.op(
        'Resize',
        [y, '', '', sizes],
        [attribute('mode', 'linear'), attribute('coordinate_transformation_mode', 'half_pixel')],
      );
    }
    return y;
  }

  /**
   * The main map of a convolutional stitch as one Conv on NCHW `x`: its weight [M, C, K, K] is
   * the map's transpose (map row (c K + ky) K + kx, the im2col column, feeds weight [m, c, ky, kx]).
   */
  conv(x: string, map: Stitch, window: Neighbourhood, output?: string): string {
    const { rows, cols, data } = map.weight;
    const weight = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let m = 0; m < cols; m++) weight[m * rows + r] = data[r * cols + m]!;
    const k = window.size;
    const attrs = [
      attribute('kernel_shape', [k, k]),
      attribute('strides', [window.stride, window.stride]),
      attribute('pads', [window.pad, window.pad, window.pad, window.pad]),
    ];
    const w = this.floats(weight, [cols, rows / (k * k), k, k]);
    return this.op('Conv', [x, w, this.floats(map.bias, [cols], 'bias')], attrs, output);
  }

  reduceMean(x: string, axes: number[]): string {
    if (this.opset >= 18) return this.op('ReduceMean', [x, this.ints(axes)], [attribute('keepdims', 0)]);
    return this.op('ReduceMean', [x], [attribute('axes', axes), attribute('keepdims', 0)]);
  }
}

/** The adapter and its maps as ONNX nodes from `input` (front activation) to `output`. */
export function adapterToOnnx(adapter: Adapter, maps: AdapterMaps, options: AdapterOnnxOptions): OnnxFragment {
  adapter.checkMaps(maps);
  if (!Number.isInteger(options.opset) || options.opset < 13)
    throw new RangeError(`opset: expected an integer >= 13, got ${options.opset}`);
  const b = new Builder(options.prefix, options.opset);
  if (!adapter.rectify) {
    linearStitch(b, adapter, maps, options);
  } else {
    // The linear stitch into an inner tensor, then one Relu into the fragment's output.
    const linear = b.name('linear');
    linearStitch(b, adapter, maps, { ...options, output: linear });
    b.op('Relu', [linear], [], options.output);
  }
  return { nodes: b.nodes, initializers: b.initializers };
}

/** The stitch up to its ReLU (AdapterOptions.rectify): layouts, maps and offsets, ending in `options.output`. */
function linearStitch(b: Builder, adapter: Adapter, maps: AdapterMaps, options: AdapterOnnxOptions): void {
  const { front, back } = adapter;
  const [gh, gw] = adapter.grid;
  const out = options.output;
  let grid: string;
  const hood = adapter.neighbourhood;
  if (front.kind === 'cnn' && hood) {
    const source = adapter.block > 1 ? options.input : b.resample(options.input, front.height, front.width, gh, gw);
    // A CNN back on the same grid without offsets takes the Conv's output as it is.
    const direct = back.kind === 'cnn' && !maps.position && adapter.upBlock === 1;
    const mapped = b.conv(source, maps.main, hood, direct ? options.output : undefined);
    if (!direct) convolutionTail(b, adapter, maps, mapped, options);
    return;
  } else if (front.kind === 'cnn') {
    grid =
      adapter.block > 1
        ? b.op('SpaceToDepth', [options.input], [attribute('blocksize', adapter.block)])
        : b.resample(options.input, front.height, front.width, gh, gw);
  } else if (back.kind === 'vit' && adapter.splitCls) {
    // Transformer -> Transformer, CLS by its own map: [N, 1, D] and [N, T - 1, D] mapped, then joined.
    const cls = b.op('Slice', [options.input, b.ints([0]), b.ints([1]), b.ints([1])]);
    const rest = b.op('Slice', [options.input, b.ints([1]), b.ints([front.tokens]), b.ints([1])]);
    const tokens = b.linear(
      rest,
      maps.main,
      undefined,
      maps.position && { data: maps.position, dims: [back.tokens - 1, back.dim] },
    );
    b.op('Concat', [b.linear(cls, maps.cls!), tokens], [attribute('axis', 1)], out);
    return;
  } else if (back.kind === 'vit') {
    // Transformer -> Transformer: token by token, CLS included.
    b.linear(options.input, maps.main, out, maps.position && { data: maps.position, dims: [back.tokens, back.dim] });
    return;
  } else {
    const tokens = front.cls
      ? b.op('Slice', [options.input, b.ints([1]), b.ints([front.tokens]), b.ints([1])])
      : options.input;
    const channelsFirst = b.op('Transpose', [tokens], [attribute('perm', [0, 2, 1])]);
    const square = b.op('Reshape', [channelsFirst, b.ints([0, front.dim, front.side, front.side])]);
    grid = b.resample(square, front.side, front.side, gh, gw);
  }
  const channelsLast = b.op('Transpose', [grid], [attribute('perm', [0, 2, 3, 1])]);
  if (back.kind === 'cnn') {
    const width = maps.main.weight.cols;
    const mapped = b.linear(
      channelsLast,
      maps.main,
      undefined,
      maps.position && { data: maps.position, dims: [gh, gw, width] },
    );
    if (adapter.upBlock > 1) {
      const nchw = b.op('Transpose', [mapped], [attribute('perm', [0, 3, 1, 2])]);
      b.op('DepthToSpace', [nchw], [attribute('blocksize', adapter.upBlock), attribute('mode', 'DCR')], out);
    } else {
      b.op('Transpose', [mapped], [attribute('perm', [0, 3, 1, 2])], out);
    }
  } else {
    const rows = b.op('Reshape', [channelsLast, b.ints([0, gh * gw, -1])]);
    const position = maps.position && { data: maps.position, dims: [gh * gw, back.dim] };
    if (!adapter.needsClsMap) {
      b.linear(rows, maps.main, out, position);
    } else {
      const tokens = b.linear(rows, maps.main, undefined, position);
      const pooled = b.reduceMean(options.input, [2, 3]);
      const cls = b.op('Unsqueeze', [b.linear(pooled, maps.cls!), b.ints([1])]);
      b.op('Concat', [cls, tokens], [attribute('axis', 1)], out);
    }
  }
}

/**
 * After a convolutional stitch's Conv ([N, M, gh, gw], the main map applied): the per-position
 * offset, then the back's layout (DepthToSpace for a CNN back that grows; tokens and the CLS
 * token for a Transformer back), ending in `options.output`.
 */
function convolutionTail(
  b: Builder,
  adapter: Adapter,
  maps: AdapterMaps,
  mapped: string,
  options: AdapterOnnxOptions,
): void {
  const [gh, gw] = adapter.grid;
  const width = maps.main.weight.cols;
  const out = options.output;
  if (adapter.back.kind === 'cnn') {
    let y = mapped;
    if (maps.position) {
      // positions x outputs -> [M, gh, gw], added to every sample's NCHW map.
      const offsets = new Float32Array(maps.position.length);
      const positions = gh * gw;
      for (let p = 0; p < positions; p++)
        for (let m = 0; m < width; m++) offsets[m * positions + p] = maps.position[p * width + m]!;
      y = b.op('Add', [y, b.floats(offsets, [width, gh, gw], 'position')], [], adapter.upBlock > 1 ? undefined : out);
    }
    if (adapter.upBlock > 1)
      b.op('DepthToSpace', [y], [attribute('blocksize', adapter.upBlock), attribute('mode', 'DCR')], out);
    return;
  }
  const channelsLast = b.op('Transpose', [mapped], [attribute('perm', [0, 2, 3, 1])]);
  const last = !adapter.needsClsMap;
  let tokens = b.op('Reshape', [channelsLast, b.ints([0, gh * gw, -1])], [], last && !maps.position ? out : undefined);
  if (maps.position)
    tokens = b.op('Add', [tokens, b.floats(maps.position, [gh * gw, width], 'position')], [], last ? out : undefined);
  if (last) return;
  const cls = b.op('Unsqueeze', [b.linear(b.reduceMean(options.input, [2, 3]), maps.cls!), b.ints([1])]);
  b.op('Concat', [cls, tokens], [attribute('axis', 1)], out);
}
