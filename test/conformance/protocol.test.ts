/**
 * Audiences as deployments use them, wpt-01 peers both ways and required signature components,
 * on all six targets. Each target runs twice: `extended` (a second base URL, a deployment-specific
 * audience, `compat.wpt01`, `requiredSignatureComponents`, an error hook exposing `error.mismatch`)
 * and `plain` (the suite's default options).
 */
import { base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWimseFetch, signHttpRequest, tokenHash, type WimseAdapterOptions, type WimseFetchOptions } from '@wimse/core';
import { AUDIENCE, CLIENT, adapterOptions, craftWit, craftWpt, createFixtures, nowSeconds, signJws, type Fixtures } from './fixtures.js';
import { send, type RawRequest, type RawResponse } from './http.js';
import type { Running, Target } from './targets/contract.js';
import { express4Target, express5Target } from './targets/express.js';
import { fastifyTarget } from './targets/fastify.js';
import { honoTarget } from './targets/hono.js';
import { nestExpressTarget, nestFastifyTarget } from './targets/nestjs.js';

const targets: Target[] = [express4Target, express5Target, fastifyTarget, honoTarget, nestExpressTarget, nestFastifyTarget];
const ALIAS = 'https://orders.internal.example';
const DEPLOYMENT = 'spiffe://example.org/conformance-service';

let f: Fixtures;
beforeAll(async () => {
  f = await createFixtures();
});

function extendedOptions(): WimseAdapterOptions {
  return {
    ...adapterOptions(f),
    audience: [AUDIENCE, ALIAS, { value: DEPLOYMENT }],
    compat: { wpt01: true },
    requiredSignatureComponents: ['x-tenant'],
    onError: (error, response) => ({ ...response, headers: { ...response.headers, 'x-mismatch': JSON.stringify(error.mismatch ?? null) } }),
  };
}

/** GET /whoami with the client's WIT and a WPT whose `aud` is exactly `aud`. */
async function wptFor(aud: unknown): Promise<RawRequest> {
  const claims = {
    aud,
    exp: nowSeconds() + 60,
    jti: base64url.encode(crypto.getRandomValues(new Uint8Array(16))),
    wth: await tokenHash(f.client.wit),
  };
  const wpt = await signJws({ alg: 'ES256', typ: 'wpt+jwt' }, claims, f.client.privateKey);
  return { method: 'GET', path: '/whoami', headers: { 'workload-identity-token': f.client.wit, authorization: `WPT ${wpt}` } };
}

/** GET /whoami signed with `wimse-aud` = `aud`, carrying (and maybe covering) `x-tenant`. */
async function signedFor(aud: string, cover = true): Promise<RawRequest> {
  const headers = { 'x-tenant': 't-1' };
  const added = await signHttpRequest({
    wit: f.client.wit,
    key: f.client.privateKey,
    alg: 'ES256',
    method: 'GET',
    url: `${AUDIENCE}/whoami`,
    headers,
    wimseAud: aud,
    ...(cover ? { coverHeaders: ['x-tenant'] } : {}),
  });
  return { method: 'GET', path: '/whoami', headers: { ...headers, ...added } };
}

function json(res: RawResponse): Record<string, unknown> {
  return JSON.parse(res.text) as Record<string, unknown>;
}

/** A client whose requests to `AUDIENCE/...` reach `server` (the audience is a name, not an address). */
function clientFor(server: Running, o: Partial<WimseFetchOptions> = {}) {
  const wire = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const u = new URL(String(input));
    return fetch(new URL(u.pathname + u.search, server.url), init);
  }) as typeof fetch;
  return createWimseFetch({
    credentials: () => ({ wit: f.client.wit, privateKey: f.client.privateKey }),
    fetch: wire,
    retryOnWitRejection: false,
    ...o,
  });
}

