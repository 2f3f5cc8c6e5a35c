// Per-request cost with a server's code footprint around it (issue 12). In a hot loop one ES256
// verify costs ~66 µs; served between HTTP requests the same call costs ~100 µs (pnpm bench:http,
// "+ verify" minus "plain"), because the framework's code in between evicts the CPU's instruction
// caches and branch history. A hot loop therefore hides most of what our own code costs a server.
// Here each operation is preceded by a stand-in for that framework code: 1000 distinct small
// functions, which bring the raw verify to about the cost it has inside a route. Then:
//   raw        one node:crypto ES256 verify (what "framework + one verification" adds)
//   WPT / sig  the adapter's handle() on a WIT + WPT / WIT + HTTP-signature request (WIT cached)
//   SF         only the structured-field work of a signed request (structured-headers: parse
//              Signature-Input and Signature, serialize @signature-params) + one raw verify
//   floor      for scale only, not a verifier: the least a WPT check could do (decode and parse
//              the claims, compare aud, exp and jti, a Map as replay store, one verify) and
//              nothing of what makes it safe (typ, alg, wth, lengths, partitions, bounds, errors)
// printed as µs per operation beyond the stand-in, medians of alternating rounds; "over raw" is
// what the adapter's work costs beyond the one verification, in those conditions. It runs in a
// child process of its own (on one core when taskset can pin it): the heap and code the other
// benchmarks of `pnpm bench` leave behind would shift these small differences.
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { createWimseHandler } from '@wimse/core/adapter';
import { parseDictionary, serializeInnerList } from 'structured-headers';
import { AUD, allocatedPerCall, setup } from './harness.mjs';

const N = 3000;
const ROUNDS = 7;

// Distinct functions (each compiled on its own), so their code does not share cache lines.
const framework = Array.from(
  { length: 1000 },
  (_, i) =>
    new Function('a', `let s = a; for (let j = 0; j < 3; j++) s = s % ${i + 2} === 1 ? s * ${i} + j : (s ^ ${i * 7}) + j; return s;`),
);
let sink = 0;
const frameworkWork = (i) => {
  for (const f of framework) sink += f(i);
};

const cpuNow = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

