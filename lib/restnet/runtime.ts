// The ReStNet runtime: two anchors loaded once as shared segments, any number of stitched
// configurations over them, and run-time selection of the one that fits a device budget.
// A configuration is a StitchedModel whose segments come from each anchor's segment cache, split
// at every cut any configuration uses, so all configurations (and the anchors themselves) run on
// the same onnxruntime sessions: memory is about A + B + stitches, and use(id) only swaps a
// reference.
import { mkdir, readFile } from 'node:fs/promises';
import { isAbsolute, join, normalize, relative, sep } from 'node:path';

import type { Tensor } from '../matrix.js';
import type { Segment } from '../onnx/frozen-model.js';
import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import { StitchedModel } from '../stitch/stitched-model.js';
import { loadAnchor, sha256, type Anchor, type AnchorOptions } from './anchor.js';
import { reshapeFor } from './analyze.js';
import type { ImageInput, LongTaskOptions } from './inputs.js';
import { ManifestError, MANIFEST_FORMAT, validateManifest, writeFileAtomic, type AnchorRecord, type ConfigRecord, type RestnetManifest } from './manifest.js';
import { refineOnTask, refineSettingsFor, refineTargets, type RefineEpoch, type RefineOptions } from './refine.js';
import { decodeStitch, encodeStitch, StitchFileError } from './stitch-file.js';

export interface Budget {
  maxLatencyMs?: number;
  maxMacs?: number;
  maxParams?: number;
  maxMemoryBytes?: number;
  minAccuracy?: number;
}

/** What select() returns: a stitched configuration's record, or an anchor's (kind 'anchor'). */
export type Selection = (ConfigRecord & { kind: 'stitched' }) | (AnchorRecord & { id: string; kind: 'anchor' });

export interface SelectOptions {
  /** Whether the two anchors themselves are candidates (default true). */
  includeAnchors?: boolean;
}

interface Entry {
  record: ConfigRecord;
  maps: AdapterMaps;
  model: StitchedModel;
}

interface Runner {
  id: string;
  run(x: Tensor): Promise<Tensor>;
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
  private readonly anchorRunners = new Map<string, Runner>();
  /** Per anchor, every cut its configurations use: where its shared segments split. */
  private readonly bounds: Map<string, Set<string>>;
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
    const byName = new Map(anchors.map((a) => [a.name, a]));
    const bounds = new Map<string, Set<string>>(anchors.map((a) => [a.name, new Set<string>()]));
    this.bounds = bounds;
    for (const { record } of configs) {
      if (!byName.has(record.front) || !byName.has(record.back)) throw new RangeError(`configs: '${record.id}' joins '${record.front}' to '${record.back}', expected anchors ${[...byName.keys()].join(', ')}`);
      bounds.get(record.front)!.add(record.frontCut);
      bounds.get(record.back)!.add(record.backCut);
    }
    for (const { record, maps } of configs) {
      if (this.entries.has(record.id)) throw new RangeError(`configs: duplicate id '${record.id}'`);
      this.entries.set(record.id, { record, maps, model: this.stitched(record, maps) });
    }
    for (const a of anchors) {
      if (this.anchorRunners.has(a.name)) continue;
      const order = new Map(a.model.cutPoints().map((c) => [c.name, c.index]));
      const cuts = [...bounds.get(a.name)!].sort((x, y) => order.get(x)! - order.get(y)!);
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
    this.anchorRecords = anchorRecords ?? uniqueAnchors(anchors).map((a) => ({
      name: a.name, file: `${a.name}.onnx`, sha256: a.sha256, accuracy: null, latencyMs: null, macs: a.macs, params: a.params, cuts: [...a.cuts],
      trainSeconds: a.zoo?.trainSeconds ?? null,
    }));
    const first = configs[0]?.record.id;
    this.active = first !== undefined ? this.runnerOf(first) : this.anchorRunners.get(anchors[0].name)!;
  }

