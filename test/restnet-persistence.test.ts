// What load() checks and what save() guarantees: every manifest field's type and range, MACs
// and params counted again from the graphs, fused files against their sha256, every named file
// a regular file inside the folder (no '..', no symlink out, no /dev/zero, no FIFO, size caps),
// saves that replace a family as a whole (other anchors need force; the folder's other files
// kept; stale staging removed), and a save killed (SIGKILL, child process) at every rename and
// removal step: the folder then loads as the old family or the new one, never a mix.
import { execFileSync, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadZooSplit } from '../lib/data/index.js';
import type { Tensor } from '../lib/matrix.js';
import { analyze, evaluate, fit, loadAnchor, ManifestError, plan, ReStNet } from '../lib/restnet/index.js';
import { validateManifest, type RestnetManifest } from '../lib/restnet/manifest.js';
import { fixture, relError } from './onnx-helpers.js';

const calibration = loadZooSplit('calibration');
const evalSplit = loadZooSplit('eval');
const x4: Tensor = { data: evalSplit.images.slice(0, 4 * 784), dims: [4, 1, 28, 28] };
const tmp = mkdtempSync(join(tmpdir(), 'restnet-persist-'));
const nets: ReStNet[] = [];
/**
 * Family "old" and family "new": the same anchors (cnn-a, vit-b), stitches fitted on other images;
 * "other": cnn-a -> cnn-b with 3 x 3 stitches, refined (rectified where cnn-b's cut is a Relu output).
 */
const src = { old: join(tmp, 'src-old'), new: join(tmp, 'src-new'), other: join(tmp, 'src-other') };

const load = async (dir: string): Promise<ReStNet> => {
  const net = await ReStNet.load(dir, { threads: 1, warm: 'none' });
  nets.push(net);
  return net;
};
const readManifest = (dir: string): RestnetManifest => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
const writeManifest = (dir: string, m: unknown): void => writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
let n = 0;
const copyOf = (dir: string): string => {
  const d = join(tmp, `copy-${n++}`);
  cpSync(dir, d, { recursive: true });
  return d;
};

beforeAll(async () => {
  const a = await loadAnchor({ name: 'cnn-a', model: fixture('cnn-a') }, { threads: 1 });
  const b = await loadAnchor({ name: 'vit-b', model: fixture('vit-b') }, { threads: 1 });
  const c = await loadAnchor({ name: 'cnn-b', model: fixture('cnn-b') }, { threads: 1 });
  const analysis = await analyze(a, b, calibration, { calibrationLimit: 64, batchSize: 64 });
  const p = plan(analysis, { costRange: 'any' });
  const images = (from: number) => ({
    images: calibration.images.subarray(from * 784, (from + 64) * 784),
    rows: 64,
    cols: 784,
    labels: calibration.labels.subarray(from, from + 64),
  });
  for (const [dir, net] of [
    [src.old, await fit(p, images(0), {})],
    [src.new, await fit(p, images(64), {})],
    [
      src.other,
      await fit(
        plan(await analyze(a, c, calibration, { calibrationLimit: 64, batchSize: 64 }), {
          costRange: 'any',
          kernel: 3,
        }),
        images(0),
        { refine: { epochs: 1, images: 64 } },
      ),
    ],
  ] as const) {
    await evaluate(net, evalSplit, undefined, { evalLimit: 50, latencyRuns: 1, latencyRunsBatch32: 1 });
    await net.save(dir);
    await net.dispose();
  }
  expect(readManifest(src.old).configs.map((c) => c.stitchSha256)).not.toEqual(
    readManifest(src.new).configs.map((c) => c.stitchSha256),
  );
}, 180_000);

