/**
 * POST /token: RFC 8693 exchange of a platform token (Kubernetes-shaped) plus a DPoP proof
 * (RFC 9449) of the workload key for a WIT. Platform tokens and proofs are made here with jose
 * directly (or by the stand-in issuer), not by the code under test.
 */
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryReplayStore, WimseError, createVerifier, createWorkloadSigner, type ReplayStore } from '@wimse/core';
import { SignJWT, base64url, decodeJwt, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_JWK, IDENTITY_SIGNATURE, jwsWithSignature, rsaExponentOneJwk } from '@wimse/test-support/forged';
import { createIdentityServer, type IdentityServer, type IdentityServerConfig } from '../src/server.js';
import { startStandInPlatformIssuer, type StandInPlatformIssuer } from '../src/stand-in-platform-issuer.js';
import { createTokenEndpoint, type AttestationConfig } from '../src/token-endpoint.js';

// jose's types forbid a symmetric `jwk` header (no fresh literal), which is what one case sends.
const SYMMETRIC_JWK: Record<string, string> = { kty: 'oct', k: 'c2VjcmV0' };

const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const WIT_TYPE = 'https://wimse-js.dev/token-type/wit';
const ISSUER = 'http://identity.test';
const TOKEN_URL = `${ISSUER}/token`;
const STATIC_ISS = 'https://static-platform.test';

let k8s: StandInPlatformIssuer;
let staticKey: { privateKey: CryptoKey; jwk: JWK };
let staticRsa: { privateKey: CryptoKey; jwk: JWK };
let hanging: Server;
let hangingUrl: string;
let broken: Server;
let brokenUrl: string;
const servers: Array<{ close: () => Promise<void> }> = [];

async function signingKey(alg: string, kid: string) {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

function attestation(): AttestationConfig {
  return {
    platformIssuers: [
      { issuer: k8s.issuer, discovery: true },
      { issuer: STATIC_ISS, jwks: { keys: [staticKey.jwk, staticRsa.jwk] }, algorithms: ['ES256'], maxLifetime: 3600 },
      { issuer: 'https://hanging.test', jwksUri: `${hangingUrl}/jwks` },
      { issuer: brokenUrl, discovery: true },
    ],
    rules: [
      {
        issuer: k8s.issuer,
        match: { sub: 'system:serviceaccount:(?<ns>[a-z0-9-]{1,63}):(?<sa>[a-z0-9-]{1,63})' },
        workload: 'spiffe://example.org/ns/{ns}/sa/{sa}',
      },
      {
        issuer: STATIC_ISS,
        match: { sub: 'system:serviceaccount:(?<ns>[a-z0-9-]{1,63}):(?<sa>[a-z0-9-]{1,63})' },
        workload: 'spiffe://example.org/ns/{ns}/sa/{sa}',
      },
      { issuer: 'https://hanging.test', match: { sub: '.*' }, workload: 'spiffe://example.org/any' },
      { issuer: brokenUrl, match: { sub: '.*' }, workload: 'spiffe://example.org/any' },
    ],
    fetchTimeout: 300,
  };
}

async function startIdentity(extra: Partial<IdentityServerConfig> = {}) {
  const s = await createIdentityServer({
    trustDomain: 'example.org',
    issuer: ISSUER,
    workloads: [],
    witLifetime: 600,
    attestation: attestation(),
    ...extra,
  });
  await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      s.server.close(() => resolve());
      s.server.closeAllConnections();
    });
  servers.push({ close });
  return { ...s, base, close };
}

let identity: IdentityServer & { base: string };

beforeAll(async () => {
  k8s = await startStandInPlatformIssuer();
  servers.push(k8s);
  staticKey = await signingKey('ES256', 'static-1');
  staticRsa = await signingKey('RS256', 'static-rsa');
  // A JWKS endpoint that accepts the connection and never answers.
  hanging = createServer(() => {});
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  hangingUrl = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
  // A platform whose discovery endpoint fails.
  broken = createServer((_req, res) => res.writeHead(500).end());
  await new Promise<void>((resolve) => broken.listen(0, '127.0.0.1', resolve));
  brokenUrl = `http://127.0.0.1:${(broken.address() as AddressInfo).port}`;
  identity = await startIdentity();
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  hanging.closeAllConnections();
  await Promise.all([hanging, broken].map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A workload key pair; `publicJwk` without `alg`, as a DPoP header carries it. */
async function workloadKey(alg = 'ES256') {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, privateKey, publicJwk: await exportJWK(publicKey), privateJwk: { ...(await exportJWK(privateKey)), alg } };
}
type WorkloadKey = Awaited<ReturnType<typeof workloadKey>>;

/** A DPoP proof (RFC 9449 §4.2) for POST /token, with overrides to break it. */
async function dpop(
  key: WorkloadKey,
  o: { htu?: string; htm?: string; iat?: number; jti?: string; typ?: string; jwk?: object; claims?: object } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ jti: o.jti ?? crypto.randomUUID(), htm: o.htm ?? 'POST', htu: o.htu ?? TOKEN_URL, iat: o.iat ?? now, ...o.claims })
    .setProtectedHeader({ alg: key.alg, typ: o.typ ?? 'dpop+jwt', jwk: (o.jwk ?? key.publicJwk) as JWK })
    .sign(key.privateKey);
}

