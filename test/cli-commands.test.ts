// The `restnet` command run as a child process, as a user runs it: --help of every command,
// usage errors (exit 2), failures (exit 1, one line, a stack only with --verbose), Ctrl-C
// (exit 130, no manifest), and stitch -> select -> export on zoo anchors.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { encodeNpy, loadZooSplit } from '../lib/index.js';
import { validateManifest, type RestnetManifest } from '../lib/restnet/manifest.js';
import { zooAnchorsPresent } from '../lib/cli/pipeline.js';
import { findAll, hasClass, parseXml } from './report-xml.js';

const cli = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js');
const restnet = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: tmp });
const tmp = mkdtempSync(join(tmpdir(), 'restnet-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const COMMANDS = ['demo', 'analyze', 'stitch', 'select', 'export', 'profile', 'bench'];

describe('restnet --help', () => {
  it('lists every command, and each command has --help with exit code 0', () => {
    const top = restnet('--help');
    expect(top.status).toBe(0);
    for (const c of COMMANDS) expect(top.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(restnet().status).toBe(2);
    for (const c of COMMANDS) {
      const r = restnet(c, '--help');
      expect(r.status, c).toBe(0);
      expect(r.stdout, c).toMatch(new RegExp(`^usage: restnet ${c}`));
      expect(r.stdout, c).toContain('--verbose');
      expect(r.stderr, c).toBe('');
    }
    expect(restnet('stitch', '--help').stdout).toMatch(/usage: restnet stitch A B --out DIR \[options\]/);
    expect(restnet('select', '--help').stdout).toContain('--max-latency-ms X');
  });
});

describe('usage errors: one line on stderr, exit code 2', () => {
  const cases: [string[], RegExp][] = [
    [['frobnicate'], /^restnet: unknown command 'frobnicate'/],
    [['analyze', 'cnn-s'], /^restnet: analyze: missing B \(see restnet analyze --help\)$/],
    [['analyze', 'cnn-s', 'cnn-s', '--frob'], /^restnet: unknown option '--frob' \(see restnet analyze --help\)$/],
    [
      ['analyze', 'cnn-s', 'cnn-s', '--calibration', 'lots'],
      /^restnet: --calibration: expected an integer >= 4, got lots$/,
    ],
    [
      ['analyze', 'cnn-s', 'cnn-s', '--features', 'odd'],
      /^restnet: --features: expected one of flatten, mean, got odd$/,
    ],
    [['analyze', join(tmp, 'a.onnx'), 'cnn-s'], /^restnet: analyze: --data is required for models outside the zoo/],
    [['stitch', 'cnn-s', 'cnn-s'], /^restnet: stitch: --out DIR is required/],
    [['select', tmp], /^restnet: select: give a budget/],
    [['select', tmp, '--max-macs'], /^restnet: --max-macs: expected a value, got nothing$/],
    [['export', tmp], /^restnet: export: --config ID is required/],
    [['demo', '--pairs', 'cnn-l'], /^restnet: --pairs: expected A\/B/],
  ];
  for (const [args, message] of cases) {
    it(args.join(' '), () => {
      const r = restnet(...args);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr.trim()).toMatch(message);
    });
  }
});

describe('failures: one line on stderr, exit code 1, a stack trace only with --verbose', () => {
  beforeAll(() => {
    writeFileSync(join(tmp, 'flat.npy'), encodeNpy(new Float32Array(20 * 10), [20, 10]));
    writeFileSync(join(tmp, 'not-a-dir'), 'x');
    writeFileSync(join(tmp, 'junk.onnx'), 'not onnx');
  });
  const cases: [() => string[], RegExp][] = [
    [
      () => ['analyze', join(tmp, 'missing.onnx'), 'cnn-s', '--data', 'zoo'],
      /^restnet: model '.*missing\.onnx' does not exist \(expected an ONNX file or a zoo anchor: /,
    ],
    [() => ['analyze', join(tmp, 'junk.onnx'), 'cnn-s', '--data', 'zoo'], /^restnet: model '.*junk\.onnx': /],
    [
      () => ['analyze', 'cnn-s', 'cnn-s', '--data', join(tmp, 'missing.npy')],
      /^restnet: data '.*missing\.npy' does not exist$/,
    ],
    [
      () => ['analyze', 'cnn-s', 'cnn-s', '--data', join(tmp, 'flat.npy')],
      /^restnet: .*flat\.npy: samples \[10\] cannot be fed to the model input 'pixels' of 'cnn-s' \[N, 1, 28, 28\]: the data are flat vectors of 10 values, not images/,
    ],
    [
      () => ['analyze', 'cnn-s', 'cnn-s', '--out', join(tmp, 'not-a-dir')],
      /^restnet: output directory '.*not-a-dir' is a file, not a directory$/,
    ],
    [
      () => ['analyze', 'cnn-s', 'cnn-s', '--out', join(tmp, 'not-a-dir', 'sub')],
      /^restnet: output directory '.*sub' is not writable \(ENOTDIR/,
    ],
    [() => ['select', join(tmp, 'nowhere'), '--max-macs', '1e6'], /^restnet: '.*nowhere' does not exist/],
    [() => ['select', tmp, '--max-macs', '1e6'], /^restnet: '.*' has no manifest\.json/],
  ];
  for (const [args, message] of cases) {
    it(`${args().slice(0, 2).join(' ')} ${String(message).slice(10, 50)}`, () => {
      const r = restnet(...args());
      // Progress lines may come first; the error is one line, and no stack trace.
      const lines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('restnet:') || /^\s+at /.test(l));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
      expect(r.status).toBe(1);
    });
  }

  it('--verbose adds the stack trace', () => {
    const r = restnet('analyze', 'cnn-s', 'cnn-s', '--data', join(tmp, 'flat.npy'), '--verbose');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^restnet: RangeError: .*flat\.npy/m);
    expect(r.stderr).toMatch(/^\s+at /m);
  });
});

describe('analyze on a folder of PNG images', () => {
  it('resizes 32x32 RGB images to the 28x28 grey input and writes the heat map and JSON (--json)', () => {
    const dir = join(tmp, 'pngs');
    mkdirSync(dir);
    const zoo = loadZooSplit('eval');
    for (let k = 0; k < 24; k++) {
      const img = new pngjs.PNG({ width: 32, height: 32 });
      for (let p = 0; p < 32 * 32; p++) {
        const [y, x] = [Math.floor(p / 32), p % 32];
        const v = Math.round(
          255 *
            zoo.images[
              k * 784 + Math.min(27, Math.floor((y * 28) / 32)) * 28 + Math.min(27, Math.floor((x * 28) / 32))
            ]!,
        );
        img.data.set([v, v, v, 255], p * 4);
      }
      writeFileSync(join(dir, `img${k}.png`), pngjs.PNG.sync.write(img));
    }
    writeFileSync(join(dir, 'labels.txt'), Array.from(zoo.labels.subarray(0, 24)).join('\n'));
    const out = join(tmp, 'png-out');
    const r = restnet('analyze', 'cnn-s', 'cnn-s', '--data', dir, '--out', out, '--json', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.samples).toBe(24);
    expect(json.cka).toHaveLength(json.cutsA.length);
    // The same model on both sides: CKA 1 on the diagonal.
    json.cutsA.forEach((_: string, i: number) => expect(json.cka[i][i]).toBeCloseTo(1, 5));
    const svg = parseXml(readFileSync(join(out, 'cka-cnn-s-cnn-s.svg'), 'utf8'));
    expect(findAll(svg, hasClass('cell'))).toHaveLength(json.cutsA.length ** 2);
  });
});

describe('Ctrl-C', () => {
  it('stops the pipeline with exit code 130 and leaves no manifest and no staging files', async () => {
    const out = join(tmp, 'interrupted');
    const child = spawn(
      process.execPath,
      [cli, 'stitch', 'cnn-s', 'cnn-s', '--cost-range', 'any', '--calibration', '5000', '--out', out, '--quiet'],
      { cwd: tmp },
    );
    let stderr = '';
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (/^CKA /m.test(stderr)) resolve();
      });
    });
    child.kill('SIGINT');
    expect(await exit).toBe(130);
    expect(stderr).toMatch(/restnet: interrupted; stopped cleanly/);
    // The output folder this run created goes with it (nothing was saved into it).
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.startsWith('.restnet-'))).toEqual([]);
  });
});

