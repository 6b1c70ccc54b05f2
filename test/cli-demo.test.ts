// `restnet demo` end to end on a reduced setting (few calibration and evaluation images, few
// latency runs): the manifest (runtime format), the per-pair heat maps, JSON and Pareto plots,
// the fused models (run in onnxruntime), the tables, and demo.json.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadZooSplit } from '../lib/index.js';
import { validateManifest, type RestnetManifest } from '../lib/restnet/manifest.js';
import { DEFAULT_PAIRS } from '../lib/cli/commands/demo.js';
import { zooAnchorsPresent } from '../lib/cli/pipeline.js';
import { runQuickDemo } from '../scripts/quick-demo.mjs';
import { findAll, hasClass, parseXml } from './report-xml.js';

const tmp = mkdtempSync(join(tmpdir(), 'restnet-demo-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// The zoo pairs whose anchors are there (all three once the zoo is trained); with none, the
// self-stitch of cnn-s exercises the same code path.
const present = zooAnchorsPresent();
const available = DEFAULT_PAIRS.filter((p) => p.every((a) => present.includes(a)));
const complete = available.length === DEFAULT_PAIRS.length;
const pairs: string[][] = available.length > 0 ? available : [['cnn-s', 'cnn-s']];
const pairArgs = complete
  ? []
  : ['--pairs', pairs.map((p) => p.join('/')).join(','), ...(available.length ? [] : ['--cost-range', 'any'])];

describe(`restnet demo (${complete ? 'the three zoo pairs' : `${pairs.map((p) => p.join('/')).join(', ')}: the zoo is incomplete`})`, () => {
  const out = join(tmp, 'out');
  let stdout = '';
  let manifest: RestnetManifest;

  beforeAll(() => {
    stdout = runQuickDemo(out, pairArgs);
    manifest = validateManifest(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')), 'manifest.json');
  }, 900_000);

  it('writes manifest.json in the runtime format, measured, with every file it names', () => {
    expect(manifest.format).toBe('restnet/1');
    expect(manifest.anchors.map((a) => a.name).sort()).toEqual([...pairs[0]!].sort());
    expect(manifest.configs.length).toBeGreaterThan(0);
    for (const a of manifest.anchors) {
      expect(a.accuracy).toBeGreaterThan(0.5);
      expect(existsSync(join(out, a.file))).toBe(true);
    }
    for (const c of manifest.configs) {
      expect(c).toMatchObject({
        id: expect.any(String),
        front: expect.any(String),
        back: expect.any(String),
        frontCut: expect.any(String),
        backCut: expect.any(String),
        cka: expect.any(Number),
        accuracy: expect.any(Number),
        latencyMs: expect.any(Number),
        macs: expect.any(Number),
        params: expect.any(Number),
        onnx: expect.any(String),
      });
      expect(existsSync(join(out, c.onnx!))).toBe(true);
      expect(existsSync(join(out, c.stitch))).toBe(true);
      // The CLI refines on the task by default.
      expect(c.refined).toBe(true);
    }
  });

  it('writes a heat map with one cell per cut pair, its JSON, and a Pareto plot per pair', () => {
    const summary = JSON.parse(readFileSync(join(out, 'demo.json'), 'utf8'));
    expect(summary.pairs.map((p: { a: string; b: string }) => [p.a, p.b])).toEqual(pairs);
    for (const p of summary.pairs) {
      const cka = JSON.parse(readFileSync(join(out, `cka-${p.a}-${p.b}.json`), 'utf8'));
      expect(cka.cka).toHaveLength(cka.cutsA.length);
      for (const row of cka.cka) for (const v of row) expect(v).toBeGreaterThan(-0.2);
      const svg = parseXml(readFileSync(join(out, `cka-${p.a}-${p.b}.svg`), 'utf8'));
      expect(findAll(svg, hasClass('cell'))).toHaveLength(cka.cutsA.length * cka.cutsB.length);
      const texts = findAll(svg, (e) => e.name === 'text').map((e) => e.text);
      for (const c of [...cka.cutsA, ...cka.cutsB]) expect(texts).toContain(c);
      const pareto = parseXml(readFileSync(p.pareto, 'utf8'));
      expect(findAll(pareto, hasClass('stitched'))).toHaveLength(2 * p.configs.length);
      expect(findAll(pareto, hasClass('anchor')).length).toBe(2 * new Set([p.a, p.b]).size);
      expect(existsSync(join(p.dir, 'manifest.json'))).toBe(true);
    }
  });

  it('prints a table per pair with the anchors and every configuration', () => {
    for (const [a, b] of pairs) expect(stdout).toContain(`${a} / ${b}:`);
    expect(stdout).toContain(`${pairs[0]![0]} (anchor)`);
    for (const c of manifest.configs) expect(stdout).toContain(c.id);
  });

  it('the fused models run in onnxruntime', async () => {
    const data = loadZooSplit('eval');
    // A family's fused files read the anchors' weights beside them (ONNX external data):
    // onnxruntime opens them by path, as a device would.
    const ort = await import('onnxruntime-node');
    const x = new ort.Tensor('float32', data.images.slice(0, 8 * 784), [8, 1, 28, 28]);
    for (const c of manifest.configs) {
      const session = await ort.InferenceSession.create(join(out, c.onnx!));
      const y = (await session.run({ [session.inputNames[0]!]: x }))[session.outputNames[0]!]!;
      expect([...y.dims]).toEqual([8, 10]);
      expect((y.data as Float32Array).every(Number.isFinite)).toBe(true);
      await session.release();
    }
  });
});
