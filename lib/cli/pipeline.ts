// Glue between the CLI and the ReStNet pipeline (lib/restnet): anchors and data from command-line
// arguments, progress events to the reporter, the analysis and Pareto files, tables, and saving
// a ReStNet so that an interrupt never leaves a manifest pointing at missing or half-written files.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { loadZooManifest, zooPath } from '../data/zoo.js';
import { conformTo, loadData, type ModelRows, type SampleSet } from '../formats/index.js';
import { takeSamples } from '../formats/load.js';
import { heatmapSvg } from '../report/heatmap.js';
import { paretoSvg, type ParetoPoint } from '../report/pareto.js';
import type { Anchor } from '../restnet/anchor.js';
import { loadAnchor } from '../restnet/anchor.js';
import { analysisToJson, type Analysis } from '../restnet/analyze.js';
import type { ProgressEvent } from '../restnet/inputs.js';
import { ManifestError, type AnchorRecord, type ConfigRecord } from '../restnet/manifest.js';
import type { Plan } from '../restnet/plan.js';
import type { ReStNet } from '../restnet/runtime.js';
import { CliError } from './args.js';
import type { CliContext } from './context.js';
import { writeFileAtomic } from './files.js';
import { si, table } from './output.js';

/** Zoo anchors whose ONNX file is present (the zoo may still be training some). */
export function zooAnchorsPresent(): string[] {
  try {
    return loadZooManifest()
      .anchors.filter((a) => existsSync(zooPath(a.file)))
      .map((a) => a.name);
  } catch {
    return [];
  }
}

function zooAnchorNames(): string[] {
  try {
    return loadZooManifest().anchors.map((a) => a.name);
  } catch {
    return [];
  }
}

/** A model argument: a path to an ONNX file or a zoo anchor name. */
export async function loadModelArg(arg: string, ctx: CliContext, cache = new Map<string, Anchor>()): Promise<Anchor> {
  const hit = cache.get(arg);
  if (hit) return hit;
  const zoo = zooAnchorNames();
  const st = statSync(arg, { throwIfNoEntry: false });
  if (!st) {
    if (zoo.includes(arg)) {
      if (!zooAnchorsPresent().includes(arg))
        throw new CliError(
          `zoo anchor '${arg}' is not in this installation yet (zoo/manifest.json lists it, its ONNX file is missing)`,
        );
    } else {
      throw new CliError(
        `model '${arg}' does not exist (expected an ONNX file${zoo.length ? ` or a zoo anchor: ${zoo.join(', ')}` : ''})`,
      );
    }
  } else if (st.isDirectory()) {
    throw new CliError(`model '${arg}' is a directory; expected an ONNX file`);
  }
  ctx.signal.throwIfAborted();
  ctx.progress.step(`loading ${arg}`);
  let anchor: Anchor;
  try {
    const threads = ctx.args.has('threads') ? ctx.args.number('threads') : undefined;
    const maxCuts = ctx.args.has('max-cuts') ? ctx.args.number('max-cuts') : undefined;
    anchor = await loadAnchor(arg, {
      ...(threads !== undefined ? { threads } : {}),
      ...(maxCuts !== undefined ? { maxCuts } : {}),
    });
  } catch (error) {
    throw new CliError(`model '${arg}': ${(error as Error).message.replace(/^(source|pathOrBytes): /, '')}`);
  }
  ctx.progress.end(`${anchor.cuts.length} candidate cuts, ${si(anchor.macs)} MACs, ${si(anchor.params)} params`);
  cache.set(arg, anchor);
  return anchor;
}

/** --data (and --labels) loaded and converted to the anchor's input; `limit` keeps the first images. */
export function loadDataArg(
  spec: string | SampleSet,
  labels: string | undefined,
  anchor: Anchor,
  limit?: number,
): ModelRows {
  const set = typeof spec === 'string' ? loadData(spec, labels) : spec;
  const taken = limit === undefined ? set : takeSamples(set, limit);
  const input = anchor.model.input;
  return conformTo(taken, input.shape, `${input.name}' of '${anchor.name}`);
}

/** An onProgress callback that drives the reporter's bar (and prints details in plain mode). */
export function onProgress(ctx: CliContext, details = false): (e: ProgressEvent) => void {
  return (e) => {
    ctx.progress.update(e.done, e.total);
    if (details && ['evaluate', 'solve', 'validate'].includes(e.stage)) ctx.progress.detail(`  ${e.detail}`);
  };
}

export interface AnalysisFile {
  a: string;
  b: string;
  cutsA: string[];
  cutsB: string[];
  /** cka[i][j]: CKA between cut i of a and cut j of b (minibatch linear CKA, unbiased HSIC). */
  cka: (number | null)[][];
  samples: number;
  batches: number;
  seconds: number;
  /** The planned stitching pairs, when a plan was made. */
  planned?: { front: string; frontCut: string; back: string; backCut: string; cka: number }[];
}

export function analysisJson(analysis: Analysis, planned?: Plan): AnalysisFile {
  const base = analysisToJson(analysis);
  const out: AnalysisFile = { ...base, cka: base.cka.map((row) => row.map((v) => (Number.isFinite(v) ? v : null))) };
  if (planned)
    out.planned = planned.configs.map((c) => ({
      front: c.front,
      frontCut: c.frontCut,
      back: c.back,
      backCut: c.backCut,
      cka: c.cka,
    }));
  return out;
}

