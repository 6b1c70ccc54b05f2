// The ReStNet runtime: two anchors, any number of stitched configurations over them, and
// run-time selection of the one that fits a device budget. The jobs live in their own files:
// family-load.ts / family-save.ts (persistence), selection.ts, execution.ts (running),
// refine-loaded.ts (training a stitch further on a device).
import { join } from 'node:path';

import type { Tensor } from '../matrix.js';
import { AdaptiveController, type AdaptOptions } from './adapt.js';
import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import type { StitchedModel } from '../stitch/stitched-model.js';
import type { Anchor } from './anchor.js';
import { reshapeFor } from './analyze.js';
import {
  checkExecutionOptions,
  Execution,
  SharedSegments,
  uniqueAnchors,
  type ExecutionMemory,
  type ExecutionOptions,
  type Runner,
} from './execution.js';
import { anchorFiles, readFamily, readFusedFile } from './family-load.js';
import { recoverInterruptedSave, writeFamily, type SaveOptions } from './family-save.js';
import type { ImageInput, LongTaskOptions } from './inputs.js';
import { writeFileAtomic } from '../atomic-write.js';
import { ManifestError, type AnchorRecord, type ConfigRecord } from './manifest.js';
import type { RefineEpoch, RefineOptions } from './refine.js';
import { refineLoaded } from './refine-loaded.js';
import {
  candidatesOf,
  ladderOf,
  selectFrom,
  type Budget,
  type DeviceLatency,
  type Rung,
  type Selection,
  type SelectOptions,
} from './selection.js';
import { checkProfileOptions, measureProfile, type ProfileOptions } from './profile-measure.js';
import {
  PROFILE_FORMAT,
  profileFileName,
  profileMismatch,
  readDeviceProfile,
  thisDevice,
  type DeviceProfile,
} from './profile-file.js';
import { fastestThreads } from './threads.js';
import { unknownId } from './unknown-id.js';
import { invalidArgument } from '../validate.js';

export type { Budget, Rung, Selection, SelectOptions } from './selection.js';
export type { ExecutionMemory, ExecutionOptions, RunMode } from './execution.js';
export type { ProfileOptions } from './profile-measure.js';

/** A device profile found next to the manifest, and why it does not stand for this family (null: it does, and select() uses it). */
export interface LoadedProfile {
  path: string;
  profile: DeviceProfile;
  mismatch: string | null;
}

/** What a profile entry is keyed by: configurations by their stitch file, anchors by their ONNX file. */
function profileKeys(
  configs: ConfigRecord[],
  anchors: AnchorRecord[],
): { id: string; kind: 'stitched' | 'anchor'; sha256: string }[] {
  return [
    ...configs.map((c) => ({ id: c.id, kind: 'stitched' as const, sha256: c.stitchSha256 })),
    ...anchors.map((a) => ({ id: a.name, kind: 'anchor' as const, sha256: a.sha256 })),
  ];
}

interface Entry {
  record: ConfigRecord;
  maps: AdapterMaps;
  model: StitchedModel;
  /** Whether the fused ONNX saved in `dir` (hash recorded) is of exactly these maps: sessions are built from it, else in memory. */
  saved: boolean;
}

export interface LoadOptions extends ExecutionOptions {
  /**
   * What to build before load() returns: 'all' (default) every configuration's and anchor's fused
   * session (within the budget; the shared segments of what does not fit), 'none', or these ids.
   */
  warm?: 'all' | 'none' | string[];
  /** At most this many candidate cuts when an anchor's cuts come from its graph. */
  maxCuts?: number;
}

export interface MemoryReport extends ExecutionMemory {
  /** Bytes of the two anchors' ONNX files (their weights dominate what the sessions hold). */
  anchorBytes: number;
  /** Bytes of every stitch's f32 weights and biases. */
  stitchBytes: number;
  /** anchorBytes + stitchBytes: the model memory of the whole family, however many configurations. */
  totalModelBytes: number;
  configs: number;
  /** onnxruntime sessions alive (fused and shared). */
  sessions: number;
  /** Resident set size of the process now. */
  rssBytes: number;
}

