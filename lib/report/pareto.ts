// The Pareto plot of a ReStNet: accuracy against latency and against MACs, side by side. Anchors
// are squares, stitched configurations circles (with a legend), and the Pareto front (the points
// no other point beats on both accuracy and cost) is joined by a dashed line. Configurations the
// validation split marked dominated are grey circles and take no part in the front.
import { esc, f, niceDomain, niceTicks, svgDocument, tickLabel } from './svg.js';
import { oneOfArg } from '../validate.js';

export interface ParetoPoint {
  id: string;
  kind: 'anchor' | 'stitched';
  /** Fraction correct in [0, 1]. */
  accuracy: number;
  latencyMs: number;
  macs: number;
  /** Text written next to the marker (default: the id for anchors, nothing for stitched). */
  label?: string;
  /** A stitched configuration marked not worth offering (`pareto: false`): drawn grey, off the front. */
  dominated?: boolean;
}

export interface ParetoOptions {
  points: ParetoPoint[];
  title?: string;
}

const COLOURS = { anchor: '#d95f02', stitched: '#1b9e77', dominated: '#c8c8c8' } as const;
const PANEL_W = 380,
  PANEL_H = 300;

/** Indices of the non-dominated points: no other point has higher-or-equal accuracy at lower-or-equal cost (one strictly). */
export function paretoFront(points: ParetoPoint[], cost: (p: ParetoPoint) => number): number[] {
  const ok = points
    .map((p, i) => ({ p, i }))
    .filter(({ p }) => Number.isFinite(p.accuracy) && Number.isFinite(cost(p)));
  return ok
    .filter(
      ({ p }) =>
        !ok.some(
          ({ p: q }) =>
            q !== p && q.accuracy >= p.accuracy && cost(q) <= cost(p) && (q.accuracy > p.accuracy || cost(q) < cost(p)),
        ),
    )
    .sort((a, b) => cost(a.p) - cost(b.p))
    .map(({ i }) => i);
}

function marker(p: ParetoPoint, x: number, y: number): string {
  const grey = p.kind === 'stitched' && p.dominated === true;
  const common = `class="marker ${p.kind}${grey ? ' dominated' : ''}" data-id="${esc(p.id)}" fill="${COLOURS[grey ? 'dominated' : p.kind]}" stroke="${grey ? '#999999' : '#222222'}" stroke-width="0.8"`;
  const tip = `<title>${esc(p.id)}: accuracy ${(p.accuracy * 100).toFixed(2)}%, ${p.latencyMs.toFixed(3)} ms, ${tickLabel(p.macs)} MACs${grey ? ' (dominated on the validation split: not offered)' : ''}</title>`;
  return p.kind === 'anchor'
    ? `<rect ${common} x="${f(x - 6)}" y="${f(y - 6)}" width="12" height="12">${tip}</rect>`
    : `<circle ${common} cx="${f(x)}" cy="${f(y)}" r="5">${tip}</circle>`;
}

