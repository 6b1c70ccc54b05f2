// The CKA heat map: one cell per (cut of A, cut of B), coloured by CKA on a viridis scale with a
// colour bar, cut names on both axes, the chosen stitching pairs outlined.
import { esc, f, inkOn, niceTicks, svgDocument, tickLabel, viridis } from './svg.js';

export interface HeatmapOptions {
  /** Row-major values: rows = cuts of model A (y axis), cols = cuts of model B (x axis). */
  values: { data: ArrayLike<number>; rows: number; cols: number };
  rowLabels: string[];
  colLabels: string[];
  title?: string;
  /** Axis titles, e.g. "cnn-l cut points". */
  rowTitle?: string;
  colTitle?: string;
  /** The colour bar's name (default "CKA"). */
  valueTitle?: string;
  /** Value range of the colour scale (default [0, 1], CKA's range). */
  domain?: [number, number];
  /** Cells to outline, e.g. the planned stitching pairs, as [row, col]. */
  highlight?: Array<[number, number]>;
  /** Print each value inside its cell (default: when cells are large enough). */
  showValues?: boolean;
}

const CHAR = 6.6; // average glyph width at 12 px

export function heatmapSvg(options: HeatmapOptions): string {
  const { values, rowLabels, colLabels } = options;
  const { rows, cols } = values;
  if (
    !Number.isInteger(rows) ||
    !Number.isInteger(cols) ||
    rows < 1 ||
    cols < 1 ||
    values.data.length !== rows * cols
  ) {
    throw new RangeError(
      `values: expected rows x cols = ${rows} x ${cols} = ${rows * cols} values, got ${values.data.length}`,
    );
  }
  if (rowLabels.length !== rows)
    throw new RangeError(`rowLabels: expected ${rows} labels (the rows of values), got ${rowLabels.length}`);
  if (colLabels.length !== cols)
    throw new RangeError(`colLabels: expected ${cols} labels (the cols of values), got ${colLabels.length}`);
  const [lo, hi] = options.domain ?? [0, 1];
  if (!(hi > lo)) throw new RangeError(`domain: expected [lo, hi] with hi > lo, got [${lo}, ${hi}]`);
  const title = options.title ?? 'CKA';
  const valueTitle = options.valueTitle ?? 'CKA';

  const cell = Math.max(18, Math.min(52, Math.floor(560 / Math.max(rows, cols))));
  const showValues = options.showValues ?? cell >= 34;
  const rowLabelWidth = Math.max(...rowLabels.map((s) => s.length)) * CHAR + 10;
  const colLabelHeight = Math.max(...colLabels.map((s) => s.length)) * CHAR * 0.72 + 16;
  const left = 40 + rowLabelWidth;
  const top = 56;
  const gridW = cols * cell,
    gridH = rows * cell;
  const barX = left + gridW + 28,
    barW = 16;
  const width = Math.ceil(Math.max(barX + barW + 60, title.length * 8.8 + 40));
  const height = Math.ceil(top + gridH + colLabelHeight + 40);
  const body: string[] = [];

  body.push(
    `<text x="${f(width / 2)}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
  );
  body.push('<g class="cells">');
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const v = Number(values.data[i * cols + j]);
      const colour = viridis((v - lo) / (hi - lo));
      const x = left + j * cell,
        y = top + i * cell;
      const shown = Number.isNaN(v) ? 'NaN' : v.toFixed(3);
      body.push(
        `<rect class="cell" data-row="${i}" data-col="${j}" data-value="${shown}" x="${f(x)}" y="${f(y)}" width="${cell}" height="${cell}" fill="${colour}" stroke="#ffffff" stroke-width="0.5"><title>${esc(rowLabels[i]!)} / ${esc(colLabels[j]!)}: ${valueTitle} ${shown}</title></rect>`,
      );
      if (showValues) {
        body.push(
          `<text x="${f(x + cell / 2)}" y="${f(y + cell / 2 + 4)}" text-anchor="middle" font-size="${cell >= 44 ? 11 : 9}" fill="${inkOn(colour)}">${Number.isNaN(v) ? 'NaN' : v.toFixed(2)}</text>`,
        );
      }
    }
  }
  body.push('</g>');
  if (options.highlight?.length) {
    body.push('<g class="highlights">');
    for (const [i, j] of options.highlight) {
      if (i < 0 || i >= rows || j < 0 || j >= cols)
        throw new RangeError(`highlight: [${i}, ${j}] is outside the ${rows} x ${cols} grid`);
      body.push(
        `<rect class="highlight" data-row="${i}" data-col="${j}" x="${f(left + j * cell + 1.5)}" y="${f(top + i * cell + 1.5)}" width="${cell - 3}" height="${cell - 3}" fill="none" stroke="#e7298a" stroke-width="3"/>`,
      );
    }
    body.push('</g>');
  }
  // Row labels (model A's cuts), column labels (model B's cuts) rotated.
  body.push('<g class="row-labels" text-anchor="end">');
  rowLabels.forEach((s, i) =>
    body.push(`<text x="${f(left - 6)}" y="${f(top + i * cell + cell / 2 + 4)}">${esc(s)}</text>`),
  );
  body.push('</g>');
  body.push('<g class="col-labels" text-anchor="end">');
  colLabels.forEach((s, j) => {
    const x = left + j * cell + cell / 2 + 4,
      y = top + gridH + 8;
    body.push(`<text transform="translate(${f(x)} ${f(y)}) rotate(-45)">${esc(s)}</text>`);
  });
  body.push('</g>');
  if (options.rowTitle) {
    body.push(
      `<text class="axis-title" transform="translate(16 ${f(top + gridH / 2)}) rotate(-90)" text-anchor="middle" font-size="13" font-weight="bold">${esc(options.rowTitle)}</text>`,
    );
  }
  if (options.colTitle) {
    body.push(
      `<text class="axis-title" x="${f(left + gridW / 2)}" y="${f(height - 12)}" text-anchor="middle" font-size="13" font-weight="bold">${esc(options.colTitle)}</text>`,
    );
  }
  // Colour bar: a vertical gradient from lo (bottom) to hi (top), with ticks.
  const stops = Array.from({ length: 11 }, (_, k) => `<stop offset="${k * 10}%" stop-color="${viridis(1 - k / 10)}"/>`);
  body.push(
    `<defs><linearGradient id="colour-scale" x1="0" y1="0" x2="0" y2="1">${stops.join('')}</linearGradient></defs>`,
  );
  body.push(
    `<g class="colour-bar"><rect x="${f(barX)}" y="${top}" width="${barW}" height="${gridH}" fill="url(#colour-scale)" stroke="#444444" stroke-width="0.5"/>`,
  );
  for (const t of niceTicks(lo, hi, 4)) {
    const y = top + gridH - ((t - lo) / (hi - lo)) * gridH;
    body.push(
      `<line x1="${f(barX + barW)}" y1="${f(y)}" x2="${f(barX + barW + 4)}" y2="${f(y)}" stroke="#444444"/><text x="${f(barX + barW + 7)}" y="${f(y + 4)}">${tickLabel(t)}</text>`,
    );
  }
  body.push(
    `<text x="${f(barX + barW / 2)}" y="${top - 8}" text-anchor="middle" font-weight="bold">${esc(valueTitle)}</text></g>`,
  );
  return svgDocument(width, height, title, body);
}
