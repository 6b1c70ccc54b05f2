// `restnet serve` under load: does the adaptive service hold its p95 target when the device gets
// busy, where the same service pinned to the largest anchor does not?
//
// Builds a demo family (cnn-l / cnn-s, the README's quick settings) unless --dir names one, starts
// `restnet serve` on 127.0.0.1 (an ephemeral port), and drives it with autocannon at a fixed
// concurrency for --duration seconds (default 60). From 1/3 to 2/3 of the run, CPU hogs (busy
// child processes, two per core) imitate a busy device; the bench stops them itself. The same
// run is repeated with the service pinned to the largest anchor. The target is 1.3 x the p95 of
// the pinned largest anchor without hogs, measured first in the same run (or --target-ms).
// Writes bench/results/serve.md (tables) and bench/results/serve.svg (latency over time with the
// active configuration). Loopback only; bounded in time (<= 90 s per run) and traffic
// (--connections requests in flight at most).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import autocannon from 'autocannon';

import { loadZooSplit } from '../dist/data/index.js';
import { capabilities } from '../dist/index.js';
import { esc, f, niceTicks, svgDocument, tickLabel, viridis } from '../dist/report/svg.js';
import { cliPath, runQuickDemo } from '../scripts/quick-demo.mjs';
import { benchDir, fmt, machine, writeResults } from './harness.mjs';

const { values: opts } = parseArgs({
  options: {
    dir: { type: 'string' },
    duration: { type: 'string', default: '60' },
    connections: { type: 'string', default: '8' },
    hogs: { type: 'string', default: String(2 * cpus().length) },
    'target-ms': { type: 'string' },
    'max-batch': { type: 'string', default: '8' },
  },
});
const DURATION = Math.min(90, Number(opts.duration));
const CONNECTIONS = Number(opts.connections);
const HOGS = Number(opts.hogs);
const HOG_FROM = DURATION / 3,
  HOG_TO = (2 * DURATION) / 3;

// ---- the family ----
let tmp;
let dir = opts.dir;
if (!dir) {
  tmp = mkdtempSync(join(tmpdir(), 'restnet-serve-bench-'));
  dir = join(tmp, 'family');
  console.log(`building a demo family in ${dir} ...`);
  runQuickDemo(dir);
}

// One calibration image per request, float32 little-endian (the zoo split, not the independent eval images).
const images = loadZooSplit('calibration').images;
const bodies = Array.from({ length: 16 }, (_, k) => Buffer.from(images.slice(k * 784, (k + 1) * 784).buffer));

// ---- the server ----
async function startServer(args) {
  const child = spawn(
    process.execPath,
    [cliPath, 'serve', dir, '--port', '0', '--quiet', '--log-level', 'info', '--max-batch', opts['max-batch'], ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const switches = [];
  let out = '',
    err = '';
  child.stdout.on('data', (d) => {
    out += d;
    for (let nl = out.indexOf('\n'); nl >= 0; nl = out.indexOf('\n')) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      try {
        const j = JSON.parse(line);
        if (j.switch) switches.push({ at: j.time, ...j.switch });
      } catch {
        // not a log line
      }
    }
  });
  const exit = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise((resolve, reject) => {
    child.stderr.on('data', (d) => {
      err += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) resolve(m[1]);
    });
    void exit.then((code) => reject(new Error(`serve exited (${code}): ${err}`)));
  });
  return { child, url, switches, exit };
}

async function metrics(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (re) => Number(re.exec(text)?.[1]);
  const active = /restnet_active_config\{id="([^"]+)"\} 1$/m.exec(text)?.[1];
  return {
    active,
    rss: value(/^process_resident_memory_bytes (\S+)$/m),
    heap: value(/^nodejs_heap_size_used_bytes (\S+)$/m),
    observed: value(/^restnet_observed_latency_seconds (\S+)$/m) * 1000,
  };
}

