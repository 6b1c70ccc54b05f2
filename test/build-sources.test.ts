// The two builds (node-gyp for the shipped addon, CMake for native tests and cross builds) must
// compile the same core. Both read native/sources.json; this test asks each build system what
// it actually compiles and fails if they disagree or if a source file is not listed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const sources = JSON.parse(readFileSync(join(root, 'native/sources.json'), 'utf8')) as Record<
  string,
  string[] | string
>;
const list = (key: string): string[] => sources[key] as string[];

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [relative(root, path)];
  });
}

describe('one source list for both builds', () => {
  const cmakeDir = mkdtempSync(join(tmpdir(), 'restnet-cmake-'));
  afterAll(() => rmSync(cmakeDir, { recursive: true, force: true }));

  it('lists every C++ file of native/ and test/native/, and nothing missing', () => {
    const listed = [...list('core'), ...list('addon'), ...list('tests')].sort();
    const onDisk = [...filesUnder(join(root, 'native')), ...filesUnder(join(root, 'test/native'))]
      .filter((f) => f.endsWith('.cpp'))
      .sort();
    expect(listed).toEqual(onDisk);
  });

  it('node-gyp compiles exactly the core and addon lists', () => {
    // The makefile node-gyp generated from binding.gyp for the addon this test run loads.
    const makefile = readFileSync(join(root, 'build/restnet.target.mk'), 'utf8');
    const compiled = [...makefile.matchAll(/\$\(obj\)\.target\/\$\(TARGET\)\/(\S+)\.o/g)]
      .map((m) => `${m[1]!}.cpp`)
      .sort();
    expect(compiled).toEqual([...list('core'), ...list('addon')].sort());
  });

  it('CMake compiles exactly the core list into restnet_core', () => {
    execFileSync('cmake', ['-S', root, '-B', cmakeDir, '-DCMAKE_EXPORT_COMPILE_COMMANDS=ON'], { stdio: 'ignore' });
    const commands = JSON.parse(readFileSync(join(cmakeDir, 'compile_commands.json'), 'utf8')) as {
      file: string;
      output?: string;
      command: string;
    }[];
    const core = commands
      .filter((c) => c.command.includes('restnet_core.dir'))
      .map((c) => relative(root, c.file))
      .sort();
    expect(core).toEqual([...list('core')].sort());
  });
});
