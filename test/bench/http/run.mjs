// `pnpm bench:http` (issue 12): each adapter over real HTTP against "framework + one signature
// verification", measured: the plain framework whose route verifies one ES256 signature (a fresh
// one per request, as a proof is) and is given the very requests the adapter gets. Also printed:
// the derived ideal, plain framework CPU µs + one raw node:crypto verify µs timed in a hot loop.
// The derived one is optimistic: served between requests, the same verify costs more (the HTTP
// work in between evicts OpenSSL's tables and code from the CPU caches), for any server.
//
// Method: each target runs in its own child process (servers.mjs: the plain framework, the plain
// framework verifying one signature, and the framework with our adapter on the same route), pinned
// to core 0 with taskset when there is one;
// this process (autocannon, the load generator) is pinned to core 1. Every request carries fresh
// credentials made before timing (one WPT or one HTTP signature each; replay protection is on, so
// a request can be used once). The cost is the server child's CPU time per request
// (process.cpuUsage() over IPC, around each load run), not req/s, which the load generator also
// limits. Several rounds alternate plain / WPT / signature per target; ratios are taken within a
// round and the median over rounds is printed. Every response is checked (200 and the expected
// body); the exit code is 1 if any was not accepted. No timing thresholds: goals are printed.
//
//   node test/bench/http/run.mjs [--smoke] [--only=express5,fastify]
//   BENCH_HTTP_ROUNDS (default 5), BENCH_HTTP_REQUESTS per load run (default 3000),
//   BENCH_HTTP_PROFILE=<dir>: each server child runs with --cpu-prof into <dir>
import { execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import autocannon from 'autocannon';
import { AUD, setup } from '../harness.mjs';
import { PATH, TARGETS, authBody, plainBody } from './servers.mjs';

const args = process.argv.slice(2);
const smoke = args.includes('--smoke');
const only = args
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const ROUNDS = smoke ? 1 : Number(process.env.BENCH_HTTP_ROUNDS ?? 5);
const REQUESTS = smoke ? 60 : Number(process.env.BENCH_HTTP_REQUESTS ?? 3000);
// Requests per kind before the first round. With 500, the first round favoured the adapter on most
// targets (adapter minus "+ verify" 30-85 µs below the later rounds', in 9-round runs); with 2000
// and more it did not.
const WARMUP = smoke ? 20 : 2000;
const CONNECTIONS = smoke ? 4 : 8;
const GOAL = { wpt: 0.85, sig: 0.8 };
// plain: no WIMSE fields; verifyWpt / verifySig: the WPT / signature requests, to the plain
// framework verifying one signature; wpt / sig: the same requests to the adapter.
// BENCH_HTTP_KINDS=wpt (for a profile of one path) runs only those kinds and prints their µs.
const KINDS = process.env.BENCH_HTTP_KINDS?.split(',') ?? ['plain', 'verifyWpt', 'wpt', 'verifySig', 'sig'];
const PORT = { plain: 'plainPort', verifyWpt: 'verifyPort', verifySig: 'verifyPort', wpt: 'authPort', sig: 'authPort' };
const FIELDS = { verifyWpt: 'wpt', verifySig: 'sig', wpt: 'wpt', sig: 'sig' };
const names = only ?? Object.keys(TARGETS);
for (const n of names) if (TARGETS[n] === undefined) throw new Error(`unknown target ${n}; known: ${Object.keys(TARGETS).join(', ')}`);

// Core 0 for the servers, core 1 for the load generator, when taskset and two cores exist.
const pinned = (() => {
  if (availableParallelism() < 2) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const { issuerJwk, signer } = await setup();
const trustDomains = { 'example.org': { keys: { keys: [issuerJwk] } } };
const url = AUD + PATH;
const PLAIN = JSON.stringify(plainBody());
const AUTH = JSON.stringify(authBody({ workload: 'spiffe://example.org/client' }));

/** One child per target; `ask` sends a message and resolves with the next reply. */
async function startChild(name) {
  const script = new URL('./server.mjs', import.meta.url).pathname;
  const profile =
    process.env.BENCH_HTTP_PROFILE === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_HTTP_PROFILE}`, `--cpu-prof-name=${name}.cpuprofile`];
  const node = [process.execPath, ...profile, script, name];
  const [cmd, argv] = pinned ? ['taskset', ['-c', '0', ...node]] : [node[0], node.slice(1)];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const replies = [];
  child.on('message', (m) => replies.shift()?.(m));
  const ask = (m) => new Promise((resolve) => (replies.push(resolve), child.send(m)));
  const exited = new Promise((_, reject) => child.once('exit', (code) => reject(new Error(`${name} server exited (${code})`))));
  exited.catch(() => {});
  const ready = await Promise.race([ask({ trustDomains, audience: AUD }), exited]);
  const close = () =>
    child.exitCode === null ? new Promise((resolve) => (child.once('exit', resolve), child.send({ type: 'close' }))) : undefined;
  return { name, child, ask, close, ...ready };
}

/** Fresh credentials for `n` requests (plus slack for what the load generator builds ahead). */
async function pool(kind, n) {
  const out = [];
  for (let i = 0; i < n + CONNECTIONS * 2; i++)
    out.push(kind === 'wpt' ? await signer.wptHeaders({ url }) : await signer.httpSigHeaders({ method: 'GET', url }));
  return out;
}

let rejected = 0;
let logged = 0;
/** One load run of `n` requests; returns server CPU µs and GC pause µs per request, and req/s. */
async function load(t, kind, n) {
  const credentials = FIELDS[kind] === undefined ? undefined : await pool(FIELDS[kind], n);
  const expected = PORT[kind] === 'authPort' ? AUTH : PLAIN;
  let next = 0;
  let accepted = 0;
  let last = 0;
  const request = {
    method: 'GET',
    path: PATH,
    onResponse(status, body) {
      last = performance.now();
      if (status === 200 && String(body) === expected) accepted++;
      else if (logged++ < 5) console.error(`${t.name} ${kind}: not accepted: ${status} ${String(body).slice(0, 200)}`);
    },
    // A request built ahead and never sent wastes one credential; an exhausted pool sends none (401, counted).
    ...(credentials === undefined ? {} : { setupRequest: (req) => ({ ...req, headers: credentials[next++] ?? {} }) }),
  };
  const before = await t.ask({ type: 'cpu' });
  const start = performance.now();
  // sampleInt: autocannon notices the end of an `amount` run at its next sample tick.
  const r = await autocannon({
    sampleInt: 10,
    url: `http://127.0.0.1:${t[PORT[kind]]}`,
    connections: CONNECTIONS,
    pipelining: 1,
    amount: n,
    requests: [request],
  });
  const after = await t.ask({ type: 'cpu' });
  if (accepted !== n || r.errors > 0) {
    rejected += Math.max(1, n - accepted);
    console.error(`${t.name} ${kind}: ${accepted}/${n} accepted (errors ${r.errors}, timeouts ${r.timeouts}, non-2xx ${r.non2xx})`);
  }
  return { us: (after.cpu - before.cpu) / n, gc: (after.gc - before.gc) / n, rps: (n * 1000) / (last - start) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const children = [];
try {
  for (const name of names) children.push(await startChild(name));
  // Warm-up (JIT, WIT cache, connection pools), not counted.
  for (const t of children) for (const kind of KINDS) await load(t, kind, WARMUP);
  const rounds = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of children) {
      // Alternate the order so a drift in machine load does not always favour one kind.
      const order = r % 2 === 0 ? KINDS : [...KINDS].reverse();
      const m = {};
      for (const kind of order) m[kind] = await load(t, kind, REQUESTS);
      m.raw = (await t.ask({ type: 'rawVerify', n: smoke ? 100 : 2000 })).us;
      rounds[t.name].push(m);
    }
  }
  if (process.env.BENCH_HTTP_KINDS === undefined) print(rounds);
  else for (const n of names) for (const k of KINDS) console.log(n, k, median(rounds[n].map((m) => m[k].us)).toFixed(0), 'µs');
} finally {
  // A clean exit, so a --cpu-prof child writes its profile.
  await Promise.all(children.map((t) => t.close()));
}
if (rejected > 0) {
  console.error(`bench:http: ${rejected} response(s) not accepted`);
  process.exit(1);
}

