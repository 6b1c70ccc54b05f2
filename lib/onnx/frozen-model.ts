// A pretrained ONNX model kept frozen: its graph (parsed with protobufjs), its cut points, the
// sub-graphs between them as ONNX models, and onnxruntime sessions for running them, created on
// first use and cached.
import { readFile } from 'node:fs/promises';

import type { Tensor } from '../matrix.js';
import { dimsText, integerArg } from '../validate.js';
import { OnnxModelError } from './errors.js';
import { inlineExternalData, readExternalFiles } from './external-data.js';
import { extractModel, subGraph } from './extract.js';
import { gradientModel, GRADIENT_IO } from './grad.js';
import { GraphInfo } from './graph.js';
import { macsOf, paramsOf } from './macs.js';
import { decodeModel, encodeModel, valueInfoDims, DataType, type ModelProto } from './proto.js';
import { SessionCache, runSession } from './session-cache.js';
import { probeShapes, symbolicDims, type Dim, type TensorMeta } from './shapes.js';

export interface FrozenModelOptions {
  /** onnxruntime intra-op threads per session (default: onnxruntime's choice). */
  threads?: number;
  /** Which graph output is "the" output when the model has several. */
  output?: string;
}

/** A tensor's name and shape; the batch dimension is the string name of the batch axis. */
export interface TensorInfo {
  name: string;
  shape: (number | string)[];
}

export interface CutPoint extends TensorInfo {
  /** Position from the input (0) to the output. */
  index: number;
  /** Multiply-adds per sample of the prefix from the input up to this tensor. */
  macs: number;
  /** Produced by a Relu (through Identity nodes): what the model computes after it never sees a negative value. */
  rectified: boolean;
}

/** The cross-entropy loss of the logits and its gradient with respect to a cut's activation. */
export interface LossGradient {
  /** Mean over the batch of -sum_k target_k log softmax(logits)_k. */
  loss: number;
  /** d loss / d activation, shaped like the activation. */
  grad: Tensor;
}

/** The frozen rest of a model from a cut to its logits, differentiated (one cached session). */
export interface GradientSegment {
  readonly from: string;
  /** Loss and gradient at activation `x` ([N, ...] at `from`) against target probabilities [N, K]. */
  run(x: Tensor, target: Tensor): Promise<LossGradient>;
}

/** A sub-graph between two tensors, run by one cached onnxruntime session. */
export interface Segment {
  readonly from: string;
  readonly to: string;
  /** Multiply-adds per sample. */
  readonly macs: number;
  /** Float parameters it reads. */
  readonly params: number;
  readonly inputShape: (number | string)[];
  readonly outputShape: (number | string)[];
  bytes(): Uint8Array;
  run(x: Tensor): Promise<Tensor>;
}

export class FrozenModel {
  /** The data input and the output. */
  readonly input: TensorInfo;
  readonly output: TensorInfo;
  private readonly sessions: SessionCache;
  private readonly segmentCache = new Map<string, Segment>();
  private readonly gradientCache = new Map<string, GradientSegment>();
  private cutList?: CutPoint[];

  private constructor(
    private readonly info: GraphInfo,
    private readonly shapes: Map<string, TensorMeta>,
    private readonly batchName: string,
    threads: number | undefined,
  ) {
    this.sessions = new SessionCache(threads);
    this.input = this.tensorInfo(info.input);
    this.output = this.tensorInfo(info.output);
  }

