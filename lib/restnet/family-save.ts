// Writing a family atomically at the folder level: the whole new family (anchors, stitch files,
// fused <id>.onnx files with their sha256, manifest.json last) is written into a sibling folder
// `.restnet-staging-<name>-<pid>-<random>`, the files of the folder that are not the old family's
// (plots, other families in subfolders, device profiles) are hard-linked in beside it, and then
// two directory renames swap it in: the old folder to `.restnet-old-<name>-...`, the new one to
// its name. The old family is removed only after that. A reader sees the old family or the new
// one, never a mix; a save killed between the two renames leaves the folder missing and the old
// family beside it, which recoverInterruptedSave (called by load and save) renames back.
import { randomBytes } from 'node:crypto';
import { copyFile, link, lstat, mkdir, readdir, readFile, readlink, rename, rm, stat, symlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

import type { AdapterMaps } from '../stitch/adapters/adapter.js';
import type { StitchedModel } from '../stitch/stitched-model.js';
import { sha256, type Anchor } from './anchor.js';
import { layoutOf } from './layout.js';
import {
  ManifestError,
  MANIFEST_FORMAT,
  writeFileAtomic,
  type AnchorRecord,
  type ConfigRecord,
  type RestnetManifest,
} from './manifest.js';
import { encodeStitch } from './stitch-file.js';

/** What a family is made of in memory. */
export interface FamilyParts {
  /** Distinct anchors, and one record per anchor. */
  anchors: Anchor[];
  anchorRecords: AnchorRecord[];
  configs: { record: ConfigRecord; maps: AdapterMaps; model: StitchedModel }[];
}

export interface SaveOptions {
  /** Write every configuration's fused <id>.onnx (default true). */
  exportOnnx?: boolean;
  /**
   * The fused files reference the anchors' weights inside the anchors' files (ONNX external
   * data: one copy of each anchor on disk) instead of carrying copies (default true).
   */
  sharedWeights?: boolean;
  /** Replace a folder that holds a different family (other anchors, or an unreadable manifest). Default false. */
  force?: boolean;
  /** Checked before the swap: an abort leaves the folder as it was. */
  signal?: AbortSignal;
}

const STAGING = '.restnet-staging-';
const OLD = '.restnet-old-';

/** The bytes of a configuration's stitch file: header (anchors, cuts, dims, layout) + maps. */
export function stitchFileBytes(record: ConfigRecord, maps: AdapterMaps, anchors: Anchor[]): Uint8Array {
  const front = anchors.find((a) => a.name === record.front)!,
    back = anchors.find((a) => a.name === record.back)!;
  return encodeStitch(
    {
      id: record.id,
      front: { anchor: front.name, cut: record.frontCut, dims: front.model.sampleDims(record.frontCut) },
      back: { anchor: back.name, cut: record.backCut, dims: back.model.sampleDims(record.backCut) },
      ...layoutOf(record),
    },
    maps,
  );
}

function manifestText(anchorRecords: AnchorRecord[], configs: ConfigRecord[]): string {
  const manifest: RestnetManifest = {
    format: MANIFEST_FORMAT,
    anchors: anchorRecords.length === 1 ? [anchorRecords[0]!, anchorRecords[0]!] : anchorRecords,
    configs,
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/** Sibling folders `<prefix><name>-<pid>-<hex>` of `target`, with their pid. */
async function siblings(target: string, prefix: string): Promise<{ path: string; pid: number }[]> {
  const parent = dirname(target),
    name = basename(target);
  const entries = await readdir(parent).catch(() => [] as string[]);
  const out: { path: string; pid: number }[] = [];
  for (const e of entries) {
    if (!e.startsWith(`${prefix}${name}-`)) continue;
    const m = /^(\d+)-[0-9a-f]{8}$/.exec(e.slice(prefix.length + name.length + 1));
    if (m) out.push({ path: join(parent, e), pid: Number(m[1]) });
  }
  return out;
}

function alive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When a save was killed between its two renames, the folder is missing and the old family waits
 * beside it: rename it back. Nothing happens when the folder exists.
 */
export async function recoverInterruptedSave(dir: string): Promise<void> {
  const target = resolve(dir);
  if (await stat(target).catch(() => undefined)) return;
  const olds = (await siblings(target, OLD)).filter((o) => !alive(o.pid) || o.pid === process.pid);
  if (olds.length === 0) return;
  const newest = (await Promise.all(olds.map(async (o) => ({ ...o, mtime: (await stat(o.path)).mtimeMs })))).sort(
    (a, b) => b.mtime - a.mtime,
  )[0]!;
  await rename(newest.path, target);
}

/** Removes staging and old folders of `target` left by saves that were killed. */
async function removeStale(target: string): Promise<void> {
  for (const s of [...(await siblings(target, STAGING)), ...(await siblings(target, OLD))]) {
    if (!alive(s.pid)) await rm(s.path, { recursive: true, force: true });
  }
}

/** The old folder's manifest (null when there is none) and the files it names. */
async function oldFamily(
  target: string,
): Promise<{ manifest: RestnetManifest | 'unreadable'; files: Set<string> } | null> {
  let text: string;
  try {
    text = await readFile(join(target, 'manifest.json'), 'utf8');
  } catch {
    return null;
  }
  try {
    const m = JSON.parse(text) as RestnetManifest;
    const files = new Set([
      'manifest.json',
      ...m.anchors.map((a) => a.file),
      ...m.configs.flatMap((c) => [c.stitch, ...(c.onnx ? [c.onnx] : [])]),
    ]);
    return { manifest: m, files };
  } catch {
    return { manifest: 'unreadable', files: new Set(['manifest.json']) };
  }
}

/** Hard links (copies when links are not possible) a file tree: what the new folder keeps of the old one. */
async function linkTree(src: string, dst: string): Promise<void> {
  const st = await lstat(src);
  if (st.isSymbolicLink()) await symlink(await readlink(src), dst);
  else if (st.isDirectory()) {
    await mkdir(dst);
    for (const e of await readdir(src)) await linkTree(join(src, e), join(dst, e));
  } else if (st.isFile()) await link(src, dst).catch(() => copyFile(src, dst));
}

/**
 * Writes the family into dir atomically (see the top of this file); the records' file names and
 * hashes are updated as written. Returns the manifest's path.
 */
export async function writeFamily(dir: string, family: FamilyParts, options: SaveOptions = {}): Promise<string> {
  const target = resolve(dir);
  await mkdir(dirname(target), { recursive: true });
  await recoverInterruptedSave(target);
  await removeStale(target);
  const existing = await stat(target).catch(() => undefined);
  if (existing && !existing.isDirectory()) throw new ManifestError(`${target}: exists and is not a directory`);
  const old = existing ? await oldFamily(target) : null;
  if (old && !options.force) {
    const names = (anchors: { name: string; sha256: string }[]) =>
      [...new Set(anchors.map((a) => `${a.name}:${a.sha256}`))].sort().join();
    const theirs = old.manifest === 'unreadable' ? null : names(old.manifest.anchors ?? []);
    if (theirs !== names(family.anchorRecords)) {
      const what =
        old.manifest === 'unreadable'
          ? 'an unreadable manifest.json'
          : `a family of other anchors (${[...new Set(old.manifest.anchors.map((a) => a.name))].join(', ')})`;
      throw new ManifestError(
        `${target}: holds ${what}; saving ${family.anchorRecords.map((a) => a.name).join(', ')} there needs { force: true } (restnet --force)`,
      );
    }
  }
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = join(dirname(target), `${STAGING}${basename(target)}-${tag}`);
  await mkdir(staging);
  let aside: string | undefined;
  const external =
    (options.sharedWeights ?? true)
      ? family.anchors.map((a) => ({
          location: family.anchorRecords.find((r) => r.name === a.name)!.file,
          bytes: a.bytes,
        }))
      : undefined;
  try {
    const written = new Set(['manifest.json']);
    for (const a of family.anchors) {
      const file = family.anchorRecords.find((r) => r.name === a.name)!.file;
      await writeFileAtomic(join(staging, file), a.bytes);
      written.add(file);
    }
    for (const { record, maps, model } of family.configs) {
      const bytes = stitchFileBytes(record, maps, family.anchors);
      record.stitch = `${record.id}.stitch`;
      record.stitchSha256 = sha256(bytes);
      await writeFileAtomic(join(staging, record.stitch), bytes);
      written.add(record.stitch);
      if (options.exportOnnx ?? true) {
        const onnx = model.toOnnx(external ? { external } : {});
        record.onnx = `${record.id}.onnx`;
        record.onnxSha256 = sha256(onnx);
        await writeFileAtomic(join(staging, record.onnx), onnx);
        written.add(record.onnx);
      } else if (record.onnx !== null) {
        // A fused file from before is not carried over: it may not match these maps.
        record.onnx = null;
        record.onnxSha256 = null;
      }
    }
    await writeFileAtomic(
      join(staging, 'manifest.json'),
      manifestText(
        family.anchorRecords,
        family.configs.map((c) => c.record),
      ),
    );
    if (existing) {
      for (const e of await readdir(target)) {
        if (written.has(e) || old?.files.has(e) || e.startsWith('.restnet-')) continue;
        await linkTree(join(target, e), join(staging, e));
      }
    }
    options.signal?.throwIfAborted();
    if (existing) {
      aside = join(dirname(target), `${OLD}${basename(target)}-${tag}`);
      await rename(target, aside);
    }
    await rename(staging, target);
  } catch (error) {
    if (aside && !(await stat(target).catch(() => undefined))) await rename(aside, target).catch(() => undefined);
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  if (aside) await rm(aside, { recursive: true, force: true });
  return join(target, 'manifest.json');
}
