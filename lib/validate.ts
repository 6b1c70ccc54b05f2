// One way to refuse an argument on the TypeScript side, mirroring the addon's argument layer
// (native/addon/args.cpp): the message names the argument, the expected and the actual; a value
// of the wrong type is a TypeError, a number out of range a RangeError.

/** A value as an error message shows it: numbers and strings as written in code, else its kind. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return typeof value === 'function' ? 'a function' : 'an object';
}

/** Dims as messages print them: [N, 3, 32, 32]. */
export function dimsText(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}

/**
 * `${name}: expected ${expected}, got ${actual}` as a RangeError when `actual` is a number (a
 * value out of range) and a TypeError otherwise; `kind` overrides the choice, e.g. a string
 * outside a fixed set of names that callers already catch as a RangeError.
 */
export function invalidArgument(
  name: string,
  expected: string,
  actual: unknown,
  kind: 'type' | 'range' = typeof actual === 'number' ? 'range' : 'type',
): TypeError | RangeError {
  const message = `${name}: expected ${expected}, got ${describeValue(actual)}`;
  return kind === 'range' ? new RangeError(message) : new TypeError(message);
}

/** The values a number argument may take: from min to max, each end open or closed. */
export interface NumberRange {
  min: number;
  max: number;
  minOpen?: boolean;
  maxOpen?: boolean;
  /** Whether Infinity is allowed when max is Infinity (a latency target of Infinity means none). */
  infinite?: boolean;
}

export const POSITIVE: NumberRange = { min: 0, max: Infinity, minOpen: true };
export const NON_NEGATIVE: NumberRange = { min: 0, max: Infinity };

function rangeText(r: NumberRange): string {
  if (r.max === Infinity) return `a${r.infinite ? '' : ' finite'} number ${r.minOpen ? '>' : '>='} ${r.min}`;
  return `a number in ${r.minOpen ? '(' : '['}${r.min}, ${r.max}${r.maxOpen ? ')' : ']'}`;
}

/** A number within `range` (NaN never is). */
export function numberArg(value: unknown, name: string, range: NumberRange): number {
  if (typeof value !== 'number') throw invalidArgument(name, rangeText(range), value);
  const aboveMin = range.minOpen ? value > range.min : value >= range.min;
  const belowMax = range.maxOpen ? value < range.max : value <= range.max;
  const finite = Number.isFinite(value) || (range.infinite === true && value === Infinity);
  if (!(aboveMin && belowMax && finite)) throw invalidArgument(name, rangeText(range), value);
  return value;
}

/** An integer in [min, max]; the words match the addon's ("a positive integer", "an integer >= 4", ...). */
export function integerArg(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const unbounded = max === Number.MAX_SAFE_INTEGER;
  const expected =
    unbounded && (min === 0 || min === 1)
      ? `a ${min === 0 ? 'non-negative' : 'positive'} integer`
      : unbounded
        ? `an integer >= ${min}`
        : `an integer in [${min}, ${max}]`;
  if (typeof value !== 'number') throw invalidArgument(name, expected, value);
  if (!Number.isInteger(value) || value < min || value > max) throw invalidArgument(name, expected, value);
  return value;
}

/** `'a', 'b' or 'c'`: a fixed set of names as messages list them. */
function choicesText(choices: readonly string[]): string {
  const quoted = choices.map((c) => `'${c}'`);
  return quoted.length === 1 ? quoted[0]! : `${quoted.slice(0, -1).join(', ')} or ${quoted.at(-1)}`;
}

/** One of a fixed set of names: another type is a TypeError, another string a RangeError. */
export function oneOfArg<T extends string>(value: unknown, name: string, choices: readonly T[]): T {
  if (typeof value === 'string' && (choices as readonly string[]).includes(value)) return value as T;
  throw invalidArgument(name, choicesText(choices), value, typeof value === 'string' ? 'range' : 'type');
}
