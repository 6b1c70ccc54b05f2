// The CLI's building blocks in-process: the flag parser, help text, the progress reporter on a
// TTY and off it, tables, and atomic writes.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { commandHelp, parseArgs, UsageError, type CommandSpec } from '../lib/cli/args.js';
import { demo } from '../lib/cli/commands/demo.js';
import { stitch } from '../lib/cli/commands/stitch.js';
import { ensureOutDir, writeFileAtomic } from '../lib/cli/files.js';
import { Reporter, si, table } from '../lib/cli/output.js';

const spec: CommandSpec = {
  name: 'try',
  summary: 'A test command.',
  positionals: [
    { name: 'A', help: 'first' },
    { name: 'B', help: 'second', optional: true },
  ],
  flags: [
    { name: 'out', short: 'o', type: 'string', value: 'DIR', help: '(required) where' },
    { name: 'n', type: 'integer', min: 1, help: 'count', defaultText: '3' },
    { name: 'rate', type: 'number', min: 0, exclusiveMin: true, help: 'rate' },
    { name: 'mode', type: 'string', choices: ['a', 'b'], help: 'mode' },
    { name: 'fast', type: 'boolean', help: 'go fast' },
  ],
};

describe('parseArgs', () => {
  it('parses long, short, = and -- forms into typed values', () => {
    const p = parseArgs(spec, ['x', '-o', 'dir', '--n=4', '--rate', '0.5', '--fast', '--mode', 'b', '--json']);
    expect(p.positionals).toEqual(['x']);
    expect([
      p.string('out'),
      p.number('n'),
      p.number('rate'),
      p.bool('fast'),
      p.string('mode'),
      p.bool('json'),
      p.bool('quiet'),
    ]).toEqual(['dir', 4, 0.5, true, 'b', true, false]);
    expect(p.number('missing', 7)).toBe(7);
    expect(parseArgs(spec, ['--', '-x', 'y']).positionals).toEqual(['-x', 'y']);
    expect(parseArgs(spec, ['a', '-5']).positionals).toEqual(['a', '-5']);
  });

  it('rejects what is wrong with a UsageError naming the flag, the expected and the actual value', () => {
    const err = (args: string[]) => {
      try {
        parseArgs(spec, args);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return (e as Error).message;
      }
      return 'no error';
    };
    expect(err(['x', '--n', '2.5'])).toBe('--n: expected an integer >= 1, got 2.5');
    expect(err(['x', '--n', '0'])).toBe('--n: expected an integer >= 1, got 0');
    expect(err(['x', '--rate', '0'])).toBe('--rate: expected a positive number, got 0');
    expect(err(['x', '--mode', 'c'])).toBe('--mode: expected one of a, b, got c');
    expect(err(['x', '--fast=yes'])).toBe('--fast: takes no value, got yes');
    expect(err(['x', '--out'])).toBe('--out: expected a value, got nothing');
    expect(err(['x', '--what'])).toBe("unknown option '--what' (see restnet try --help)");
    expect(err([])).toBe('try: missing A (see restnet try --help)');
    expect(err(['x', 'y', 'z'])).toBe("try: unexpected argument 'z' (see restnet try --help)");
    // The stitch kernel of demo and stitch: odd sizes only (an even kernel has no centre cell).
    for (const [command, positionals] of [
      [demo, []],
      [stitch, ['a', 'b']],
    ] as const) {
      expect(parseArgs(command.spec, [...positionals, '--stitch-kernel', '3']).string('stitch-kernel')).toBe('3');
      expect(() => parseArgs(command.spec, [...positionals, '--stitch-kernel', '2'])).toThrow(
        '--stitch-kernel: expected one of 1, 3, 5, got 2',
      );
      expect(parseArgs(command.spec, [...positionals, '--no-rectify']).bool('no-rectify')).toBe(true);
      expect(parseArgs(command.spec, [...positionals]).bool('no-rectify')).toBe(false);
      expect(() => parseArgs(command.spec, [...positionals, '--no-rectify=yes'])).toThrow(
        '--no-rectify: takes no value, got yes',
      );
      expect(parseArgs(command.spec, [...positionals, '--deepest-front', '1']).number('deepest-front', 3)).toBe(1);
      expect(parseArgs(command.spec, [...positionals]).number('deepest-front', 3)).toBe(3);
      expect(() => parseArgs(command.spec, [...positionals, '--deepest-front', '0'])).toThrow(
        '--deepest-front: expected an integer >= 1, got 0',
      );
    }
    // --help wins over missing arguments.
    expect(parseArgs(spec, ['--help']).bool('help')).toBe(true);
  });

  it('writes help from the same declarations', () => {
    const help = commandHelp(spec);
    expect(help).toMatch(/^usage: restnet try A \[B\] --out DIR \[options\]/);
    expect(help).toContain('-o, --out DIR');
    expect(help).toContain('(one of a, b)');
    expect(help).toContain('(default 3)');
    expect(help).toContain('-v, --verbose');
  });
});

describe('Reporter', () => {
  const sink = (isTTY: boolean) => {
    const chunks: string[] = [];
    return { chunks, stream: { isTTY, columns: 100, write: (s: string) => chunks.push(s) } };
  };

  it('draws a bar with \\r on a TTY and ends with one line', () => {
    const { chunks, stream } = sink(true);
    const term = process.env.TERM;
    process.env.TERM = 'xterm';
    const r = new Reporter({ stream });
    process.env.TERM = term;
    r.step('fitting');
    r.update(5, 10);
    r.update(10, 10);
    r.detail('not shown on a TTY');
    r.end('done');
    const text = chunks.join('');
    expect(text).toContain('\r\x1b[2Kfitting [############............] 5/10');
    expect(text).toContain('\r\x1b[2Kfitting [########################] 10/10');
    expect(text).not.toContain('not shown');
    expect(text).toMatch(/fitting: done, \d+ ms\n$/);
  });

  it('prints plain lines off a TTY, or with plain: true (--quiet)', () => {
    for (const [isTTY, plain] of [
      [false, false],
      [true, true],
    ] as const) {
      const { chunks, stream } = sink(isTTY);
      const r = new Reporter({ stream, plain });
      r.step('analysis');
      r.update(1, 2);
      r.detail('  a detail');
      r.end();
      expect(chunks.join('')).toMatch(/^analysis \.\.\.\n {2}a detail\nanalysis: \d+ ms\n$/);
    }
  });
});

describe('table and si', () => {
  it('aligns text left and numbers right', () => {
    expect(
      table(
        ['name', 'ms'],
        [
          ['a', '1.5 ms'],
          ['bbb', '12.25 ms'],
        ],
      ),
    ).toBe('name        ms\n----  --------\na       1.5 ms\nbbb   12.25 ms');
    expect([si(9345920), si(77418), si(999), si(2.5e9)]).toEqual(['9.35M', '77.4k', '999', '2.50G']);
  });
});

describe('files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'restnet-files-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes atomically and leaves no temporary file; out dirs are created or refused clearly', () => {
    const path = join(dir, 'm.json');
    writeFileAtomic(path, 'one');
    writeFileAtomic(path, 'two');
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(readdirSync(dir)).toEqual(['m.json']);
    expect(() => writeFileAtomic(join(dir, 'no', 'such', 'x'), 'x')).toThrow(/cannot write '.*x' \(ENOENT/);
    expect(ensureOutDir(join(dir, 'a', 'b'))).toBe(join(dir, 'a', 'b'));
    writeFileSync(join(dir, 'f'), '');
    expect(() => ensureOutDir(join(dir, 'f'))).toThrow(/is a file, not a directory/);
  });
});
