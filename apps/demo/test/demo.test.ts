/**
 * CI runs the scripted demo: the built identity server and four services as real processes on
 * 127.0.0.1 (free ports), each also listening with HTTPS + client certificates, every row of
 * `pnpm demo` as expected, and bad input answered with a 4xx problem by every service. Needs the
 * workspace built (`pnpm test` builds first).
 */
import type { WimseFetch } from '@wimse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMtlsClient, type MtlsClient } from '../src/mtls-client.js';
import { runMtlsRotation, runScenario, workloadFetch, type Row } from '../src/scenario.js';
import { SERVICES, freeMtlsPorts, freePorts, startStack, type Stack } from '../src/stack.js';
import { SHARED_REPLAY_HINT, runSharedReplay } from '../src/shared-replay.js';
import { recordRedisRun, redisForTests } from '../../../test/support/redis-server.mjs';

let stack: Stack;
let client: WimseFetch;

// A relay target on the allow-list where nothing listens.
let down: string;

beforeAll(async () => {
  const ports = await freePorts();
  const downPort = (await freePorts()).identity;
  down = `http://127.0.0.1:${downPort}`;
  const targets = [ports.express, ports.fastify, ports.hono, ports.nestjs].map((p) => `http://127.0.0.1:${p}`);
  stack = await startStack({
    ports,
    mtlsPorts: await freeMtlsPorts([...Object.values(ports), downPort]),
    serviceEnv: { WIMSE_RELAY_TARGETS: [...targets, down].join(',') },
  });
  client = workloadFetch(stack, 'client');
}, 60_000);
afterAll(() => stack?.stop());

describe('pnpm demo scenario', () => {
  let rows: Row[];
  beforeAll(async () => {
    rows = await runScenario(stack);
  }, 60_000);

  it.each(SERVICES)('%s: every check as expected', (service) => {
    const mine = rows.filter((r) => r.service === service);
    expect(mine.map((r) => r.check)).toEqual([
      'GET /whoami',
      'POST /echo with a JSON body',
      'same request sent twice',
      'GET /admin as client',
      'GET /admin as admin',
      'body changed after signing',
      'GET /orders, Txn-Token with orders:read',
      'GET /orders without a Txn-Token',
      'POST /orders (needs orders:write)',
      'signed response verified by the client',
      'signed 403 verified by the client',
      'signature stripped in flight',
      'GET /whoami over mTLS',
      'GET /admin over mTLS as client',
      'certificate from the other.example CA',
    ]);
    for (const r of mine) expect(r.got, `${service}: ${r.check}`).toBe(r.expected);
    // txn-tokens-10 §12.2: the route's scope against the verified Txn-Token, in every adapter.
    expect(mine.filter((r) => r.check.includes('/orders')).map((r) => [r.proof, r.got])).toEqual([
      ['WPT', '200 alice, orders:read'],
      ['WPT', '403 insufficient_scope'],
      ['HTTP-Sig', '403 insufficient_scope'],
    ]);
    expect(mine.slice(-3).map((r) => [r.proof, r.got])).toEqual([
      ['mTLS', '200 client (mtls)'],
      ['mTLS', '403 forbidden'],
      ['mTLS', 'TLS handshake refused'],
    ]);
  });

  it('relay chains express → fastify → hono → nestjs, with WPTs and with signatures carrying a Txn-Token', () => {
    const chains = rows.filter((r) => r.check.startsWith('relay chain'));
    expect(chains.map((r) => r.got)).toEqual(['200 client→express→fastify→hono→nestjs', '200 client→express→fastify→hono→nestjs +txn']);
    expect(rows.every((r) => r.ok)).toBe(true);
  });

  it('a user request enters at the edge with an access token and its Txn-Token reaches GET /orders at the end of the chain', () => {
    expect(rows.filter((r) => r.service === 'user→express→…→nestjs').map((r) => [r.check, r.proof, r.got])).toEqual([
      ['user request with an access token', 'Bearer', '200 user→express→fastify→hono→nestjs: alice, orders:read'],
      ['access token from an unknown issuer', 'Bearer', '401 access_token_invalid'],
    ]);
  });

  it('refuses a tampered Txn-Token, one of another trust domain, a wider replacement, and untrusted platform tokens', () => {
    const last = rows.slice(-5).map((r) => [r.service, r.check, r.got]);
    expect(last).toEqual([
      ['express (Txn-Token receiver)', 'Txn-Token with its scope changed', '400 txn_token_signature'],
      ['express (Txn-Token receiver)', 'Txn-Token from the other.example service', '400 txn_token_key_unknown'],
      ['Txn-Token service', 'replacement asking for orders:write too', 'refused: invalid_scope'],
      ['identity server', 'platform token for another audience', 'refused: invalid_request'],
      ['identity server', 'platform token from an unknown issuer', 'refused: invalid_request'],
    ]);
  });
});

