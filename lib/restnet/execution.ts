// Running a family: every anchor is split into shared segments at each cut any configuration
// uses, and every configuration is a StitchedModel over those segments, so all configurations
// (and the anchors themselves) run on the same onnxruntime sessions: memory is about A + B +
// stitches, and switching configurations only swaps a reference.
import type { Tensor } from '../matrix.js';
import type { Segment } from '../onnx/frozen-model.js';
import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import { StitchedModel } from '../stitch/stitched-model.js';
import type { Anchor } from './anchor.js';
import { layoutOf } from './layout.js';
import type { ConfigRecord } from './manifest.js';

/** Something run() can be pointed at: a configuration or an anchor. */
export interface Runner {
  id: string;
  run(x: Tensor): Promise<Tensor>;
}

/** The distinct anchors of a pair (one for a self-stitch). */
export function uniqueAnchors(anchors: readonly Anchor[]): Anchor[] {
  return anchors.filter((a, k) => anchors.findIndex((b) => b.name === a.name) === k);
}

export class SharedSegments {
  /** Per anchor, every cut its configurations use: where its shared segments split. */
  private readonly bounds: Map<string, Set<string>>;
  private readonly anchorRunners = new Map<string, Runner>();

  constructor(private readonly anchors: readonly Anchor[], records: readonly ConfigRecord[]) {
    const byName = new Map(anchors.map((a) => [a.name, a]));
    this.bounds = new Map(anchors.map((a) => [a.name, new Set<string>()]));
    for (const record of records) {
      if (!byName.has(record.front) || !byName.has(record.back)) throw new RangeError(`configs: '${record.id}' joins '${record.front}' to '${record.back}', expected anchors ${[...byName.keys()].join(', ')}`);
      this.bounds.get(record.front)!.add(record.frontCut);
      this.bounds.get(record.back)!.add(record.backCut);
    }
    for (const a of uniqueAnchors(anchors)) {
      const order = new Map(a.model.cutPoints().map((c) => [c.name, c.index]));
      const cuts = [...this.bounds.get(a.name)!].sort((x, y) => order.get(x)! - order.get(y)!);
      const segments: Segment[] = a.model.segments(cuts);
      this.anchorRunners.set(a.name, {
        id: a.name,
        async run(x: Tensor): Promise<Tensor> {
          let t = x;
          for (const s of segments) t = await s.run(t);
          return t;
        },
      });
    }
  }

  private anchor(name: string): Anchor {
    return this.anchors.find((a) => a.name === name)!;
  }

  /** A configuration's stitched model on the shared segments. */
  stitched(record: ConfigRecord, maps: AdapterMaps): StitchedModel {
    return new StitchedModel({
      front: this.anchor(record.front).model, frontCut: record.frontCut, back: this.anchor(record.back).model, backCut: record.backCut, maps,
      frontCuts: [...this.bounds.get(record.front)!], backCuts: [...this.bounds.get(record.back)!],
      adapter: layoutOf(record),
    });
  }

  /** The anchor `name` run as its chain of shared segments, or undefined. */
  anchorRunner(name: string): Runner | undefined {
    return this.anchorRunners.get(name);
  }

  get anchorNames(): string[] {
    return [...this.anchorRunners.keys()];
  }

  /** onnxruntime sessions alive across the anchors. */
  get sessionCount(): number {
    return uniqueAnchors(this.anchors).reduce((n, a) => n + a.model.sessionCount, 0);
  }

  /** Releases every onnxruntime session of the anchors. */
  async dispose(): Promise<void> {
    for (const a of uniqueAnchors(this.anchors)) await a.model.dispose();
  }
}