function print(rounds) {
  const head = [
    'target',
    'plain',
    '+ verify W/S',
    'raw verify',
    'WPT',
    'sig',
    'WPT req/s',
    'sig req/s',
    'WPT × ideal',
    'sig × ideal',
    'derived W/S',
    'GC µs P/V/W/S',
  ];
  const rows = names.map((n) => {
    const rs = rounds[n];
    const med = (f, digits = 0) => median(rs.map(f)).toFixed(digits);
    // A ratio with its spread over the rounds: how far one run can be trusted.
    const ratio = (f) => {
      const xs = rs.map(f);
      return `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
    };
    return [
      n,
      med((m) => m.plain.us),
      `${med((m) => m.verifyWpt.us)} / ${med((m) => m.verifySig.us)}`,
      med((m) => m.raw),
      med((m) => m.wpt.us),
      med((m) => m.sig.us),
      med((m) => m.wpt.rps),
      med((m) => m.sig.rps),
      ratio((m) => m.verifyWpt.us / m.wpt.us),
      ratio((m) => m.verifySig.us / m.sig.us),
      `${med((m) => (m.plain.us + m.raw) / m.wpt.us, 2)} / ${med((m) => (m.plain.us + m.raw) / m.sig.us, 2)}`,
      ['plain', 'verifyWpt', 'wpt', 'sig'].map((k) => med((m) => m[k].gc, 1)).join(' / '),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  console.log(
    `bench:http — server CPU µs per request, ${smoke ? 'smoke: 1 short round' : `median of ${ROUNDS} rounds × ${REQUESTS} requests`}, ${CONNECTIONS} connections, ${pinned ? 'server on core 0, load on core 1' : 'not pinned (no taskset or one core)'}`,
  );
  console.log(line(head));
  console.log(line(widths.map((w, i) => (i === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`))));
  for (const r of rows) console.log(line(r));
  console.log(
    'plain: the framework alone; + verify: the framework verifying one ES256 signature per request, given the WPT / signature requests',
  );
  console.log(
    `× ideal = (+ verify µs) / adapter µs, per round, median (lowest–highest round); goals: WPT ≥ ${GOAL.wpt}, signature ≥ ${GOAL.sig}`,
  );
  console.log('derived = (plain µs + raw verify µs, timed in a hot loop) / adapter µs: optimistic, see the comment at the top');
  console.log('GC µs: garbage-collection pause time per request (plain, + verify given WPT requests, WPT, signature)');
}