describe.each(targets)('$name', (target) => {
  let extended: Running;
  let plain: Running;
  beforeAll(async () => {
    extended = await target.start(extendedOptions());
    plain = await target.start(adapterOptions(f));
  });
  afterAll(async () => {
    await extended.close();
    await plain.close();
  });

  describe('RFC 7519 §4.1.3: WPT aud as an array', () => {
    it('a one-element array naming the target URI is accepted', async () => {
      const res = await send(plain.url, await wptFor([`${AUDIENCE}/whoami`]));
      expect(res.status, res.text).toBe(200);
      expect(json(res)).toMatchObject({ workload: CLIENT, method: 'wpt' });
    });
    it('an array without the target URI is refused with wpt_aud', async () => {
      const res = await send(plain.url, await wptFor([`${AUDIENCE}/admin`]));
      expect(res.status).toBe(401);
      expect(json(res)).toMatchObject({ code: 'wpt_aud' });
    });
  });

  describe('several base URLs and deployment-specific values', () => {
    it('WPT aud under the second base URL', async () => {
      expect((await send(extended.url, await wptFor(`${ALIAS}/whoami`))).status).toBe(200);
      expect(json(await send(plain.url, await wptFor(`${ALIAS}/whoami`)))).toMatchObject({ code: 'wpt_aud' });
    });
    it('WPT aud = the deployment-specific value', async () => {
      expect((await send(extended.url, await wptFor(DEPLOYMENT))).status).toBe(200);
    });
    it('wimse-aud under the second base URL and as the deployment-specific value', async () => {
      const alias = await send(extended.url, await signedFor(`${ALIAS}/whoami`));
      expect(alias.status, alias.text).toBe(200);
      expect(json(alias)).toMatchObject({ workload: CLIENT, method: 'http-sig' });
      expect((await send(extended.url, await signedFor(DEPLOYMENT))).status).toBe(200);
      expect(json(await send(plain.url, await signedFor(DEPLOYMENT)))).toMatchObject({ code: 'sig_aud' });
    });
  });

  describe('a refusal says what was expected and what arrived', () => {
    it('in the problem detail and through the error hook (never the token)', async () => {
      const request = await wptFor('https://elsewhere.example/whoami');
      const res = await send(extended.url, request);
      expect(res.status).toBe(401);
      const problem = json(res) as { code: string; detail: string };
      expect(problem.code).toBe('wpt_aud');
      expect(problem.detail).toContain('"https://elsewhere.example/whoami"');
      expect(problem.detail).toContain(`"${AUDIENCE}/whoami"`);
      expect(problem.detail).toContain(`"${DEPLOYMENT}"`);
      expect(res.text).not.toContain(String(request.headers?.authorization).slice(4));
      expect(JSON.parse(String(res.headers['x-mismatch']))).toEqual({
        expected: [`${AUDIENCE}/whoami`, `${ALIAS}/whoami`, DEPLOYMENT],
        received: ['https://elsewhere.example/whoami'],
      });
    });
  });

  describe('requiredSignatureComponents', () => {
    it('a signature leaving x-tenant uncovered is refused with sig_components', async () => {
      const res = await send(extended.url, await signedFor(`${AUDIENCE}/whoami`, false));
      expect(res.status).toBe(400);
      expect(json(res)).toMatchObject({ code: 'sig_components', detail: 'This service requires the signature to cover x-tenant' });
    });
    it('the client covers it with coverHeaders', async () => {
      const res = await clientFor(extended, { coverHeaders: ['x-tenant'] })(`${AUDIENCE}/whoami`, {
        headers: { 'x-tenant': 't-2' },
        wimse: { proof: 'http-sig' },
      });
      expect(res.status).toBe(200);
    });
  });

  describe('SPIFFE X509-SVID §3.1: a trust-domain-only identifier names no workload', () => {
    it('a WIT whose sub is spiffe://example.org is refused, and the detail says why', async () => {
      const wit = await craftWit(f, f.client, { claims: { sub: 'spiffe://example.org' } });
      const wpt = await craftWpt(f.client, '/whoami', { wit });
      const res = await send(plain.url, {
        method: 'GET',
        path: '/whoami',
        headers: { 'workload-identity-token': wit, authorization: `WPT ${wpt}` },
      });
      expect(res.status).toBe(400);
      expect(json(res)).toMatchObject({
        code: 'wit_sub_invalid',
        detail: expect.stringContaining('names the trust domain example.org, not a workload'),
      });
    });
  });

  describe('wpt-01 peers, both ways', () => {
    it('outbound wpt-01 (Workload-Proof-Token, application/wpt+jwt, ath) reaches a service with compat.wpt01', async () => {
      const res = await clientFor(extended, { wpt: { version: 'wpt-01', typ: 'application/wpt+jwt' } })(`${AUDIENCE}/whoami`, {
        wimse: { accessToken: 'at-1' },
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ workload: CLIENT, method: 'wpt' });
    });
    it('a wpt-01 request to a service without compat.wpt01 is told the option', async () => {
      const res = await clientFor(plain, { wpt: { version: 'wpt-01' } })(`${AUDIENCE}/whoami`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('WPT');
      expect(await res.json()).toMatchObject({ code: 'wpt_missing', detail: expect.stringContaining('compat.wpt01') });
    });
  });
});
