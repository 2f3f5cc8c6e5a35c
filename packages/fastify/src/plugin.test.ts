import Fastify, { type FastifyContextConfig, type FastifyInstance, type FastifyRequest, type RouteGenericInterface } from 'fastify';
import { afterEach, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { WimseAdapterOptions, WimsePrincipal, WorkloadSigner } from '@wimse/core';
import { adapterFixture } from '@wimse/test-support/factory';
import { wimsePlugin, type WimseRouteConfig } from './index.js';

const AUDIENCE = 'https://svc.example.org';
let options: WimseAdapterOptions;
let client: WorkloadSigner;

beforeAll(async () => {
  ({ options, client } = await adapterFixture(AUDIENCE));
});

let app: FastifyInstance;
afterEach(() => app.close());

async function build(extra: Partial<WimseAdapterOptions> = {}, bodyLimit?: number) {
  app = Fastify(bodyLimit === undefined ? {} : { bodyLimit });
  await app.register(wimsePlugin, { ...options, ...extra });
  return app;
}
const signed = async (path: string, contentType: string, body: string) => ({
  'content-type': contentType,
  ...(await client.httpSigHeaders({ method: 'POST', url: AUDIENCE + path, headers: { 'content-type': contentType }, body })),
});

describe('wimsePlugin', () => {
  it('copies a signed body in preParsing while custom and built-in content-type parsers still parse it', async () => {
    await build();
    app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, String(body).split(',')));
    app.post('/echo', async (request) => ({ workload: request.wimse?.workload, body: request.body }));
    const csv = await app.inject({ method: 'POST', url: '/echo', headers: await signed('/echo', 'text/csv', 'a,b,c'), payload: 'a,b,c' });
    expect(csv.json()).toEqual({ workload: 'spiffe://example.org/client', body: ['a', 'b', 'c'] });
    const json = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: await signed('/echo', 'application/json', '{"n":1}'),
      payload: '{"n":1}',
    });
    expect(json.json()).toEqual({ workload: 'spiffe://example.org/client', body: { n: 1 } });
  });

  it('checks the digest over the exact bytes received', async () => {
    await build();
    app.post('/echo', async (request) => request.body);
    const res = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: await signed('/echo', 'application/json', '{"n":1}'),
      payload: '{"n":2}',
    });
    expect([res.statusCode, res.json<{ code: string }>().code]).toEqual([400, 'digest_mismatch']);
  });

  it("honours maxBodyBytes below Fastify's bodyLimit: the core refuses first, with its problem", async () => {
    await build({ maxBodyBytes: 10 });
    app.post('/echo', async (request) => request.body);
    const body = 'x'.repeat(11);
    const res = await app.inject({ method: 'POST', url: '/echo', headers: await signed('/echo', 'text/plain', body), payload: body });
    expect([res.statusCode, res.json<{ code: string }>().code, res.headers.connection]).toEqual([413, 'body_too_large', 'close']);
  });

  it("leaves Fastify's own bodyLimit to its parsers when that is the lower one", async () => {
    await build({ maxBodyBytes: 100 }, 10);
    app.post('/echo', async (request) => request.body);
    const body = 'x'.repeat(11);
    const res = await app.inject({ method: 'POST', url: '/echo', headers: await signed('/echo', 'text/plain', body), payload: body });
    expect([res.statusCode, res.json<{ code: string }>().code]).toEqual([413, 'FST_ERR_CTP_BODY_TOO_LARGE']);
  });

  // A refusal sent from preParsing goes through the async onSend that signs it: the request ends
  // there, though Fastify's reply.sent is still false while that hook runs.
  it('a refusal of a signed body that asked for a signed response: signed, and nothing after it runs', async () => {
    await build({ responseSigner: client });
    let ran = 0;
    app.addHook('preParsing', (_request, _reply, payload, done) => (ran++, done(null, payload)));
    app.post('/admin', { config: { wimse: { allow: 'spiffe://example.org/admin' } } }, async () => (ran++, 'hi'));
    const body = '{"n":1}';
    const headers = {
      'content-type': 'application/json',
      ...(await client.httpSigHeaders({
        method: 'POST',
        url: `${AUDIENCE}/admin`,
        headers: { 'content-type': 'application/json' },
        body,
        signResponse: true,
      })),
    };
    const res = await app.inject({ method: 'POST', url: '/admin', headers, payload: body });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect([res.statusCode, res.json<{ code: string }>().code, typeof res.headers.signature, ran]).toEqual([403, 'forbidden', 'string', 0]);
  });

  // Without HTTP signatures no body is ever verified, so the plugin adds no preParsing hook at all.
  it("proofs: ['wpt']: a WPT request's body reaches the app's parser untouched", async () => {
    await build({ proofs: ['wpt'] });
    app.post('/echo', async (request) => ({ workload: request.wimse?.workload, body: request.body }));
    const headers = { 'content-type': 'application/json', ...(await client.wptHeaders({ url: `${AUDIENCE}/echo` })) };
    const res = await app.inject({ method: 'POST', url: '/echo', headers, payload: '{"n":1}' });
    expect(res.json()).toEqual({ workload: 'spiffe://example.org/client', body: { n: 1 } });
  });

  it('authenticates WPT requests in onRequest, before the body is parsed', async () => {
    await build();
    app.post('/echo', async (request) => request.body);
    const res = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{not json' });
    expect([
      res.statusCode,
      res.headers['www-authenticate'],
      String(res.headers['content-type']).split(';')[0],
      res.json<{ code: string }>().code,
    ]).toEqual([401, 'WPT', 'application/problem+json', 'credentials_missing']);
  });

  it('honours config.wimse: public, optional and allow', async () => {
    await build();
    app.get('/health', { config: { wimse: { public: true } } }, async (request) => ({ wimse: request.wimse ?? null }));
    app.get('/feed', { config: { wimse: { optional: true } } }, async (request) => ({ wimse: request.wimse ?? null }));
    app.get('/admin', { config: { wimse: { allow: 'spiffe://example.org/admin' } } }, async () => 'hi');
    expect((await app.inject('/health')).json()).toEqual({ wimse: null });
    expect((await app.inject('/feed')).json()).toEqual({ wimse: null });
    const admin = await app.inject({ url: '/admin', headers: await client.wptHeaders({ url: `${AUDIENCE}/admin` }) });
    expect([admin.statusCode, admin.json<{ code: string }>().code]).toEqual([403, 'forbidden']);
  });

  it('rejects a bad route pattern when the route is declared', async () => {
    await build();
    expect(() => app.get('/x', { config: { wimse: { allow: 'not-a-workload' } } }, async () => 'x')).toThrow(/Invalid workload pattern/);
  });

  // Issue #9 item 6: `alow` used to be ignored, letting every authenticated workload in.
  it('rejects an unknown key in config.wimse when the route is declared', async () => {
    await build();
    expect(() => app.get('/admin', { config: { wimse: { alow: 'spiffe://example.org/admin' } } }, async () => 'x')).toThrow(
      /route rules: unknown option "alow" \(allowed: public, optional, allow, scope\)/,
    );
  });

  it('rejects config.wimse that is not an object, and a public route with a policy', async () => {
    await build();
    expect(() =>
      app.get('/a', { config: { wimse: 'spiffe://example.org/admin' as unknown as WimseRouteConfig } }, async () => 'x'),
    ).toThrow(/expected an options object/);
    expect(() => app.get('/b', { config: { wimse: { public: true, allow: 'spiffe://example.org/admin' } } }, async () => 'x')).toThrow(
      /public route/,
    );
  });

  it('rejects an unknown adapter option when registered', async () => {
    await expect(build({ alow: 'spiffe://example.org/admin' } as Partial<WimseAdapterOptions>)).rejects.toThrow(/unknown option "alow"/);
  });

  it('rejects bad options when registered', async () => {
    await expect(build({ audience: [] })).rejects.toThrow(/audience/);
  });

  it('lets the error hook reshape the response', async () => {
    await build({ onError: (error) => ({ status: 418, headers: { 'content-type': 'text/plain' }, body: `no: ${error.code}` }) });
    app.get('/x', async () => 'x');
    const res = await app.inject('/x');
    expect([res.statusCode, res.headers['content-type'], res.body]).toEqual([418, 'text/plain', 'no: credentials_missing']);
  });
});