describe('pnpm demo mTLS rows across all four services', () => {
  let rows: Row[];
  beforeAll(async () => {
    rows = await runMtlsRotation(stack);
  }, 60_000);

  it("refuses an example.org identity issued by the other trust domain's CA, and keeps working across certificate rotation on both sides", () => {
    expect(rows.map((r) => [r.service, r.check, r.proof, r.got])).toEqual([
      ['all four', 'example.org identity from the other.example CA', 'mTLS', 'TLS handshake refused ×4'],
      ['all four', 'client certificate rotated on disk', 'mTLS', '200 client, new certificate ×4'],
      ['all four', 'service certificates rotated on disk', 'mTLS', '200 from the new certificate ×4'],
    ]);
    expect(rows.every((r) => r.ok)).toBe(true);
  });
});

describe.each(SERVICES)('%s over HTTPS: the certificate and application-layer proofs together', (service) => {
  let tls: MtlsClient;
  const server = () => `spiffe://${stack.trustDomain}/${service}-demo`;
  const url = (path: string) => stack.mtls!.urls[service] + path;
  beforeAll(async () => {
    tls = await openMtlsClient(stack.mtls!.dir('client'));
  });
  afterAll(() => tls?.close());

  it("a WPT of the certificate's own workload is the proof, the certificate rides along", async () => {
    const headers = await (await client.signer()).wptHeaders({ url: url('/whoami') });
    const { status, body } = await tls.get(url('/whoami'), server(), headers);
    expect(status).toBe(200);
    expect(body).toMatchObject({ workload: `spiffe://${stack.trustDomain}/client`, method: 'wpt' });
    expect(body?.certificateSerial).toMatch(/^[0-9A-F]+$/);
  });

  it('a WPT of another workload on the same connection is refused: 400 mtls_identity_mismatch', async () => {
    const admin = workloadFetch(stack, 'admin');
    const headers = await (await admin.signer()).wptHeaders({ url: url('/admin') });
    const { status, body } = await tls.get(url('/admin'), server(), headers);
    expect([status, body?.code]).toEqual([400, 'mtls_identity_mismatch']);
  });

  it('the client refuses a server whose workload is not the expected one', async () => {
    const other = SERVICES.find((s) => s !== service)!;
    await expect(tls.get(url('/health'), `spiffe://${stack.trustDomain}/${other}-demo`)).rejects.toThrow(/not the expected one/);
  });
});

