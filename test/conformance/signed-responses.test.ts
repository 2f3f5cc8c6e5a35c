/**
 * Signed responses (http-signature-07 §3.5) on all six targets, checked by our response verifier
 * and by the independent RFC 9421 engine `http-message-signatures` (its keys are node:crypto
 * objects made from the service's public JWK, so nothing of ours is on its side), with
 * Content-Digest recomputed by node:crypto.
 */
import { createHash, createPublicKey, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { httpbis, type Request as HmsRequest, type Response as HmsResponse } from 'http-message-signatures';
import { exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createResponseVerifier,
  createWimseFetch,
  createWorkloadSigner,
  isWimseError,
  issueWit,
  type WimseAdapterOptions,
  type WimseFetch,
  type WorkloadSigner,
} from '@wimse/core';
import { adapterOptions, AUDIENCE, createFixtures, KID, TRUST_DOMAIN, type Fixtures } from './fixtures.js';
import { send, type RawRequest, type RawResponse } from './http.js';
import type { Running, Target } from './targets/contract.js';
import { express4Target, express5Target } from './targets/express.js';
import { fastifyTarget } from './targets/fastify.js';
import { honoTarget } from './targets/hono.js';
import { nestExpressTarget, nestFastifyTarget } from './targets/nestjs.js';

const targets: Target[] = [express4Target, express5Target, fastifyTarget, honoTarget, nestExpressTarget, nestFastifyTarget];
const SERVICE = `spiffe://${TRUST_DOMAIN}/service`;
// The engine compares names only; the ;req binding is shown by a verification against another request failing.
const RESPONSE_FIELDS = ['@status', 'workload-identity-token', 'content-type', '@method', '@path', '@query'];
const LIMIT = 4096;

let f: Fixtures;
let service: { signer: WorkloadSigner; publicKey: KeyObject };

beforeAll(async () => {
  f = await createFixtures();
  const pair = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(pair.publicKey)), alg: 'ES256' };
  const wit = await issueWit({ sub: SERVICE, cnfJwk: jwk, issuerKey: f.issuerKey, alg: 'ES256', kid: KID });
  service = {
    signer: await createWorkloadSigner({ wit, privateKey: pair.privateKey }),
    publicKey: createPublicKey({ key: jwk as never, format: 'jwk' }),
  };
});

const trust = () => ({ trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [f.issuerJwk] } } } });

/** A request by the client signed over `path`, asking for a signed response when `ask`. */
async function signedRequest(method: string, path: string, ask: boolean, body?: string): Promise<RawRequest> {
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  const added = await f.client.signer.httpSigHeaders({
    method,
    url: AUDIENCE + path,
    headers,
    ...(body === undefined ? {} : { body }),
    signResponse: ask,
  });
  return { method, path, headers: { ...headers, ...added }, ...(body === undefined ? {} : { body }) };
}

const flat = (res: RawResponse): Record<string, string> =>
  Object.fromEntries(Object.entries(res.headers).flatMap(([k, v]) => (v === undefined ? [] : [[k, Array.isArray(v) ? v.join(', ') : v]])));

/** Ours: the responder, or the WimseError. */
async function ours(request: RawRequest, res: RawResponse) {
  const verifier = createResponseVerifier(trust());
  const sent = { method: request.method, url: AUDIENCE + request.path, headers: request.headers as Record<string, string> };
  return verifier.verify(sent, { status: res.status, headers: flat(res), body: Buffer.from(res.text) }).catch((e: unknown) => e);
}

/** The independent engine: verifies the response signature bound to the request, over the fields the draft lists. */
async function engine(request: RawRequest, res: RawResponse, fields = RESPONSE_FIELDS): Promise<boolean> {
  const key = {
    verify: async (data: Buffer, signature: Buffer) =>
      nodeVerify('sha256', data, { key: service.publicKey, dsaEncoding: 'ieee-p1363' }, signature),
  };
  const response: HmsResponse = { status: res.status, headers: flat(res) };
  const sent: HmsRequest = { method: request.method, url: AUDIENCE + request.path, headers: request.headers as Record<string, string> };
  return httpbis.verifyMessage(
    { keyLookup: async () => key, requiredFields: fields, requiredParams: ['created', 'expires', 'nonce', 'tag', 'wimse-req-nonce'] },
    response,
    sent,
  ) as Promise<boolean>;
}