describe('types', () => {
  it('request.wimse is a WimsePrincipal or undefined, without any', () => {
    expectTypeOf<FastifyRequest['wimse']>().toEqualTypeOf<WimsePrincipal | undefined>();
  });

  // Checked by the package typecheck (`tsc` over src): each line below must fail to compile.
  // Fastify infers a route's config type from the literal itself (`ContextConfig`), so on the plain
  // shorthand an unknown key compiles; the route is then refused when declared (test above).
  it('WimseRouteConfig and the typed route config reject unknown keys and wrong values', () => {
    // @ts-expect-error -- `alow` is not a route rule
    const rules: WimseRouteConfig = { alow: 'spiffe://example.org/admin' };
    // @ts-expect-error -- nor in Fastify's route config type
    const config: FastifyContextConfig = { wimse: { alow: 'spiffe://example.org/admin' } };
    const declare = (f: FastifyInstance) => {
      // @ts-expect-error -- a route typed with its config (Fastify's ContextConfig generic)
      f.get<RouteGenericInterface, { wimse: WimseRouteConfig }>('/a', { config: { wimse: { alow: 'x' } } }, async () => 'x');
      // @ts-expect-error -- a wrong value type, even on the inferred shorthand
      f.get('/b', { config: { wimse: { public: 'yes' } } }, async () => 'x');
      // @ts-expect-error -- `allow` must be patterns or a predicate
      f.get('/c', { config: { wimse: { allow: 42 } } }, async () => 'x');
    };
    expect([rules, config, typeof declare]).toHaveLength(3);
  });
});