describe('attested WITs', () => {
  it('every workload of the stack got its WIT by token exchange: name-only registration is off', async () => {
    const res = await fetch(`${stack.identityUrl}/wit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"workload":"client","jwk":{}}',
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe('dev_registration_disabled');
    // The services relayed and signed with their own WITs above; the client's identity is the mapped one.
    const who = (await (await client(`${stack.urls.express}/whoami`)).json()) as { workload: string };
    expect(who.workload).toBe(`spiffe://${stack.trustDomain}/client`);
  });
});

describe.each(SERVICES)('%s: bad input is a 4xx problem, never a crash', (service) => {
  const url = (path: string) => stack.urls[service] + path;
  const problem = async (res: Response) => {
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    return ((await res.json()) as { code: string }).code;
  };

  it('health is public, everything else needs credentials', async () => {
    expect((await fetch(url('/health'))).status).toBe(200);
    const res = await fetch(url('/whoami'));
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('WPT');
    expect(await problem(res)).toBe('credentials_missing');
  });

  it.each([
    ['a target outside the allow-list', '/relay?to=http://example.com', 403, 'relay_target_not_allowed'],
    ['a target with a path', `/relay?to=${encodeURIComponent('http://127.0.0.1:1/whoami')}`, 400, 'relay_target_invalid'],
    ['a target that is no URL', '/relay?to=nope', 400, 'relay_target_invalid'],
    ['no target', '/relay', 400, 'relay_target_missing'],
    ['an unknown route', '/nope', 404, 'not_found'],
  ])('%s', async (_name, path, status, code) => {
    const res = await client(url(path));
    expect(res.status).toBe(status);
    expect(await problem(res)).toBe(code);
  });

  it("as the edge: a user's access token becomes a Txn-Token (orders:read) that the next service's GET /orders accepts", async () => {
    const next = SERVICES[(SERVICES.indexOf(service) + 1) % SERVICES.length]!;
    const token = await stack.userIssuer.accessToken({ sub: 'bob', scope: 'orders:read' });
    const res = await fetch(url(`/edge/orders?to=${encodeURIComponent(stack.urls[next])}`), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      caller: string;
      method: string;
      upstream: { workload: string; transaction: { sub: string; scope: string[]; reqWl: string } };
    };
    expect(body).toMatchObject({ caller: 'user', method: 'bearer' });
    // The next service saw this service's WIT, and a Txn-Token the TTS issued to it for bob.
    expect(body.upstream.workload).toBe(`spiffe://${stack.trustDomain}/${service}-demo`);
    expect(body.upstream.transaction).toMatchObject({
      sub: 'bob',
      scope: ['orders:read'],
      reqWl: `spiffe://${stack.trustDomain}/${service}-demo`,
    });
  });

  it.each([
    ['no access token', undefined, 401, 'access_token_missing'],
    ['a token that is no JWT', 'Bearer not-a-jwt', 401, 'access_token_invalid'],
    ['another scheme', 'Basic dXNlcjpwYXNz', 401, 'access_token_missing'],
  ])('the edge route is public, and refuses %s', async (_name, authorization, status, code) => {
    const res = await fetch(
      url(`/edge/orders?to=${encodeURIComponent(stack.urls.nestjs)}`),
      authorization === undefined ? {} : { headers: { authorization } },
    );
    expect(res.status).toBe(status);
    expect(await problem(res)).toBe(code);
  });

  it('the edge refuses a user whose access token lacks orders:read: 403 insufficient_scope', async () => {
    const token = await stack.userIssuer.accessToken({ sub: 'carol', scope: 'profile' });
    const res = await fetch(url(`/edge/orders?to=${encodeURIComponent(stack.urls.nestjs)}`), {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(403);
    expect(await problem(res)).toBe('insufficient_scope');
  });

  it('the edge calls only listed services', async () => {
    const token = await stack.userIssuer.accessToken({ sub: 'bob', scope: 'orders:read' });
    const res = await fetch(url('/edge/orders?to=http://example.com'), { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    expect(await problem(res)).toBe('relay_target_not_allowed');
  });

  it('a relay whose last hop is neither whoami nor orders is refused', async () => {
    const res = await client(url(`/relay?to=${encodeURIComponent(stack.urls.nestjs)}&path=admin`));
    expect(res.status).toBe(400);
    expect(await problem(res)).toBe('relay_path_invalid');
  });

  it('a relay to a listed service that is down is a 502 problem', async () => {
    const res = await client(url(`/relay?to=${encodeURIComponent(down)}`));
    expect(res.status).toBe(502);
    expect(await problem(res)).toBe('relay_upstream_unreachable');
  });

  it('a relay chain longer than four hops is refused', async () => {
    const others = SERVICES.filter((s) => s !== service).map((s) => stack.urls[s]);
    // Five hops is more than the demo relays.
    const res = await client(url(`/relay?${[...others, ...others].map((o) => `to=${encodeURIComponent(o)}`).join('&')}`));
    expect(res.status).toBe(400);
    expect(await problem(res)).toBe('relay_too_many_hops');
  });

  for (const proof of ['wpt', 'http-sig'] as const) {
    it.each([
      ['invalid JSON', { 'content-type': 'application/json' }, '{"a":', 400, 'json_invalid'],
      ['a body that is not JSON', { 'content-type': 'text/plain' }, 'hello', 415, 'unsupported_media_type'],
      ['an oversized body', { 'content-type': 'application/json' }, JSON.stringify({ pad: 'x'.repeat(70_000) }), 413, 'body_too_large'],
    ])(`POST /echo with %s (${proof})`, async (_name, headers, body, status, code) => {
      const res = await client(url('/echo'), { method: 'POST', headers, body, wimse: { proof } });
      expect(res.status).toBe(status);
      expect(await problem(res)).toBe(code);
    });
  }

  it('POST /echo with a signed chunked JSON body (no Content-Length) echoes it', async () => {
    // The signed bytes, sent as a stream: fetch then uses Transfer-Encoding: chunked.
    const chunked: typeof fetch = (input, init) => {
      const bytes = init?.body as Uint8Array;
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(bytes.subarray(0, 5));
          c.enqueue(bytes.subarray(5));
          c.close();
        },
      });
      return fetch(input, { ...init, body, duplex: 'half' } as RequestInit);
    };
    const streaming = workloadFetch(stack, 'client', { fetch: chunked });
    const res = await streaming(url('/echo'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"chunked":true}',
      wimse: { proof: 'http-sig' },
    });
    expect([res.status, await res.json()]).toEqual([200, { chunked: true }]);
  });

  it('over HTTPS: a handshake without a client certificate is refused (the listener validates paths at the handshake)', async () => {
    const https = await import('node:https');
    const { readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const dir = stack.mtls!.dir('client');
    const withCert = { cert: readFileSync(join(dir, 'svid.pem'), 'utf8'), key: readFileSync(join(dir, 'svid_key.pem'), 'utf8') };
    const get = (path: string, cert: object) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        https
          .get(stack.mtls!.urls[service] + path, { ca: stack.mtls!.ca.pem, agent: false, ...cert }, (res) => {
            let body = '';
            res
              .setEncoding('utf8')
              .on('data', (c: string) => (body += c))
              .on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          })
          .on('error', reject);
      });
    await expect(get('/health', {})).rejects.toMatchObject({ code: expect.stringMatching(/^(ERR_SSL_|ECONNRESET$)/) });
    expect((await get('/health', withCert)).status).toBe(200);
  });

  it('still serves after all of that', async () => {
    expect((await client(url('/whoami'))).status).toBe(200);
  });
});

