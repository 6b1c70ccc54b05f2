// SIMD path selection (run-time detection, RESTNET_SIMD, setSimd) and thread independence.
import { execFileSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { capabilities, cka, ckaMatrix, gram, setSimd, setThreads } from '../lib/index.js';
import { randomMatrix, relatedMatrix } from './oracle.js';

const root = new URL('..', import.meta.url).pathname;

function childCapabilities(simd: string): { out: string; ok: boolean } {
  const script = `import('./dist/index.js').then((r) => console.log(JSON.stringify(r.capabilities())))`;
  try {
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: root,
      env: { ...process.env, RESTNET_SIMD: simd },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { out: out.toString(), ok: true };
  } catch (e) {
    return { out: String((e as { stderr: Buffer }).stderr), ok: false };
  }
}

describe('SIMD paths and threads', () => {
  it('reports the best available path by default, scalar always available', () => {
    const caps = capabilities();
    expect(caps.available[0]).toBe('scalar');
    expect(caps.simd).toBe(caps.available.at(-1));
    expect(caps.threads).toBeGreaterThanOrEqual(1);
    if (process.arch === 'x64') expect(caps.available).not.toContain('neon');
    if (process.arch === 'arm64') expect(caps.available).toContain('neon');
  });

  it('honours RESTNET_SIMD at load time and rejects an unknown or unsupported path', () => {
    for (const path of capabilities().available) {
      const { out, ok } = childCapabilities(path);
      expect(ok).toBe(true);
      expect(JSON.parse(out).simd).toBe(path);
    }
    const bogus = childCapabilities('sse9');
    expect(bogus.ok).toBe(false);
    expect(bogus.out).toContain("RESTNET_SIMD: expected one of scalar, avx2, avx512, neon, got 'sse9'");
    const missing = childCapabilities(process.arch === 'arm64' ? 'avx2' : 'neon');
    expect(missing.ok).toBe(false);
    expect(missing.out).toMatch(/SIMD path '.*' is not supported by this CPU; available: scalar/);
  });

  it('rejects switching to a path the CPU lacks, keeping the current one', () => {
    const before = capabilities().simd;
    expect(() => setSimd(process.arch === 'arm64' ? 'avx512' : 'neon')).toThrow(RangeError);
    expect(() => setSimd('mmx' as never)).toThrow(TypeError);
    expect(capabilities().simd).toBe(before);
  });

  it('gives bit-identical results for any thread count', async () => {
    const x = randomMatrix(700, 90, 1);
    const y = relatedMatrix(x, 70, 2);
    const run = async (): Promise<unknown[]> => [
      Array.from(gram(x).data.subarray(0, 5000)),
      cka(x, y, { method: 'gram' }),
      cka(x, y, { method: 'feature', debiased: true }),
      cka(x, y, { kernel: 'rbf' }),
      Array.from((await ckaMatrix([x, y], [y], {})).data),
    ];
    setThreads(1);
    const one = await run();
    setThreads(3);
    expect(capabilities().threads).toBe(3);
    const three = await run();
    setThreads(0);
    expect(three).toEqual(one);
  });
});