// A pair of different anchors when the zoo has them, else cnn-s with itself.
const present = zooAnchorsPresent();
const [A, B] = present.includes('cnn-l') ? ['cnn-l', 'cnn-s'] : ['cnn-s', 'cnn-s'];

describe(`stitch ${A} ${B} -> select -> export`, () => {
  const out = join(tmp, 'hybrid');
  let manifest: RestnetManifest;
  let stdout = '';

  beforeAll(() => {
    const r = restnet(
      'stitch',
      A,
      B,
      '--calibration',
      '128',
      '--no-refine',
      '--eval',
      '200',
      '--cost-range',
      'any',
      '--out',
      out,
      '--quiet',
    );
    if (r.status !== 0) throw new Error(`stitch failed (${r.status}): ${r.stderr}`);
    stdout = r.stdout;
    manifest = validateManifest(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')), 'manifest.json');
  }, 300_000);

  it('writes the manifest (measured), stitches, fused models, the heat map and the Pareto plot, and prints the table', () => {
    expect(manifest.configs.length).toBeGreaterThan(0);
    for (const c of manifest.configs) {
      expect(c.accuracy).toBeGreaterThan(0.5);
      expect(c.refined).toBe(false);
      // Least squares only: linear, whatever the back's cut (cnn-s's block boundaries are ReLU outputs).
      expect(c.rectify).toBe(false);
      expect(c.latencyMs).toBeGreaterThan(0);
      expect(existsSync(join(out, c.stitch))).toBe(true);
      expect(existsSync(join(out, c.onnx!))).toBe(true);
      expect(stdout).toContain(c.id);
    }
    expect(stdout).toMatch(
      /configuration\s+front cut\s+back cut\s+CKA\s+accuracy \(\d+ images, 95% interval\)\s+validation\s+offered\s+latency\s+MACs\s+params/,
    );
    const cka = JSON.parse(readFileSync(join(out, `cka-${A}-${B}.json`), 'utf8'));
    const svg = parseXml(readFileSync(join(out, `cka-${A}-${B}.svg`), 'utf8'));
    expect(findAll(svg, hasClass('cell'))).toHaveLength(cka.cutsA.length * cka.cutsB.length);
    expect(findAll(svg, hasClass('highlight'))).toHaveLength(manifest.configs.length);
    const pareto = parseXml(
      readFileSync(join(out, `pareto-${manifest.configs[0]!.front}-${manifest.configs[0]!.back}.svg`), 'utf8'),
    );
    expect(findAll(pareto, hasClass('stitched'))).toHaveLength(2 * manifest.configs.length);
    expect(readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('the fused models run in onnxruntime and classify like the manifest says', async () => {
    const data = loadZooSplit('eval');
    const n = 200;
    const c = manifest.configs[0]!;
    // A family's fused file reads the anchors' weights beside it (ONNX external data): onnxruntime
    // opens it by path, as a device would.
    const ort = await import('onnxruntime-node');
    const session = await ort.InferenceSession.create(join(out, c.onnx!));
    const input = new ort.Tensor('float32', data.images.slice(0, n * 784), [n, 1, 28, 28]);
    const result = await session.run({ [session.inputNames[0]!]: input });
    const output = result[session.outputNames[0]!]!;
    const logits = { data: output.data as Float32Array, dims: [...output.dims] };
    expect(logits.dims).toEqual([n, 10]);
    let correct = 0;
    for (let i = 0; i < n; i++) {
      const row = logits.data.subarray(i * 10, i * 10 + 10);
      if (row.indexOf(Math.max(...row)) === data.labels[i]) correct++;
    }
    expect(Math.abs(correct / n - c.accuracy!)).toBeLessThanOrEqual(0.01);
    await session.release();
  });

  it('select: above every anchor picks the most accurate, between picks the best that fits, below fails with exit 1', () => {
    const all = [
      ...manifest.configs.map((c) => ({ id: c.id, accuracy: c.accuracy!, latencyMs: c.latencyMs!, macs: c.macs })),
      ...manifest.anchors.map((a) => ({ id: a.name, accuracy: a.accuracy!, latencyMs: a.latencyMs!, macs: a.macs })),
    ];
    const best = (fits: (x: (typeof all)[0]) => boolean) =>
      all.filter(fits).sort((x, y) => y.accuracy - x.accuracy || x.latencyMs - y.latencyMs)[0]!;
    const macsAll = all.map((x) => x.macs).sort((x, y) => x - y);
    const above = restnet('select', out, '--max-macs', String(macsAll.at(-1)! * 2), '--json');
    expect(above.status).toBe(0);
    expect(JSON.parse(above.stdout).id).toBe(best(() => true).id);
    const mid = (macsAll[0]! + macsAll.at(-1)!) / 2;
    const between = restnet('select', out, '--max-macs', String(mid), '--json');
    expect(between.status).toBe(0);
    const chosen = JSON.parse(between.stdout);
    expect(chosen.id).toBe(best((x) => x.macs <= mid).id);
    expect(chosen.macs).toBeLessThanOrEqual(mid);
    const below = restnet('select', out, '--max-macs', String(macsAll[0]! / 2));
    expect(below.status).toBe(1);
    expect(below.stderr).toMatch(/^restnet: select: nothing fits \{"maxMacs":\d+(\.\d+)?\}/m);
    const text = restnet('select', out, '--max-latency-ms', '1000');
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(/accuracy \d+\.\d\d%, latency \d+\.\d{3} ms/);
  });

  it('select leaves out pareto: false configurations unless --include-dominated', () => {
    const copy = join(tmp, 'hybrid-dominated');
    cpSync(out, copy, { recursive: true });
    const ranked = [...manifest.configs].sort((x, y) => y.accuracy! - x.accuracy! || x.latencyMs! - y.latencyMs!);
    const top = ranked[0]!;
    // Only the most accurate configuration is marked dominated (the family's own marks, from its
    // small validation split, are cleared so that the others are offered).
    const marked = {
      ...manifest,
      configs: manifest.configs.map((c) =>
        c.id === top.id
          ? { ...c, pareto: false, reason: 'marked by the test' }
          : { ...c, pareto: true, reason: undefined },
      ),
    };
    writeFileSync(join(copy, 'manifest.json'), JSON.stringify(marked));
    const pick = (...extra: string[]) =>
      JSON.parse(restnet('select', copy, '--max-macs', '1e12', '--no-anchors', '--json', ...extra).stdout).id;
    if (ranked.length > 1) expect(pick()).toBe(ranked[1]!.id);
    expect(pick('--include-dominated')).toBe(top.id);
  });

  it('export writes one fused ONNX file, and names the ids when the id is wrong', async () => {
    const c = manifest.configs.at(-1)!;
    const file = join(tmp, 'exported.onnx');
    const r = restnet('export', out, '--config', c.id, '-o', file);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`wrote ${file}`);
    // The exported file is self-contained: onnxruntime opens it from its bytes alone (the family's
    // own file reads the anchors' weights beside it), and both compute the same logits.
    const ort = await import('onnxruntime-node');
    const alone = await ort.InferenceSession.create(new Uint8Array(readFileSync(file)));
    const inFamily = await ort.InferenceSession.create(join(out, c.onnx!));
    const x = new ort.Tensor('float32', loadZooSplit('eval').images.slice(0, 8 * 784), [8, 1, 28, 28]);
    const logits = async (session: typeof alone): Promise<number[]> =>
      Array.from((await session.run({ [session.inputNames[0]!]: x }))[session.outputNames[0]!]!.data as Float32Array);
    const [a, b] = [await logits(alone), await logits(inFamily)];
    expect(a).toHaveLength(80);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-5);
    await Promise.all([alone.release(), inFamily.release()]);
    const bad = restnet('export', out, '--config', 'nope', '-o', file);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(
      `restnet: export: no configuration 'nope' in ${out}; expected one of ${manifest.configs[0]!.id}`,
    );
  });

  it("profile writes this device's latencies next to the manifest, and select then says it used them", () => {
    const r = restnet('profile', out, '--runs', '2', '--batch', '1,2', '--json', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    const written = JSON.parse(r.stdout);
    expect(existsSync(written.path)).toBe(true);
    expect(written.entries).toHaveLength(manifest.configs.length + new Set(manifest.anchors.map((a) => a.name)).size);
    expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'))).toEqual(manifest);
    const chosen = JSON.parse(restnet('select', out, '--max-latency-ms', '1000', '--json').stdout);
    expect(chosen.latencySource).toBe('profile');
    expect(chosen.latencyMs).toBe(
      written.entries.find((e: { id: string }) => e.id === chosen.id).batches['1'].medianMs,
    );
    expect(restnet('select', out, '--max-latency-ms', '1000').stdout).toMatch(
      /latency \d+\.\d{3} ms \(this device's profile\)/,
    );
    expect(restnet('profile', out, '--batch', '1,x').stderr).toMatch(
      /^restnet: --batch: expected positive integers separated by commas/,
    );
  });
});
