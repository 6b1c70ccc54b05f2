// What an activation looks like to an adapter: a CNN feature map [C, H, W] or a transformer
// token sequence [T, D] (a square grid of tokens, optionally after one CLS token).

export interface GridShape {
  kind: 'cnn';
  channels: number;
  height: number;
  width: number;
}

export interface TokenShape {
  kind: 'vit';
  dim: number;
  tokens: number;
  /** Whether token 0 is a CLS token (the others form a side x side grid). */
  cls: boolean;
  side: number;
}

export type ActivationShape = GridShape | TokenShape;

/**
 * Describes the per-sample dims of an activation ([C, H, W] or [T, D]). For tokens, `cls`
 * says whether token 0 is CLS; by default it is when T - 1 is a square and T is not.
 */
export function activationShape(dims: readonly number[], name: string, cls?: boolean): ActivationShape {
  if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d > 0)) {
    throw new TypeError(`${name}: expected positive integer dims (without the batch), got [${String(dims)}]`);
  }
  if (dims.length === 3) return { kind: 'cnn', channels: dims[0]!, height: dims[1]!, width: dims[2]! };
  if (dims.length === 2) {
    const [tokens, dim] = dims as [number, number];
    const square = (k: number): boolean => k > 0 && Number.isInteger(Math.sqrt(k));
    const withCls = cls ?? (square(tokens - 1) && !square(tokens));
    const side = Math.sqrt(tokens - (withCls ? 1 : 0));
    if (!Number.isInteger(side) || side === 0) {
      throw new RangeError(`${name}: expected ${withCls ? '1 + ' : ''}a square number of tokens, got ${tokens}`);
    }
    return { kind: 'vit', dim, tokens, cls: withCls, side };
  }
  throw new RangeError(
    `${name}: expected per-sample dims [C, H, W] (feature map) or [T, D] (tokens), got [${dims.join(', ')}]`,
  );
}

export function shapeDims(s: ActivationShape): number[] {
  return s.kind === 'cnn' ? [s.channels, s.height, s.width] : [s.tokens, s.dim];
}