function startHogs(n) {
  return Array.from({ length: n }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
}

/** One run: autocannon for `seconds`, hogs in the middle third (when `hogs`), metrics polled every 500 ms. */
async function run(label, serverArgs, seconds, { hogs = true } = {}) {
  const server = await startServer(serverArgs);
  const ladder = (await (await fetch(`${server.url}/v1/configs`)).json()).configs
    .filter((c) => c.ladder)
    .sort((a, b) => a.ladder.rung - b.ladder.rung)
    .map((c) => c.id);
  const responses = [];
  const served = [];
  const polls = [];
  let hogProcs = [];
  const wallStart = Date.now();
  const t0 = performance.now();
  const poller = setInterval(() => {
    const t = (performance.now() - t0) / 1000;
    metrics(server.url).then(
      (m) => polls.push({ t, ...m }),
      () => undefined,
    );
  }, 500);
  const timers = hogs
    ? [
        setTimeout(() => (hogProcs = startHogs(HOGS)), HOG_FROM * 1000),
        setTimeout(() => hogProcs.forEach((h) => h.kill('SIGKILL')), HOG_TO * 1000),
      ]
    : [];
  const instance = autocannon({
    url: `${server.url}/v1/classify`,
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    requests: bodies.map((body) => ({ body })),
    connections: CONNECTIONS,
    duration: seconds,
    timeout: 30,
    // The service's own view of each request (arrival to answer) and the configuration that ran it, from the answer.
    setupClient: (client) =>
      client.on('body', (b) => {
        try {
          const { latencyMs, config } = JSON.parse(b.toString());
          served.push({ t: (performance.now() - t0) / 1000 - latencyMs / 1000, ms: latencyMs, config });
        } catch {
          // an error answer: counted by autocannon as non-2xx
        }
      }),
  });
  instance.on('response', (_client, status, _bytes, ms) =>
    responses.push({ t: (performance.now() - t0) / 1000 - ms / 1000, ms, status }),
  );
  const result = await instance;
  clearInterval(poller);
  timers.forEach(clearTimeout);
  hogProcs.forEach((h) => h.kill('SIGKILL'));
  const last = await metrics(server.url);
  polls.push({ t: (performance.now() - t0) / 1000, ...last });
  server.child.kill('SIGTERM');
  const exitCode = await server.exit;
  const switches = server.switches.map((s) => ({ ...s, t: (s.at - wallStart) / 1000 }));
  console.log(`${label}: ${responses.length} responses, ${switches.length} switches, exit ${exitCode}`);
  return { label, responses, served, polls, switches, result, exitCode, ladder };
}

const pct = (values, p) => {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil((p / 100) * s.length) - 1)];
};
const within = (rs, a, b) => rs.filter((r) => r.t >= a && r.t < b);
function summary(rs, seconds) {
  const ms = rs.map((r) => r.ms);
  return { n: rs.length, p50: pct(ms, 50), p95: pct(ms, 95), p99: pct(ms, 99), rps: rs.length / seconds };
}
/** The configuration the service ran at time t (from the metrics polls). */
const activeAt = (polls, t) => [...polls].reverse().find((p) => p.t <= t)?.active ?? polls[0]?.active;
/** The share of requests each configuration answered within [a, b). */
function configShare(served, a, b) {
  const rs = within(served, a, b);
  const share = new Map();
  for (const r of rs) share.set(r.config, (share.get(r.config) ?? 0) + 1);
  return [...share]
    .sort((x, y) => y[1] - x[1])
    .map(([id, n]) => `${id} ${Math.round((100 * n) / rs.length)}%`)
    .join(', ');
}

// ---- calibration: the largest anchor, pinned, without hogs ----
const probe = await startServer([]);
const configs = (await (await fetch(`${probe.url}/v1/configs`)).json()).configs;
probe.child.kill('SIGTERM');
await probe.exit;
const ladderIds = configs
  .filter((c) => c.ladder)
  .sort((a, b) => a.ladder.rung - b.ladder.rung)
  .map((c) => c.id);
const largest = configs.filter((c) => c.kind === 'anchor').sort((a, b) => b.macs - a.macs)[0].id;
const cheapest = ladderIds[0];
let target = Number(opts['target-ms']);
let calibration;
if (!Number.isFinite(target)) {
  calibration = await run('calibration (largest anchor pinned, no hogs)', ['--pin', largest], 8, { hogs: false });
  target = Math.round(1.3 * summary(within(calibration.responses, 2, 8), 6).p95);
}
console.log(`target p95: ${target} ms`);

const adaptive = await run('adaptive', ['--target-ms', String(target)], DURATION);
const pinned = await run(`pinned to ${largest}`, ['--pin', largest, '--target-ms', String(target)], DURATION);

