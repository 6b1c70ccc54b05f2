// A stitched network: the front of anchor A up to cut i, an adapter with its learned maps, and
// the back of anchor B after cut j. The frozen parts run as segments of the anchors, so every
// stitched model built from the same anchors shares their onnxruntime sessions; the whole chain
// also exports as one fused ONNX file.
import type { Tensor } from '../matrix.js';
import type { FrozenModel, Segment } from '../onnx/frozen-model.js';
import { referenceExternalData, type ExternalSource } from '../onnx/external-data.js';
import { defaultOpset, fuseModels } from '../onnx/fuse.js';
import { encodeModel } from '../onnx/proto.js';
import { Adapter, type AdapterMaps, type AdapterOptions } from './adapters/adapter.js';
import { adapterToOnnx } from './adapters/onnx.js';

export interface StitchedModelSpec {
  front: FrozenModel;
  /** Cut point of the front model where the stitch reads. */
  frontCut: string;
  back: FrozenModel;
  /** Cut point of the back model that the stitch produces. */
  backCut: string;
  maps: AdapterMaps;
  /**
   * Cut points at which the anchors are split into shared segments (for example every cut any
   * configuration uses). The front runs the segments up to frontCut, the back those after backCut.
   */
  frontCuts?: string[];
  backCuts?: string[];
  adapter?: AdapterOptions;
}

function cutIndex(model: FrozenModel, cut: string, arg: string): Map<string, number> {
  const order = new Map(model.cutPoints().map((c) => [c.name, c.index]));
  if (!order.has(cut)) throw new RangeError(`${arg}: '${cut}' is not a cut point of the model`);
  return order;
}

export class StitchedModel {
  readonly adapter: Adapter;
  readonly frontSegments: Segment[];
  readonly backSegments: Segment[];
  private readonly spec: StitchedModelSpec;

  constructor(spec: StitchedModelSpec) {
    this.spec = spec;
    const { front, back, frontCut, backCut } = spec;
    const frontOrder = cutIndex(front, frontCut, 'frontCut');
    const backOrder = cutIndex(back, backCut, 'backCut');
    const fi = frontOrder.get(frontCut)!,
      bi = backOrder.get(backCut)!;
    if (fi === 0) throw new RangeError(`frontCut: expected a cut after the input, got the input '${frontCut}'`);
    if (bi === backOrder.size - 1)
      throw new RangeError(`backCut: expected a cut before the output, got the output '${backCut}'`);
    this.adapter = new Adapter(front.sampleDims(frontCut), back.sampleDims(backCut), spec.adapter);
    this.adapter.checkMaps(spec.maps);
    const inside = (
      order: Map<string, number>,
      cuts: string[] | undefined,
      arg: string,
      keep: (i: number) => boolean,
    ): string[] =>
      (cuts ?? [])
        .filter((c) => {
          const i = order.get(c);
          if (i === undefined) throw new RangeError(`${arg}: '${c}' is not a cut point of the model`);
          return keep(i);
        })
        .sort((a, b) => order.get(a)! - order.get(b)!);
    const frontBounds = [
      front.input.name,
      ...inside(frontOrder, spec.frontCuts, 'frontCuts', (i) => i > 0 && i < fi),
      frontCut,
    ];
    const backBounds = [
      backCut,
      ...inside(backOrder, spec.backCuts, 'backCuts', (i) => i > bi && i < backOrder.size - 1),
      back.output.name,
    ];
    this.frontSegments = frontBounds.slice(1).map((to, k) => front.segment(frontBounds[k]!, to));
    this.backSegments = backBounds.slice(1).map((to, k) => back.segment(backBounds[k]!, to));
  }

  /** Multiply-adds per sample: front segments + stitch + back segments. */
  get macs(): number {
    const shapes = this.adapter.weightShapes;
    const positions = this.adapter.positions;
    const stitch = positions * shapes.main[0] * shapes.main[1] + (shapes.cls ? shapes.cls[0] * shapes.cls[1] : 0);
    const sum = (segments: Segment[]): number => segments.reduce((a, s) => a + s.macs, 0);
    return sum(this.frontSegments) + stitch + sum(this.backSegments);
  }

  /** Runs front segments -> adapter and stitch (native) -> back segments. */
  async run(pixels: Tensor): Promise<Tensor> {
    let t = pixels;
    for (const s of this.frontSegments) t = await s.run(t);
    t = this.adapter.run(t, this.spec.maps);
    for (const s of this.backSegments) t = await s.run(t);
    return t;
  }

  /**
   * The whole chain as one ONNX model (bytes): names prefixed 'front/', 'stitch/', 'back/'.
   * Self-contained by default; with `external` (the anchors' files: name and bytes), the anchors'
   * weights are references into those files (ONNX external data) instead of copies.
   */
  toOnnx(options: { external?: readonly ExternalSource[] } = {}): Uint8Array {
    const { front, back, frontCut, backCut } = this.spec;
    const frontModel = front.subModel(undefined, frontCut);
    const backModel = back.subModel(backCut);
    const opset = Math.max(defaultOpset(frontModel), defaultOpset(backModel));
    const fragment = adapterToOnnx(this.adapter, this.spec.maps, {
      input: `front/${frontCut}`,
      output: `back/${backCut}`,
      prefix: 'stitch/',
      opset,
    });
    const fused = fuseModels(frontModel, fragment, backModel, { front: 'front/', back: 'back/' });
    return encodeModel(options.external ? referenceExternalData(fused, options.external) : fused);
  }
}
