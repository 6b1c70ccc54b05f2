// profile-<platform>-<arch>-<cpu>.json: latencies of every configuration and anchor of a family
// measured on one kind of device (restnet profile / net.profile()). It sits next to the manifest,
// never changes it, and names each entry's file hash so a profile of an older family is not used.
import { lstat } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';

import { FILE_LIMITS, readInside } from './family-files.js';

export const PROFILE_FORMAT = 'restnet-profile/1';

export interface DeviceInfo {
  platform: string;
  arch: string;
  /** The CPU model as the OS names it. */
  cpu: string;
  cores: number;
}

/** Latency of one batch size: per call (the whole batch), in ms. */
export interface BatchLatency {
  medianMs: number;
  p95Ms: number;
  runs: number;
}

export interface ProfileEntry {
  id: string;
  kind: 'stitched' | 'anchor';
  /** The stitch file's sha256 (configurations) or the ONNX file's (anchors) that was measured. */
  sha256: string;
  /** How the calls ran: on the fused session, on the shared segments, or some of each. */
  mode: 'fused' | 'shared' | 'mixed';
  /** By batch size ("1", "32"). */
  batches: Record<string, BatchLatency>;
}

export interface DeviceProfile {
  format: string;
  device: DeviceInfo;
  /** The intra-op thread count the family ran with. */
  threads: number;
  /** The runtime's mode while measuring. */
  mode: string;
  createdAt: string;
  entries: ProfileEntry[];
}

export class ProfileError extends Error {
  override name = 'ProfileError';
}

export function thisDevice(): DeviceInfo {
  return {
    platform: process.platform,
    arch: process.arch,
    cpu: cpus()[0]?.model.trim() || 'unknown',
    cores: availableParallelism(),
  };
}

/** `profile-<platform>-<arch>-<cpu>.json`, the CPU model in lower case with runs of other characters as '-'. */
export function profileFileName(device: DeviceInfo = thisDevice()): string {
  const cpu =
    device.cpu
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'unknown';
  return `profile-${device.platform}-${device.arch}-${cpu}.json`;
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Checks the shape and ranges of a parsed profile; `where` names the file in errors. */
export function validateProfile(json: unknown, where: string): DeviceProfile {
  const fail = (why: string): never => {
    throw new ProfileError(`${where}: ${why} (delete the file or measure again with restnet profile)`);
  };
  if (typeof json !== 'object' || json === null) fail('expected a JSON object');
  const p = json as DeviceProfile;
  if (p.format !== PROFILE_FORMAT) fail(`expected format "${PROFILE_FORMAT}", got ${JSON.stringify(p.format)}`);
  const d = p.device;
  if (
    typeof d !== 'object' ||
    d === null ||
    typeof d.platform !== 'string' ||
    typeof d.arch !== 'string' ||
    typeof d.cpu !== 'string' ||
    !Number.isInteger(d.cores)
  )
    fail('expected device {platform, arch, cpu, cores}');
  if (!Number.isInteger(p.threads) || p.threads < 1)
    fail(`threads: expected a positive integer, got ${JSON.stringify(p.threads)}`);
  if (!Array.isArray(p.entries)) fail('expected an entries list');
  p.entries.forEach((e, k) => {
    const at = `entries[${k}]`;
    if (
      typeof e?.id !== 'string' ||
      (e.kind !== 'stitched' && e.kind !== 'anchor') ||
      !/^[0-9a-f]{64}$/.test(String(e.sha256))
    )
      fail(`${at}: expected {id, kind: 'stitched' | 'anchor', sha256}`);
    if (e.mode !== 'fused' && e.mode !== 'shared' && e.mode !== 'mixed')
      fail(`${at} (${e.id}): mode must be fused, shared or mixed, got ${JSON.stringify(e.mode)}`);
    if (typeof e.batches !== 'object' || e.batches === null) fail(`${at} (${e.id}): expected batches`);
    for (const [b, l] of Object.entries(e.batches)) {
      if (!/^[1-9]\d*$/.test(b)) fail(`${at} (${e.id}): batch size '${b}' is not a positive integer`);
      if (
        !isNum(l?.medianMs) ||
        !isNum(l.p95Ms) ||
        l.medianMs < 0 ||
        l.p95Ms < l.medianMs ||
        !Number.isInteger(l.runs) ||
        l.runs < 1
      )
        fail(`${at} (${e.id}) batch ${b}: expected medianMs >= 0, p95Ms >= medianMs and runs >= 1`);
    }
  });
  return p;
}

/** The profile of this device in `dir`, or null when there is none. */
export async function readDeviceProfile(
  dir: string,
  device: DeviceInfo = thisDevice(),
): Promise<{ path: string; profile: DeviceProfile } | null> {
  const name = profileFileName(device);
  const path = join(dir, name);
  if (!(await lstat(path).catch(() => undefined))) return null;
  const bytes = await readInside(
    dir,
    name,
    FILE_LIMITS.profile,
    (why) => new ProfileError(`${path}: cannot read the device profile (${why})`),
  );
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    throw new ProfileError(`${path}: not valid JSON (${(cause as Error).message})`, { cause });
  }
  return { path, profile: validateProfile(json, path) };
}

/**
 * Why `profile` cannot stand for the family's latencies, or null when it can: every candidate
 * needs an entry measured at batch 1 on the same file (same hash).
 */
export function profileMismatch(profile: DeviceProfile, candidates: { id: string; sha256: string }[]): string | null {
  const byId = new Map(profile.entries.map((e) => [e.id, e]));
  for (const c of candidates) {
    const e = byId.get(c.id);
    if (!e) return `no entry for '${c.id}'`;
    if (e.sha256 !== c.sha256)
      return `'${c.id}' was measured on another file (sha256 ${e.sha256.slice(0, 12)}..., the family has ${c.sha256.slice(0, 12)}...)`;
    if (!e.batches['1']) return `'${c.id}' has no batch-1 latency`;
  }
  return null;
}