export class ReStNet {
  readonly anchors: [Anchor, Anchor];
  readonly anchorRecords: AnchorRecord[];
  private readonly entries = new Map<string, Entry>();
  private readonly shared: SharedSegments;
  private readonly execution: Execution;
  private active: Runner;
  /** The directory of the manifest after save() or ReStNet.load(). */
  dir: string | undefined;
  /** This device's profile (profile-<platform>-<arch>-<cpu>.json next to the manifest), or null. */
  deviceProfile: LoadedProfile | null = null;

  /**
   * Builds the runtime from anchors and fitted stitches. `configs` need records and maps (and
   * may name the saved fused file of those maps); the segments of each anchor are split at every
   * cut its configurations use. Nothing is built until used (see warmup()).
   */
  constructor(
    anchors: [Anchor, Anchor],
    configs: { record: ConfigRecord; maps: AdapterMaps; file?: string | null }[],
    anchorRecords?: AnchorRecord[],
    options: ExecutionOptions = {},
  ) {
    if (anchors[0].name === anchors[1].name && anchors[0].sha256 !== anchors[1].sha256)
      throw new RangeError(`anchors: two different models are both named '${anchors[0].name}'`);
    // One model object per distinct anchor, so a self-stitch (A to A) shares A's sessions too.
    if (anchors[0].name === anchors[1].name) anchors = [anchors[0], anchors[0]];
    this.anchors = anchors;
    this.shared = new SharedSegments(
      anchors,
      configs.map((c) => c.record),
    );
    for (const { record, maps, file } of configs) {
      if (this.entries.has(record.id)) throw new RangeError(`configs: duplicate id '${record.id}'`);
      this.entries.set(record.id, {
        record,
        maps,
        model: this.shared.stitched(record, maps),
        saved: (file ?? null) !== null,
      });
    }
    const largest = uniqueAnchors(anchors).sort((x, y) => y.bytes.length - x.bytes.length)[0]!;
    this.execution = new Execution(
      this.shared,
      anchors,
      (id) => this.fusedBytes(id),
      () => fastestThreads(largest.bytes, largest.sha256),
      options,
    );
    this.anchorRecords =
      anchorRecords ??
      uniqueAnchors(anchors).map((a) => ({
        name: a.name,
        file: `${a.name}.onnx`,
        sha256: a.sha256,
        accuracy: null,
        latencyMs: null,
        macs: a.macs,
        params: a.params,
        cuts: [...a.cuts],
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
   * trained maps replace the old ones (calls already running finish with those); the figures
   * measured on the old stitch are cleared until evaluate() measures it again, a record that had a
   * validation verdict gets `pareto: false` until markPareto() marks it again, and save() writes
   * the new stitch.
   */
  async refine(id: string, data: ImageInput, options: RefineOptions & LongTaskOptions = {}): Promise<RefineEpoch[]> {
    const { record, maps, history } = await refineLoaded(this.anchors, this.entry(id), data, options);
    this.entries.set(id, { record, maps, model: this.shared.stitched(record, maps), saved: false });
    this.execution.invalidate(id);
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
    if (!r)
      throw new RangeError(
        `name: expected an anchor (${this.anchorRecords.map((a) => a.name).join(', ')}), got ${JSON.stringify(name)}`,
      );
    return r;
  }

  /** The fused ONNX of a configuration (its saved file, or built in memory) or of an anchor. */
  private async fusedBytes(id: string): Promise<Uint8Array> {
    const e = this.entries.get(id);
    if (!e) return this.anchor(id).bytes;
    // The saved file is read again and its hash checked: it may have changed since load.
    return e.saved && this.dir !== undefined
      ? readFusedFile(this.dir, e.record, anchorFiles(this.anchorRecords, this.anchors))
      : e.model.toOnnx();
  }

  private anchor(name: string): Anchor {
    return this.anchors.find((a) => a.name === name)!;
  }

  /** How `id` runs on the shared segments (looked up at each call: a refined configuration takes over from the next call on). */
  private segmentsOf(id: string): (x: Tensor) => Promise<Tensor> {
    if (this.entries.has(id)) return (x) => this.entries.get(id)!.model.run(x);
    const a = this.shared.anchorRunner(id);
    if (a) return (x) => a.run(x);
    throw unknownId(id, this.ids, this.shared.anchorNames);
  }

  private runnerOf(id: string): Runner {
    const segments = this.segmentsOf(id);
    return { id, run: (x) => this.execution.run(id, x, segments) };
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

  /**
   * Builds what `ids` (default: every configuration and anchor) run on before they are used: their
   * fused sessions within the budget, the shared segments of the rest (or of all, in 'shared' mode).
   */
  async warmup(ids: string[] = [...this.entries.keys(), ...this.shared.anchorNames]): Promise<void> {
    for (const id of ids) this.segmentsOf(id);
    await this.execution.warm(ids, (id) => this.segmentsOf(id));
  }

  /** Releases the fused session of `id` and its memory (evaluate does, once it measured `id`); a later call builds it again. */
  release(id: string): void {
    this.segmentsOf(id);
    this.execution.release(id);
  }

  /** Resolves when no fused session is being built (background builds included). */
  async ready(): Promise<void> {
    await this.execution.ready();
  }

  /** onnxruntime sessions alive: fused ones and the anchors' shared segments. */
  get sessionCount(): number {
    return this.execution.sessionCount;
  }

  memory(): MemoryReport {
    const anchorBytes = uniqueAnchors(this.anchors).reduce((n, a) => n + a.bytes.length, 0);
    let stitchBytes = 0;
    for (const { maps } of this.entries.values()) {
      for (const m of [maps.main, maps.cls]) if (m) stitchBytes += 4 * (m.weight.data.length + m.bias.length);
      stitchBytes += 4 * (maps.position?.length ?? 0);
    }
    return {
      anchorBytes,
      stitchBytes,
      totalModelBytes: anchorBytes + stitchBytes,
      configs: this.entries.size,
      sessions: this.sessionCount,
      rssBytes: process.memoryUsage().rss,
      ...this.execution.memory(),
    };
  }

  /**
   * The most accurate candidate that fits the budget (ties: the faster), from the numbers that
   * evaluate() measured. Configurations marked `pareto: false` are left out unless
   * `includeDominated`. Throws a RangeError naming the tightest budget that something meets.
   */
  select(budget: Budget = {}, options: SelectOptions = {}): Selection {
    return selectFrom(candidatesOf(this.configs, this.anchorRecords, options, this.profileMs()), budget);
  }

  /** Offered configurations and anchors, cheapest first: by this device's profile latency (batch 1) when a profile for this device is loaded, else by MACs; pareto:false records left out unless includeDominated. */
  ladder(options: { includeDominated?: boolean } = {}): Rung[] {
    return ladderOf(
      candidatesOf(
        this.configs,
        this.anchorRecords,
        { includeDominated: options.includeDominated ?? false },
        this.profileMs(),
      ),
    );
  }

  /** A controller that moves this net along its ladder to hold a latency percentile target (adapt.ts). */
  adapt(options: AdaptOptions): AdaptiveController {
    return new AdaptiveController(this, options);
  }

  /** Latencies by id from this device's profile, when one matching the family is loaded. */
  private profileMs(): DeviceLatency | undefined {
    const p = this.deviceProfile;
    if (!p) return undefined;
    p.mismatch = profileMismatch(p.profile, profileKeys(this.configs, this.anchorRecords));
    if (p.mismatch !== null) return undefined;
    const byId = new Map(
      p.profile.entries.map((e) => {
        const b32 = e.batches['32']?.medianMs;
        return [e.id, { latencyMs: e.batches['1']!.medianMs, ...(b32 === undefined ? {} : { latencyBatch32Ms: b32 }) }];
      }),
    );
    return (id) => byId.get(id)!;
  }

  /**
   * Measures every configuration and anchor on this device (median and p95 per call at each batch
   * size, interleaved, after building what they run on) and, after save() or load(), writes
   * profile-<platform>-<arch>-<cpu>.json next to the manifest (atomically; the manifest is not
   * touched). select() and ladder() use it from then on.
   */
  async profile(options: ProfileOptions = {}): Promise<{ path: string | null; profile: DeviceProfile }> {
    checkProfileOptions(options);
    const targets = profileKeys(this.configs, this.anchorRecords);
    await this.warmup();
    await this.ready();
    const sample = this.anchors[0].model.input.shape.slice(1) as number[];
    const entries = await measureProfile(
      targets,
      sample,
      (id, x) => this.runWith(id, x),
      (id) => this.execution.isFused(id),
      options,
    );
    const profile: DeviceProfile = {
      format: PROFILE_FORMAT,
      device: thisDevice(),
      threads: await this.execution.threads(),
      mode: this.execution.mode,
      createdAt: new Date().toISOString(),
      entries,
    };
    if (this.dir === undefined) return { path: null, profile };
    const path = join(this.dir, profileFileName(profile.device));
    await writeFileAtomic(path, `${JSON.stringify(profile, null, 2)}\n`);
    this.deviceProfile = { path, profile, mismatch: null };
    return { path, profile };
  }

  /**
   * Writes the family into dir: manifest.json, the anchors, the stitch files and (default) every
   * fused ONNX with its sha256, atomically as a whole (written beside, swapped in with directory
   * renames; see family-save.ts). A folder holding a family of other anchors needs `force`.
   */
  async save(dir: string, options: SaveOptions = {}): Promise<string> {
    const path = await writeFamily(
      dir,
      { anchors: uniqueAnchors(this.anchors), anchorRecords: this.anchorRecords, configs: [...this.entries.values()] },
      options,
    );
    this.dir = dir;
    for (const e of this.entries.values()) e.saved = e.record.onnx !== null;
    return path;
  }

  /**
   * The fused single-file ONNX of a configuration. After save()/load() the family is also saved
   * again in its folder, atomically like save(), with every fused `<id>.onnx` and its sha256.
   */
  async export(id: string): Promise<{ bytes: Uint8Array; path: string | null }> {
    const e = this.entry(id);
    const bytes = e.model.toOnnx();
    if (this.dir === undefined) return { bytes, path: null };
    await this.save(this.dir);
    return { bytes, path: join(this.dir, e.record.onnx!) };
  }

  /**
   * Loads a saved ReStNet. Verifies each anchor file's sha256, each stitch file's sha256 and its
   * header (anchors, cuts, activation dims, weight shapes) against the anchors; anything that
   * does not match is a ManifestError / StitchFileError naming the file and the mismatch.
   * One intra-op thread count serves every session of the family: `threads`, or the fastest at
   * batch 1 on this machine (measured on the larger anchor).
   */
  static async load(dir: string, options: LoadOptions = {}): Promise<ReStNet> {
    const { warm = 'all', maxCuts, ...execution } = options;
    checkExecutionOptions(execution);
    if (warm !== 'all' && warm !== 'none' && !(Array.isArray(warm) && warm.every((w) => typeof w === 'string')))
      throw invalidArgument('options.warm', "'all', 'none' or an array of ids", warm, 'type');
    // A save killed between its two renames left the family beside its folder: put it back first.
    await recoverInterruptedSave(dir);
    const found = await readDeviceProfile(dir);
    const family = await readFamily(dir, {
      ...(maxCuts === undefined ? {} : { maxCuts }),
      // A profile of this family on this device already names the thread count it measured with.
      threads:
        execution.threads ??
        (async (largest, manifest) => {
          const [a0, a1] = manifest.anchors;
          const anchors = a0!.name === a1!.name ? [a0!] : [a0!, a1!];
          if (found && profileMismatch(found.profile, profileKeys(manifest.configs, anchors)) === null)
            return found.profile.threads;
          return fastestThreads(largest.bytes, largest.sha256);
        }),
    });
    let net: ReStNet;
    try {
      net = new ReStNet(family.anchors, family.configs, family.anchorRecords, {
        ...execution,
        threads: family.threads,
      });
    } catch (cause) {
      throw new ManifestError(
        `${join(dir, 'manifest.json')}: the stitches do not match the anchors (${(cause as Error).message})`,
        { cause },
      );
    }
    net.dir = dir;
    if (found)
      net.deviceProfile = {
        ...found,
        mismatch: profileMismatch(found.profile, profileKeys(net.configs, net.anchorRecords)),
      };
    if (warm !== 'none') await net.warmup(warm === 'all' ? undefined : warm);
    return net;
  }

  /** Releases every onnxruntime session (fused and shared). */
  async dispose(): Promise<void> {
    await this.execution.ready();
    await this.execution.dispose();
  }
}
