// Small helpers for writing standalone SVG: escaping, number formatting, a perceptual colour
// scale (viridis), and "nice" axis ticks.

/** Escapes text for XML content and attribute values. */
export function esc(text: string | number): string {
  return String(text).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
  );
}

/** A coordinate with at most 2 decimals. */
export const f = (x: number): string => String(Math.round(x * 100) / 100);

// Viridis (matplotlib), 9 stops; linear interpolation between them.
const VIRIDIS: [number, number, number][] = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];

/** Viridis colour of t in [0, 1] as #rrggbb (t outside is clamped for colouring only; NaN is grey). */
export function viridis(t: number): string {
  if (Number.isNaN(t)) return '#bdbdbd';
  const x = Math.min(1, Math.max(0, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const u = x - i;
  const a = VIRIDIS[i]!,
    b = VIRIDIS[i + 1]!;
  const hex = (k: number): string =>
    Math.round(a[k]! + (b[k]! - a[k]!) * u)
      .toString(16)
      .padStart(2, '0');
  return `#${hex(0)}${hex(1)}${hex(2)}`;
}

/** Black or white, whichever reads better on the background colour. */
export function inkOn(background: string): string {
  const n = parseInt(background.slice(1), 16);
  const lum = 0.299 * ((n >> 16) & 255) + 0.587 * ((n >> 8) & 255) + 0.114 * (n & 255);
  return lum > 140 ? '#000000' : '#ffffff';
}

/** About `count` round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  if (hi === lo) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const p = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step)
    out.push(Number((Math.round(v / step) * step).toPrecision(12)) + 0);
  return out;
}

/** A padded [lo, hi] around the values, snapped to a tick step. */
export function niceDomain(values: number[], pad = 0.08): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return [0, 1];
  let lo = Math.min(...finite),
    hi = Math.max(...finite);
  if (lo === hi) {
    const d = lo === 0 ? 1 : Math.abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const span = hi - lo;
  return [lo - span * pad, hi + span * pad];
}

/** A tick label: few significant digits, SI suffixes for large values. */
export function tickLabel(v: number): string {
  const a = Math.abs(v);
  const trim = (s: string): string => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);
  if (a >= 1e9) return `${trim((v / 1e9).toFixed(2))}G`;
  if (a >= 1e6) return `${trim((v / 1e6).toFixed(2))}M`;
  if (a >= 1e4) return `${trim((v / 1e3).toFixed(1))}k`;
  if (a === 0) return '0';
  if (a < 0.01) return v.toExponential(1);
  return trim(v.toFixed(a < 1 ? 3 : a < 100 ? 2 : 0));
}

export function svgDocument(width: number, height: number, title: string, body: string[]): string {
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${esc(title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}