export function analysisSvg(analysis: Analysis, planned?: Plan): string {
  const highlight: [number, number][] = [];
  for (const c of planned?.configs ?? []) {
    const [ca, cb] = c.front === analysis.a.name ? [c.frontCut, c.backCut] : [c.backCut, c.frontCut];
    const i = analysis.cutsA.indexOf(ca),
      j = analysis.cutsB.indexOf(cb);
    if (i >= 0 && j >= 0) highlight.push([i, j]);
  }
  return heatmapSvg({
    values: analysis.cka,
    rowLabels: analysis.cutsA,
    colLabels: analysis.cutsB,
    title: `Linear CKA: ${analysis.a.name} vs ${analysis.b.name} (${analysis.samples} images)${highlight.length ? ', planned stitches outlined' : ''}`,
    rowTitle: `${analysis.a.name} cut points`,
    colTitle: `${analysis.b.name} cut points`,
    ...(highlight.length ? { highlight } : {}),
  });
}

/** Writes cka-<a>-<b>.json and .svg into dir; returns their paths. */
export function writeAnalysis(dir: string, analysis: Analysis, planned?: Plan): { json: string; svg: string } {
  const base = join(dir, `cka-${analysis.a.name}-${analysis.b.name}`);
  writeFileAtomic(`${base}.json`, `${JSON.stringify(analysisJson(analysis, planned), null, 2)}\n`);
  writeFileAtomic(`${base}.svg`, analysisSvg(analysis, planned));
  return { json: `${base}.json`, svg: `${base}.svg` };
}

/** The CKA table as text: rows = cuts of a, columns = cuts of b. */
export function analysisTable(analysis: Analysis): string {
  const { cols, data } = analysis.cka;
  return table(
    [`${analysis.a.name} \\ ${analysis.b.name}`, ...analysis.cutsB],
    analysis.cutsA.map((c, i) => [c, ...analysis.cutsB.map((_, j) => data[i * cols + j]!.toFixed(3))]),
  );
}

export function paretoPoints(net: ReStNet): ParetoPoint[] {
  const points: ParetoPoint[] = net.anchorRecords.map((a) => ({
    id: a.name,
    kind: 'anchor',
    accuracy: a.accuracy ?? NaN,
    latencyMs: a.latencyMs ?? NaN,
    macs: a.macs,
  }));
  for (const c of net.configs)
    points.push({
      id: c.id,
      kind: 'stitched',
      accuracy: c.accuracy ?? NaN,
      latencyMs: c.latencyMs ?? NaN,
      macs: c.macs,
      dominated: c.pareto === false,
    });
  return points;
}

export function writePareto(dir: string, net: ReStNet, front: string, back: string): string {
  const path = join(dir, `pareto-${front}-${back}.svg`);
  const images = net.anchorRecords[0]?.evalImages;
  writeFileAtomic(
    path,
    paretoSvg({
      points: paretoPoints(net),
      title: `${front} -> ${back}: accuracy${images ? ` (${images} eval images)` : ''} against latency and MACs`,
    }),
  );
  return path;
}

const pct = (v: number | null | undefined): string =>
  v === null || v === undefined ? '-' : `${(v * 100).toFixed(2)}%`;
const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : `${v.toFixed(3)} ms`);
/** "91.36% [90.55, 92.10]": the accuracy and its 95% interval in points. */
const withInterval = (r: AnchorRecord | ConfigRecord): string =>
  r.accuracyInterval
    ? `${pct(r.accuracy)} [${(r.accuracyInterval[0] * 100).toFixed(2)}, ${(r.accuracyInterval[1] * 100).toFixed(2)}]`
    : pct(r.accuracy);

/**
 * One row per anchor and configuration, by MACs: accuracy on the eval split with its 95%
 * interval, accuracy on the validation split, and whether the configuration is offered (a
 * dominated one reads 'no', its reason listed under the table).
 */
export function resultsTable(net: ReStNet): string {
  const rows: (string | number)[][] = [];
  const images = net.anchorRecords[0]?.evalImages;
  const anchorRows = net.anchorRecords.map((a) => ({
    macs: a.macs,
    row: [
      `${a.name} (anchor)`,
      '-',
      '-',
      '-',
      withInterval(a),
      pct(a.validationAccuracy),
      'yes',
      ms(a.latencyMs),
      si(a.macs),
      si(a.params),
    ],
  }));
  const configRows = net.configs.map((c) => ({
    macs: c.macs,
    row: [
      c.id,
      `${c.front}:${c.frontCut}`,
      `${c.back}:${c.backCut}`,
      c.cka.toFixed(3),
      withInterval(c),
      pct(c.validationAccuracy),
      c.pareto === false ? 'no' : 'yes',
      ms(c.latencyMs),
      si(c.macs),
      si(c.params),
    ],
  }));
  for (const r of [...anchorRows, ...configRows].sort((x, y) => y.macs - x.macs)) rows.push(r.row);
  const dominated = net.configs
    .filter((c) => c.pareto === false)
    .map((c) => `  not offered: ${c.id}: ${c.reason ?? 'dominated'}`);
  return [
    table(
      [
        'configuration',
        'front cut',
        'back cut',
        'CKA',
        `accuracy${images ? ` (${images} images, 95% interval)` : ''}`,
        'validation',
        'offered',
        'latency',
        'MACs',
        'params',
      ],
      rows,
    ),
    ...dominated,
  ].join('\n');
}

/**
 * Saves the net into `dir` atomically (ReStNet.save: the new family is written beside the folder
 * and swapped in with directory renames), so an interrupt or a crash leaves the old family or
 * the new one. A folder holding a family of other anchors needs `force`.
 */
export async function saveNet(
  net: ReStNet,
  dir: string,
  options: { exportOnnx?: boolean; force?: boolean; signal?: AbortSignal } = {},
): Promise<string> {
  try {
    return await net.save(dir, {
      exportOnnx: options.exportOnnx ?? true,
      force: options.force ?? false,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (error instanceof ManifestError) throw new CliError(error.message);
    throw error;
  }
}