  /** Parses an ONNX model (a path or its bytes) and measures its tensors' shapes once. */
  static async load(pathOrBytes: string | Uint8Array, options: FrozenModelOptions = {}): Promise<FrozenModel> {
    const { threads, output } = options;
    if (threads !== undefined) integerArg(threads, 'options.threads', 1);
    let bytes: Uint8Array;
    let name: string;
    if (typeof pathOrBytes === 'string') {
      name = `model '${pathOrBytes}'`;
      try {
        bytes = await readFile(pathOrBytes);
      } catch (cause) {
        throw new OnnxModelError(
          `pathOrBytes: cannot read the ONNX file '${pathOrBytes}' (${(cause as Error).message})`,
          { cause },
        );
      }
    } else if (pathOrBytes instanceof Uint8Array) {
      name = 'pathOrBytes';
      bytes = pathOrBytes;
    } else {
      throw new TypeError(
        `pathOrBytes: expected a file path or a Uint8Array of ONNX bytes, got ${Object.prototype.toString.call(pathOrBytes)}`,
      );
    }
    let model = decodeModel(bytes, name);
    const external = model.graph!.initializer.filter((t) => t.data_location === 1).length;
    if (external > 0) {
      // By path, the files are beside the model (a family's fused file references its anchors'
      // weights this way); bytes alone do not say where they are.
      if (typeof pathOrBytes !== 'string')
        throw new OnnxModelError(
          `${name}: ${external} initializers keep their values in external data files; load the model by its path (the files are read beside it) or save it with its weights inside (onnx.save(model, path, save_as_external_data=False))`,
        );
      const fail = (why: string) => new OnnxModelError(`${name}: ${why}`);
      model = inlineExternalData(model, await readExternalFiles(model, pathOrBytes, fail), fail);
    }
    const info = new GraphInfo(model, name, output);
    const inputInfo = model.graph!.input.find((i) => i.name === info.input)!;
    const elemType = inputInfo.type?.tensor_type?.elem_type;
    if (elemType !== DataType.FLOAT)
      throw new OnnxModelError(`${name}: expected a float32 input, '${info.input}' has ONNX element type ${elemType}`);
    const dims = valueInfoDims(inputInfo);
    if (!dims) throw new OnnxModelError(`${name}: the input '${info.input}' has no shape`);
    const batchAxis = dims.findIndex((d) => typeof d !== 'number');
    if (dims.some((d, k) => k !== batchAxis && typeof d !== 'number')) {
      throw new OnnxModelError(
        `${name}: expected one dynamic (batch) dimension in the input '${info.input}', got ${dimsText(dims.map((d) => d ?? '?'))}`,
      );
    }
    const batchName = batchAxis >= 0 && typeof dims[batchAxis] === 'string' ? (dims[batchAxis] as string) : 'N';
    let shapes: Map<string, TensorMeta>;
    try {
      shapes = await probeShapes(
        info,
        dims.map((d) => (typeof d === 'number' ? d : 1)),
        batchAxis >= 0 ? batchAxis : undefined,
        threads,
      );
    } catch (cause) {
      throw new OnnxModelError(`${name}: onnxruntime could not run the model (${(cause as Error).message})`, { cause });
    }
    return new FrozenModel(info, shapes, batchName, threads);
  }

  private meta(name: string, arg: string): TensorMeta {
    const meta = this.shapes.get(name);
    if (!meta) throw new Error(`${arg}: no tensor named '${name}' in the model`);
    return meta;
  }

  private tensorInfo(name: string): TensorInfo {
    return { name, shape: symbolicDims(this.meta(name, 'name').dims, this.batchName) };
  }

  /** The measured dims of a tensor (batch dims as {batch: k}). */
  dims(name: string): Dim[] {
    return this.meta(name, 'name').dims;
  }

  /** Per-sample dims of a batch-first tensor [N, ...] (the dims after the batch). */
  sampleDims(name: string): number[] {
    const dims = this.dims(name);
    const [first, ...rest] = dims;
    if (
      first === undefined ||
      typeof first === 'number' ||
      first.batch !== 1 ||
      rest.some((d) => typeof d !== 'number')
    ) {
      throw new RangeError(
        `name: expected a batch-first tensor [N, ...], '${name}' has dims ${dimsText(symbolicDims(dims, this.batchName))}`,
      );
    }
    return rest as number[];
  }

  /** The underlying ModelProto (read-only use). */
  get proto(): ModelProto {
    return this.info.model;
  }

