// The command line parser of `restnet`: typed flags declared per command, per-command --help
// generated from the same declarations, and usage errors (exit code 2) that name the flag, the
// expected and the actual value.

/** A wrong command line: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure the user can act on (missing file, data that does not fit the model): one line, exit code 1. */
export class CliError extends Error {
  override name = 'CliError';
}

export type FlagType = 'boolean' | 'string' | 'number' | 'integer';

export interface FlagSpec {
  /** Long name without dashes: `out` for --out. */
  name: string;
  type: FlagType;
  /** One-letter alias without the dash: `o` for -o. */
  short?: string;
  /** The value's name in help: `DIR`, `N`. */
  value?: string;
  help: string;
  /** Numbers: the smallest value accepted (default: anything finite). */
  min?: number;
  /** Numbers: the value must be > min rather than >= min. */
  exclusiveMin?: boolean;
  /** Strings: the accepted values. */
  choices?: readonly string[];
  /** Shown in help only; commands apply their own defaults. */
  defaultText?: string;
}

export interface PositionalSpec {
  name: string;
  help: string;
  optional?: boolean;
}

export interface CommandSpec {
  name: string;
  summary: string;
  /** Paragraphs after the usage line. */
  description?: string;
  positionals: PositionalSpec[];
  flags: FlagSpec[];
  /** Lines of examples. */
  examples?: string[];
}

/** Flags every command accepts. */
export const COMMON_FLAGS: FlagSpec[] = [
  { name: 'help', short: 'h', type: 'boolean', help: 'show this help and exit' },
  { name: 'json', type: 'boolean', help: 'print machine-readable JSON on stdout instead of tables' },
  { name: 'quiet', short: 'q', type: 'boolean', help: 'no progress bars: one plain line per step on stderr' },
  {
    name: 'verbose',
    short: 'v',
    type: 'boolean',
    help: "print stack traces with errors, and each step's peak resident memory (RSS)",
  },
];

export type FlagValue = string | number | boolean;

export class ParsedArgs {
  constructor(
    readonly command: string,
    readonly positionals: string[],
    private readonly values: Map<string, FlagValue>,
  ) {}

  has(name: string): boolean {
    return this.values.has(name);
  }

  bool(name: string): boolean {
    return this.values.get(name) === true;
  }

  string(name: string): string | undefined;
  string(name: string, fallback: string): string;
  string(name: string, fallback?: string): string | undefined {
    const v = this.values.get(name);
    return v === undefined ? fallback : String(v);
  }

  number(name: string): number | undefined;
  number(name: string, fallback: number): number;
  number(name: string, fallback?: number): number | undefined {
    const v = this.values.get(name);
    return v === undefined ? fallback : (v as number);
  }
}

function flagUsage(f: FlagSpec): string {
  const value = f.type === 'boolean' ? '' : ` ${f.value ?? (f.type === 'string' ? 'VALUE' : 'N')}`;
  return `${f.short ? `-${f.short}, ` : ''}--${f.name}${value}`;
}

/** The --help text of a command. */
export function commandHelp(spec: CommandSpec): string {
  const pos = spec.positionals.map((p) => (p.optional ? `[${p.name}]` : p.name)).join(' ');
  const required = spec.flags
    .filter((f) => f.help.startsWith('(required)'))
    .map((f) => flagUsage({ ...f, short: undefined } as FlagSpec));
  const lines = [
    `usage: restnet ${spec.name}${pos ? ` ${pos}` : ''}${required.length ? ` ${required.join(' ')}` : ''} [options]`,
    '',
    spec.summary,
  ];
  if (spec.description) lines.push('', spec.description);
  if (spec.positionals.length) {
    lines.push('', 'arguments:');
    const w = Math.max(...spec.positionals.map((p) => p.name.length));
    for (const p of spec.positionals) lines.push(`  ${p.name.padEnd(w)}  ${p.help}`);
  }
  const all = [...spec.flags, ...COMMON_FLAGS];
  const w = Math.max(...all.map((f) => flagUsage(f).length));
  lines.push('', 'options:');
  for (const f of all) {
    const extra = [f.choices ? `one of ${f.choices.join(', ')}` : '', f.defaultText ? `default ${f.defaultText}` : '']
      .filter(Boolean)
      .join('; ');
    lines.push(`  ${flagUsage(f).padEnd(w)}  ${f.help}${extra ? ` (${extra})` : ''}`);
  }
  if (spec.examples?.length) lines.push('', 'examples:', ...spec.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

function parseValue(f: FlagSpec, raw: string | undefined, shown: string): FlagValue {
  if (raw === undefined) throw new UsageError(`${shown}: expected a value, got nothing`);
  if (f.type === 'string') {
    if (f.choices && !f.choices.includes(raw))
      throw new UsageError(`${shown}: expected one of ${f.choices.join(', ')}, got ${raw}`);
    return raw;
  }
  const n = Number(raw);
  const integer = f.type === 'integer';
  const positive = f.min === 0 && f.exclusiveMin;
  const what = `${positive ? 'a positive ' : integer ? 'an ' : 'a '}${integer ? 'integer' : 'number'}${f.min !== undefined && !positive ? ` >= ${f.min}` : ''}`;
  if (raw.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${shown}: expected ${what}, got ${raw}`);
  }
  if (f.min !== undefined && (f.exclusiveMin ? n <= f.min : n < f.min))
    throw new UsageError(`${shown}: expected ${what}, got ${raw}`);
  return n;
}

/**
 * Parses argv (after the command name) against the spec. Accepts `--flag value`, `--flag=value`,
 * `-f value`, and `--` to end the options. Unknown flags, missing values and wrong positional
 * counts are UsageErrors.
 */
export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const flags = [...spec.flags, ...COMMON_FLAGS];
  const byLong = new Map(flags.map((f) => [f.name, f]));
  const byShort = new Map(flags.filter((f) => f.short).map((f) => [f.short!, f]));
  const values = new Map<string, FlagValue>();
  const positionals: string[] = [];
  let onlyPositionals = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (onlyPositionals || !arg.startsWith('-') || arg === '-' || /^-\d/.test(arg)) {
      positionals.push(arg);
      continue;
    }
    if (arg === '--') {
      onlyPositionals = true;
      continue;
    }
    let name: string;
    let inline: string | undefined;
    let f: FlagSpec | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      f = byLong.get(name);
    } else {
      name = arg.slice(1);
      f = byShort.get(name);
    }
    if (!f) throw new UsageError(`unknown option '${arg}' (see restnet ${spec.name} --help)`);
    const shown = `--${f.name}`;
    if (f.type === 'boolean') {
      if (inline !== undefined) throw new UsageError(`${shown}: takes no value, got ${inline}`);
      values.set(f.name, true);
      continue;
    }
    const raw = inline ?? argv[++i];
    values.set(f.name, parseValue(f, raw, shown));
  }
  const parsed = new ParsedArgs(spec.name, positionals, values);
  if (parsed.bool('help')) return parsed;
  const required = spec.positionals.filter((p) => !p.optional).length;
  if (positionals.length < required) {
    const missing = spec.positionals
      .slice(positionals.length)
      .filter((p) => !p.optional)
      .map((p) => p.name);
    throw new UsageError(`${spec.name}: missing ${missing.join(' and ')} (see restnet ${spec.name} --help)`);
  }
  if (positionals.length > spec.positionals.length) {
    throw new UsageError(
      `${spec.name}: unexpected argument '${positionals[spec.positionals.length]}' (see restnet ${spec.name} --help)`,
    );
  }
  return parsed;
}
