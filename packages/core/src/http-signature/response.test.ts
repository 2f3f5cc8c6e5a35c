/**
 * Signed responses (http-signature-07 §3.5): the server signs with its own WIT key via
 * `signHttpResponse`; the client checks the answer with `createResponseVerifier` against the request
 * it sent.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { contentDigest } from '../content-digest.js';
import { WimseError, type WimseErrorCode } from '../errors.js';
import { createWorkloadSigner, type WorkloadSigner } from '../signer.js';
import {
  AUDIENCE,
  NOW,
  TRUST_DOMAIN,
  createIssuer,
  createWorkload,
  verifierFor,
  type Issuer,
  type Workload,
} from '@wimse/test-support/factory';
import { signRaw } from '../test-support/http-sig.js';
import { createResponseVerifier, signHttpResponse, type ReceivedResponse, type SentRequest } from './response.js';

let issuer: Issuer;
let client: Workload;
let server: Workload;
let clientSigner: WorkloadSigner;
let serverSigner: WorkloadSigner;
const now = NOW / 1000;
const utf8 = new TextEncoder();
const URL_ = `${AUDIENCE}/orders?id=7`;
const BODY = '{"ok":true}';

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  client = await createWorkload(issuer, { sub: `spiffe://${TRUST_DOMAIN}/client` });
  server = await createWorkload(issuer, { sub: `spiffe://${TRUST_DOMAIN}/orders`, alg: 'EdDSA' });
  clientSigner = await createWorkloadSigner({ wit: client.wit, privateKey: client.privateKey });
  serverSigner = await createWorkloadSigner({ wit: server.wit, privateKey: server.privateKey });
});

const responses = () =>
  createResponseVerifier({ trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } }, now: () => NOW });

async function sent(
  o: { signResponse?: boolean; method?: string; url?: string } = {},
): Promise<SentRequest & { headers: Record<string, string> }> {
  const method = o.method ?? 'GET';
  const url = o.url ?? URL_;
  const headers = await clientSigner.httpSigHeaders({ method, url, signResponse: o.signResponse ?? true, now: NOW });
  return { method, url, headers };
}

function nonceOf(request: { headers: Record<string, string> }): string {
  return /nonce="([^"]+)"/.exec(request.headers['signature-input']!)![1]!;
}

/** The server's signed answer to `request`, as the client receives it. */
async function answer(
  request: SentRequest & { headers: Record<string, string> },
  o: { status?: number; body?: string; signer?: WorkloadSigner; nonce?: string; path?: string; method?: string } = {},
): Promise<ReceivedResponse & { headers: Record<string, string> }> {
  const u = new URL(request.url);
  const headers = { 'content-type': 'application/json' };
  const body = o.body ?? BODY;
  const added = await signHttpResponse({
    credentials: o.signer ?? serverSigner,
    request: { method: o.method ?? request.method, path: o.path ?? `${u.pathname}${u.search}` },
    requestNonce: o.nonce ?? nonceOf(request),
    status: o.status ?? 200,
    headers,
    body,
    now: NOW,
  });
  return { status: o.status ?? 200, headers: { ...headers, ...added }, body: utf8.encode(body) };
}

async function rejection(p: Promise<unknown>): Promise<{ code: WimseErrorCode; status: number }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof WimseError)) throw new Error(`expected a WimseError, got ${String(e)}`);
  return { code: e.code, status: e.status };
}

describe('end to end: client request → server verify → signed response → client verify', () => {
  it('the server answers with its own identity, bound to the nonce the client sent', async () => {
    const request = await sent();
    const u = new URL(request.url);
    const principal = await verifierFor(issuer).verify({
      method: request.method,
      path: `${u.pathname}${u.search}`,
      headers: request.headers,
    });
    expect(principal.signature?.signResponse).toBe(true);
    const added = await signHttpResponse({
      credentials: { wit: server.wit, key: server.privateKey },
      request: { method: request.method, path: `${u.pathname}${u.search}` },
      requestNonce: principal.signature!.nonce,
      status: 201,
      headers: { 'Content-Type': 'application/json' },
      body: BODY,
      now: NOW,
    });
    expect(Object.keys(added).sort()).toEqual(['content-digest', 'signature', 'signature-input', 'workload-identity-token']);
    const res = new Headers({ 'content-type': 'application/json', ...added });
    const verified = await responses().verify(request, { status: 201, headers: res, body: utf8.encode(BODY) });
    expect(verified).toMatchObject({ workload: server.sub, trustDomain: TRUST_DOMAIN, created: now });
  });

  it('a response without content needs no Content-Digest', async () => {
    const request = await sent();
    const added = await signHttpResponse({
      credentials: serverSigner,
      request: { method: 'GET', path: '/orders?id=7' },
      requestNonce: nonceOf(request),
      status: 204,
      now: NOW,
    });
    expect(added['content-digest']).toBeUndefined();
    await expect(responses().verify(request, { status: 204, headers: added })).resolves.toMatchObject({ workload: server.sub });
  });

  it('an unsigned response to a request that did not ask for one is accepted as unsigned', async () => {
    await expect(responses().verify(await sent({ signResponse: false }), { status: 200, headers: {} })).resolves.toBeUndefined();
  });

  it('a signed response to a request that did not ask for one is still verified', async () => {
    const request = await sent({ signResponse: false });
    await expect(responses().verify(request, await answer(request))).resolves.toMatchObject({ workload: server.sub });
    const tampered = { ...(await answer(request)), status: 500 };
    expect(await rejection(responses().verify(request, tampered))).toEqual({ code: 'sig_invalid', status: 400 });
  });
});