// ---- tables ----
const phases = [
  ['before hogs', 0, HOG_FROM],
  ['hogs', HOG_FROM, HOG_TO],
  ['hogs, after 5 s', HOG_FROM + 5, HOG_TO],
  ['after hogs', HOG_TO, DURATION],
];
let md = '## restnet serve under load: adaptive vs pinned to the largest anchor\n\n';
const m = machine(capabilities());
md += `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${new Date().toISOString().slice(0, 10)}. `;
md += `**The machine is shared with other jobs (3-4 other sessions building and testing on the same 2 cores; load average ${(await import('node:os')).loadavg()[0].toFixed(1)} when the bench ended), so the absolute milliseconds are noisy; compare the two runs, which share the noise.**\n\n`;
md += `Family: demo cnn-l / cnn-s (quick settings), ladder by MACs (cheapest first): ${ladderIds.join(' < ')}. `;
md += `Load: autocannon, ${CONNECTIONS} connections, one 28x28 float32 sample per request (application/octet-stream), ${DURATION} s per run; `;
md += `${HOGS} CPU hogs (busy node processes) from ${fmt(HOG_FROM, 0)} s to ${fmt(HOG_TO, 0)} s. Server: --max-batch ${opts['max-batch']}, --max-wait-ms 2, p95 over a 2 s window, cooldown 5 s, hysteresis 0.2. `;
md += `Target p95: **${target} ms** (${calibration ? `1.3 x the p95 of ${largest} pinned, without hogs, ${fmt(summary(within(calibration.responses, 2, 8), 6).p95, 1)} ms, measured first in the same run` : 'given'}). `;
md += '\n\n';
md +=
  "Two views of each request: the client's (autocannon, request sent to response received: the kernel, the server process waiting for a core, and the load generator itself, which shares the 2 cores with the server and the hogs) and the server's (`latencyMs` of the answer: from Fastify reading the request to the answer, batching queue + inference; what the controller holds under the target).\n\n";
md +=
  '| run | phase | requests | client p50 ms | client p95 ms | client p99 ms | server p95 ms | server p95 / target | req/s | configurations (share of requests) |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n';
for (const r of [adaptive, pinned]) {
  for (const [name, a, b] of phases) {
    const s = summary(within(r.responses, a, b), b - a),
      v = summary(within(r.served, a, b), b - a);
    md += `| ${r.label} | ${name} | ${s.n} | ${fmt(s.p50, 1)} | ${fmt(s.p95, 1)} | ${fmt(s.p99, 1)} | ${fmt(v.p95, 1)} | ${fmt(v.p95 / target, 2)} | ${fmt(s.rps, 1)} | ${configShare(r.served, a, b)} |\n`;
  }
}
const hogA = summary(within(adaptive.served, HOG_FROM + 5, HOG_TO), HOG_TO - HOG_FROM - 5);
const hogP = summary(within(pinned.served, HOG_FROM + 5, HOG_TO), HOG_TO - HOG_FROM - 5);
const hogAc = summary(within(adaptive.responses, HOG_FROM + 5, HOG_TO), HOG_TO - HOG_FROM - 5);
const hogPc = summary(within(pinned.responses, HOG_FROM + 5, HOG_TO), HOG_TO - HOG_FROM - 5);
const onCheapest = within(adaptive.served, HOG_FROM + 5, HOG_TO).every((r) => r.config === cheapest);
const endActive = adaptive.polls.at(-1).active;
const returned = adaptive.switches.filter((s) => s.t >= HOG_TO && s.reason === 'under-target');
md += '\nTargets:\n\n';
md += `- Adaptive under hogs (after 5 s): server p95 ${fmt(hogA.p95, 1)} ms = ${fmt(hogA.p95 / target, 2)} x target: ${hogA.p95 <= 1.2 * target ? 'within 1.2 x: **pass**' : onCheapest ? `over 1.2 x, but on the cheapest offered configuration (${cheapest}) the whole time: **pass**` : '**FAIL**'} (client p95 ${fmt(hogAc.p95, 1)} ms = ${fmt(hogAc.p95 / target, 2)} x).\n`;
md += `- Pinned ${largest} under hogs (after 5 s): server p95 ${fmt(hogP.p95, 1)} ms = ${fmt(hogP.p95 / target, 2)} x target: ${hogP.p95 > 1.2 * target ? 'breaks the target: **as expected**' : '**does not break it** (the hogs did not slow this machine enough)'} (client p95 ${fmt(hogPc.p95, 1)} ms = ${fmt(hogPc.p95 / target, 2)} x).\n`;
md += `- After the hogs: ${returned.length} step(s) up (${returned.map((s) => `${fmt(s.t, 1)} s -> ${s.to}`).join(', ') || 'none'}); active at the end: ${endActive}${endActive === ladderIds.at(-1) ? ' (the top of the ladder)' : ''}.\n`;
/** A server memory figure in MB at the first poll, at each third of the run and at the end. */
const steps = (r, key) => {
  const polls = r.polls.filter((p) => Number.isFinite(p[key]));
  return [0, HOG_FROM, HOG_TO, Infinity]
    .map((t) => (polls.find((p) => p.t >= t) ?? polls.at(-1))[key] / 2 ** 20)
    .map((mb) => fmt(mb, 1))
    .join(' -> ');
};
md += `- Memory (server, MB at 0 s, ${fmt(HOG_FROM, 0)} s, ${fmt(HOG_TO, 0)} s and the end of ${DURATION} s): RSS adaptive ${steps(adaptive, 'rss')}, pinned ${steps(pinned, 'rss')}; V8 heap used adaptive ${steps(adaptive, 'heap')}, pinned ${steps(pinned, 'heap')}.\n`;
for (const r of [adaptive, pinned]) {
  const res = r.result;
  md += `- ${r.label}: ${res.requests.total} requests answered, ${res.non2xx} non-2xx, ${res.errors} errors, ${res.timeouts} timeouts; SIGTERM -> exit code ${r.exitCode}.\n`;
}
md += '\nSwitches of the adaptive run:\n\n| t (s) | from | to | reason | window p95 ms |\n|---:|---|---|---|---:|\n';
for (const s of adaptive.switches)
  md += `| ${fmt(s.t, 1)} | ${s.from} | ${s.to} | ${s.reason} | ${s.observedMs === null ? '-' : fmt(s.observedMs, 1)} |\n`;
