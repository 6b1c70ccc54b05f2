// Shared pieces of the benchmarks: timing, medians, peers run as child processes, machine facts,
// and the per-suite result files that run.mjs assembles into RESULTS.md.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = dirname(fileURLToPath(import.meta.url));

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median wall time in ms of `reps` calls after one warm-up call. */
export async function timeMs(fn, reps = 5) {
  await fn();
  const times = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}

// Debian's python3-torch calls whatever libblas.so.3 the system selects, by default the slow
// reference BLAS. With libopenblas0-pthread installed, its directory goes first on the
// library path so PyTorch peers run on OpenBLAS like numpy: a fair peer, not a strawman.
export const OPENBLAS_DIR = '/usr/lib/x86_64-linux-gnu/openblas-pthread';

/** Runs a peer script (python) with a JSON request on stdin; returns its JSON answer. */
export function runPeer(python, script, request, threads) {
  const env = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
  };
  if (existsSync(OPENBLAS_DIR)) env.LD_LIBRARY_PATH = [OPENBLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  const out = execFileSync(python, [join(benchDir, 'peers', script)], {
    input: JSON.stringify(request),
    env,
    maxBuffer: 64 << 20,
  });
  return JSON.parse(out.toString());
}

/** Writes a float32 matrix to a raw file a peer reads with numpy.fromfile. */
export function writeRaw(path, m) {
  writeFileSync(path, Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
}

export function cpuMhz() {
  try {
    return Number(/cpu MHz\s*:\s*([\d.]+)/.exec(execFileSync('cat', ['/proc/cpuinfo']).toString())?.[1]) || undefined;
  } catch {
    return undefined;
  }
}

export function machine(capabilities) {
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    mhz: cpuMhz(),
    simd: capabilities.simd,
    available: capabilities.available,
    threads: capabilities.threads,
    node: process.version,
  };
}

export function writeResults(name, markdown) {
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  writeFileSync(join(benchDir, 'results', `${name}.md`), markdown);
}

export function fmt(x, digits = 2) {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}
