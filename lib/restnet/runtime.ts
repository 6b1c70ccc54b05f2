// The ReStNet runtime: two anchors, any number of stitched configurations over them, and
// run-time selection of the one that fits a device budget. The jobs live in their own files:
// family-load.ts / family-save.ts (persistence), selection.ts, execution.ts (running),
// refine-loaded.ts (training a stitch further on a device).
import { join } from 'node:path';

import type { Tensor } from '../matrix.js';
import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import type { StitchedModel } from '../stitch/stitched-model.js';
import type { Anchor, AnchorOptions } from './anchor.js';
import { reshapeFor } from './analyze.js';
import { SharedSegments, uniqueAnchors, type Runner } from './execution.js';
import { readFamily } from './family-load.js';
import { writeFamily, writeManifest } from './family-save.js';
import type { ImageInput, LongTaskOptions } from './inputs.js';
import { ManifestError, writeFileAtomic, type AnchorRecord, type ConfigRecord } from './manifest.js';
import type { RefineEpoch, RefineOptions } from './refine.js';
import { refineLoaded } from './refine-loaded.js';
import { candidatesOf, ladderOf, selectFrom, type Budget, type Rung, type Selection, type SelectOptions } from './selection.js';
import { unknownId } from './unknown-id.js';

export type { Budget, Rung, Selection, SelectOptions } from './selection.js';

interface Entry {
  record: ConfigRecord;
  maps: AdapterMaps;
  model: StitchedModel;
}

export interface MemoryReport {
  /** Bytes of the two anchors' ONNX files (their weights dominate what the sessions hold). */
  anchorBytes: number;
  /** Bytes of every stitch's f32 weights and biases. */
  stitchBytes: number;
  /** anchorBytes + stitchBytes: the model memory of the whole family, however many configurations. */
  totalModelBytes: number;
  configs: number;
  /** onnxruntime sessions alive (both anchors). */
  sessions: number;
  /** Resident set size of the process now. */
  rssBytes: number;
}

export class ReStNet {
  readonly anchors: [Anchor, Anchor];
  readonly anchorRecords: AnchorRecord[];
  private readonly entries = new Map<string, Entry>();
  private readonly shared: SharedSegments;
  private active: Runner;
  /** The directory of the manifest after save() or ReStNet.load(). */
  dir: string | undefined;

  /**
   * Builds the runtime from anchors and fitted stitches. `configs` need records and maps;
   * the segments of each anchor are split at every cut its configurations use.
   */
  constructor(anchors: [Anchor, Anchor], configs: { record: ConfigRecord; maps: AdapterMaps }[], anchorRecords?: AnchorRecord[]) {
    if (anchors[0].name === anchors[1].name && anchors[0].sha256 !== anchors[1].sha256) throw new RangeError(`anchors: two different models are both named '${anchors[0].name}'`);
    // One model object per distinct anchor, so a self-stitch (A to A) shares A's sessions too.
    if (anchors[0].name === anchors[1].name) anchors = [anchors[0], anchors[0]];
    this.anchors = anchors;
    this.shared = new SharedSegments(anchors, configs.map((c) => c.record));
    for (const { record, maps } of configs) {
      if (this.entries.has(record.id)) throw new RangeError(`configs: duplicate id '${record.id}'`);
      this.entries.set(record.id, { record, maps, model: this.shared.stitched(record, maps) });
    }
    this.anchorRecords = anchorRecords ?? uniqueAnchors(anchors).map((a) => ({
      name: a.name, file: `${a.name}.onnx`, sha256: a.sha256, accuracy: null, latencyMs: null, macs: a.macs, params: a.params, cuts: [...a.cuts],
      trainSeconds: a.zoo?.trainSeconds ?? null,
    }));
    const first = configs[0]?.record.id;
    this.active = this.runnerOf(first ?? anchors[0].name);
  }

  private entry(id: string): Entry {
    const e = this.entries.get(id);
    if (!e) throw unknownId(id, this.ids);
    return e;
  }

  /**
   * Trains configuration `id`'s stitch further on the task (refine.ts) with the anchors as
   * loaded: on a device, with its own images (labelled, or learning from the teacher alone). The
   * trained maps replace the old ones (calls already running finish with those); the accuracy
   * record is cleared until evaluate() measures it again, and save() writes the new stitch.
   */
  async refine(id: string, data: ImageInput, options: RefineOptions & LongTaskOptions = {}): Promise<RefineEpoch[]> {
    const { record, maps, history } = await refineLoaded(this.anchors, this.entry(id), data, options);
    this.entries.set(id, { record, maps, model: this.shared.stitched(record, maps) });
    return history;
  }

  /** Ids of the stitched configurations, in the order they were planned. */
  get ids(): string[] {
    return [...this.entries.keys()];
  }

  /** The records of the stitched configurations (live objects: evaluate() fills them in). */
  get configs(): ConfigRecord[] {
    return [...this.entries.values()].map((e) => e.record);
  }

  /** The id in use. */
  get current(): string {
    return this.active.id;
  }

  record(id: string): ConfigRecord {
    return this.entry(id).record;
  }

  /** The stitched model of a configuration (its stitch maps, segments, fused export). */
  model(id: string): StitchedModel {
    return this.entry(id).model;
  }

  maps(id: string): AdapterMaps {
    return this.entry(id).maps;
  }

