// The SVG reports: well-formed XML, one cell per CKA value with the right colour and value, the
// colour bar, cut names on the axes; the Pareto plot's markers, legend, front and ticks.
import { describe, expect, it } from 'vitest';

import { heatmapSvg, paretoSvg, type ParetoPoint } from '../lib/index.js';
import { paretoFront } from '../lib/report/pareto.js';
import { niceTicks, viridis } from '../lib/report/svg.js';
import { findAll, hasClass, parseXml } from './report-xml.js';

const values = {
  data: Float64Array.from([0.95, 0.6, 0.2, 0.5, 0.81, 0.33, 0.1, NaN, 0.99, 0.4, 0.45, 0.0]),
  rows: 4,
  cols: 3,
};
const rowLabels = ['stem', 'stage1.block1', 'stage2 <b>', 'head & co'];
const colLabels = ['embed', 'blocks.0', 'blocks.1'];

describe('heatmapSvg', () => {
  const svg = parseXml(
    heatmapSvg({
      values,
      rowLabels,
      colLabels,
      title: 'CKA: cnn-l vs vit-s',
      rowTitle: 'cnn-l cut points',
      colTitle: 'vit-s cut points',
      highlight: [
        [0, 0],
        [2, 2],
      ],
    }),
  );

  it('is well-formed XML with one cell per value, coloured by value', () => {
    const cells = findAll(svg, hasClass('cell'));
    expect(cells).toHaveLength(12);
    for (const c of cells) {
      const i = Number(c.attrs['data-row']),
        j = Number(c.attrs['data-col']);
      const v = values.data[i * 3 + j]!;
      expect(c.attrs['data-value']).toBe(Number.isNaN(v) ? 'NaN' : v.toFixed(3));
      expect(c.attrs.fill).toBe(viridis(v));
    }
    // Increasing CKA is a brighter colour (viridis is monotone in lightness).
    const lum = (hex: string) => {
      const n = parseInt(hex.slice(1), 16);
      return 0.299 * (n >> 16) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
    };
    expect(lum(viridis(0))).toBeLessThan(lum(viridis(0.5)));
    expect(lum(viridis(0.5))).toBeLessThan(lum(viridis(1)));
    expect(viridis(NaN)).toBe('#bdbdbd');
  });

  it('labels both axes with the cut names (escaped), titles, and has a colour bar with ticks', () => {
    const texts = findAll(svg, (e) => e.name === 'text').map((e) => e.text);
    for (const l of [...rowLabels, ...colLabels, 'cnn-l cut points', 'vit-s cut points', 'CKA: cnn-l vs vit-s', 'CKA'])
      expect(texts).toContain(l);
    for (const t of ['0', '0.25', '0.5', '0.75', '1']) expect(texts).toContain(t);
    expect(findAll(svg, hasClass('colour-bar'))).toHaveLength(1);
    expect(findAll(svg, (e) => e.name === 'stop')).toHaveLength(11);
    expect(findAll(svg, hasClass('highlight')).map((e) => [e.attrs['data-row'], e.attrs['data-col']])).toEqual([
      ['0', '0'],
      ['2', '2'],
    ]);
  });

  it('rejects mismatched labels and values', () => {
    expect(() => heatmapSvg({ values, rowLabels: ['a'], colLabels })).toThrow(
      'rowLabels: expected 4 labels (the rows of values), got 1',
    );
    expect(() => heatmapSvg({ values: { ...values, rows: 5 }, rowLabels, colLabels })).toThrow(
      /values: expected rows x cols = 5 x 3 = 15 values, got 12/,
    );
    expect(() => heatmapSvg({ values, rowLabels, colLabels, highlight: [[4, 0]] })).toThrow(/highlight/);
  });
});

describe('paretoSvg', () => {
  const points: ParetoPoint[] = [
    { id: 'cnn-l', kind: 'anchor', accuracy: 0.93, latencyMs: 2.0, macs: 40e6 },
    { id: 'cnn-s', kind: 'anchor', accuracy: 0.91, latencyMs: 0.5, macs: 9e6 },
    { id: 'c1', kind: 'stitched', accuracy: 0.925, latencyMs: 1.5, macs: 30e6 },
    { id: 'c2', kind: 'stitched', accuracy: 0.9, latencyMs: 1.0, macs: 20e6 },
    { id: 'c3', kind: 'stitched', accuracy: 0.915, latencyMs: 0.8, macs: 15e6 },
  ];

  it('finds the Pareto front by cost', () => {
    expect(paretoFront(points, (p) => p.latencyMs).map((i) => points[i]!.id)).toEqual(['cnn-s', 'c3', 'c1', 'cnn-l']);
  });

  it('draws two panels with anchors and stitched configurations told apart, a legend and labelled axes', () => {
    const svg = parseXml(paretoSvg({ points, title: 'cnn-l -> cnn-s' }));
    const panels = findAll(svg, hasClass('panel'));
    expect(panels.map((p) => p.attrs['data-x'])).toEqual(['latency', 'macs']);
    for (const p of panels) {
      const anchors = findAll(p, hasClass('anchor'));
      const stitched = findAll(p, hasClass('stitched'));
      expect(anchors.map((e) => e.attrs['data-id']).sort()).toEqual(['cnn-l', 'cnn-s']);
      expect(stitched.map((e) => e.attrs['data-id']).sort()).toEqual(['c1', 'c2', 'c3']);
      expect(new Set(anchors.map((e) => e.name))).toEqual(new Set(['rect']));
      expect(new Set(stitched.map((e) => e.name))).toEqual(new Set(['circle']));
      expect(anchors[0]!.attrs.fill).not.toBe(stitched[0]!.attrs.fill);
      expect(findAll(p, hasClass('front'))).toHaveLength(1);
      expect(findAll(p, hasClass('tick')).length).toBeGreaterThanOrEqual(6);
    }
    const texts = findAll(svg, (e) => e.name === 'text').map((e) => e.text);
    for (const t of [
      'latency per image (ms)',
      'multiply-adds per image (MACs)',
      'accuracy (%)',
      'anchor (pretrained model)',
      'stitched configuration',
      'Pareto front',
      'cnn-l -> cnn-s',
      'cnn-l',
      'cnn-s',
    ]) {
      expect(texts).toContain(t);
    }
    // Higher accuracy is higher on the page (smaller y) in the latency panel.
    const y = (id: string) => Number(findAll(panels[0]!, (e) => e.attrs['data-id'] === id)[0]!.attrs.cy ?? NaN);
    expect(y('c1')).toBeLessThan(y('c2'));
  });

  it('rejects no points and unknown kinds', () => {
    expect(() => paretoSvg({ points: [] })).toThrow('points: expected at least one point, got none');
    expect(() => paretoSvg({ points: [{ ...points[0]!, kind: 'other' as 'anchor' }] })).toThrow(/points\[0\]\.kind/);
  });
});

describe('niceTicks', () => {
  it('gives round steps covering the range', () => {
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(niceTicks(0.83, 0.95, 5)).toEqual([0.85, 0.875, 0.9, 0.925, 0.95]);
    expect(niceTicks(3e6, 41e6, 5)).toEqual([1e7, 2e7, 3e7, 4e7]);
  });
});