  /** Every tensor through which all data flows from the input to the output, in order. */
  cutPoints(): CutPoint[] {
    this.cutList ??= this.info.cutPoints().map((name, index) => ({
      ...this.tensorInfo(name),
      index,
      macs: macsOf(this.info, this.shapes, this.info.ancestors(name)),
      rectified: this.info.rectified(name),
    }));
    return this.cutList.map((c) => ({ ...c, shape: [...c.shape] }));
  }

  /** Multiply-adds per sample of the whole model. */
  macs(): number {
    return macsOf(this.info, this.shapes, this.info.order);
  }

  /** Float parameters of the whole model. */
  params(): number {
    return paramsOf(this.info, this.info.order);
  }

  /** The sub-graph from tensor `from` to tensor `to` as ONNX bytes. */
  extract(from: string = this.info.input, to: string = this.info.output): Uint8Array {
    return encodeModel(this.subModel(from, to));
  }

  /** The sub-graph from `from` to `to` as a ModelProto (what extract encodes). */
  subModel(from: string = this.info.input, to: string = this.info.output): ModelProto {
    return extractModel(this.info, this.shapes, from, to, { batchName: this.batchName });
  }

  private checkInput(x: Tensor, expected: Dim[], arg: string): void {
    if (!x || !(x.data instanceof Float32Array) || !Array.isArray(x.dims)) {
      throw new TypeError(`${arg}: expected a tensor {data: Float32Array, dims: number[]}`);
    }
    const ok =
      x.dims.length === expected.length &&
      expected.every((d, k) =>
        typeof d === 'number' ? x.dims[k] === d : Number.isInteger(x.dims[k]! / d.batch) && x.dims[k]! > 0,
      ) &&
      x.dims.reduce((a, b) => a * b, 1) === x.data.length;
    if (!ok) {
      throw new RangeError(
        `${arg}: expected dims ${dimsText(symbolicDims(expected, this.batchName))} with ${x.dims.reduce((a, b) => a * b, 1)} = data.length elements, got dims ${dimsText(x.dims)} and ${x.data.length} elements`,
      );
    }
  }

  /** Runs the whole model. */
  async run(input: Tensor): Promise<Tensor> {
    return this.segment(this.info.input, this.info.output).run(input);
  }

  /** One onnxruntime run returning the named intermediate (float) tensors. */
  async capture(input: Tensor, names: string[]): Promise<Record<string, Tensor>> {
    this.checkInput(input, this.dims(this.info.input), 'input');
    if (!Array.isArray(names) || names.length === 0)
      throw new TypeError('names: expected a non-empty array of tensor names');
    for (const n of names) {
      const meta = this.meta(n, 'names');
      if (meta.type !== 'float32') throw new TypeError(`names: expected float32 tensors, '${n}' is ${meta.type}`);
    }
    const unique = [...new Set(names)];
    const key = `capture:${JSON.stringify([...unique].sort())}`;
    const session = await this.sessions.get(key, () => this.withOutputs(unique));
    const result = await runSession(session, { [this.info.input]: input }, unique);
    const out: Record<string, Tensor> = {};
    for (const n of unique) out[n] = { data: result[n]!.data as Float32Array, dims: result[n]!.dims };
    return out;
  }

  private withOutputs(names: string[]): Uint8Array {
    const model = this.info.model;
    const graph = model.graph!;
    const extra = names.filter((n) => !graph.output.some((o) => o.name === n)).map((name) => ({ name }));
    return encodeModel({ ...model, graph: { ...graph, output: [...graph.output, ...extra] } });
  }