/** A platform token from the static issuer, with overrides. */
async function staticToken(
  o: {
    claims?: Record<string, unknown>;
    key?: { privateKey: CryptoKey; jwk: JWK };
    alg?: string;
    lifetime?: number;
    omit?: string[];
    header?: object;
  } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    iss: STATIC_ISS,
    sub: 'system:serviceaccount:prod:api',
    aud: [ISSUER],
    iat: now,
    exp: now + (o.lifetime ?? 300),
    ...o.claims,
  };
  for (const c of o.omit ?? []) delete claims[c];
  const key = o.key ?? staticKey;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: o.alg ?? (key.jwk.alg as string), kid: key.jwk.kid as string, ...o.header })
    .sign(key.privateKey);
}

function form(params: Record<string, string>) {
  return new URLSearchParams(params).toString();
}

async function exchange(o: {
  subjectToken: string;
  proof?: string | undefined;
  params?: Record<string, string>;
  base?: string;
  body?: string;
  contentType?: string;
}) {
  const headers: Record<string, string> = { 'content-type': o.contentType ?? 'application/x-www-form-urlencoded' };
  if (o.proof !== undefined) headers.dpop = o.proof;
  const body =
    o.body ??
    form({ grant_type: GRANT, subject_token: o.subjectToken, subject_token_type: JWT_TYPE, requested_token_type: WIT_TYPE, ...o.params });
  return fetch(`${o.base ?? identity.base}/token`, { method: 'POST', headers, body });
}

async function oauthError(res: Response) {
  expect(res.headers.get('content-type')).toBe('application/json');
  expect(res.headers.get('cache-control')).toBe('no-store');
  return (await res.json()) as { error: string; error_description?: string };
}

/** Verifies a WIT with the core verifier against `base`'s JWKS, with a WPT made by the workload key. */
async function verifyWit(base: string, wit: string, key: WorkloadKey) {
  const verifier = createVerifier({
    trustDomains: { 'example.org': { keys: `${base}/.well-known/jwks.json`, issuer: ISSUER } },
    audience: 'http://svc.test',
  });
  const signer = await createWorkloadSigner({ wit, privateKey: key.privateJwk });
  return verifier.verify({ method: 'GET', path: '/', headers: await signer.wptHeaders({ url: 'http://svc.test/' }) });
}