afterAll(async () => {
  for (const net of nets) await net.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

describe('manifest fields: types and ranges', () => {
  const base = (): RestnetManifest => readManifest(src.old);
  const cases: [string, (m: RestnetManifest) => void, RegExp][] = [
    [
      'accuracy 1e300',
      (m) => (m.configs[0]!.accuracy = 1e300),
      /configs\[0\] \(.*\)\.accuracy: expected a number in \[0, 1\] or null, got 1e\+300/,
    ],
    [
      'accuracy -0.85',
      (m) => (m.anchors[0]!.accuracy = -0.85),
      /anchors\[0\] \(cnn-a\)\.accuracy: expected a number in \[0, 1\]/,
    ],
    ['negative latency', (m) => (m.configs[0]!.latencyMs = -1), /\.latencyMs: expected a number >= 0 or null, got -1/],
    [
      'memoryBytes as a string',
      (m) => ((m.configs[0] as unknown as Record<string, unknown>).memoryBytes = '600680'),
      /\.memoryBytes: expected an integer >= 0 or null, got "600680"/,
    ],
    ['CKA 1.97', (m) => (m.configs[0]!.cka = 1.97), /\.cka: expected a number in \[-1, 1\] or null, got 1\.97/],
    ['even kernel', (m) => (m.configs[0]!.kernel = 2), /\.kernel: expected an odd integer >= 1, got 2/],
    ['fractional MACs', (m) => (m.configs[0]!.macs = 1.5), /\.macs: expected an integer >= 0, got 1\.5/],
    ['evalImages 0', (m) => (m.configs[0]!.evalImages = 0), /\.evalImages: expected an integer >= 1 or null, got 0/],
    [
      'an interval the wrong way round',
      (m) => (m.configs[0]!.accuracyInterval = [0.9, 0.8]),
      /\.accuracyInterval: expected \[lo, hi\] with 0 <= lo <= hi <= 1/,
    ],
    [
      'an interval without the accuracy',
      (m) => {
        m.configs[0]!.accuracy = 0.5;
        m.configs[0]!.accuracyInterval = [0.6, 0.7];
      },
      /does not contain the accuracy 0\.5/,
    ],
    [
      'pareto "no"',
      (m) => ((m.configs[0] as unknown as Record<string, unknown>).pareto = 'no'),
      /\.pareto: expected true or false, got "no"/,
    ],
    [
      'a reason on an offered configuration',
      (m) => (m.configs[0]!.reason = 'why'),
      /\.reason: only a configuration with pareto: false has a reason/,
    ],
    [
      'a short onnxSha256',
      (m) => (m.configs[0]!.onnxSha256 = 'abc'),
      /\.onnxSha256: expected 64 hex digits or null, got "abc"/,
    ],
    [
      'refined missing',
      (m) => delete (m.configs[0] as unknown as Record<string, unknown>).refined,
      /\.refined: expected true or false, got nothing/,
    ],
    [
      'a refineEpoch on a configuration that was not refined',
      (m) => (m.configs[0]!.refineEpoch = 2),
      /\.refineEpoch: only a configuration with refined: true has a refineEpoch/,
    ],
    [
      'refineEpoch -1',
      (m) => {
        m.configs[0]!.refined = true;
        m.configs[0]!.refineEpoch = -1;
      },
      /\.refineEpoch: expected an integer >= 0, got -1/,
    ],
    [
      'negative trainSeconds',
      (m) => (m.anchors[1]!.trainSeconds = -3),
      /anchors\[1\] \(vit-b\)\.trainSeconds: expected a number >= 0 or null/,
    ],
  ];
  for (const [what, mutate, message] of cases) {
    it(what, () => {
      const m = base();
      mutate(m);
      expect(() => validateManifest(m, 'm.json')).toThrow(ManifestError);
      expect(() => validateManifest(m, 'm.json')).toThrow(message);
    });
  }
  it('a complete manifest passes, with nulls where nothing was measured, and pareto: false with a reason', () => {
    const m = base();
    expect(validateManifest(m, 'm.json')).toBe(m);
    Object.assign(m.configs[0]!, {
      accuracy: null,
      latencyMs: null,
      cka: null,
      evalImages: null,
      accuracyInterval: null,
      pareto: false,
      reason: 'dominated by cnn-a',
    });
    expect(() => validateManifest(m, 'm.json')).not.toThrow();
    // Debiased CKA of unrelated layers can be slightly negative (random-weight anchors saved such families).
    m.configs[0]!.cka = -0.0029;
    expect(() => validateManifest(m, 'm.json')).not.toThrow();
  });
});

describe('load counts again and checks hashes', () => {
  it('configuration MACs, params and trained params must match what the graphs and the stitch give', async () => {
    for (const key of ['macs', 'params', 'trainableParams'] as const) {
      const dir = copyOf(src.old);
      const m = readManifest(dir);
      m.configs[0]![key] += 1;
      writeManifest(dir, m);
      await expect(ReStNet.load(dir, { warm: 'none', threads: 1 })).rejects.toThrow(
        new RegExp(
          `config ${m.configs[0]!.id.replace(/[.~]/g, '\\$&')}: ${key} \\d+ in the manifest, \\d+ counted from the graphs`,
        ),
      );
    }
  });

  it("a 3 x 3 stitch's kernel is recorded and read back: the manifest and the stitch file must agree", async () => {
    const m = readManifest(src.other);
    expect(m.configs.map((c) => c.kernel)).toEqual(m.configs.map(() => 3));
    const fused = await ReStNet.load(src.other, { threads: 1, warm: 'none', mode: 'fused' });
    nets.push(fused);
    const shared = await ReStNet.load(src.other, { threads: 1, warm: 'none', mode: 'shared' });
    nets.push(shared);
    for (const c of m.configs)
      expect(relError(await fused.runWith(c.id, x4), await shared.runWith(c.id, x4)), c.id).toBeLessThan(1e-4);
    const dir = copyOf(src.other);
    m.configs[0]!.kernel = 1;
    writeManifest(dir, m);
    await expect(ReStNet.load(dir, { warm: 'none', threads: 1 })).rejects.toThrow(
      /the stitch was fitted with kernel 3, the manifest's .* says 1/,
    );
  });

  it('rectify is recorded and read back: the manifest and the stitch file must agree; absent means false', async () => {
    const m = readManifest(src.other);
    const cnnB = await loadAnchor({ name: 'cnn-b', model: fixture('cnn-b') }, { threads: 1 });
    const rectified = new Set(cnnB.model.cutPoints().flatMap((c) => (c.rectified ? [c.name] : [])));
    await cnnB.model.dispose();
    expect(m.configs.map((c) => c.rectify)).toEqual(m.configs.map((c) => rectified.has(c.backCut)));
    const on = m.configs.findIndex((c) => c.rectify),
      off = m.configs.findIndex((c) => !c.rectify);
    expect([on, off].every((i) => i >= 0)).toBe(true);
    // Fused (one Relu at the stitch's end) == shared (Adapter.run) is the kernel test above, on these configurations.
    const loaded = await load(src.other);
    expect(loaded.configs.map((c) => c.rectify)).toEqual(m.configs.map((c) => c.rectify));
    for (const [i, says] of [
      [on, false],
      [off, true],
    ] as const) {
      const dir = copyOf(src.other);
      const changed = readManifest(dir);
      changed.configs[i]!.rectify = says;
      writeManifest(dir, changed);
      await expect(ReStNet.load(dir, { warm: 'none', threads: 1 })).rejects.toThrow(
        `the stitch was fitted with rectify ${!says}, the manifest's '${changed.configs[i]!.id}' says ${says}`,
      );
    }
    // A manifest from before the field: absent is false, which a linear stitch's header agrees with
    // and a rectified one's does not.
    const dir = copyOf(src.other);
    const old = readManifest(dir);
    delete old.configs[off]!.rectify;
    writeManifest(dir, old);
    expect((await load(dir)).configs[off]!.rectify).toBeUndefined();
    delete old.configs[on]!.rectify;
    writeManifest(dir, old);
    await expect(ReStNet.load(dir, { warm: 'none', threads: 1 })).rejects.toThrow(
      /the stitch was fitted with rectify true, the manifest's .* says false/,
    );
    expect(() => validateManifest({ ...m, configs: [{ ...m.configs[0]!, rectify: 'yes' }] }, 'm.json')).toThrow(
      /configs\[0\] \(.*\)\.rectify: expected true or false, got "yes"/,
    );
  });

  it('a fused file that does not match its sha256 is rejected; one without a recorded hash is not run', async () => {
    const dir = copyOf(src.old);
    const m = readManifest(dir);
    const c = m.configs[0]!;
    const file = join(dir, c.onnx!);
    const bytes = readFileSync(file);
    const at = bytes.length - 5;
    bytes[at] = bytes[at]! ^ 0x10;
    writeFileSync(file, bytes);
    await expect(ReStNet.load(dir, { warm: 'none', threads: 1 })).rejects.toThrow(
      /fused ONNX .* has sha256 [0-9a-f]{64}, the manifest expects/,
    );
    // A family saved before hashes were recorded: the changed file is never run, the graph is built in memory.
    delete c.onnxSha256;
    writeManifest(dir, m);
    const net = await ReStNet.load(dir, { threads: 1, mode: 'fused' });
    nets.push(net);
    const shared = await load(src.old);
    expect(relError(await net.runWith(c.id, x4), await shared.runWith(c.id, x4))).toBeLessThan(1e-4);
  });

  it('a fused file changed after load is not run: the session is built from the graph in memory', async () => {
    const dir = copyOf(src.old);
    const net = await load(dir);
    const c = readManifest(dir).configs[0]!;
    writeFileSync(join(dir, c.onnx!), readFileSync(join(dir, readManifest(dir).configs[1]!.onnx!)));
    const shared = await ReStNet.load(src.old, { threads: 1, warm: 'none', mode: 'shared' });
    nets.push(shared);
    const out = await net.runWith(c.id, x4);
    await net.ready();
    expect(relError(await net.runWith(c.id, x4), out)).toBeLessThan(1e-4);
    expect(relError(out, await shared.runWith(c.id, x4))).toBeLessThan(1e-4);
  });
});

describe('paths: every named file is a regular file inside the folder', () => {
  const rejects = async (mutate: (dir: string, m: RestnetManifest) => void, message: RegExp): Promise<void> => {
    const dir = copyOf(src.old);
    const m = readManifest(dir);
    mutate(dir, m);
    writeManifest(dir, m);
    await expect(ReStNet.load(dir, { warm: 'none', threads: 1 })).rejects.toThrow(message);
  };
  it("'..' and absolute paths", async () => {
    await rejects(
      (_, m) => (m.configs[0]!.onnx = '../../../etc/passwd'),
      /'\.\.\/\.\.\/\.\.\/etc\/passwd' is outside the manifest's directory/,
    );
    await rejects(
      (_, m) => (m.configs[0]!.stitch = '/etc/passwd'),
      /'\/etc\/passwd' is outside the manifest's directory/,
    );
  });
  it('a symlink out of the folder, and an anchor that is a symlink to /dev/zero', async () => {
    const outside = join(tmp, 'outside.stitch');
    await rejects((dir, m) => {
      cpSync(join(dir, m.configs[0]!.stitch), outside);
      rmSync(join(dir, m.configs[0]!.stitch));
      symlinkSync(outside, join(dir, m.configs[0]!.stitch));
    }, /resolves to .*outside\.stitch, outside the manifest's directory/);
    await rejects((dir, m) => {
      rmSync(join(dir, m.anchors[0]!.file));
      symlinkSync('/dev/zero', join(dir, m.anchors[0]!.file));
    }, /anchor 'cnn-a': 'cnn-a\.onnx' resolves to \/dev\/zero, outside the manifest's directory/);
  });
  it('a FIFO and a directory are not regular files', async () => {
    await rejects((dir, m) => {
      rmSync(join(dir, m.configs[0]!.stitch));
      execFileSync('mkfifo', [join(dir, m.configs[0]!.stitch)]);
    }, /is not a regular file/);
    await rejects((dir, m) => {
      rmSync(join(dir, m.configs[0]!.stitch));
      mkdirSync(join(dir, m.configs[0]!.stitch));
    }, /is not a regular file/);
  });
  it('a manifest larger than its cap is not read', async () => {
    const dir = copyOf(src.old);
    truncateSync(join(dir, 'manifest.json'), 17 << 20);
    await expect(ReStNet.load(dir, { warm: 'none', threads: 1 })).rejects.toThrow(
      /'manifest\.json' has 17825792 bytes, more than the 16777216 allowed/,
    );
  });
});

describe('save replaces a family as a whole', () => {
  it('a family of other anchors needs force; the folder keeps its other files, drops the old family files, and stale staging goes', async () => {
    const dir = copyOf(src.old);
    writeFileSync(join(dir, 'plot.svg'), '<svg/>');
    mkdirSync(join(dir, 'other-pair'));
    writeFileSync(join(dir, 'other-pair', 'note.txt'), 'kept');
    const stale = join(tmp, `.restnet-staging-${dir.split('/').pop()}-999999999-0123abcd`);
    mkdirSync(stale);
    const other = await load(src.other);
    await expect(other.save(dir)).rejects.toThrow(
      /holds a family of other anchors \(cnn-a, vit-b\); saving cnn-a, cnn-b there needs \{ force: true \}/,
    );
    expect(readManifest(dir)).toEqual(readManifest(src.old));
    await other.save(dir, { force: true });
    expect(readManifest(dir).anchors.map((a) => a.name)).toEqual(['cnn-a', 'cnn-b']);
    expect(readFileSync(join(dir, 'plot.svg'), 'utf8')).toBe('<svg/>');
    expect(readFileSync(join(dir, 'other-pair', 'note.txt'), 'utf8')).toBe('kept');
    const named = new Set([
      'manifest.json',
      'plot.svg',
      'other-pair',
      ...readManifest(dir).anchors.map((a) => a.file),
      ...readManifest(dir).configs.flatMap((c) => [c.stitch, c.onnx!]),
    ]);
    expect(readdirSync(dir).filter((f) => !named.has(f))).toEqual([]);
    expect(existsSync(stale)).toBe(false);
    expect(
      readdirSync(tmp).filter((f) => f.startsWith('.restnet-') && f.includes(`-${dir.split('/').pop()}-`)),
    ).toEqual([]);
    await load(dir);
  });
});

describe('a save killed at every rename and removal step', () => {
  // The child loads family "new" and saves it over a copy of family "old"; before its k-th
  // rename or rm it says so on stdout and waits, and the parent kills it with SIGKILL.
  const child = join(tmp, 'save-child.mjs');
  const dist = join(import.meta.dirname, '..', 'dist', 'index.js');
  writeFileSync(
    child,
    `
import { createRequire, syncBuiltinESMExports } from 'node:module';
const require = createRequire(import.meta.url);
const fsp = require('node:fs/promises');
const stopAt = Number(process.argv[4]);
let step = 0;
for (const name of ['rename', 'rm']) {
  const original = fsp[name];
  fsp[name] = async (...args) => {
    if (++step === stopAt) {
      process.stdout.write('stopped before ' + name + ' ' + args[0] + '\\n');
      await new Promise(() => {});
    }
    return original(...args);
  };
}
syncBuiltinESMExports();
const { ReStNet } = await import(${JSON.stringify(dist)});
const net = await ReStNet.load(process.argv[2], { threads: 1, warm: 'none' });
await net.save(process.argv[3]);
process.stdout.write('steps ' + step + '\\n');
process.exit(0);
`,
  );
  const run = (target: string, stopAt: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const p = spawn(process.execPath, [child, src.new, target, String(stopAt)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '',
        err = '';
      p.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('stopped before')) p.kill('SIGKILL');
      });
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('exit', (code, signal) =>
        code === 0 || signal === 'SIGKILL' ? resolve(out) : reject(new Error(`child exited ${code}: ${err}`)),
      );
    });

  it('loads as the old family or the new one, never a mix', async () => {
    const oldStitches = readManifest(src.old).configs.map((c) => c.stitchSha256);
    const newStitches = readManifest(src.new).configs.map((c) => c.stitchSha256);
    const full = await run(copyOf(src.old), 0);
    const steps = Number(/steps (\d+)/.exec(full)![1]);
    // Every file is renamed into the staging folder, then the two directory renames, then rm of the old folder.
    expect(steps).toBeGreaterThan(readManifest(src.new).configs.length * 2 + 3);
    const seen = { old: 0, new: 0, mix: 0 };
    for (let k = 1; k <= steps; k++) {
      const dir = copyOf(src.old);
      const said = await run(dir, k);
      expect(said, `step ${k}`).toMatch(/stopped before (rename|rm)/);
      const net = await load(dir);
      const stitches = net.configs.map((c) => c.stitchSha256);
      const which =
        JSON.stringify(stitches) === JSON.stringify(oldStitches)
          ? 'old'
          : JSON.stringify(stitches) === JSON.stringify(newStitches)
            ? 'new'
            : 'mix';
      expect(which, `killed before step ${k}: ${said.trim()}`).not.toBe('mix');
      seen[which]++;
      // Every file the loaded manifest names was verified by load; the fused files run.
      const id = net.ids[0]!;
      const fused = await ReStNet.load(dir, { threads: 1, warm: [id], mode: 'fused' });
      nets.push(fused);
      expect(fused.memory().fused.ids).toContain(id);
    }
    expect(seen.old).toBeGreaterThan(0);
    expect(seen.new).toBeGreaterThan(0);
    // The next save cleans up what the killed ones left.
    const dir = copyOf(src.old);
    await run(dir, steps - 1);
    const name = dir.split('/').pop()!;
    expect(readdirSync(tmp).filter((f) => f.startsWith(`.restnet-old-${name}-`))).toHaveLength(1);
    await (await load(src.new)).save(dir);
    expect(readdirSync(tmp).filter((f) => f.startsWith('.restnet-') && f.includes(`-${name}-`))).toEqual([]);
  }, 300_000);
});