const digestOf = (text: string) => `sha-256=:${createHash('sha256').update(text).digest('base64')}:`;
const problemCode = (res: RawResponse) => (JSON.parse(res.text) as { code?: string }).code;

/** The client's fetch aimed at a target, with an optional man in the middle. */
function clientFetch(
  server: Running,
  tamper: (res: Response) => Promise<Response> | Response = (r) => r,
  extra: Partial<Parameters<typeof createWimseFetch>[0]> = {},
): WimseFetch {
  return createWimseFetch({
    credentials: () => ({ wit: f.client.wit, privateKey: f.client.privateKey }),
    responseTrust: trust(),
    proof: 'http-sig',
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) =>
      tamper(await fetch(String(input).replace(AUDIENCE, server.url.origin), init))) as typeof fetch,
    ...extra,
  });
}

describe.each(targets)('$name', (target) => {
  let signing: Running;
  let unsigned: Running;
  let always: Running;
  let failing: Running;
  beforeAll(async () => {
    const base = (o: Partial<WimseAdapterOptions>) => ({ ...adapterOptions(f), ...o });
    signing = await target.start(base({ responseSigner: async () => service.signer }));
    unsigned = await target.start(base({}));
    always = await target.start(base({ responseSigner: service.signer, signResponses: 'always', maxResponseBodyBytes: LIMIT }));
    // The identity server is down: the service cannot get its own credentials.
    failing = await target.start(base({ responseSigner: () => Promise.reject(new Error('identity server down')) }));
  });
  afterAll(async () => {
    await Promise.all([signing, unsigned, always, failing].map((s) => s?.close()));
  });

  describe('asked (wimse-sign-response) → signed by the service', () => {
    it('GET with a query: verified by us and by http-message-signatures', async () => {
      const request = await signedRequest('GET', '/whoami?x=1', true);
      const res = await send(signing.url, request);
      expect(res.status).toBe(200);
      expect(res.headers['workload-identity-token']).toBe(service.signer.wit);
      expect(await ours(request, res)).toMatchObject({ workload: SERVICE });
      expect(await engine(request, res, [...RESPONSE_FIELDS, 'content-digest'])).toBe(true);
      // The engine's verdict can fail: the same response bound to another request does not verify.
      expect(await engine({ ...request, path: '/whoami?x=2' }, res)).toBe(false);
    });

    it('POST: Content-Digest is over the bytes sent', async () => {
      const request = await signedRequest('POST', '/echo', true, '{"n":1}');
      const res = await send(signing.url, request);
      expect(res.status).toBe(200);
      expect(res.headers['content-digest']).toBe(digestOf(res.text));
      expect(await engine(request, res, [...RESPONSE_FIELDS, 'content-digest'])).toBe(true);
      expect(await ours(request, res)).toMatchObject({ workload: SERVICE });
    });

    it('HEAD: signed, with no Content-Digest since no content is sent', async () => {
      const request = await signedRequest('HEAD', '/whoami', true);
      const res = await send(signing.url, request);
      expect([res.status, res.text, res.headers['content-digest']]).toEqual([200, '', undefined]);
      expect(await ours(request, res)).toMatchObject({ workload: SERVICE });
      expect(await engine(request, res)).toBe(true);
    });

    it("the route policy's 403 is signed too", async () => {
      const request = await signedRequest('GET', '/admin', true);
      const res = await send(signing.url, request);
      expect([res.status, problemCode(res)]).toEqual([403, 'forbidden']);
      expect(await engine(request, res, [...RESPONSE_FIELDS, 'content-digest'])).toBe(true);
      expect(await ours(request, res)).toMatchObject({ workload: SERVICE });
    });

    it('a request whose own signature fails gets an unsigned 400, which the client refuses', async () => {
      const request = await signedRequest('GET', '/whoami?x=1', true);
      const res = await send(signing.url, { ...request, path: '/whoami?x=2' });
      expect([res.status, problemCode(res)]).toEqual([400, 'sig_invalid']);
      expect(res.headers['signature-input']).toBeUndefined();
      expect(await ours(request, res)).toMatchObject({ code: 'sig_response' });
    });

    it('30 concurrent requests: each response is bound to its own request', async () => {
      const requests = await Promise.all(Array.from({ length: 30 }, (_, i) => signedRequest('GET', `/whoami?i=${i}`, true)));
      const responses = await Promise.all(requests.map((r) => send(signing.url, r)));
      const verdicts = await Promise.all(requests.map(async (r, i) => ((await ours(r, responses[i]!)) as { workload?: string }).workload));
      expect(new Set(verdicts)).toEqual(new Set([SERVICE]));
      // And crossed over, none verifies.
      expect(await ours(requests[0]!, responses[1]!)).toMatchObject({ code: 'sig_response' });
    });

    it('a stream within the limit is signed', async () => {
      const request = await signedRequest('GET', '/stream?kib=2', true);
      const res = await send(always.url, request);
      expect([res.status, res.text.length]).toEqual([200, 2048]);
      expect(res.headers['content-digest']).toBe(digestOf(res.text));
      expect(await engine(request, res, [...RESPONSE_FIELDS, 'content-digest'])).toBe(true);
    });

    it('a stream beyond the limit is refused (501), never sent unsigned', async () => {
      const res = await send(always.url, await signedRequest('GET', '/stream?kib=8', true));
      expect([res.status, problemCode(res)]).toEqual([501, 'response_too_large_to_sign']);
      expect(res.text).not.toContain('xxxx');
    });
  });

  describe("the framework's own error answers to a request that asked", () => {
    // Express, Fastify and Hono verify before routing and body parsing, so their 404 and parser 400 are
    // signed. NestJS routes and parses before any guard runs: nothing verified asked, the answer is
    // unsigned, and the client refuses it — never an unsigned answer accepted.
    const verifiedFirst = !target.name.startsWith('nestjs');
    const expectSigned = async (request: RawRequest, res: RawResponse) => {
      if (verifiedFirst) {
        expect(res.headers['content-digest']).toBe(digestOf(res.text));
        expect(await engine(request, res, [...RESPONSE_FIELDS, 'content-digest'])).toBe(true);
        expect(await ours(request, res)).toMatchObject({ workload: SERVICE });
      } else {
        expect(res.headers['signature-input']).toBeUndefined();
        expect(await ours(request, res)).toMatchObject({ code: 'sig_response' });
      }
    };

    it(`an unknown route's 404 is ${verifiedFirst ? 'signed' : 'unsigned and refused by the client'}`, async () => {
      const request = await signedRequest('GET', '/no-such-route', true);
      const res = await send(signing.url, request);
      expect(res.status).toBe(404);
      await expectSigned(request, res);
    });

    it(`the body parser's 400 is ${verifiedFirst ? 'signed' : 'unsigned and refused by the client'}`, async () => {
      const request = await signedRequest('POST', '/echo', true, '{"n":');
      const res = await send(signing.url, request);
      expect(res.status).toBe(400);
      await expectSigned(request, res);
    });
  });

  describe('not asked → unsigned', () => {
    it('a signed request without wimse-sign-response', async () => {
      const res = await send(signing.url, await signedRequest('GET', '/whoami', false));
      expect(res.status).toBe(200);
      expect([res.headers['signature-input'], res.headers.signature, res.headers['workload-identity-token']]).toEqual([
        undefined,
        undefined,
        undefined,
      ]);
    });
  });

  describe('no signer configured', () => {
    it('asked → refused with 501 response_signing_unsupported, before the handler', async () => {
      const res = await send(unsigned.url, await signedRequest('GET', '/whoami', true));
      expect([res.status, problemCode(res)]).toEqual([501, 'response_signing_unsupported']);
      expect(res.headers['signature-input']).toBeUndefined();
    });

    it('not asked → served', async () => {
      expect((await send(unsigned.url, await signedRequest('GET', '/whoami', false))).status).toBe(200);
    });
  });

  describe('the credential source fails (slow or failing dependency)', () => {
    it('asked → 503 response_signer_unavailable with Retry-After, unsigned', async () => {
      const res = await send(failing.url, await signedRequest('GET', '/whoami', true));
      expect([res.status, problemCode(res), res.headers['retry-after'], res.headers['signature-input']]).toEqual([
        503,
        'response_signer_unavailable',
        '5',
        undefined,
      ]);
    });

    it('not asked → served', async () => {
      expect((await send(failing.url, await signedRequest('GET', '/whoami', false))).status).toBe(200);
    });
  });

  describe("signResponses: 'always'", () => {
    it('signs a response the signed request did not ask for', async () => {
      const request = await signedRequest('GET', '/whoami', false);
      const res = await send(always.url, request);
      expect(await engine(request, res, [...RESPONSE_FIELDS, 'content-digest'])).toBe(true);
    });

    it('leaves a WPT request (no nonce to bind to) unsigned', async () => {
      const res = await send(always.url, {
        method: 'GET',
        path: '/whoami',
        headers: await f.client.signer.wptHeaders({ url: `${AUDIENCE}/whoami` }),
      });
      expect([res.status, res.headers['signature-input']]).toEqual([200, undefined]);
    });
  });

  describe('the client (createWimseFetch) against the service', () => {
    it('accepts the signed response and names the responder', async () => {
      const wimseFetch = clientFetch(signing, undefined, { expectResponder: SERVICE });
      const res = await wimseFetch(`${AUDIENCE}/echo`, {
        method: 'POST',
        body: '{"n":2}',
        headers: { 'content-type': 'application/json' },
        wimse: { signResponse: true },
      });
      expect(((await res.json()) as { body: unknown }).body).toEqual({ n: 2 });
      expect(wimseFetch.responder(res)?.workload).toBe(SERVICE);
    });

    it('refuses a body changed in flight', async () => {
      const tamper = async (r: Response) => new Response((await r.text()).replace('"n":2', '"n":3'), r);
      const e = await clientFetch(signing, tamper)(`${AUDIENCE}/echo`, {
        method: 'POST',
        body: '{"n":2}',
        headers: { 'content-type': 'application/json' },
        wimse: { signResponse: true },
      }).catch((x: unknown) => x);
      expect(isWimseError(e, 'digest_mismatch')).toBe(true);
    });

    it('refuses a status changed in flight', async () => {
      const tamper = async (r: Response) => new Response(await r.arrayBuffer(), { status: 201, headers: r.headers });
      const e = await clientFetch(signing, tamper)(`${AUDIENCE}/whoami`, { wimse: { signResponse: true } }).catch((x: unknown) => x);
      expect(isWimseError(e, 'sig_invalid')).toBe(true);
    });

    it('refuses a signed response from another workload than expected', async () => {
      const e = await clientFetch(signing, undefined, { expectResponder: `spiffe://${TRUST_DOMAIN}/orders` })(`${AUDIENCE}/whoami`, {
        wimse: { signResponse: true },
      }).catch((x: unknown) => x);
      expect(isWimseError(e, 'sig_response_workload')).toBe(true);
    });

    it('refuses the unsigned 501 of a service that cannot sign, saying what it claimed', async () => {
      const e = await clientFetch(unsigned)(`${AUDIENCE}/whoami`, { wimse: { signResponse: true } }).catch((x: unknown) => x);
      expect(isWimseError(e, 'sig_response')).toBe(true);
      expect((e as Error).message).toContain('response_signing_unsupported');
    });
  });
});