  /** The segment from `from` to `to`, shared by every caller (one session each). */
  segment(from: string, to: string): Segment {
    const key = JSON.stringify([from, to]);
    let seg = this.segmentCache.get(key);
    if (seg) return seg;
    const sub = subGraph(this.info, from, to);
    const inDims = this.dims(from);
    const outName = to;
    const sessions = this.sessions;
    const self = this;
    seg = {
      from,
      to,
      macs: macsOf(this.info, this.shapes, sub.nodes),
      params: paramsOf(this.info, sub.nodes),
      inputShape: symbolicDims(inDims, this.batchName),
      outputShape: symbolicDims(this.dims(to), this.batchName),
      bytes: () => self.extract(from, to),
      async run(x: Tensor): Promise<Tensor> {
        self.checkInput(x, inDims, 'x');
        const session = await sessions.get(`segment:${key}`, () => self.extract(from, to));
        const out = (await runSession(session, { [from]: x }, [outName]))[outName]!;
        return { data: out.data as Float32Array, dims: out.dims };
      },
    };
    this.segmentCache.set(key, seg);
    return seg;
  }

  /**
   * The segment from `from` to the output (the logits, [N, K]) extended with a cross-entropy
   * loss and its gradient with respect to `from`: how a stitch in front of this segment is
   * trained on the task while the model stays frozen.
   */
  gradient(from: string): GradientSegment {
    const cached = this.gradientCache.get(from);
    if (cached) return cached;
    const inDims = this.dims(from),
      outDims = this.dims(this.info.output);
    const key = `gradient:${from}`;
    // Built here, so an op that cannot be differentiated is reported by this call.
    const model = encodeModel(this.gradientGraph(from));
    const segment: GradientSegment = {
      from,
      run: async (x: Tensor, target: Tensor): Promise<LossGradient> => {
        this.checkInput(x, inDims, 'x');
        const n = x.dims[0]!;
        this.checkInput(target, outDims, 'target');
        if (target.dims[0] !== n) throw new RangeError(`target: expected ${n} rows like x, got ${target.dims[0]}`);
        const session = await this.sessions.get(key, () => model);
        const out = await runSession(session, { [from]: x, [GRADIENT_IO.target]: target }, [
          GRADIENT_IO.loss,
          GRADIENT_IO.grad,
        ]);
        const grad = out[GRADIENT_IO.grad]!;
        return {
          loss: (out[GRADIENT_IO.loss]!.data as Float32Array)[0]!,
          grad: { data: grad.data as Float32Array, dims: grad.dims },
        };
      },
    };
    this.gradientCache.set(from, segment);
    return segment;
  }

  /**
   * The gradient graph that gradient(from) runs, built without a session: it throws what
   * gradient(from) would (an op without a gradient rule, a non-constant parameter), which is how
   * a plan checks its configurations before any fitting.
   */
  gradientGraph(from: string): ModelProto {
    return gradientModel(this.info, this.shapes, from, this.info.output, {
      batchName: this.batchName,
      name: `gradient of '${from}'`,
    });
  }

  /** The model split at an ordered list of cut points: consecutive segments whose chain is the model. */
  segments(cuts: string[]): Segment[] {
    if (!Array.isArray(cuts)) throw new TypeError('cuts: expected an array of cut point names');
    const order = new Map(this.info.cutPoints().map((c, i) => [c, i]));
    let last = 0;
    for (const c of cuts) {
      const i = order.get(c);
      if (i === undefined) throw new RangeError(`cuts: '${c}' is not a cut point of the model`);
      if (i <= last || i === order.size - 1)
        throw new RangeError(
          `cuts: expected cut points strictly between the input and the output, in order; '${c}' is out of order or at an end`,
        );
      last = i;
    }
    const bounds = [this.info.input, ...cuts, this.info.output];
    return bounds.slice(1).map((to, k) => this.segment(bounds[k]!, to));
  }

  /** Number of onnxruntime sessions created so far. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Releases every onnxruntime session and its memory arena. The model stays usable: a later
   * call builds the session it needs again (fit releases the sessions sized for calibration
   * batches this way once a configuration is done).
   */
  async dispose(): Promise<void> {
    this.gradientCache.clear();
    await this.sessions.release();
  }
}