  /** A configuration's stitched model on the shared segments. */
  private stitched(record: ConfigRecord, maps: AdapterMaps): StitchedModel {
    return new StitchedModel({
      front: this.anchor(record.front).model, frontCut: record.frontCut, back: this.anchor(record.back).model, backCut: record.backCut, maps,
      frontCuts: [...this.bounds.get(record.front)!], backCuts: [...this.bounds.get(record.back)!],
      adapter: { downsample: record.downsample ?? 'average', upsample: record.upsample ?? 'bilinear', clsMap: record.clsMap ?? false },
    });
  }

  private anchor(name: string): Anchor {
    return this.anchors.find((a) => a.name === name)!;
  }

  /**
   * Trains configuration `id`'s stitch further on the task (refine.ts) with the anchors as
   * loaded: on a device, with its own images (labelled, or learning from the teacher alone). The
   * trained maps replace the old ones (calls already running finish with those); the accuracy
   * record is cleared until evaluate() measures it again, and save() writes the new stitch.
   */
  async refine(id: string, data: ImageInput, options: RefineOptions & LongTaskOptions = {}): Promise<RefineEpoch[]> {
    const e = this.entries.get(id);
    if (!e) throw new RangeError(`id: expected one of ${this.ids.join(', ')}, got ${JSON.stringify(id)}`);
    // refineSettings rejects unknown keys, so it gets the options without the long-task ones.
    const { onProgress: _progress, signal: _signal, ...rest } = options;
    const settings = refineSettingsFor(data, rest);
    const started = performance.now();
    const front = this.anchor(e.record.front), back = this.anchor(e.record.back);
    const targets = await refineTargets(settings.teacher === 'front' ? front : back, data, settings, options);
    const job = { front, frontCut: e.record.frontCut, back, backCut: e.record.backCut, adapter: e.model.adapter, maps: e.maps, id };
    const { maps, history } = await refineOnTask(job, data, targets, settings, options);
    const record: ConfigRecord = { ...e.record, refined: true, accuracy: null, fitSeconds: e.record.fitSeconds + (performance.now() - started) / 1000 };
    this.entries.set(id, { record, maps, model: this.stitched(record, maps) });
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
    const e = this.entries.get(id);
    if (!e) throw new RangeError(`id: expected one of ${this.ids.join(', ')}, got ${JSON.stringify(id)}`);
    return e.record;
  }

  /** The stitched model of a configuration (its stitch maps, segments, fused export). */
  model(id: string): StitchedModel {
    this.record(id);
    return this.entries.get(id)!.model;
  }

  maps(id: string): AdapterMaps {
    this.record(id);
    return this.entries.get(id)!.maps;
  }

  anchorRecord(name: string): AnchorRecord {
    const r = this.anchorRecords.find((a) => a.name === name);
    if (!r) throw new RangeError(`name: expected an anchor (${this.anchorRecords.map((a) => a.name).join(', ')}), got ${JSON.stringify(name)}`);
    return r;
  }

  private runnerOf(id: string): Runner {
    // Looked up at each call, so a refined configuration takes over from the next call on.
    if (this.entries.has(id)) return { id, run: (x) => this.entries.get(id)!.model.run(x) };
    const a = this.anchorRunners.get(id);
    if (a) return a;
    throw new RangeError(`id: expected a configuration (${this.ids.join(', ')}) or an anchor (${[...this.anchorRunners.keys()].join(', ')}), got ${JSON.stringify(id)}`);
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
    for (const id of [...this.entries.keys(), ...this.anchorRunners.keys()]) await this.runnerOf(id).run(x);
  }

