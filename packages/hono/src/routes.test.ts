/** The one route vocabulary on Hono: `auth.route(rules)` with or without the global mount, and `requireScope`. */
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import type { WimseAdapterOptions, WorkloadSigner } from '@wimse/core';
import { adapterFixture } from '@wimse/test-support/factory';
import { requireScope, wimse } from './index.js';

const AUDIENCE = 'https://svc.example.org';
let options: WimseAdapterOptions;
let client: WorkloadSigner;

beforeAll(async () => {
  ({ options, client } = await adapterFixture(AUDIENCE));
});

const wpt = async (path: string) => client.wptHeaders({ url: AUDIENCE + path });
const status = async (res: Response | Promise<Response>) => {
  const r = await res;
  return [r.status, r.status === 200 ? await r.text() : ((await r.json()) as { code: string }).code];
};

describe('auth.route() behind the global mount only narrows', () => {
  it('a public route rule cannot let through what the global mount refuses', async () => {
    const auth = wimse(options);
    const app = new Hono().use(auth).get('/x', auth.route({ public: true }), (c) => c.text('ok'));
    expect(await status(app.request('/x'))).toEqual([401, 'credentials_missing']);
  });

  it('an optional route rule cannot either', async () => {
    const auth = wimse(options);
    const app = new Hono().use(auth).get('/x', auth.route({ optional: true }), (c) => c.text('ok'));
    expect(await status(app.request('/x'))).toEqual([401, 'credentials_missing']);
  });

  it('does not verify the proof twice (a WPT is single-use)', async () => {
    const auth = wimse(options);
    const app = new Hono().use(auth).get('/x', auth.route({ allow: 'spiffe://example.org/client' }), (c) => c.text('ok'));
    expect(await status(app.request('/x', { headers: await wpt('/x') }))).toEqual([200, 'ok']);
  });

  it('applies allow', async () => {
    const auth = wimse(options);
    const app = new Hono().use(auth).get('/x', auth.route({ allow: 'spiffe://example.org/admin' }), (c) => c.text('ok'));
    expect(await status(app.request('/x', { headers: await wpt('/x') }))).toEqual([403, 'forbidden']);
  });
});

describe('auth.route() without the global mount authenticates with its rules', () => {
  it('public: no authentication', async () => {
    const auth = wimse(options);
    const app = new Hono().get('/x', auth.route({ public: true }), (c) => c.text('ok'));
    expect(await status(app.request('/x'))).toEqual([200, 'ok']);
  });

  it('optional: no credentials, no principal', async () => {
    const auth = wimse(options);
    const app = new Hono().get('/x', auth.route({ optional: true }), (c) => c.text(String(c.get('wimse'))));
    expect(await status(app.request('/x'))).toEqual([200, 'undefined']);
  });

  it('no rules: credentials required', async () => {
    const auth = wimse(options);
    const app = new Hono().get('/x', auth.route({}), (c) => c.text('ok'));
    expect(await status(app.request('/x'))).toEqual([401, 'credentials_missing']);
  });

  it('refuses the same WPT twice (the one replay store)', async () => {
    const auth = wimse(options);
    const app = new Hono().get('/x', auth.route({ optional: true }), (c) => c.text('ok'));
    const headers = await wpt('/x');
    expect(await status(app.request('/x', { headers }))).toEqual([200, 'ok']);
    expect(await status(app.request('/x', { headers }))).toEqual([401, 'wpt_replay']);
  });
});

describe('scope rules', () => {
  it('throw at start-up without the transactionTokens option', () => {
    expect(() => wimse(options).route({ scope: 'read' })).toThrow(/transactionTokens/);
  });

  it('an unknown route rule throws', () => {
    expect(() => wimse(options).route({ scopes: 'read' } as never)).toThrow(/unknown option "scopes"/);
  });

  it('requireScope without wimse() before it answers 401', async () => {
    const app = new Hono().get('/x', requireScope('read'), (c) => c.text('ok'));
    expect(await status(app.request('/x'))).toEqual([401, 'credentials_missing']);
  });

  it('requireScope refuses a malformed scope at start-up', () => {
    expect(() => requireScope('a b')).toThrow(/scope tokens/);
  });
});
