// `restnet serve` as users run it: --help, a real socket on an ephemeral 127.0.0.1 port, and
// SIGTERM while requests are queued: every one of them is answered, then the process exits 0.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadZooSplit } from '../lib/data/index.js';
import { buildFamily, cli } from './serve-helpers.js';

const images = loadZooSplit('calibration').images;
const body = (k: number): Buffer => {
  const b = Buffer.alloc(4 * 784);
  for (let i = 0; i < 784; i++) b.writeFloatLE(images[k * 784 + i]!, 4 * i);
  return b;
};

let family: ReturnType<typeof buildFamily>;
beforeAll(() => {
  family = buildFamily();
}, 300_000);
afterAll(() => family?.cleanup());

/** Starts `restnet serve` on port 0 and resolves with its address once it listens. */
function start(
  args: string[],
): Promise<{ child: ChildProcess; url: string; stderr: () => string; exit: Promise<number | null> }> {
  const child = spawn(
    process.execPath,
    [cli, 'serve', family.dir, '--port', '0', '--quiet', '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  child.stdout!.resume();
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) resolve({ child, url: m[1]!, stderr: () => err, exit });
    });
    void exit.then((code) => reject(new Error(`serve exited (${code}) before listening: ${err}`)));
  });
}

describe('restnet serve', () => {
  it('--help lists the routes and every flag of the issue', () => {
    const r = spawnSync(process.execPath, [cli, 'serve', '--help'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    for (const flag of [
      '--host',
      '--port',
      '--target-ms',
      '--percentile',
      '--max-batch',
      '--max-wait-ms',
      '--max-queue',
      '--pin',
      '--log-level',
    ])
      expect(r.stdout).toContain(flag);
    expect(r.stdout).toMatch(/POST \/v1\/classify/);
  });

  it('a bad --pin is one line and exit code 1', () => {
    const r = spawnSync(process.execPath, [cli, 'serve', family.dir, '--port', '0', '--pin', 'nope', '--quiet'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/restnet: serve: pin: expected one of .*, got "nope"/);
  });

  it('answers on a real socket, and SIGTERM drains the queued requests before exiting 0', async () => {
    const { child, url, stderr, exit } = await start([
      '--max-wait-ms',
      '400',
      '--max-batch',
      '64',
      '--target-ms',
      '1000',
    ]);
    const one = await fetch(`${url}/v1/classify`, {
      method: 'POST',
      body: body(0),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ config: expect.any(String), classes: [expect.any(Number)] });
    // Ten requests wait for their batch (400 ms) when SIGTERM arrives.
    const pending = Array.from({ length: 10 }, (_, k) =>
      fetch(`${url}/v1/classify`, {
        method: 'POST',
        body: body(k),
        headers: { 'content-type': 'application/octet-stream' },
      }),
    );
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGTERM');
    const answers = await Promise.all(pending);
    expect(answers.map((a) => a.status)).toEqual(new Array(10).fill(200));
    const classes = await Promise.all(
      answers.map(async (a) => ((await a.json()) as { classes: number[] }).classes.length),
    );
    expect(classes).toEqual(new Array(10).fill(1));
    expect(await exit).toBe(0);
    expect(stderr()).toMatch(/draining requests in flight[\s\S]*stopped/);
  }, 60_000);
});