function panel(
  points: ParetoPoint[],
  ox: number,
  oy: number,
  cost: (p: ParetoPoint) => number,
  xTitle: string,
  yDomain: [number, number],
  name: string,
): string[] {
  const out: string[] = [`<g class="panel" data-x="${esc(name)}">`];
  const [x0, x1] = niceDomain(points.map(cost));
  const [y0, y1] = yDomain;
  const sx = (v: number): number => ox + ((v - x0) / (x1 - x0)) * PANEL_W;
  const sy = (v: number): number => oy + PANEL_H - ((v - y0) / (y1 - y0)) * PANEL_H;
  out.push(
    `<rect x="${ox}" y="${oy}" width="${PANEL_W}" height="${PANEL_H}" fill="#fafafa" stroke="#444444" stroke-width="0.8"/>`,
  );
  for (const t of niceTicks(x0, x1, 5)) {
    const x = sx(t);
    out.push(
      `<line x1="${f(x)}" y1="${oy}" x2="${f(x)}" y2="${oy + PANEL_H}" stroke="#e0e0e0"/><line x1="${f(x)}" y1="${oy + PANEL_H}" x2="${f(x)}" y2="${oy + PANEL_H + 5}" stroke="#444444"/><text class="tick" x="${f(x)}" y="${oy + PANEL_H + 18}" text-anchor="middle">${tickLabel(t)}</text>`,
    );
  }
  for (const t of niceTicks(y0, y1, 5)) {
    const y = sy(t);
    out.push(
      `<line x1="${ox}" y1="${f(y)}" x2="${ox + PANEL_W}" y2="${f(y)}" stroke="#e0e0e0"/><line x1="${ox - 5}" y1="${f(y)}" x2="${ox}" y2="${f(y)}" stroke="#444444"/><text class="tick" x="${ox - 8}" y="${f(y + 4)}" text-anchor="end">${tickLabel(t * 100)}</text>`,
    );
  }
  out.push(
    `<text class="axis-title" x="${ox + PANEL_W / 2}" y="${oy + PANEL_H + 40}" text-anchor="middle" font-size="13" font-weight="bold">${esc(xTitle)}</text>`,
  );
  out.push(
    `<text class="axis-title" transform="translate(${ox - 48} ${oy + PANEL_H / 2}) rotate(-90)" text-anchor="middle" font-size="13" font-weight="bold">accuracy (%)</text>`,
  );
  const offered = points.map((p, i) => ({ p, i })).filter(({ p }) => !p.dominated);
  const front = paretoFront(
    offered.map(({ p }) => p),
    cost,
  ).map((k) => offered[k]!.i);
  if (front.length > 1) {
    const path = front
      .map((i, k) => `${k ? 'L' : 'M'}${f(sx(cost(points[i]!)))} ${f(sy(points[i]!.accuracy))}`)
      .join(' ');
    out.push(
      `<path class="front" d="${path}" fill="none" stroke="#7570b3" stroke-width="1.5" stroke-dasharray="5 3"/>`,
    );
  }
  // Stitched first so the anchors are drawn on top.
  const order = points
    .map((_, i) => i)
    .sort((a, b) => (points[a]!.kind === points[b]!.kind ? 0 : points[a]!.kind === 'anchor' ? 1 : -1));
  for (const i of order) {
    const p = points[i]!;
    if (!Number.isFinite(p.accuracy) || !Number.isFinite(cost(p))) continue;
    const x = sx(cost(p)),
      y = sy(p.accuracy);
    out.push(marker(p, x, y));
    const label = p.label ?? (p.kind === 'anchor' ? p.id : '');
    if (label) {
      const right = x < ox + PANEL_W * 0.75;
      out.push(
        `<text class="point-label" x="${f(right ? x + 9 : x - 9)}" y="${f(y - 8)}" text-anchor="${right ? 'start' : 'end'}" font-size="11">${esc(label)}</text>`,
      );
    }
  }
  out.push('</g>');
  return out;
}

export function paretoSvg(options: ParetoOptions): string {
  const { points } = options;
  if (!Array.isArray(points) || points.length === 0)
    throw new RangeError('points: expected at least one point, got none');
  for (const [k, p] of points.entries()) oneOfArg(p.kind, `points[${k}].kind`, ['anchor', 'stitched']);
  const title = options.title ?? 'Accuracy against cost';
  const left = 80,
    top = 70,
    gap = 110;
  const width = left + 2 * PANEL_W + gap + 30;
  const height = top + PANEL_H + 60;
  const yDomain = niceDomain(points.map((p) => p.accuracy));
  // Accuracy cannot pass 100%: the padding stops there.
  if (yDomain[1] > 1 && points.every((p) => !(p.accuracy > 1))) yDomain[1] = 1;
  const body: string[] = [
    `<text x="${f(width / 2)}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
  ];
  // Legend.
  const ly = 48;
  body.push(
    `<g class="legend"><rect x="${left}" y="${ly - 6}" width="12" height="12" fill="${COLOURS.anchor}" stroke="#222222" stroke-width="0.8"/><text x="${left + 18}" y="${ly + 4}">anchor (pretrained model)</text>`,
  );
  body.push(
    `<circle cx="${left + 206}" cy="${ly}" r="5" fill="${COLOURS.stitched}" stroke="#222222" stroke-width="0.8"/><text x="${left + 217}" y="${ly + 4}">stitched configuration</text>`,
  );
  body.push(
    `<line x1="${left + 390}" y1="${ly}" x2="${left + 420}" y2="${ly}" stroke="#7570b3" stroke-width="1.5" stroke-dasharray="5 3"/><text x="${left + 426}" y="${ly + 4}">Pareto front</text>`,
  );
  if (points.some((p) => p.kind === 'stitched' && p.dominated)) {
    body.push(
      `<circle cx="${left + 536}" cy="${ly}" r="5" fill="${COLOURS.dominated}" stroke="#999999" stroke-width="0.8"/><text x="${left + 547}" y="${ly + 4}">dominated (not offered)</text>`,
    );
  }
  body.push('</g>');
  body.push(...panel(points, left, top, (p) => p.latencyMs, 'latency per image (ms)', yDomain, 'latency'));
  body.push(
    ...panel(points, left + PANEL_W + gap, top, (p) => p.macs, 'multiply-adds per image (MACs)', yDomain, 'macs'),
  );
  return svgDocument(width, height, title, body);
}