describe('token exchange: issuance', () => {
  it('exchanges a service account token and a DPoP proof for a WIT bound to the proof key, with the mapped identifier', async () => {
    const key = await workloadKey();
    const subjectToken = await k8s.token({ namespace: 'payments', serviceAccount: 'ledger', audience: ISSUER });
    const res = await exchange({ subjectToken, proof: await dpop(key) });
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as {
      access_token: string;
      issued_token_type: string;
      token_type: string;
      expires_in: number;
      refresh_token?: string;
    };
    expect(body).toMatchObject({ issued_token_type: WIT_TYPE, token_type: 'N_A', expires_in: 600 });
    expect(body.refresh_token).toBeUndefined();
    const claims = decodeJwt(body.access_token);
    expect(claims.sub).toBe('spiffe://example.org/ns/payments/sa/ledger');
    expect(claims.iss).toBe(ISSUER);
    expect(claims.cnf).toEqual({ jwk: { kty: 'EC', crv: 'P-256', x: key.publicJwk.x, y: key.publicJwk.y, alg: 'ES256' } });
    expect((await verifyWit(identity.base, body.access_token, key)).workload).toBe('spiffe://example.org/ns/payments/sa/ledger');
  });

  it('accepts an Ed25519 workload key and a statically configured platform issuer', async () => {
    const key = await workloadKey('EdDSA');
    const res = await exchange({ subjectToken: await staticToken(), proof: await dpop(key) });
    expect(res.status).toBe(200);
    const { access_token } = (await res.json()) as { access_token: string };
    expect((decodeJwt(access_token).cnf as { jwk: JWK }).jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: key.publicJwk.x, alg: 'EdDSA' });
    expect((await verifyWit(identity.base, access_token, key)).workload).toBe('spiffe://example.org/ns/prod/sa/api');
  });

  it('never issues a WIT that outlives the platform token', async () => {
    const key = await workloadKey();
    const subjectToken = await k8s.token({ namespace: 'prod', serviceAccount: 'api', audience: ISSUER, lifetime: 120 });
    const res = await exchange({ subjectToken, proof: await dpop(key) });
    const { access_token, expires_in } = (await res.json()) as { access_token: string; expires_in: number };
    expect(expires_in).toBeLessThanOrEqual(120);
    expect(decodeJwt(access_token).exp).toBeLessThanOrEqual(decodeJwt(subjectToken).exp!);
  });

  it('keeps WITs valid across a restart of a persistent identity server', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wimse-exchange-'));
    try {
      const dataDir = join(dir, 'data');
      const first = await startIdentity({ dataDir });
      const key = await workloadKey();
      const res = await exchange({ base: first.base, subjectToken: await staticToken(), proof: await dpop(key) });
      const { access_token } = (await res.json()) as { access_token: string };
      await first.close();
      const second = await startIdentity({ dataDir });
      expect((await verifyWit(second.base, access_token, key)).workload).toBe('spiffe://example.org/ns/prod/sa/api');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

type Case = [name: string, send: () => Promise<Response>, status: number, error: string];
const ok = async () => ({ key: await workloadKey(), token: await staticToken() });

describe('token exchange: the request (RFC 8693 §2.1)', () => {
  const cases: Case[] = [
    [
      'a wrong grant_type',
      async () => {
        const { key, token } = await ok();
        return exchange({ subjectToken: token, proof: await dpop(key), params: { grant_type: 'client_credentials' } });
      },
      400,
      'unsupported_grant_type',
    ],
    [
      'a requested_token_type other than a WIT',
      async () => {
        const { key, token } = await ok();
        return exchange({
          subjectToken: token,
          proof: await dpop(key),
          params: { requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' },
        });
      },
      400,
      'invalid_request',
    ],
    [
      'a subject_token_type other than jwt',
      async () => {
        const { key, token } = await ok();
        return exchange({
          subjectToken: token,
          proof: await dpop(key),
          params: { subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' },
        });
      },
      400,
      'invalid_request',
    ],
    [
      'no subject_token',
      async () => {
        const { key } = await ok();
        return exchange({ subjectToken: '', proof: await dpop(key) });
      },
      400,
      'invalid_request',
    ],
    [
      'an actor_token',
      async () => {
        const { key, token } = await ok();
        return exchange({ subjectToken: token, proof: await dpop(key), params: { actor_token: token, actor_token_type: JWT_TYPE } });
      },
      400,
      'invalid_request',
    ],
    [
      'an audience other than this identity server',
      async () => {
        const { key, token } = await ok();
        return exchange({ subjectToken: token, proof: await dpop(key), params: { audience: 'https://elsewhere.test' } });
      },
      400,
      'invalid_target',
    ],
    [
      'a JSON body',
      async () => {
        const { key, token } = await ok();
        return exchange({
          subjectToken: token,
          proof: await dpop(key),
          contentType: 'application/json',
          body: JSON.stringify({ grant_type: GRANT }),
        });
      },
      400,
      'invalid_request',
    ],
    [
      'an oversized body',
      async () => {
        const { key } = await ok();
        return exchange({ subjectToken: 'x'.repeat(20_000), proof: await dpop(key) });
      },
      413,
      'invalid_request',
    ],
  ];
  it.each(cases)('refuses %s', async (_name, send, status, error) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect((await oauthError(res)).error).toBe(error);
  });
});

describe('token exchange: the platform token (subject_token)', () => {
  const withToken = (token: () => Promise<string>) => async () =>
    exchange({ subjectToken: await token(), proof: await dpop(await workloadKey()) });
  const cases: Case[] = [
    ['a wrong audience', withToken(() => staticToken({ claims: { aud: ['https://other.test'] } })), 400, 'invalid_request'],
    [
      'this audience next to another one',
      withToken(() => staticToken({ claims: { aud: [ISSUER, 'https://other.test'] } })),
      400,
      'invalid_request',
    ],
    ['an unknown issuer', withToken(() => staticToken({ claims: { iss: 'https://rogue.test' } })), 400, 'invalid_request'],
    [
      'an issuer differing only in a trailing slash',
      withToken(() => staticToken({ claims: { iss: `${STATIC_ISS}/` } })),
      400,
      'invalid_request',
    ],
    [
      'an expired token',
      withToken(() => staticToken({ claims: { iat: Math.floor(Date.now() / 1000) - 900, exp: Math.floor(Date.now() / 1000) - 600 } })),
      400,
      'invalid_request',
    ],
    [
      'a token issued in the future',
      withToken(() => staticToken({ claims: { iat: Math.floor(Date.now() / 1000) + 600, exp: Math.floor(Date.now() / 1000) + 900 } })),
      400,
      'invalid_request',
    ],
    ['a token without iat', withToken(() => staticToken({ omit: ['iat'] })), 400, 'invalid_request'],
    ['a token without exp', withToken(() => staticToken({ omit: ['exp'] })), 400, 'invalid_request'],
    ['a lifetime longer than the issuer may grant', withToken(() => staticToken({ lifetime: 7200 })), 400, 'invalid_request'],
    [
      'a bad signature (another key, same kid)',
      withToken(async () => staticToken({ key: { ...(await signingKey('ES256', 'static-1')), jwk: staticKey.jwk } })),
      400,
      'invalid_request',
    ],
    [
      'an algorithm the issuer is not allowed (RS256 key in its JWKS)',
      withToken(() => staticToken({ key: staticRsa })),
      400,
      'invalid_request',
    ],
    [
      'alg none',
      withToken(
        async () =>
          `${base64url.encode(JSON.stringify({ alg: 'none', kid: 'static-1' }))}.${base64url.encode(JSON.stringify(decodeJwt(await staticToken())))}.`,
      ),
      400,
      'invalid_request',
    ],
    ['a token explicitly typed as something else', withToken(() => staticToken({ header: { typ: 'at+jwt' } })), 400, 'invalid_request'],
    [
      'a subject no mapping rule matches',
      withToken(() => staticToken({ claims: { sub: 'system:node:worker-1' } })),
      400,
      'invalid_request',
    ],
    [
      'a namespace that is not a DNS label',
      withToken(() => staticToken({ claims: { sub: 'system:serviceaccount:a..b:api' } })),
      400,
      'invalid_request',
    ],
    ['garbage', withToken(async () => 'not-a-jwt'), 400, 'invalid_request'],
  ];
  it.each(cases)('refuses %s with invalid_request (RFC 8693 §2.2.2)', async (_name, send, status, error) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect((await oauthError(res)).error).toBe(error);
  });

  it('refuses a token from the stand-in issuer meant for another audience', async () => {
    const res = await exchange({
      subjectToken: await k8s.token({ namespace: 'prod', serviceAccount: 'api', audience: 'https://kubernetes.default.svc' }),
      proof: await dpop(await workloadKey()),
    });
    expect(res.status).toBe(400);
    expect((await oauthError(res)).error_description).toMatch(/aud/);
  });
});

describe('token exchange: proof of possession (DPoP, RFC 9449 §4.3)', () => {
  const withProof =
    (proof: (key: WorkloadKey) => Promise<string | undefined>, alg = 'ES256') =>
    async () => {
      const key = await workloadKey(alg);
      return exchange({ subjectToken: await staticToken(), proof: await proof(key) });
    };
  const cases: Case[] = [
    ['no DPoP proof', withProof(async () => undefined), 400, 'invalid_dpop_proof'],
    ['a proof that is not a JWS', withProof(async () => 'abc'), 400, 'invalid_dpop_proof'],
    [
      'a proof signed by another key than its jwk',
      withProof(async (key) => dpop({ ...key, privateKey: (await workloadKey()).privateKey })),
      400,
      'invalid_dpop_proof',
    ],
    [
      'a proof whose jwk is declared for another algorithm (PoP key ≠ requested key)',
      withProof(async (key) => dpop(key, { jwk: { ...key.publicJwk, alg: 'ES384' } })),
      400,
      'invalid_dpop_proof',
    ],
    ['a proof for another endpoint (htu)', withProof((key) => dpop(key, { htu: 'http://identity.test/wit' })), 400, 'invalid_dpop_proof'],
    ['a proof for another server (htu)', withProof((key) => dpop(key, { htu: 'http://other.test/token' })), 400, 'invalid_dpop_proof'],
    ['a proof for another method (htm)', withProof((key) => dpop(key, { htm: 'GET' })), 400, 'invalid_dpop_proof'],
    [
      'a proof made too long ago (iat)',
      withProof((key) => dpop(key, { iat: Math.floor(Date.now() / 1000) - 300 })),
      400,
      'invalid_dpop_proof',
    ],
    [
      'a proof from the future (iat)',
      withProof((key) => dpop(key, { iat: Math.floor(Date.now() / 1000) + 300 })),
      400,
      'invalid_dpop_proof',
    ],
    ['a proof without jti', withProof((key) => dpop(key, { jti: '' })), 400, 'invalid_dpop_proof'],
    ['a proof typed jwt instead of dpop+jwt', withProof((key) => dpop(key, { typ: 'JWT' })), 400, 'invalid_dpop_proof'],
    ['a proof carrying the private key', withProof((key) => dpop(key, { jwk: key.privateJwk })), 400, 'invalid_dpop_proof'],
    [
      'a proof without jwk',
      withProof(async (key) =>
        new SignJWT({ jti: 'x', htm: 'POST', htu: TOKEN_URL })
          .setIssuedAt()
          .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt' })
          .sign(key.privateKey),
      ),
      400,
      'invalid_dpop_proof',
    ],
    [
      'an HMAC proof',
      withProof(async () =>
        new SignJWT({ jti: 'x', htm: 'POST', htu: TOKEN_URL })
          .setIssuedAt()
          .setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt', jwk: SYMMETRIC_JWK })
          .sign(new TextEncoder().encode('secret')),
      ),
      400,
      'invalid_dpop_proof',
    ],
    // Degenerate keys (public-key.ts rules): with them anyone could make "proofs" for the WIT.
    [
      'the Ed25519 identity point with the signature it accepts',
      withProof(async () =>
        jwsWithSignature(
          { alg: 'EdDSA', typ: 'dpop+jwt', jwk: { ...IDENTITY_JWK, alg: undefined } },
          { jti: 'x', htm: 'POST', htu: TOKEN_URL, iat: Math.floor(Date.now() / 1000) },
          () => IDENTITY_SIGNATURE,
        ),
      ),
      400,
      'invalid_dpop_proof',
    ],
    [
      'an RSA key with e = 1',
      withProof(async () =>
        jwsWithSignature(
          { alg: 'RS256', typ: 'dpop+jwt', jwk: { ...rsaExponentOneJwk(), alg: undefined } },
          { jti: 'x', htm: 'POST', htu: TOKEN_URL, iat: Math.floor(Date.now() / 1000) },
          () => new Uint8Array(256),
        ),
      ),
      400,
      'invalid_dpop_proof',
    ],
  ];
  it.each(cases)('refuses %s', async (_name, send, status, error) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect((await oauthError(res)).error).toBe(error);
  });

  it('refuses two DPoP fields', async () => {
    const key = await workloadKey();
    const [a, b] = [await dpop(key), await dpop(key)];
    const endpoint = createTokenEndpoint({
      attestation: attestation(),
      trustDomain: 'example.org',
      issuer: ISSUER,
      keys: identity.keys,
      witLifetime: 60,
      replayStore: new MemoryReplayStore(),
      log: () => {},
    });
    const body = new TextEncoder().encode(form({ grant_type: GRANT, subject_token: await staticToken(), subject_token_type: JWT_TYPE }));
    const res = await endpoint({
      method: 'POST',
      rawHeaders: ['Content-Type', 'application/x-www-form-urlencoded', 'DPoP', a, 'DPoP', b],
      body,
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_dpop_proof', error_description: 'More than one DPoP field' });
  });

  it('refuses a replayed proof, even with a fresh platform token', async () => {
    const key = await workloadKey();
    const proof = await dpop(key);
    expect((await exchange({ subjectToken: await staticToken(), proof })).status).toBe(200);
    const again = await exchange({ subjectToken: await staticToken(), proof });
    expect(again.status).toBe(400);
    expect((await oauthError(again)).error).toBe('invalid_dpop_proof');
  });
});

describe('token exchange: failing dependencies', () => {
  it('answers 503 temporarily_unavailable with Retry-After when a platform JWKS does not answer', async () => {
    const token = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer('https://hanging.test')
      .setAudience(ISSUER)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(staticKey.privateKey);
    const res = await exchange({ subjectToken: token, proof: await dpop(await workloadKey()) });
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await oauthError(res)).error).toBe('temporarily_unavailable');
  });

  it('answers 503 when OIDC discovery of a platform fails', async () => {
    const token = await new SignJWT({ sub: 'x' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k' })
      .setIssuer(brokenUrl)
      .setAudience(ISSUER)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(staticKey.privateKey);
    const res = await exchange({ subjectToken: token, proof: await dpop(await workloadKey()) });
    expect(res.status).toBe(503);
    expect((await oauthError(res)).error).toBe('temporarily_unavailable');
  });

  it('answers 503 and issues nothing when the replay store fails', async () => {
    const failing: ReplayStore = { checkAndStore: () => Promise.reject(new Error('connection refused')) };
    const s = await startIdentity({ replayStore: failing });
    const res = await exchange({ base: s.base, subjectToken: await staticToken(), proof: await dpop(await workloadKey()) });
    expect(res.status).toBe(503);
    expect((await oauthError(res)).error).toBe('temporarily_unavailable');
  });

  it('answers 429 when the replay store refuses a key over its quota', async () => {
    const quota: ReplayStore = {
      checkAndStore: () => {
        throw new WimseError('replay_quota_exceeded', 'over quota', { retryAfter: 7 });
      },
    };
    const s = await startIdentity({ replayStore: quota });
    const res = await exchange({ base: s.base, subjectToken: await staticToken(), proof: await dpop(await workloadKey()) });
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('7');
  });
});

describe('token exchange: flood and two instances', () => {
  it('records no proof of a refused request, so a flood of bad requests cannot fill the replay store', async () => {
    const store = new MemoryReplayStore();
    const s = await startIdentity({ replayStore: store });
    const key = await workloadKey();
    for (let i = 0; i < 20; i++) {
      const res = await exchange({
        base: s.base,
        subjectToken: await staticToken({ claims: { aud: ['https://other.test'] } }),
        proof: await dpop(key),
      });
      expect(res.status).toBe(400);
    }
    expect(store.size).toBe(0);
  });

  it('refuses at one instance a proof already used at another sharing the replay store', async () => {
    const store = new MemoryReplayStore();
    const a = await startIdentity({ replayStore: store });
    const b = await startIdentity({ replayStore: store });
    const key = await workloadKey();
    const proof = await dpop(key);
    expect((await exchange({ base: a.base, subjectToken: await staticToken(), proof })).status).toBe(200);
    const res = await exchange({ base: b.base, subjectToken: await staticToken(), proof });
    expect(res.status).toBe(400);
    expect((await oauthError(res)).error).toBe('invalid_dpop_proof');
  });
});

describe('token exchange: configuration', () => {
  const base = { trustDomain: 'example.org', issuer: ISSUER, workloads: [], witLifetime: 60 };
  it('refuses at start a mapping rule into another trust domain', async () => {
    await expect(
      createIdentityServer({
        ...base,
        attestation: {
          platformIssuers: [{ issuer: STATIC_ISS, jwks: { keys: [] } }],
          rules: [{ issuer: STATIC_ISS, match: { sub: '(?<sa>.+)' }, workload: 'spiffe://other.org/{sa}' }],
        },
      }),
    ).rejects.toThrow(/trust domain/);
  });
  it('refuses at start a placeholder that no pattern defines', async () => {
    await expect(
      createIdentityServer({
        ...base,
        attestation: {
          platformIssuers: [{ issuer: STATIC_ISS, jwks: { keys: [] } }],
          rules: [{ issuer: STATIC_ISS, match: { sub: '.+' }, workload: 'spiffe://example.org/{sa}' }],
        },
      }),
    ).rejects.toThrow(/named group/);
  });
  it('refuses at start an issuer with no key source, or two', async () => {
    await expect(createIdentityServer({ ...base, attestation: { platformIssuers: [{ issuer: STATIC_ISS }], rules: [] } })).rejects.toThrow(
      /exactly one/,
    );
    await expect(
      createIdentityServer({
        ...base,
        attestation: { platformIssuers: [{ issuer: STATIC_ISS, jwks: { keys: [] }, discovery: true }], rules: [] },
      }),
    ).rejects.toThrow(/exactly one/);
  });
});