// Two instances of express-demo on one Redis (redis-server from the PATH; CI requires it).
const redisVersion = await redisForTests();
describe.runIf(redisVersion !== undefined)('pnpm demo rows: one service, two instances, one Redis', () => {
  it('refuses at one instance a proof the other accepted, WPT and signature', async () => {
    const rows = await runSharedReplay(stack);
    recordRedisRun(redisVersion!, 'single node');
    expect(rows?.map((r) => [r.check, r.proof, r.got])).toEqual([
      ['accepted by instance 1, replayed to instance 2', 'WPT', '200, then 401 wpt_replay'],
      ['accepted by instance 2, replayed to instance 1', 'HTTP-Sig', '200, then 400 sig_replay'],
    ]);
  }, 60_000);
});

describe('pnpm demo without a Redis', () => {
  it('has no shared-replay rows when there is neither REDIS_URL nor redis-server on the PATH', async () => {
    expect(await runSharedReplay(stack, undefined, { PATH: '/nonexistent' })).toBeUndefined();
  });

  it('prints one line instead, saying how to see them: REDIS_URL or redis-server', () => {
    expect(SHARED_REPLAY_HINT).not.toMatch(/\n/);
    expect(SHARED_REPLAY_HINT).toMatch(/REDIS_URL=redis:\/\//);
    expect(SHARED_REPLAY_HINT).toMatch(/install redis-server/);
  });
});