describe('client-side rejections', () => {
  const cases: [string, WimseErrorCode, () => Promise<unknown>][] = [
    [
      'unsigned although wimse-sign-response was sent',
      'sig_response',
      async () => responses().verify(await sent(), { status: 200, headers: { 'content-type': 'text/plain' }, body: utf8.encode('hi') }),
    ],
    [
      'lifted onto another request (other nonce)',
      'sig_response',
      async () => {
        const first = await sent();
        return responses().verify(await sent(), await answer(first));
      },
    ],
    [
      'lifted onto another request with the same nonce but another path',
      'sig_invalid',
      async () => {
        const request = await sent();
        return responses().verify(request, await answer(request, { path: '/admin' }));
      },
    ],
    [
      'lifted onto another request with the same nonce but another method',
      'sig_invalid',
      async () => {
        const request = await sent();
        return responses().verify(request, await answer(request, { method: 'DELETE' }));
      },
    ],
    [
      'wrong wimse-req-nonce',
      'sig_response',
      async () => {
        const request = await sent();
        return responses().verify(request, await answer(request, { nonce: 'not-the-request-nonce' }));
      },
    ],
    [
      "signed with the requester's own WIT and key (reflection)",
      'sig_response',
      async () => {
        const request = await sent();
        return responses().verify(request, await answer(request, { signer: clientSigner }));
      },
    ],
    [
      "signed with the requester's key under another WIT for the same key",
      'sig_response',
      async () => {
        const { issueWit } = await import('../wit.js');
        const twin = await issueWit({
          sub: `spiffe://${TRUST_DOMAIN}/twin`,
          cnfJwk: { ...client.publicJwk, alg: 'ES256' },
          issuerKey: issuer.privateKey,
          alg: 'ES256',
          kid: 'k1',
          now: NOW,
        });
        const request = await sent();
        return responses().verify(request, await answer(request, { signer: { ...clientSigner, wit: twin } }));
      },
    ],
    [
      'status changed',
      'sig_invalid',
      async () => {
        const request = await sent();
        return responses().verify(request, { ...(await answer(request)), status: 500 });
      },
    ],
    [
      'body tampered',
      'digest_mismatch',
      async () => {
        const request = await sent();
        return responses().verify(request, { ...(await answer(request)), body: utf8.encode('{"ok":false}') });
      },
    ],
    [
      'body and digest replaced',
      'sig_invalid',
      async () => {
        const request = await sent();
        const res = await answer(request);
        return responses().verify(request, {
          ...res,
          body: utf8.encode('{}'),
          headers: { ...res.headers, 'content-digest': await contentDigest('{}') },
        });
      },
    ],
    [
      'a body without Content-Digest',
      'digest_missing',
      async () => {
        const request = await sent();
        const added = await signHttpResponse({
          credentials: serverSigner,
          request: { method: 'GET', path: '/orders?id=7' },
          requestNonce: nonceOf(request),
          status: 200,
          now: NOW,
        });
        return responses().verify(request, { status: 200, headers: added, body: utf8.encode(BODY) });
      },
    ],
    [
      'server WIT missing',
      'wit_missing',
      async () => {
        const request = await sent();
        const { 'workload-identity-token': _, ...headers } = (await answer(request)).headers;
        return responses().verify(request, { status: 200, headers, body: utf8.encode(BODY) });
      },
    ],
    [
      'server WIT from an untrusted trust domain',
      'wit_untrusted_domain',
      async () => {
        const stranger = await createWorkload(issuer, { sub: 'spiffe://elsewhere.example/orders' });
        const request = await sent();
        return responses().verify(
          request,
          await answer(request, { signer: await createWorkloadSigner({ wit: stranger.wit, privateKey: stranger.privateKey }) }),
        );
      },
    ],
    [
      'signed by a key other than the server WIT cnf',
      'sig_invalid',
      async () => {
        const request = await sent();
        return responses().verify(
          request,
          await answer(request, { signer: { ...serverSigner, key: (await createWorkload(issuer, { alg: 'EdDSA' })).privateKey } }),
        );
      },
    ],
    [
      'response signature expired',
      'sig_expired',
      async () => {
        const request = await sent();
        const res = await answer(request);
        const late = createResponseVerifier({
          trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
          now: () => NOW + 120_000,
        });
        return late.verify(request, res);
      },
    ],
  ];
  it.each(cases)('%s → %s', async (_, code, make) => {
    expect(await rejection(make())).toEqual({ code, status: 400 });
  });

  // Hand-built response Signature-Input members, validly signed by the server key.
  const rawResponse = async (member: string) => {
    const request = await sent();
    const headers = {
      'workload-identity-token': server.wit,
      'content-type': 'application/json',
      'content-digest': await contentDigest(BODY),
    };
    const fields = await signRaw(member.replace('$NONCE', nonceOf(request)), { status: 200, headers }, server.privateKey, 'EdDSA', {
      request: { method: 'GET', path: '/orders?id=7', headers: {} },
    });
    return responses().verify(request, { status: 200, headers: { ...headers, ...fields }, body: utf8.encode(BODY) });
  };
  const FULL = '("@status" "workload-identity-token" "content-type" "content-digest" "@method";req "@path";req "@query";req)';
  const P = `;created=${now};expires=${now + 60};nonce="r1";tag="wimse-workload-to-workload"`;
  const rawCases: [string, WimseErrorCode, string][] = [
    ['wimse-req-nonce missing', 'sig_params', `${FULL}${P}`],
    ['wimse-aud on a response', 'sig_params', `${FULL}${P};wimse-req-nonce="$NONCE";wimse-aud="x"`],
    ['keyid on a response', 'sig_params', `${FULL}${P};wimse-req-nonce="$NONCE";keyid="k"`],
    [
      '@status not covered',
      'sig_components',
      `("workload-identity-token" "content-type" "content-digest" "@method";req "@path";req "@query";req)${P};wimse-req-nonce="$NONCE"`,
    ],
    [
      '@path;req not covered',
      'sig_components',
      `("@status" "workload-identity-token" "content-type" "content-digest" "@method";req "@query";req)${P};wimse-req-nonce="$NONCE"`,
    ],
    [
      '@method (not ;req) instead of @method;req',
      'sig_components',
      `("@status" "workload-identity-token" "content-type" "content-digest" "@method" "@path";req "@query";req)${P};wimse-req-nonce="$NONCE"`,
    ],
    [
      'content-digest not covered',
      'sig_components',
      `("@status" "workload-identity-token" "content-type" "@method";req "@path";req "@query";req)${P};wimse-req-nonce="$NONCE"`,
    ],
  ];
  it.each(rawCases)('%s → %s', async (_, code, member) => {
    expect(await rejection(rawResponse(member))).toEqual({ code, status: 400 });
  });

  it('the hand-built response helper itself yields a valid response when nothing is wrong', async () => {
    await expect(rawResponse(`${FULL}${P};wimse-req-nonce="$NONCE"`)).resolves.toMatchObject({ workload: server.sub });
  });

  it('a sent request without a WIMSE signature cannot bind a response', async () => {
    expect(await rejection(responses().verify({ method: 'GET', url: URL_, headers: {} }, { status: 200, headers: {} }))).toEqual({
      code: 'sig_response',
      status: 400,
    });
  });

  it('response field names are matched case-insensitively', async () => {
    const request = await sent();
    const res = await answer(request);
    const upper = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k.toUpperCase(), v]));
    await expect(responses().verify(request, { ...res, headers: upper })).resolves.toMatchObject({ workload: server.sub });
  });
});

describe('createResponseVerifier options are validated eagerly', () => {
  const trustDomains = () => ({ [TRUST_DOMAIN]: { keys: 'https://id.example.org/jwks.json' } });
  it.each([
    ['no trust domains', { trustDomains: {} }],
    ['a negative clockTolerance', { trustDomains: trustDomains(), clockTolerance: -1 }],
    ['a non-numeric maxSignatureLifetime', { trustDomains: trustDomains(), maxSignatureLifetime: Number.NaN }],
    ['HS256 as a proof algorithm', { trustDomains: trustDomains(), proofAlgorithms: ['HS256'] }],
    ['a non-boolean compat.httpSignature06', { trustDomains: trustDomains(), compat: { httpSignature06: 'yes' } }],
  ])('%s', (_, options) => {
    expect(() => createResponseVerifier(options as never)).toThrow(TypeError);
  });
});
