import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type Request } from 'express';
import express4 from 'express4';
import { afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { WimseAdapterOptions, WimsePrincipal, WorkloadSigner } from '@wimse/core';
import { adapterFixture } from '@wimse/test-support/factory';
import { requireWorkload, wimse } from './index.js';

const AUDIENCE = 'https://svc.example.org';
let options: WimseAdapterOptions;
let signer: WorkloadSigner;

beforeAll(async () => {
  ({ options, client: signer } = await adapterFixture(AUDIENCE));
});

let server: Server | undefined;
afterEach(() => server?.close());
async function listen(app: express.Express): Promise<string> {
  server = createServer(app);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
async function signedPost(base: string, path: string, body: string) {
  const headers = {
    'content-type': 'application/json',
    ...(await signer.httpSigHeaders({ method: 'POST', url: AUDIENCE + path, headers: { 'content-type': 'application/json' }, body })),
  };
  return fetch(base + path, { method: 'POST', headers, body });
}

describe.each([
  ['Express 5', express],
  ['Express 4', express4 as typeof express],
])('%s', (_name, factory) => {
  const echo = (req: Request, res: express.Response) => void res.json({ workload: req.wimse?.workload, body: req.body as unknown });

  it('reads a signed body and hands it to express.json() mounted after it, beyond one stream chunk', async () => {
    const app = factory();
    app.use(wimse(options), factory.json({ limit: '1mb' }));
    app.post('/echo', echo);
    const big = JSON.stringify({ items: Array.from({ length: 20_000 }, (_, i) => `item-${i}`) });
    expect(big.length).toBeGreaterThan(200_000);
    const res = await signedPost(await listen(app), '/echo', big);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ workload: 'spiffe://example.org/client', body: JSON.parse(big) as unknown });
  });

  it('uses the bytes a parser kept in req.rawBody when the parser ran first', async () => {
    const app = factory();
    app.use(factory.json({ verify: (req, _res, buf) => void ((req as Request & { rawBody?: Buffer }).rawBody = buf) }), wimse(options));
    app.post('/echo', echo);
    const res = await signedPost(await listen(app), '/echo', '{"a":1}');
    expect(await res.json()).toEqual({ workload: 'spiffe://example.org/client', body: { a: 1 } });
  });

  it('uses express.raw() bytes', async () => {
    const app = factory();
    app.use(factory.raw({ type: '*/*' }), wimse(options));
    app.post('/echo', (req, res) => void res.json({ workload: req.wimse?.workload, length: (req.body as Buffer).length }));
    const res = await signedPost(await listen(app), '/echo', '{"a":1}');
    expect(await res.json()).toEqual({ workload: 'spiffe://example.org/client', length: 7 });
  });

  it('fails loudly (not as a digest mismatch) when a parser consumed the body without keeping it', async () => {
    const app = factory();
    const reported: unknown[] = [];
    app.use(factory.json(), wimse({ ...options, onInternalError: (error) => void reported.push(error) }));
    app.post('/echo', echo);
    const res = await signedPost(await listen(app), '/echo', '{"a":1}');
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([500, 'internal_error']);
    expect(String(reported[0])).toMatch(/mount wimse\(\) before it/);
  });

  it('answers 413 body_too_large beyond maxBodyBytes', async () => {
    const app = factory();
    app.use(wimse({ ...options, maxBodyBytes: 10 }));
    app.post('/echo', echo);
    const res = await signedPost(await listen(app), '/echo', '{"a":"0123456789"}');
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: 'body_too_large' });
  });

  it('answers 413 body_too_large to bytes a parser kept beyond maxBodyBytes, as to streamed ones', async () => {
    const app = factory();
    app.use(factory.raw({ type: '*/*' }), wimse({ ...options, maxBodyBytes: 10 }));
    app.post('/echo', echo);
    const res = await signedPost(await listen(app), '/echo', '{"a":"0123456789"}');
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([413, 'body_too_large']);
  });

  it('answers 413 while streaming a chunked body beyond maxBodyBytes', async () => {
    const app = factory();
    app.use(wimse({ ...options, maxBodyBytes: 10 }));
    app.post('/echo', echo);
    const body = '{"a":"0123456789"}';
    const headers = {
      'content-type': 'application/json',
      ...(await signer.httpSigHeaders({ method: 'POST', url: `${AUDIENCE}/echo`, headers: { 'content-type': 'application/json' }, body })),
    };
    const stream = new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(body)), c.close()) });
    const res = await fetch(`${await listen(app)}/echo`, { method: 'POST', headers, body: stream, duplex: 'half' } as RequestInit);
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([413, 'body_too_large']);
  });

  it('requireWorkload: 401 in optional mode without credentials, 403 for another workload', async () => {
    const app = factory();
    app.use(wimse({ ...options, optional: true }));
    app.get('/admin', requireWorkload('spiffe://example.org/admin'), (_req, res) => void res.send('hi'));
    const base = await listen(app);
    const anonymous = await fetch(`${base}/admin`);
    expect([anonymous.status, anonymous.headers.get('www-authenticate'), ((await anonymous.json()) as { code: string }).code]).toEqual([
      401,
      'WPT',
      'credentials_missing',
    ]);
    const other = await fetch(`${base}/admin`, { headers: await signer.wptHeaders({ url: `${AUDIENCE}/admin` }) });
    expect([other.status, other.headers.get('content-type'), ((await other.json()) as { code: string }).code]).toEqual([
      403,
      'application/problem+json',
      'forbidden',
    ]);
  });

  it('requireWorkload without wimse() before it rejects', async () => {
    const app = factory();
    app.get('/admin', requireWorkload('spiffe://example.org'), (_req, res) => void res.send('hi'));
    expect((await fetch(`${await listen(app)}/admin`)).status).toBe(401);
  });
});

