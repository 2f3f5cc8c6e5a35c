/**
 * Property-based fuzzing of the six targets (issue #9 item 7): generated requests mutated from
 * valid WPT, HTTP-signature and forwarded-mTLS requests, sent over real HTTP with keep-alive and
 * modest concurrency. Bad input must always be a 4xx: 0 responses ≥ 500, 0 unhandled rejections,
 * no bug reported through `onInternalError`, a 200 only for a workload that really signed, and the
 * server still answers /health afterwards. On failure fast-check prints the seed and path; replay
 * one with `FUZZ_SEED=<seed> FUZZ_PATH=<path>`; scale with `FUZZ_REQUESTS` (default 10 000 per target).
 */
import { Agent, request, type IncomingMessage } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WimseAdapterOptions, WimseRequest } from '@wimse/core';
import { bundle, createCa, issueCert } from '@wimse/test-support/certs';
import { adapterOptions, ADMIN, CLIENT, createFixtures, wptHeaders, type Fixtures } from '../conformance/fixtures.js';
import type { RawRequest } from '../conformance/http.js';
import type { Running, Target } from '../conformance/targets/contract.js';
import { express4Target, express5Target } from '../conformance/targets/express.js';
import { fastifyTarget } from '../conformance/targets/fastify.js';
import { honoTarget } from '../conformance/targets/hono.js';
import { nestExpressTarget, nestFastifyTarget } from '../conformance/targets/nestjs.js';
import { caseArbitrary, materialize, type Case } from './mutations.js';

const targets: Target[] = [express4Target, express5Target, fastifyTarget, honoTarget, nestExpressTarget, nestFastifyTarget];
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const BATCH = Number(process.env.FUZZ_BATCH ?? 8); // requests in flight at once
// What each keep-alive socket carried last, to tell which request made the server drop a connection.
const lastOnSocket = new WeakMap<object, string>();
const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const PROXY = '127.0.0.2'; // the trusted proxy's address: Client-Cert is believed from it only

interface Reply {
  status: number;
  body: string;
}

let fixtures: Fixtures;
let der: { client: Uint8Array; admin: Uint8Array; root: Uint8Array };
let trustBundle: string;
const reported: { error: unknown; path: string | undefined }[] = [];
let unhandled = 0;
const onUnhandled = () => void unhandled++;

beforeAll(async () => {
  const root = await createCa('example.org root');
  const [f, client, admin] = await Promise.all([createFixtures(), issueCert(root, { uris: [CLIENT] }), issueCert(root, { uris: [ADMIN] })]);
  fixtures = f;
  der = { client: client.der, admin: admin.der, root: root.der };
  trustBundle = bundle(root);
  process.on('unhandledRejection', onUnhandled);
});

afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

function options(extra: Partial<WimseAdapterOptions> = {}): WimseAdapterOptions {
  return {
    ...adapterOptions(fixtures),
    proofs: ['wpt', 'http-sig', 'mtls'],
    mtls: { trustBundles: { 'example.org': trustBundle }, trustedProxies: [PROXY] },
    onInternalError: (error: unknown, request: WimseRequest | undefined) => void reported.push({ error, path: request?.path }),
    ...extra,
  };
}

/**
 * One request on a keep-alive agent; the body is read in full. A request that fails on a reused
 * connection is sent once more on a new one, as Node's docs advise (`request.reusedSocket`): a
 * server may close a connection after a framing error without saying so (Fastify's 400 for an
 * unknown method has no `Connection: close`), and the next request must not be blamed for it.
 */
async function send(agent: Agent, base: URL, r: RawRequest, localAddress?: string): Promise<Reply> {
  try {
    return await sendOnce(agent, base, r, localAddress);
  } catch (e) {
    if ((e as { reusedSocket?: boolean }).reusedSocket !== true) throw e;
    return sendOnce(false, base, r, localAddress);
  }
}

function sendOnce(agent: Agent | false, base: URL, r: RawRequest, localAddress?: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? undefined : Buffer.from(r.body);
    const headers = { ...r.headers, ...(body === undefined ? {} : { 'content-length': String(body.length) }) };
    const req = request(
      {
        host: base.hostname,
        port: base.port,
        method: r.method,
        path: r.path,
        headers,
        agent,
        timeout: 15_000,
        ...(localAddress === undefined ? {} : { localAddress }),
      },
      (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('socket', (socket) => {
      const previous = lastOnSocket.get(socket);
      lastOnSocket.set(socket, `${r.method} ${r.path.slice(0, 60)} ${JSON.stringify(r.headers ?? {}).slice(0, 300)}`);
      req.on('error', (e) =>
        reject(
          Object.assign(new Error(`${e.message}; the socket carried before: ${previous ?? 'nothing'}`), { reusedSocket: req.reusedSocket }),
        ),
      );
    });
    req.end(body);
  });
}

const describeCase = (c: Case, r: RawRequest) =>
  `${r.method} ${r.path.slice(0, 80)} (${c.base.proof}${c.ops.length > 0 ? ` + ${c.ops.map((o) => o.op).join(', ')}` : ''})`;

