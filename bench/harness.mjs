// Shared pieces of the benchmarks: timing, medians, peers run as child processes, machine facts,
// and the per-suite result files that assemble.mjs joins into RESULTS.md.
import { execFileSync, spawn } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
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

// Some machines set these for every process; they force OpenBLAS onto an older kernel (and a
// smaller cache model) than the one it picks for this CPU, which slows the peer. They are
// removed from the peer's own environment only: what the peer ran is recorded in its info.
const BLAS_OVERRIDES = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'];

export const python = process.env.BENCH_PYTHON ?? '/usr/bin/python3';

/**
 * Starts a peer script (bench/peers/*.py speaking peer_server.py's line protocol) with `setup`
 * as its first line. `call(op)` times one call of a named operation inside the peer and
 * resolves to {seconds, cpuSeconds}; `info()` resolves to what the peer ran (versions, BLAS
 * kernel, extras). `extraEnv` adds variables to the peer's environment (and only to it).
 */
export function startPeer(script, setup, threads, extraEnv = {}, interpreter = python) {
  const env = {
    ...process.env,
    OMP_NUM_THREADS: String(threads),
    OPENBLAS_NUM_THREADS: String(threads),
    MKL_NUM_THREADS: String(threads),
    ...extraEnv,
  };
  for (const name of BLAS_OVERRIDES) delete env[name];
  if (existsSync(OPENBLAS_DIR))
    env.LD_LIBRARY_PATH = [OPENBLAS_DIR, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  const child = spawn(interpreter, [join(benchDir, 'peers', script)], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  lines.on('line', (line) => waiting.shift()?.resolve(JSON.parse(line)));
  child.on('exit', (code) => {
    for (const w of waiting.splice(0)) w.reject(new Error(`peer ${script} exited with code ${code}`));
  });
  const ask = (request) =>
    new Promise((resolve, reject) => {
      waiting.push({ resolve, reject });
      child.stdin.write(`${JSON.stringify(request)}\n`);
    });
  child.stdin.write(`${JSON.stringify(setup)}\n`);
  return {
    call: (op) => ask({ op }),
    info: () => ask({ info: true }),
    close: () => child.stdin.end('\n'),
  };
}

/** CPU time of this process (all threads, user + system) in ms. */
function cpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e3;
}

/**
 * Before each timed call of `interleaved`, the same side runs untimed for at least this many ms
 * (env BENCH_WARM_MS). OpenBLAS's idle threads spin after a call before they sleep: a numpy peer
 * burned 90-100 ms of CPU in the first 100 ms after each call here and none in the 200 ms after
 * that. On 2 cores that spinning thread took one core from whichever call came next, so
 * back-to-back reps timed restnet's call at up to 1.5x its time alone. A pause instead of the
 * warm-up let the cores idle, and the next call of either side paid for waking them (a 1024 x
 * 256 Gram 3 -> 14 ms). After the warm-up each timed call runs on a machine busy with its own
 * side only, as in a user's loop.
 */
export const WARM_MS = Number(process.env.BENCH_WARM_MS ?? 150);

/** Calls `fn` until WARM_MS have passed (at least once). */
async function warm(fn) {
  const start = performance.now();
  do await fn();
  while (performance.now() - start < WARM_MS);
}

/**
 * Times `ours` (a function, ms on this side) against `peer.call(op)` rep by rep, alternating,
 * so both sides see the same machine load; each timed call follows WARM_MS of untimed calls of
 * the same side. Returns the medians in ms and the median of the per-rep ratios (ours / peer),
 * the figure the tables report, and the same for CPU time (every thread of each process): on a
 * shared machine the wall-time ratio also measures how each side's threads fared in the
 * scheduler, the CPU-time ratio only the work done.
 */
export async function interleaved(ours, peer, op, reps) {
  const wall = { ours: [], peer: [], ratio: [] },
    cpu = { ours: [], peer: [], ratio: [] };
  for (let i = 0; i < reps; i++) {
    await warm(ours);
    const c = cpuMs(),
      t = performance.now();
    await ours();
    wall.ours.push(performance.now() - t);
    cpu.ours.push(cpuMs() - c);
    await warm(() => peer.call(op));
    const p = await peer.call(op);
    wall.peer.push(p.seconds * 1e3);
    cpu.peer.push(p.cpuSeconds * 1e3);
    wall.ratio.push(wall.ours[i] / wall.peer[i]);
    cpu.ratio.push(cpu.ours[i] / cpu.peer[i]);
  }
  return {
    ours: median(wall.ours),
    peer: median(wall.peer),
    ratio: median(wall.ratio),
    spread: [Math.min(...wall.ratio), Math.max(...wall.ratio)],
    cpuOurs: median(cpu.ours),
    cpuPeer: median(cpu.peer),
    cpuRatio: median(cpu.ratio),
  };
}

/** One line naming the BLAS a peer ran, from its info(). */
export function blasLine(info) {
  const libs = info.blas.libraries.map((l) =>
    [
      l.internal_api ?? 'BLAS',
      l.version,
      l.architecture && `kernel ${l.architecture}`,
      l.threading_layer,
      l.num_threads && `${l.num_threads} threads`,
    ]
      .filter(Boolean)
      .join(' '),
  );
  const env = Object.entries(info.env).filter(([k]) => k.startsWith('OPENBLAS') && !k.endsWith('NUM_THREADS'));
  return `${libs.join('; ') || 'no BLAS found'} (from ${info.blas.source}; OPENBLAS_* overrides in the peer: ${env.length ? env.map(([k, v]) => `${k}=${v}`).join(', ') : 'none'})`;
}

/** Writes a float32 matrix to a raw file a peer reads with numpy.fromfile. */
export function writeRaw(path, m) {
  writeFileSync(path, Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
}

function cpuinfo() {
  try {
    return execFileSync('cat', ['/proc/cpuinfo']).toString();
  } catch {
    return '';
  }
}

export function cpuMhz() {
  return Number(/cpu MHz\s*:\s*([\d.]+)/.exec(cpuinfo())?.[1]) || undefined;
}

/** The CPU as /proc/cpuinfo names it, with family/model/stepping (a VM often hides the brand string). */
export function cpuModel() {
  const info = cpuinfo();
  const field = (name) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(info)?.[1]?.trim();
  const name = field('model name') ?? cpus()[0]?.model ?? 'unknown';
  const fms = ['cpu family', 'model', 'stepping'].map(field);
  return fms.every(Boolean) ? `${name} (family ${fms[0]}, model ${fms[1]}, stepping ${fms[2]})` : name;
}

export function machine(capabilities) {
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    mhz: cpuMhz(),
    simd: capabilities.simd,
    available: capabilities.available,
    threads: capabilities.threads,
    node: process.version,
    // 1-minute load average when the suite started: above the core count, other work shared the CPU.
    load: loadavg()[0],
  };
}

export function writeResults(name, markdown) {
  mkdirSync(join(benchDir, 'results'), { recursive: true });
  writeFileSync(join(benchDir, 'results', `${name}.md`), markdown);
}

export function fmt(x, digits = 2) {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}