  /** onnxruntime sessions alive across both anchors. */
  get sessionCount(): number {
    return uniqueAnchors(this.anchors).reduce((n, a) => n + a.model.sessionCount, 0);
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
   * evaluate() measured. Throws a RangeError naming the tightest budget that something meets.
   */
  select(budget: Budget = {}, options: SelectOptions = {}): Selection {
    const keys = ['maxLatencyMs', 'maxMacs', 'maxParams', 'maxMemoryBytes', 'minAccuracy'] as const;
    for (const k of Object.keys(budget)) if (!(keys as readonly string[]).includes(k)) throw new TypeError(`budget.${k}: unknown; expected ${keys.join(', ')}`);
    for (const k of keys) {
      const v = budget[k];
      if (v !== undefined && (typeof v !== 'number' || Number.isNaN(v))) throw new TypeError(`budget.${k}: expected a number, got ${String(v)}`);
    }
    const candidates: Selection[] = [...this.entries.values()].map((e) => ({ ...e.record, kind: 'stitched' as const }));
    if (options.includeAnchors ?? true) for (const a of this.anchorRecords) candidates.push({ ...a, id: a.name, kind: 'anchor' });
    if (candidates.length === 0) throw new RangeError('select: no candidates (no stitched configuration, and includeAnchors is false)');
    const unmeasured = candidates.filter((c) => c.accuracy === null || c.latencyMs === null);
    if (unmeasured.length > 0) throw new Error(`select: ${unmeasured.map((c) => c.id).join(', ')} not measured yet; run evaluate(net, data, labels) first`);
    const value = {
      maxLatencyMs: (c: Selection) => c.latencyMs!,
      maxMacs: (c: Selection) => c.macs,
      maxParams: (c: Selection) => c.params,
      maxMemoryBytes: (c: Selection) => c.memoryBytes ?? Infinity,
      minAccuracy: (c: Selection) => c.accuracy!,
    };
    const fits = (c: Selection): boolean => keys.every((k) => budget[k] === undefined || (k === 'minAccuracy' ? value[k](c) >= budget[k]! : value[k](c) <= budget[k]!));
    const ok = candidates.filter(fits).sort((x, y) => y.accuracy! - x.accuracy! || x.latencyMs! - y.latencyMs!);
    if (ok.length > 0) return ok[0]!;
    const given = keys.filter((k) => budget[k] !== undefined);
    const tightest = given.map((k) => {
      const best = [...candidates].sort((x, y) => (k === 'minAccuracy' ? value[k](y) - value[k](x) : value[k](x) - value[k](y)))[0]!;
      return `${k} ${k === 'minAccuracy' ? '<=' : '>='} ${fmt(value[k](best))} (${best.id})`;
    });
    // The candidate needing the least relative relaxation over all given limits.
    const stretch = (c: Selection): number => Math.max(...given.map((k) => {
      const v = value[k](c), b = budget[k]!;
      return k === 'minAccuracy' ? (v >= b ? 1 : b / Math.max(v, 1e-12)) : v <= b ? 1 : v / Math.max(b, 1e-12);
    }));
    const closest = [...candidates].sort((x, y) => stretch(x) - stretch(y))[0]!;
    const needs = given.map((k) => `${k}: ${fmt(value[k](closest))}`).join(', ');
    throw new RangeError(`select: nothing fits ${JSON.stringify(budget)}. Each limit alone is met from ${tightest.join('; ')}. The tightest feasible budget for all of them is {${needs}} (${closest.id})`);
  }

  /** Writes manifest.json, the anchors, the stitch files and (default) every fused ONNX into dir. */
  async save(dir: string, options: { exportOnnx?: boolean } = {}): Promise<string> {
    await mkdir(dir, { recursive: true });
    for (const a of uniqueAnchors(this.anchors)) await writeFileAtomic(join(dir, this.anchorRecord(a.name).file), a.bytes);
    for (const e of this.entries.values()) {
      const bytes = this.stitchBytes(e);
      e.record.stitch = `${e.record.id}.stitch`;
      e.record.stitchSha256 = sha256(bytes);
      await writeFileAtomic(join(dir, e.record.stitch), bytes);
      if (options.exportOnnx ?? true) {
        e.record.onnx = `${e.record.id}.onnx`;
        await writeFileAtomic(join(dir, e.record.onnx), e.model.toOnnx());
      }
    }
    this.dir = dir;
    await this.writeManifest();
    return join(dir, 'manifest.json');
  }

  private stitchBytes(e: Entry): Uint8Array {
    const front = this.anchors.find((a) => a.name === e.record.front)!, back = this.anchors.find((a) => a.name === e.record.back)!;
    return encodeStitch({
      id: e.record.id,
      front: { anchor: front.name, cut: e.record.frontCut, dims: front.model.sampleDims(e.record.frontCut) },
      back: { anchor: back.name, cut: e.record.backCut, dims: back.model.sampleDims(e.record.backCut) },
      downsample: e.record.downsample ?? 'average',
      upsample: e.record.upsample ?? 'bilinear',
      clsMap: e.record.clsMap ?? false,
    }, e.maps);
  }

  private async writeManifest(): Promise<void> {
    const manifest: RestnetManifest = { format: MANIFEST_FORMAT, anchors: this.anchorRecords.length === 1 ? [this.anchorRecords[0]!, this.anchorRecords[0]!] : this.anchorRecords, configs: this.configs };
    await writeFileAtomic(join(this.dir!, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  }

  /**
   * The fused single-file ONNX of a configuration. After save()/load() it is also written next
   * to the manifest as `<id>.onnx` and recorded in the manifest.
   */
  async export(id: string): Promise<{ bytes: Uint8Array; path: string | null }> {
    const e = this.entries.get(id);
    if (!e) throw new RangeError(`id: expected one of ${this.ids.join(', ')}, got ${JSON.stringify(id)}`);
    const bytes = e.model.toOnnx();
    if (this.dir === undefined) return { bytes, path: null };
    e.record.onnx = `${id}.onnx`;
    const path = join(this.dir, e.record.onnx);
    await writeFileAtomic(path, bytes);
    await this.writeManifest();
    return { bytes, path };
  }

  /**
   * Loads a saved ReStNet. Verifies each anchor file's sha256, each stitch file's sha256 and its
   * header (anchors, cuts, activation dims, weight shapes) against the anchors; anything that
   * does not match is a ManifestError / StitchFileError naming the file and the mismatch.
   */
  static async load(dir: string, options: AnchorOptions & { warmup?: boolean } = {}): Promise<ReStNet> {
    const path = join(dir, 'manifest.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      throw new ManifestError(`${path}: cannot read the manifest (${(cause as Error).message})`, { cause });
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new ManifestError(`${path}: not valid JSON (${(cause as Error).message})`, { cause });
    }
    const manifest = validateManifest(json, path);
    const inside = (rel: string, what: string): string => {
      const p = normalize(join(dir, rel));
      if (isAbsolute(rel) || relative(dir, p).startsWith(`..${sep}`) || relative(dir, p) === '..') throw new ManifestError(`${path}: ${what} '${rel}' is outside the manifest's directory`);
      return p;
    };
    const anchors: Anchor[] = [];
    for (const rec of manifest.anchors) {
      const existing = anchors.find((a) => a.name === rec.name);
      if (existing) {
        if (existing.sha256 !== rec.sha256) throw new ManifestError(`${path}: two anchors named '${rec.name}' with different hashes`);
        anchors.push(existing);
        continue;
      }
      const file = inside(rec.file, `anchor ${rec.name}'s file`);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(file);
      } catch (cause) {
        throw new ManifestError(`${path}: anchor '${rec.name}': cannot read ${file} (${(cause as Error).message})`, { cause });
      }
      const hash = sha256(bytes);
      if (hash !== rec.sha256) throw new ManifestError(`${path}: anchor '${rec.name}': ${file} has sha256 ${hash}, the manifest expects ${rec.sha256} (the file was changed or replaced)`);
      const anchor = await loadAnchor({ name: rec.name, model: bytes, cuts: rec.cuts }, options);
      if (anchor.macs !== rec.macs || anchor.params !== rec.params) throw new ManifestError(`${path}: anchor '${rec.name}' has ${anchor.macs} MACs and ${anchor.params} params, the manifest says ${rec.macs} and ${rec.params}`);
      anchors.push(anchor);
    }
    const configs: { record: ConfigRecord; maps: AdapterMaps }[] = [];
    for (const rec of manifest.configs) {
      const file = inside(rec.stitch, `config ${rec.id}'s stitch`);
      let bytes: Uint8Array;
      try {
        bytes = await readFile(file);
      } catch (cause) {
        throw new StitchFileError(`${file}: cannot read the stitch of '${rec.id}' (${(cause as Error).message})`, { cause });
      }
      const hash = sha256(bytes);
      if (hash !== rec.stitchSha256) throw new StitchFileError(`${file}: sha256 ${hash}, the manifest expects ${rec.stitchSha256} for '${rec.id}' (corrupt or replaced)`);
      const { header, maps } = decodeStitch(bytes, file);
      const front = anchors.find((a) => a.name === rec.front)!, back = anchors.find((a) => a.name === rec.back)!;
      const expect = (end: 'front' | 'back', anchor: Anchor, cut: string): void => {
        const h = header[end];
        if (h.anchor !== anchor.name || h.cut !== cut) throw new StitchFileError(`${file}: the stitch was fitted for ${end} ${h.anchor} at '${h.cut}', the manifest's '${rec.id}' says ${anchor.name} at '${cut}'`);
        let dims: number[];
        try {
          dims = anchor.model.sampleDims(cut);
        } catch {
          throw new StitchFileError(`${file}: '${cut}' is not a cut point of anchor ${anchor.name}`);
        }
        if (dims.join() !== h.dims.join()) throw new StitchFileError(`${file}: the stitch expects ${end} activations [${h.dims.join(', ')}], anchor ${anchor.name} gives [${dims.join(', ')}] at '${cut}'`);
      };
      expect('front', front, rec.frontCut);
      expect('back', back, rec.backCut);
      if ((header.downsample ?? 'average') !== (rec.downsample ?? 'average')) throw new StitchFileError(`${file}: the stitch was fitted with downsample '${header.downsample ?? 'average'}', the manifest's '${rec.id}' says '${rec.downsample ?? 'average'}'`);
      if ((header.upsample ?? 'bilinear') !== (rec.upsample ?? 'bilinear')) throw new StitchFileError(`${file}: the stitch was fitted with upsample '${header.upsample ?? 'bilinear'}', the manifest's '${rec.id}' says '${rec.upsample ?? 'bilinear'}'`);
      if ((header.clsMap ?? false) !== (rec.clsMap ?? false)) throw new StitchFileError(`${file}: the stitch was fitted with clsMap ${header.clsMap ?? false}, the manifest's '${rec.id}' says ${rec.clsMap ?? false}`);
      if (header.id !== rec.id) throw new StitchFileError(`${file}: holds the stitch of '${header.id}', the manifest expects '${rec.id}'`);
      configs.push({ record: rec, maps });
    }
    let net: ReStNet;
    try {
      net = new ReStNet([anchors[0]!, anchors[1]!], configs, manifest.anchors[0]!.name === manifest.anchors[1]!.name ? [manifest.anchors[0]!] : manifest.anchors);
    } catch (cause) {
      throw new ManifestError(`${path}: the stitches do not match the anchors (${(cause as Error).message})`, { cause });
    }
    net.dir = dir;
    if (options.warmup ?? true) await net.warmup();
    return net;
  }

  /** Releases every onnxruntime session of both anchors. */
  async dispose(): Promise<void> {
    for (const a of uniqueAnchors(this.anchors)) await a.model.dispose();
  }
}

function uniqueAnchors(anchors: readonly Anchor[]): Anchor[] {
  return anchors.filter((a, k) => anchors.findIndex((b) => b.name === a.name) === k);
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