// The oracle beyond "< 500": a 200 on a protected route names a workload the issuer vouched for, and /admin only the admin.
function check(c: Case, r: RawRequest, reply: Reply): void {
  const where = describeCase(c, r);
  if (reply.status >= 500) throw new Error(`${where} → ${reply.status} ${reply.body.slice(0, 300)}`);
  if (reply.status !== 200 || !r.path.startsWith('/') || r.path.startsWith('/health')) return;
  let workload: unknown;
  try {
    workload = (JSON.parse(reply.body) as { workload?: unknown }).workload;
  } catch {
    return; // not a target route's JSON (e.g. a framework's own page)
  }
  if (workload === null || workload === undefined) return;
  // Workloads holding a key: the two fixtures, and whatever sub the issuer itself signed in a crafted WIT.
  const issued = [CLIENT, ADMIN, ...(c.base.proof === 'crafted-wit' ? [c.base.claims.sub] : [])];
  if (!issued.includes(workload)) throw new Error(`${where} → 200 for a workload no issuer vouched for: ${String(workload)}`);
  if (r.path.split('?')[0] === '/admin' && workload !== ADMIN) throw new Error(`${where} → 200 on /admin for ${String(workload)}`);
}

// The other half of item 7, on every target: a bug is a 500 internal_error problem (through the error hook) that is reported.
describe.each(targets)('$name: a bug', (target) => {
  let server: Running;
  const bugs: { error: unknown; path: string | undefined }[] = [];
  beforeAll(async () => {
    const policyBug = () => {
      throw new TypeError('policy bug');
    };
    server = await target.start(
      options({ allow: policyBug, onInternalError: (error, request) => void bugs.push({ error, path: request?.path }) }),
    );
  });
  afterAll(() => server.close());

  it('is a 500 internal_error problem, reshaped by the error hook, reported once per request', async () => {
    const agent = new Agent({ keepAlive: false });
    const plain = await send(agent, server.url, { method: 'GET', path: '/whoami', headers: await wptHeaders(fixtures.client, '/whoami') });
    expect([plain.status, JSON.parse(plain.body)]).toEqual([
      500,
      {
        type: 'https://github.com/wimse-js/wimse-js/blob/main/docs/errors.md#internal_error',
        title: 'Internal error',
        status: 500,
        detail: 'The request could not be processed; the error was reported',
        code: 'internal_error',
      },
    ]);
    const hooked = await send(agent, server.url, {
      method: 'GET',
      path: '/hooked/whoami',
      headers: await wptHeaders(fixtures.client, '/hooked/whoami'),
    });
    expect([hooked.status, JSON.parse(hooked.body)]).toEqual([500, { hooked: true, code: 'internal_error' }]);
    expect(bugs.map((b) => `${b.path} ${String(b.error)}`)).toEqual([
      '/whoami TypeError: policy bug',
      '/hooked/whoami TypeError: policy bug',
    ]);
  });
});

describe.each(targets)('$name', (target) => {
  let server: Running;
  const agent = new Agent({ keepAlive: true, maxSockets: BATCH });
  beforeAll(async () => {
    server = await target.start(options());
  });
  afterAll(async () => {
    agent.destroy();
    await server.close();
  });

  it(`answers ${REQUESTS} mutated requests with < 500, and still serves /health`, async () => {
    reported.length = 0;
    const before = unhandled;
    let sent = 0;
    const property = fc.asyncProperty(fc.array(caseArbitrary(fixtures), { minLength: BATCH, maxLength: BATCH }), async (cases) => {
      await Promise.all(
        cases.map(async (c) => {
          const { request: r, fromProxy } = await materialize(c, fixtures, der);
          const reply = await send(agent, server.url, r, fromProxy ? PROXY : undefined).catch((e: unknown) => {
            throw new Error(
              `${describeCase(c, r)} → ${String(e)} (headers ${JSON.stringify(r.headers).slice(0, 400)}, body ${JSON.stringify(r.body)?.slice(0, 100)})`,
            );
          });
          sent++;
          check(c, r, reply);
        }),
      );
    });
    const params: fc.Parameters<[Case[]]> = {
      endOnFailure: process.env.FUZZ_SHRINK === undefined,
      numRuns: Math.ceil(REQUESTS / BATCH),
      seed: SEED,
      ...(process.env.FUZZ_PATH === undefined ? {} : { path: process.env.FUZZ_PATH }),
    };
    const started = performance.now();
    const result = await fc.check(property, params);
    const seconds = (performance.now() - started) / 1000;
    console.log(`${target.name}: ${sent} requests in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s), seed ${SEED}`);
    if (result.failed) {
      const cause = result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance);
      throw new Error(
        `${cause}\n${fc.defaultReportMessage(result)}\nReplay: FUZZ_SEED=${SEED} FUZZ_PATH=${result.counterexamplePath ?? ''}`,
      );
    }
    expect(sent).toBeGreaterThanOrEqual(REQUESTS);
    expect(reported.map((r) => `${r.path}: ${String(r.error)}`)).toEqual([]);
    expect(unhandled - before).toBe(0);
    const health = await send(agent, server.url, { method: 'GET', path: '/health' });
    expect([health.status, JSON.parse(health.body)]).toEqual([200, { status: 'ok' }]);
    // And a fresh valid request still authenticates.
    const ok = await send(agent, server.url, { method: 'GET', path: '/whoami', headers: await wptHeaders(fixtures.client, '/whoami') });
    expect([ok.status, (JSON.parse(ok.body) as { workload: string }).workload]).toEqual([200, CLIENT]);
  }, 600_000);
});