describe('configuration', () => {
  it('rejects bad options and patterns at start-up', () => {
    expect(() => wimse({ ...options, audience: 'not a url' })).toThrow(/audience/);
    expect(() => wimse({ ...options, allow: 'spiffe://example.org/a/../b' })).toThrow(TypeError);
    expect(() => requireWorkload('https://example.org/x')).toThrow(/Invalid workload pattern/);
  });

  // Issue #9 item 6: a policy that cannot be read must not be ignored.
  it('rejects a policy that is not patterns or a predicate, and unknown options', () => {
    expect(() => requireWorkload({ alow: 'spiffe://example.org/admin' } as unknown as string)).toThrow(/Workload policy: expected/);
    expect(() => requireWorkload([])).toThrow(/non-empty list/);
    expect(() => wimse({ ...options, alow: 'spiffe://example.org/admin' } as WimseAdapterOptions)).toThrow(/unknown option "alow"/);
  });
});

describe('types', () => {
  it('req.wimse is an optional WimsePrincipal, without any', () => {
    expectTypeOf<Request['wimse']>().toEqualTypeOf<WimsePrincipal | undefined>();
    expectTypeOf(wimse).returns.toExtend<express.RequestHandler>();
  });
});

// Issue 12: with a cached WIT and the in-memory replay store, nothing waits, so the route runs in
// the same tick as the middleware call (no promise in between).
describe('synchronous path', () => {
  const call = async (handler: express.RequestHandler, headers: Record<string, string>) => {
    const rawHeaders = Object.entries(headers).flat();
    const req = {
      method: 'GET',
      originalUrl: '/orders',
      url: '/orders',
      rawHeaders,
      headers,
      socket: { remoteAddress: '127.0.0.1' },
    } as unknown as Request;
    const sent: { status?: number } = {};
    const res = {
      setHeader: () => undefined,
      end: () => void (sent.status = res.statusCode),
      statusCode: 200,
    } as unknown as express.Response & { statusCode: number };
    let nextCalls = 0;
    handler(req, res, () => void nextCalls++);
    const sameTick = nextCalls;
    await new Promise((resolve) => setTimeout(resolve, 20));
    return { sameTick, later: nextCalls, status: sent.status, principal: req.wimse };
  };

  it('calls next() in the same tick once the WIT is cached', async () => {
    const handler = wimse(options);
    const cold = await call(handler, await signer.wptHeaders({ url: `${AUDIENCE}/orders` }));
    expect([cold.sameTick, cold.later]).toEqual([0, 1]);
    const warm = await call(handler, await signer.wptHeaders({ url: `${AUDIENCE}/orders` }));
    expect([warm.sameTick, warm.later, warm.principal?.workload]).toEqual([1, 1, 'spiffe://example.org/client']);
  });

  it('answers a refusal in the same tick, without next()', async () => {
    const handler = wimse(options);
    await call(handler, await signer.wptHeaders({ url: `${AUDIENCE}/orders` }));
    const headers = await signer.wptHeaders({ url: `${AUDIENCE}/orders` });
    await call(handler, headers);
    const replay = await call(handler, headers);
    expect([replay.sameTick, replay.later, replay.status]).toEqual([0, 0, 401]);
  });
});
