import { readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { WimseAdapterOptions, WimsePrincipal, WorkloadSigner } from '@wimse/core';
import { adapterFixture } from '@wimse/test-support/factory';
import { requireWorkload, wimse } from './index.js';

// Requests go through app.request(): plain fetch Request/Response, as on Workers, Deno or Bun.
const AUDIENCE = 'https://svc.example.org';
let options: WimseAdapterOptions;
let client: WorkloadSigner;

beforeAll(async () => {
  ({ options, client } = await adapterFixture(AUDIENCE));
});

const signedPost = async (
  app: { request(path: string, init: RequestInit): Response | Promise<Response> },
  path: string,
  body: string,
  extra: Record<string, string> = {},
) => {
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length) };
  return app.request(path, {
    method: 'POST',
    body,
    headers: {
      ...headers,
      ...(await client.httpSigHeaders({ method: 'POST', url: AUDIENCE + path, headers: { 'content-type': 'application/json' }, body })),
      ...extra,
    },
  });
};

describe('wimse', () => {
  it('reads a signed body and leaves c.req.json() working', async () => {
    const app = new Hono()
      .use(wimse(options))
      .post('/echo', async (c) => c.json({ workload: c.get('wimse')?.workload, body: (await c.req.json()) as unknown }));
    const res = await signedPost(app, '/echo', '{"n":1}');
    expect(await res.json()).toEqual({ workload: 'spiffe://example.org/client', body: { n: 1 } });
  });

  it('rejects with the core problem: 401, WWW-Authenticate, problem+json', async () => {
    const app = new Hono().use(wimse(options)).get('/x', (c) => c.text('x'));
    const res = await app.request('/x');
    expect([res.status, res.headers.get('www-authenticate'), res.headers.get('content-type')]).toEqual([
      401,
      'WPT',
      'application/problem+json',
    ]);
    expect(await res.json()).toMatchObject({ code: 'credentials_missing', status: 401 });
  });

  it('answers 413 beyond maxBodyBytes, by Content-Length before reading', async () => {
    const app = new Hono().use(wimse({ ...options, maxBodyBytes: 4 })).post('/echo', (c) => c.text('x'));
    const res = await signedPost(app, '/echo', '{"n":1}');
    expect([res.status, ((await res.json()) as { code: string }).code]).toEqual([413, 'body_too_large']);
  });

  it('answers 413 to an endless stream without a length, having pulled only up to maxBodyBytes', async () => {
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>(
      { pull: (c) => c.enqueue(new Uint8Array(1024).fill(pulled++ % 256)) },
      { highWaterMark: 0 },
    );
    const app = new Hono().use(wimse({ ...options, maxBodyBytes: 10 * 1024 })).post('/echo', (c) => c.text('x'));
    const res = await app.request('/echo', {
      method: 'POST',
      body: endless,
      duplex: 'half',
      headers: { 'signature-input': 'x=()', 'transfer-encoding': 'chunked' },
    } as RequestInit);
    expect([res.status, ((await res.json()) as { code: string }).code, res.headers.get('connection')]).toEqual([
      413,
      'body_too_large',
      'close',
    ]);
    expect(pulled).toBeLessThanOrEqual(12);
  });

  it('hands the same bytes on: a later bodyLimit and c.req.text() read a signed chunked body', async () => {
    const { bodyLimit } = await import('hono/body-limit');
    const body = 'plain text, signed';
    const signed = await client.httpSigHeaders({
      method: 'POST',
      url: `${AUDIENCE}/echo`,
      headers: { 'content-type': 'text/plain' },
      body,
    });
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode(body.slice(0, 5)));
        c.enqueue(new TextEncoder().encode(body.slice(5)));
        c.close();
      },
    });
    const app = new Hono()
      .use(wimse(options))
      .use(bodyLimit({ maxSize: 1024 }))
      .post('/echo', async (c) => c.json({ workload: c.get('wimse')?.workload, body: await c.req.text() }));
    const res = await app.request('/echo', {
      method: 'POST',
      body: stream,
      duplex: 'half',
      headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked', ...signed },
    } as RequestInit);
    expect(await res.json()).toEqual({ workload: 'spiffe://example.org/client', body });
  });

  it('optional mode and requireWorkload', async () => {
    const app = new Hono()
      .use(wimse({ ...options, optional: true }))
      .get('/feed', (c) => c.json({ workload: c.get('wimse')?.workload ?? null }))
      .get('/admin', requireWorkload('spiffe://example.org/admin'), (c) => c.text('hi'));
    expect(await (await app.request('/feed')).json()).toEqual({ workload: null });
    expect((await app.request('/admin')).status).toBe(401);
    const other = await app.request('/admin', { headers: await client.wptHeaders({ url: `${AUDIENCE}/admin` }) });
    expect([other.status, ((await other.json()) as { code: string }).code]).toEqual([403, 'forbidden']);
  });

  it('validates options when created', () => {
    expect(() => wimse({ ...options, trustDomains: {} })).toThrow(/trustDomains/);
    expect(() => requireWorkload('nope')).toThrow(/Invalid workload pattern/);
  });

  // Issue #9 item 6: a policy that cannot be read must not be ignored.
  it('rejects a policy that is not patterns or a predicate, and unknown options', () => {
    expect(() => requireWorkload({ alow: 'spiffe://example.org/admin' } as unknown as string)).toThrow(/Workload policy: expected/);
    expect(() => requireWorkload([])).toThrow(/non-empty list/);
    expect(() => wimse({ ...options, alow: 'spiffe://example.org/admin' } as WimseAdapterOptions)).toThrow(/unknown option "alow"/);
  });

  it('imports nothing from node: on the request path', () => {
    expect(readFileSync(new URL('./middleware.ts', import.meta.url), 'utf8')).not.toMatch(/from ['"]node:/);
  });
});

describe('types', () => {
  it("c.get('wimse') is a WimsePrincipal or undefined, without any", async () => {
    const app = new Hono().use(wimse({ ...options, optional: true })).get('/', (c) => {
      expectTypeOf(c.get('wimse')).toEqualTypeOf<WimsePrincipal | undefined>();
      expectTypeOf(c.var.wimse).toEqualTypeOf<WimsePrincipal | undefined>();
      return c.text('ok');
    });
    new Hono().get('/', wimse(options), (c) => {
      expectTypeOf(c.get('wimse')).toEqualTypeOf<WimsePrincipal | undefined>();
      return c.text('ok');
    });
    expect((await app.request('/')).status).toBe(200);
  });
});
