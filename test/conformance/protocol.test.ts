/**
 * Audiences as deployments use them, wpt-01 peers both ways and required signature components,
 * on all six targets. Each target runs twice: `extended` (a second base URL, a deployment-specific
 * audience, `compat.wpt01`, `requiredSignatureComponents`, an error hook exposing `error.mismatch`)
 * and `plain` (the suite's default options).
 */
import { KeyObject, sign as nodeSign } from 'node:crypto';
import { httpbis } from 'http-message-signatures';
import { base64url, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createResponseVerifier,
  createWimseFetch,
  createWorkloadSigner,
  issueWit,
  signHttpRequest,
  tokenHash,
  type WimseAdapterOptions,
  type WimseFetchOptions,
  type WorkloadSigner,
} from '@wimse/core';
import {
  AUDIENCE,
  CLIENT,
  KID,
  TRUST_DOMAIN,
  adapterOptions,
  craftWit,
  craftWpt,
  createFixtures,
  nowSeconds,
  signJws,
  type Fixtures,
} from './fixtures.js';
import { send, type RawRequest, type RawResponse } from './http.js';
import type { Running, Target } from './targets/contract.js';
import { express4Target, express5Target } from './targets/express.js';
import { fastifyTarget } from './targets/fastify.js';
import { honoTarget } from './targets/hono.js';
import { nestExpressTarget, nestFastifyTarget } from './targets/nestjs.js';

const targets: Target[] = [express4Target, express5Target, fastifyTarget, honoTarget, nestExpressTarget, nestFastifyTarget];
const ALIAS = 'https://orders.internal.example';
const DEPLOYMENT = 'spiffe://example.org/conformance-service';

const SERVICE = `spiffe://${TRUST_DOMAIN}/service`;
const ISSUER = 'https://id.example.org';

let f: Fixtures;
let service: WorkloadSigner;
beforeAll(async () => {
  f = await createFixtures();
  const pair = await generateKeyPair('ES256', { extractable: true });
  const cnfJwk = { ...(await exportJWK(pair.publicKey)), alg: 'ES256' };
  const wit = await issueWit({ sub: SERVICE, cnfJwk, issuerKey: f.issuerKey, alg: 'ES256', kid: KID });
  service = await createWorkloadSigner({ wit, privateKey: pair.privateKey });
});

const trust = () => ({ trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [f.issuerJwk] } } } });

/**
 * GET /whoami?x=1 signed in the http-signature-06 form (`@request-target`, label `wimse`) by the
 * independent RFC 9421 engine `http-message-signatures`, with the client's key, asking for a signed response.
 */