export default async function run() {
  const self = fileURLToPath(import.meta.url);
  const pinned = (() => {
    try {
      execFileSync('taskset', ['-c', '0', 'true'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  // The timing on one core, with V8's defaults; then the garbage count in a child whose new space
  // holds all the measured calls' garbage (no scavenge in between to hide some of it).
  for (const [mode, flags] of [
    ['timing', []],
    ['allocation', ['--expose-gc', '--min-semi-space-size=64', '--max-semi-space-size=64']],
  ]) {
    const node = [process.execPath, ...flags, self, mode];
    const [cmd, ...args] = pinned ? ['taskset', '-c', '0', ...node] : node;
    const child = spawnSync(cmd, args, { stdio: 'inherit' });
    if (child.status !== 0) throw new Error(`footprint benchmark (${mode}) failed (${child.status ?? child.signal})`);
  }
}

async function measure(mode) {
  const { issuerJwk, cnfJwk, signer } = await setup();
  const handler = createWimseHandler({ trustDomains: { 'example.org': { keys: { keys: [issuerJwk] } } }, audience: AUD });
  const url = `${AUD}/orders`;
  const request = async (kind) => ({
    method: 'GET',
    path: '/orders',
    headers: kind === 'wpt' ? await signer.wptHeaders({ url }) : await signer.httpSigHeaders({ method: 'GET', url }),
  });
  const fresh = async (kind) => {
    const out = [];
    for (let i = 0; i < N; i++) out.push(await request(kind));
    return out;
  };
  const key = createPublicKey({ key: cnfJwk, format: 'jwk' });
  const samples = (await fresh('wpt')).slice(0, 1000).map((r) => {
    const wpt = r.headers.authorization.slice(4);
    const dot = wpt.lastIndexOf('.');
    return { data: Buffer.from(wpt.slice(0, dot)), sig: Buffer.from(wpt.slice(dot + 1), 'base64url') };
  });
  const raw = (i) => {
    const s = samples[i % samples.length];
    if (!nodeVerify('sha256', s.data, { key, dsaEncoding: 'ieee-p1363' }, s.sig)) throw new Error('raw verify failed');
  };
  // The floor (see the top): WIT looked up by the whole token, no other check.
  const seen = new Map();
  const wits = new Map();
  const floor = (r) => {
    const h = r.headers;
    if (wits.get(h['workload-identity-token']) === undefined) throw new Error('floor: unknown WIT');
    const token = h.authorization.slice(4);
    const first = token.indexOf('.');
    const last = token.lastIndexOf('.');
    const claims = JSON.parse(Buffer.from(token.slice(first + 1, last), 'base64url').toString());
    if (claims.aud !== url || typeof claims.exp !== 'number' || typeof claims.jti !== 'string') throw new Error('floor: claims');
    if (seen.has(claims.jti)) throw new Error('floor: replay');
    seen.set(claims.jti, claims.exp);
    const signature = Buffer.from(token.slice(last + 1), 'base64url');
    if (!nodeVerify('sha256', Buffer.from(token.slice(0, last)), { key, dsaEncoding: 'ieee-p1363' }, signature))
      throw new Error('floor: verify');
  };
  const handled = (r) => {
    const outcome = handler.handle(r);
    if (outcome instanceof Promise) throw new Error('the warm path must answer synchronously');
    if (!outcome.ok) throw new Error(`handler refused: ${outcome.error.code}`);
  };
  // The WIT is verified once (then cached), outside the timing.
  const warm = await request('wpt');
  const first = await handler.handle(warm);
  if (!first.ok) throw new Error(`handler refused: ${first.error.code}`);
  wits.set(warm.headers['workload-identity-token'], first.principal);

  if (mode === 'allocation') {
    // Garbage per request on the warm path (issue 12), fresh proofs, after the JIT has settled.
    const bytes = async (kind) => {
      const list = await fresh(kind);
      for (let i = 0; i < 2000; i++) handled(list[i]);
      return allocatedPerCall((i) => handled(list[2000 + i]), 1000).toFixed(0);
    };
    console.log(`  allocated per handle(), WIT + WPT / HTTP signature   ${await bytes('wpt')} B / ${await bytes('sig')} B`);
    return;
  }

  const time = (op) => {
    const start = cpuNow();
    for (let i = 0; i < N; i++) {
      frameworkWork(i);
      op(i);
    }
    return (cpuNow() - start) / N;
  };
  const rounds = [];
  for (let r = 0; r <= ROUNDS; r++) {
    // Fresh proofs each round (replay protection is on); made before timing.
    const wpt = await fresh('wpt');
    const sig = await fresh('sig');
    const bare = await fresh('wpt');
    const m = {
      none: time(() => {}),
      raw: time(raw),
      wpt: time((i) => handled(wpt[i])),
      sig: time((i) => handled(sig[i])),
      sf: time((i) => {
        const h = sig[i].headers;
        const input = parseDictionary(h['signature-input']);
        serializeInnerList(input.get('wimse'));
        parseDictionary(h.signature);
        raw(i);
      }),
      floor: time((i) => floor(bare[i])),
    };
    if (r > 0) rounds.push(m); // round 0 warms the JIT
  }
  const median = (f) => {
    const s = rounds.map(f).sort((a, b) => a - b);
    return s[s.length >> 1];
  };
  const us = (k) => median((m) => m[k] - m.none);
  const over = (k) => median((m) => m[k] - m.raw);
  const line = (label, k) =>
    console.log(
      `  ${label.padEnd(40)}${us(k).toFixed(1).padStart(7)} µs${k === 'raw' ? '' : `   over raw ${over(k).toFixed(1).padStart(5)} µs`}`,
    );
  console.log(`server footprint (1000 distinct functions before each operation, ES256, medians of ${ROUNDS} rounds × ${N})`);
  line('raw node:crypto ES256 verify', 'raw');
  line('adapter handle(), WIT + WPT', 'wpt');
  line('adapter handle(), WIT + HTTP signature', 'sig');
  line('structured-headers work of a signature', 'sf');
  line('floor: a WPT check without its safety', 'floor');
  if (sink === 0.5) console.log(sink); // keeps the stand-in's results alive
}

if (import.meta.url === `file://${process.argv[1]}`) await measure(process.argv[2] ?? 'timing');