md +=
  '\nPer 5 s (adaptive | pinned): server p95 ms, req/s, configurations\n\n| t (s) | adaptive p95 | req/s | configuration | pinned p95 | req/s |\n|---:|---:|---:|---|---:|---:|\n';
for (let a = 0; a < DURATION; a += 5) {
  const sa = summary(within(adaptive.served, a, a + 5), 5),
    sp = summary(within(pinned.served, a, a + 5), 5);
  md += `| ${a}-${a + 5}${a >= HOG_FROM && a < HOG_TO ? ' (hogs)' : ''} | ${fmt(sa.p95, 1)} | ${fmt(sa.rps, 0)} | ${configShare(adaptive.served, a, a + 5)} | ${fmt(sp.p95, 1)} | ${fmt(sp.rps, 0)} |\n`;
}
md += '\n![latency over time](serve.svg)\n';
writeResults('serve', md);

// ---- the plot: per-second p50 and p95 of both runs (log scale), the target, the hog phase, and the adaptive run's configuration ----
function plot() {
  const W = 760,
    L = 60,
    R = 20,
    T = 40,
    ph = 300;
  const H = T + ph + 44 + 32 + 13 * ladderIds.length + 20;
  const pw = W - L - R;
  const series = (rs) => Array.from({ length: DURATION }, (_, s) => summary(within(rs, s, s + 1), 1));
  const sa = series(adaptive.served),
    sp = series(pinned.served),
    ca = series(adaptive.responses),
    cp = series(pinned.responses);
  const all = [...sa, ...sp, ...ca, ...cp].map((s) => s.p95).filter(Number.isFinite);
  const lo = Math.max(0.1, Math.min(...all, target) * 0.8),
    hi = Math.max(...all, target) * 1.2;
  const x = (t) => L + (t / DURATION) * pw;
  const y = (v) => T + ph - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;
  const body = [];
  body.push(
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">restnet serve: p95 latency per second (server-side; dashed: client-side), adaptive vs pinned to ${esc(largest)}</text>`,
  );
  body.push(
    `<rect x="${f(x(HOG_FROM))}" y="${T}" width="${f(x(HOG_TO) - x(HOG_FROM))}" height="${ph}" fill="#f3e0e0"/>`,
  );
  body.push(
    `<text x="${f((x(HOG_FROM) + x(HOG_TO)) / 2)}" y="${T + 14}" text-anchor="middle" fill="#a04040">${HOGS} CPU hogs</text>`,
  );
  const decades = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++)
    for (const k of [1, 2, 5]) if (k * 10 ** e >= lo && k * 10 ** e <= hi) decades.push(k * 10 ** e);
  for (const v of decades)
    body.push(
      `<line x1="${L}" x2="${L + pw}" y1="${f(y(v))}" y2="${f(y(v))}" stroke="#e0e0e0"/><text x="${L - 6}" y="${f(y(v) + 4)}" text-anchor="end">${tickLabel(v)}</text>`,
    );
  for (const t of niceTicks(0, DURATION, 8))
    body.push(`<text x="${f(x(t))}" y="${T + ph + 16}" text-anchor="middle">${t}</text>`);
  body.push(`<text x="${L + pw / 2}" y="${T + ph + 32}" text-anchor="middle">time (s)</text>`);
  body.push(
    `<text transform="translate(16 ${T + ph / 2}) rotate(-90)" text-anchor="middle">latency (ms, log scale)</text>`,
  );
  body.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  body.push(
    `<line x1="${L}" x2="${L + pw}" y1="${f(y(target))}" y2="${f(y(target))}" stroke="#000" stroke-dasharray="6 4"/><text x="${L + pw - 4}" y="${f(y(target) - 4)}" text-anchor="end">target p95 ${target} ms</text>`,
  );
  const line = (s, colour, dash) => {
    const pts = s
      .map((v, k) => (Number.isFinite(v.p95) ? `${f(x(k + 0.5))},${f(y(v.p95))}` : null))
      .filter(Boolean)
      .join(' ');
    return `<polyline class="series" points="${pts}" fill="none" stroke="${colour}" stroke-width="${dash ? 1.2 : 2}"${dash ? ' stroke-dasharray="4 3"' : ''}/>`;
  };
  body.push(line(cp, '#d95f02', true), line(sp, '#d95f02'), line(ca, '#1b7837', true), line(sa, '#1b7837'));
  // The adaptive run's configuration: a strip under the plot, one colour per ladder rung.
  const stripY = T + ph + 44;
  body.push(`<text x="${L - 6}" y="${stripY + 11}" text-anchor="end">config</text>`);
  for (let t = 0; t < DURATION; t += 0.5) {
    const id = activeAt(adaptive.polls, t);
    const rung = ladderIds.indexOf(id);
    body.push(
      `<rect x="${f(x(t))}" y="${stripY}" width="${f(x(0.5) - x(0) + 0.3)}" height="14" fill="${viridis(ladderIds.length > 1 ? rung / (ladderIds.length - 1) : 1)}"><title>${esc(id)}</title></rect>`,
    );
  }
  // The legend of the strip: one line per rung, cheapest first.
  for (const [k, id] of ladderIds.entries()) {
    const ly = stripY + 32 + 13 * k;
    body.push(
      `<rect x="${L}" y="${ly - 9}" width="10" height="10" fill="${viridis(ladderIds.length > 1 ? k / (ladderIds.length - 1) : 1)}"/><text x="${L + 14}" y="${ly}" font-size="10">${esc(`rung ${k}: ${id}`)}</text>`,
    );
  }
  const keyY = H - 12;
  body.push(
    `<line x1="${L}" x2="${L + 24}" y1="${keyY - 4}" y2="${keyY - 4}" stroke="#1b7837" stroke-width="2"/><text x="${L + 30}" y="${keyY}">adaptive p95 per s (dashed: client-side)</text>`,
  );
  body.push(
    `<line x1="${L + 300}" x2="${L + 324}" y1="${keyY - 4}" y2="${keyY - 4}" stroke="#d95f02" stroke-width="2"/><text x="${L + 330}" y="${keyY}">pinned ${esc(largest)} p95 per s (dashed: client-side)</text>`,
  );
  return svgDocument(W, H, 'restnet serve: latency over time', body);
}
writeFileSync(join(benchDir, 'results', 'serve.svg'), plot());
console.log(md);
if (tmp) rmSync(tmp, { recursive: true, force: true });