  anchorRecord(name: string): AnchorRecord {
    const r = this.anchorRecords.find((a) => a.name === name);
    if (!r) throw new RangeError(`name: expected an anchor (${this.anchorRecords.map((a) => a.name).join(', ')}), got ${JSON.stringify(name)}`);
    return r;
  }

  private runnerOf(id: string): Runner {
    // Looked up at each call, so a refined configuration takes over from the next call on.
    if (this.entries.has(id)) return { id, run: (x) => this.entries.get(id)!.model.run(x) };
    const a = this.shared.anchorRunner(id);
    if (a) return a;
    throw unknownId(id, this.ids, this.shared.anchorNames);
  }

  /**
   * Switches the configuration that run() uses: a stitched id or an anchor name. Nothing is
   * loaded or released; calls already running finish on the configuration they started with.
   */
  use(id: string): void {
    this.active = this.runnerOf(id);
  }

  /** Infers with the configuration in use when the call starts: pixels [N, ...] -> logits. */
  async run(input: Tensor): Promise<Tensor> {
    const runner = this.active;
    if (!input || !(input.data instanceof Float32Array) || !Array.isArray(input.dims) || input.dims.length < 1) {
      throw new TypeError('input: expected a tensor {data: Float32Array, dims: [N, ...]}');
    }
    return runner.run(reshapeFor(input, this.anchors[0]));
  }

  /** Runs a given configuration (or anchor) without switching. */
  async runWith(id: string, input: Tensor): Promise<Tensor> {
    return this.runnerOf(id).run(reshapeFor(input, this.anchors[0]));
  }

  /** Runs every configuration and anchor once (one zero sample) so all sessions exist before use() is timed. */
  async warmup(): Promise<void> {
    const dims = this.anchors[0].model.input.shape.slice(1) as number[];
    const x = { data: new Float32Array(dims.reduce((a, b) => a * b, 1)), dims: [1, ...dims] };
    for (const id of [...this.entries.keys(), ...this.shared.anchorNames]) await this.runnerOf(id).run(x);
  }

  /** onnxruntime sessions alive across both anchors. */
  get sessionCount(): number {
    return this.shared.sessionCount;
  }

  memory(): MemoryReport {
    const anchorBytes = uniqueAnchors(this.anchors).reduce((n, a) => n + a.bytes.length, 0);
    let stitchBytes = 0;
    for (const { maps } of this.entries.values()) {
      for (const m of [maps.main, maps.cls]) if (m) stitchBytes += 4 * (m.weight.data.length + m.bias.length);
      stitchBytes += 4 * (maps.position?.length ?? 0);
    }
    return { anchorBytes, stitchBytes, totalModelBytes: anchorBytes + stitchBytes, configs: this.entries.size, sessions: this.sessionCount, rssBytes: process.memoryUsage().rss };
  }

  /**
   * The most accurate candidate that fits the budget (ties: the faster), from the numbers that
   * evaluate() measured. Configurations marked `pareto: false` are left out unless
   * `includeDominated`. Throws a RangeError naming the tightest budget that something meets.
   */
  select(budget: Budget = {}, options: SelectOptions = {}): Selection {
    return selectFrom(candidatesOf(this.configs, this.anchorRecords, options), budget);
  }

  /** Offered configurations and anchors, cheapest first: by this device's profile latency (batch 1) when a profile for this device is loaded, else by MACs; pareto:false records left out unless includeDominated. */
  ladder(options: { includeDominated?: boolean } = {}): Rung[] {
    return ladderOf(candidatesOf(this.configs, this.anchorRecords, { includeDominated: options.includeDominated ?? false }));
  }

  /** Writes manifest.json, the anchors, the stitch files and (default) every fused ONNX into dir. */
  async save(dir: string, options: { exportOnnx?: boolean } = {}): Promise<string> {
    const path = await writeFamily(dir, { anchors: uniqueAnchors(this.anchors), anchorRecords: this.anchorRecords, configs: [...this.entries.values()] }, options);
    this.dir = dir;
    return path;
  }

  /**
   * The fused single-file ONNX of a configuration. After save()/load() it is also written next
   * to the manifest as `<id>.onnx` and recorded in the manifest.
   */
  async export(id: string): Promise<{ bytes: Uint8Array; path: string | null }> {
    const e = this.entry(id);
    const bytes = e.model.toOnnx();
    if (this.dir === undefined) return { bytes, path: null };
    e.record.onnx = `${id}.onnx`;
    const path = join(this.dir, e.record.onnx);
    await writeFileAtomic(path, bytes);
    await writeManifest(this.dir, this.anchorRecords, this.configs);
    return { bytes, path };
  }

  /**
   * Loads a saved ReStNet. Verifies each anchor file's sha256, each stitch file's sha256 and its
   * header (anchors, cuts, activation dims, weight shapes) against the anchors; anything that
   * does not match is a ManifestError / StitchFileError naming the file and the mismatch.
   */
  static async load(dir: string, options: AnchorOptions & { warmup?: boolean } = {}): Promise<ReStNet> {
    const family = await readFamily(dir, options);
    let net: ReStNet;
    try {
      net = new ReStNet(family.anchors, family.configs, family.anchorRecords);
    } catch (cause) {
      throw new ManifestError(`${join(dir, 'manifest.json')}: the stitches do not match the anchors (${(cause as Error).message})`, { cause });
    }
    net.dir = dir;
    if (options.warmup ?? true) await net.warmup();
    return net;
  }

  /** Releases every onnxruntime session of both anchors. */
  async dispose(): Promise<void> {
    await this.shared.dispose();
  }
}