async function signed06(): Promise<RawRequest> {
  const key = KeyObject.from(f.client.privateKey);
  const now = nowSeconds();
  const request = { method: 'GET', url: `${AUDIENCE}/whoami?x=1`, headers: { 'workload-identity-token': f.client.wit } };
  const out = await httpbis.signMessage(
    {
      key: { sign: async (data: Buffer) => nodeSign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }) },
      name: 'wimse',
      fields: ['@method', '@request-target', 'workload-identity-token'],
      params: ['created', 'expires', 'nonce', 'tag', 'wimse-aud', 'wimse-sign-response'],
      paramValues: {
        created: new Date(now * 1000),
        expires: new Date((now + 60) * 1000),
        nonce: base64url.encode(crypto.getRandomValues(new Uint8Array(16))),
        tag: 'wimse-workload-to-workload',
        'wimse-aud': `${AUDIENCE}/whoami`,
        'wimse-sign-response': true,
      } as never,
    },
    request,
  );
  const headers = Object.fromEntries(Object.entries(out.headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
  return { method: 'GET', path: '/whoami?x=1', headers };
}

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
  let legacy: Running;
  let issuerBound: Running;
  beforeAll(async () => {
    extended = await target.start(extendedOptions());
    plain = await target.start({ ...adapterOptions(f), responseSigner: service });
    // Older and looser forms, each opt-in: -06 signatures, non-canonical wimse identifiers.
    legacy = await target.start({
      ...adapterOptions(f),
      compat: { httpSignature06: true },
      identifier: { canonical: false },
      responseSigner: service,
    });
    issuerBound = await target.start({
      ...adapterOptions(f),
      trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [f.issuerJwk] }, issuer: ISSUER } },
    });
  });
  afterAll(async () => {
    await Promise.all([extended, plain, legacy, issuerBound].map((s) => s?.close()));
  });

  describe('http-signature-06 peers: compat.httpSignature06, opt-in for requests and responses alike', () => {
    it('an -06 request (signed by http-message-signatures) is accepted with the option and answered in the -06 form', async () => {
      const request = await signed06();
      const res = await send(legacy.url, request);
      expect(res.status, res.text).toBe(200);
      expect(json(res)).toMatchObject({ workload: CLIENT, method: 'http-sig' });
      expect(String(res.headers['signature-input'])).toContain('"@request-target";req');
      const sent = { method: 'GET', url: `${AUDIENCE}/whoami?x=1`, headers: request.headers as Record<string, string> };
      const received = { status: res.status, headers: res.headers, body: Buffer.from(res.text) };
      const with06 = createResponseVerifier({ ...trust(), compat: { httpSignature06: true } });
      expect(await with06.verify(sent, received, { responder: SERVICE })).toMatchObject({ workload: SERVICE });
      // The client takes an -06 response only when it opted in, as the service takes an -06 request.
      const without = await createResponseVerifier(trust())
        .verify(sent, received)
        .catch((e: unknown) => e);
      expect(without).toMatchObject({ code: 'sig_response', message: expect.stringContaining('compat.httpSignature06') });
    });
    it('without the option the same request is refused with sig_components', async () => {
      const res = await send(plain.url, await signed06());
      expect([res.status, json(res).code]).toEqual([400, 'sig_components']);
    });
  });

  describe('identifier-03 §4.1 + RFC 3986 §2: the non-canonical wimse mode still keeps the URI grammar', () => {
    const withSub = async (sub: string) => {
      const wit = await craftWit(f, f.client, { claims: { sub } });
      return {
        method: 'GET',
        path: '/whoami',
        headers: { 'workload-identity-token': wit, authorization: `WPT ${await craftWpt(f.client, '/whoami', { wit })}` },
      };
    };
    it('a WIT sub with malformed percent-encoding (%zz) is refused', async () => {
      const res = await send(legacy.url, await withSub('wimse://example.org/orders%zz'));
      expect(res.status).toBe(400);
      expect(json(res)).toMatchObject({ code: 'wit_sub_invalid', detail: expect.stringContaining('malformed percent-encoding') });
    });
    it('a WIT sub with a character outside the URI grammar is refused', async () => {
      const res = await send(legacy.url, await withSub('wimse://example.org/or{ders}'));
      expect(res.status).toBe(400);
      expect(json(res)).toMatchObject({ code: 'wit_sub_invalid', detail: expect.stringContaining('outside the URI grammar') });
    });
    it('a well-formed non-canonical one (%41, which the canonical rules refuse) is accepted', async () => {
      const sub = 'wimse://example.org/%41rders';
      expect(json(await send(legacy.url, await withSub(sub)))).toMatchObject({ workload: sub });
      expect(json(await send(plain.url, await withSub(sub)))).toMatchObject({ code: 'wit_sub_invalid' });
    });
  });

  describe('workload-creds §5.1.4: a WIT iss mismatch says what arrived and what the trust domain allows', () => {
    const withIss = async (iss: string) => {
      const wit = await craftWit(f, f.client, { claims: { iss } });
      return {
        method: 'GET',
        path: '/whoami',
        headers: { 'workload-identity-token': wit, authorization: `WPT ${await craftWpt(f.client, '/whoami', { wit })}` },
      };
    };
    it('another iss: 400 wit_iss naming both', async () => {
      const res = await send(issuerBound.url, await withIss('https://rogue.example.org'));
      expect(res.status).toBe(400);
      expect(json(res)).toMatchObject({
        code: 'wit_iss',
        detail: `WIT iss "https://rogue.example.org" is not an issuer of trust domain ${TRUST_DOMAIN}; expected "${ISSUER}"`,
      });
    });
    it('the configured iss is accepted', async () => {
      expect((await send(issuerBound.url, await withIss(ISSUER))).status).toBe(200);
    });
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
