import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createVerifier, createWorkloadSigner, isWimseError, type WimsePrincipal } from '@wimse/core';
import { base64url, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ED25519_IDENTITY, rsaExponentOneJwk } from '@wimse/test-support/forged';
import { createIdentityServer, type IdentityServer } from '../src/server.js';

const ADMIN = 'test-admin-token';
let identity: IdentityServer;
let base: string;

beforeAll(async () => {
  identity = await createIdentityServer({
    trustDomain: 'example.org',
    issuer: 'http://identity.test',
    workloads: ['client', 'admin'],
    witLifetime: 600,
    adminToken: ADMIN,
    devMode: true,
  });
  await new Promise<void>((resolve) => identity.server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(identity.server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => identity.server.close(() => resolve())));

async function keyPair(alg = 'ES256') {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
  return { publicJwk: { ...(await exportJWK(publicKey)), alg }, privateJwk: { ...(await exportJWK(privateKey)), alg } };
}

function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function problem(res: Response) {
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as { code: string; status: number; detail: string };
  expect(body.status).toBe(res.status);
  return body;
}

async function register(workload = 'client') {
  const keys = await keyPair();
  const res = await post('/wit', { workload, jwk: keys.publicJwk });
  expect(res.status).toBe(201);
  const body = (await res.json()) as { wit: string; workload: string; kid: string; expiresAt: string };
  return { ...body, ...keys };
}

// Verifies a WIT the way a demo service does: fresh verifier, remote JWKS, a WPT made with the WIT's key.
async function verifyWith(wit: string, privateJwk: JWK): Promise<WimsePrincipal> {
  const verifier = createVerifier({
    trustDomains: { 'example.org': { keys: `${base}/.well-known/jwks.json`, issuer: 'http://identity.test' } },
    audience: 'http://svc.test',
  });
  const signer = await createWorkloadSigner({ wit, privateKey: privateJwk });
  return verifier.verify({ method: 'GET', path: '/whoami', headers: await signer.wptHeaders({ url: 'http://svc.test/whoami' }) });
}

describe('JWKS', () => {
  it('publishes public issuer keys with kid, alg and use', async () => {
    const res = await fetch(`${base}/.well-known/jwks.json`);
    expect(res.status).toBe(200);
    const { keys } = (await res.json()) as { keys: JWK[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig', kid: expect.any(String) });
    expect(keys[0]).not.toHaveProperty('d');
  });
});

describe('POST /wit', () => {
  it('issues a WIT for an allow-listed workload, bound to its key and verifiable with the JWKS', async () => {
    const r = await register('client');
    expect(r.workload).toBe('spiffe://example.org/client');
    expect(decodeProtectedHeader(r.wit)).toMatchObject({ typ: 'wit+jwt', alg: 'ES256', kid: r.kid });
    const claims = decodeJwt(r.wit);
    expect(claims).toMatchObject({ sub: 'spiffe://example.org/client', iss: 'http://identity.test' });
    expect(claims.cnf).toEqual({ jwk: { kty: 'EC', crv: 'P-256', x: r.publicJwk.x, y: r.publicJwk.y, alg: 'ES256' } });
    expect(new Date(r.expiresAt).getTime()).toBe(claims.exp! * 1000);
    const principal = await verifyWith(r.wit, r.privateJwk);
    expect(principal.workload).toBe('spiffe://example.org/client');
  });

  it('accepts Ed25519 workload keys', async () => {
    const keys = await keyPair('EdDSA');
    const res = await post('/wit', { workload: 'admin', jwk: keys.publicJwk });
    expect(res.status).toBe(201);
    const { wit } = (await res.json()) as { wit: string };
    expect((await verifyWith(wit, keys.privateJwk)).workload).toBe('spiffe://example.org/admin');
  });

  const cases: Array<[string, () => Promise<Response>, number, string]> = [
    [
      'an unknown workload name',
      async () => post('/wit', { workload: 'mallory', jwk: (await keyPair()).publicJwk }),
      403,
      'workload_unknown',
    ],
    [
      'a workload name that is a full identifier',
      async () => post('/wit', { workload: 'spiffe://example.org/client', jwk: (await keyPair()).publicJwk }),
      400,
      'workload_invalid',
    ],
    ['no workload', async () => post('/wit', { jwk: (await keyPair()).publicJwk }), 400, 'workload_invalid'],
    ['no jwk', async () => post('/wit', { workload: 'client' }), 400, 'jwk_invalid'],
    ['a jwk that is a string', async () => post('/wit', { workload: 'client', jwk: 'key' }), 400, 'jwk_invalid'],
    [
      'a malformed EC key (no y)',
      async () => post('/wit', { workload: 'client', jwk: { ...(await keyPair()).publicJwk, y: undefined } }),
      400,
      'jwk_invalid',
    ],
    [
      'a point not on the curve',
      async () => post('/wit', { workload: 'client', jwk: { ...(await keyPair()).publicJwk, x: 'AAAA' } }),
      400,
      'jwk_invalid',
    ],
    [
      'a private key instead of the public key',
      async () => post('/wit', { workload: 'client', jwk: (await keyPair()).privateJwk }),
      400,
      'jwk_private',
    ],
    [
      'a symmetric key',
      async () => post('/wit', { workload: 'client', jwk: { kty: 'oct', k: 'c2VjcmV0', alg: 'ES256' } }),
      400,
      'jwk_private',
    ],
    [
      'a key without alg',
      async () => post('/wit', { workload: 'client', jwk: { ...(await keyPair()).publicJwk, alg: undefined } }),
      400,
      'jwk_alg',
    ],
    ['alg none', async () => post('/wit', { workload: 'client', jwk: { ...(await keyPair()).publicJwk, alg: 'none' } }), 400, 'jwk_alg'],
    ['HS256', async () => post('/wit', { workload: 'client', jwk: { ...(await keyPair()).publicJwk, alg: 'HS256' } }), 400, 'jwk_alg'],
    [
      'alg that does not fit the key type',
      async () => post('/wit', { workload: 'client', jwk: { ...(await keyPair()).publicJwk, alg: 'EdDSA' } }),
      400,
      'jwk_invalid',
    ],
    // Degenerate keys (issue #9): with them anyone holding the WIT could make its proofs.
    [
      'the Ed25519 identity point',
      async () =>
        post('/wit', { workload: 'client', jwk: { kty: 'OKP', crv: 'Ed25519', x: base64url.encode(ED25519_IDENTITY), alg: 'EdDSA' } }),
      400,
      'jwk_invalid',
    ],
    [
      'an Ed25519 point of order 8',
      async () =>
        post('/wit', {
          workload: 'client',
          jwk: {
            kty: 'OKP',
            crv: 'Ed25519',
            x: base64url.encode(Buffer.from('26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', 'hex')),
            alg: 'EdDSA',
          },
        }),
      400,
      'jwk_invalid',
    ],
    ['an RSA key with e = 1', async () => post('/wit', { workload: 'client', jwk: rsaExponentOneJwk() }), 400, 'jwk_invalid'],
    [
      'a 512-bit RSA key',
      async () =>
        post('/wit', {
          workload: 'client',
          jwk: { ...generateKeyPairSync('rsa', { modulusLength: 512 }).publicKey.export({ format: 'jwk' }), alg: 'RS256' },
        }),
      400,
      'jwk_invalid',
    ],
    ['a JSON array', async () => post('/wit', '[]'), 400, 'json_invalid'],
    ['invalid JSON', async () => post('/wit', '{"workload":'), 400, 'json_invalid'],
    [
      'a non-JSON content type',
      async () => fetch(`${base}/wit`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }),
      415,
      'unsupported_media_type',
    ],
    ['an oversized body', async () => post('/wit', { workload: 'client', pad: 'x'.repeat(20_000) }), 413, 'body_too_large'],
    ['GET instead of POST', async () => fetch(`${base}/wit`), 405, 'method_not_allowed'],
    ['an unknown path', async () => fetch(`${base}/nope`), 404, 'not_found'],
  ];
  it.each(cases)('rejects %s with a problem', async (_name, send, status, code) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect((await problem(res)).code).toBe(code);
  });

  it('rejects an oversized body sent without Content-Length (chunked)', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 64) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${base}/wit`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect((await problem(res)).code).toBe('body_too_large');
  });

  it('never puts caller-supplied members into cnf.jwk', async () => {
    const keys = await keyPair();
    const res = await post('/wit', { workload: 'client', jwk: { ...keys.publicJwk, kid: 'mine', x5u: 'https://evil.test/x' } });
    const { wit } = (await res.json()) as { wit: string };
    expect(Object.keys((decodeJwt(wit).cnf as { jwk: object }).jwk).sort()).toEqual(['alg', 'crv', 'kty', 'x', 'y']);
  });
});

describe('key rotation', () => {
  const admin = (method: string, path: string, token = ADMIN) =>
    fetch(base + path, { method, headers: { authorization: `Bearer ${token}` } });
  const jwksKids = async () => ((await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: JWK[] }).keys.map((k) => k.kid);

  it('requires the admin token', async () => {
    const res = await admin('POST', '/admin/keys', 'wrong');
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect((await problem(res)).code).toBe('admin_unauthorized');
    expect((await problem(await fetch(`${base}/admin/keys`, { method: 'POST' }))).code).toBe('admin_unauthorized');
  });

  it('publishes old and new key during a rotation, and rejects WITs of a retired key', async () => {
    const before = await register();
    const [oldKid] = await jwksKids();
    expect(before.kid).toBe(oldKid);

    const rotated = await admin('POST', '/admin/keys');
    expect(rotated.status).toBe(201);
    const { current } = (await rotated.json()) as { current: string };
    expect(current).not.toBe(oldKid);
    expect(await jwksKids()).toEqual([current, oldKid]);

    // During the rotation both generations verify.
    const after = await register();
    expect(after.kid).toBe(current);
    expect((await verifyWith(after.wit, after.privateJwk)).workload).toBe('spiffe://example.org/client');
    expect((await verifyWith(before.wit, before.privateJwk)).workload).toBe('spiffe://example.org/client');

    // The current key cannot be retired; an unknown kid is a 404.
    expect((await problem(await admin('DELETE', `/admin/keys/${current}`))).code).toBe('key_current');
    expect((await problem(await admin('DELETE', '/admin/keys/nope'))).code).toBe('key_unknown');
    expect((await problem(await admin('DELETE', '/admin/keys/%E0%A4%A'))).code).toBe('key_unknown');
    expect((await problem(await admin('GET', '/admin/keys'))).code).toBe('method_not_allowed');

    const retired = await admin('DELETE', `/admin/keys/${oldKid}`);
    expect(retired.status).toBe(200);
    expect(await jwksKids()).toEqual([current]);
    const rejected = await verifyWith(before.wit, before.privateJwk).catch((e: unknown) => e);
    expect(isWimseError(rejected, 'wit_key_unknown')).toBe(true);
    expect((await verifyWith(after.wit, after.privateJwk)).workload).toBe('spiffe://example.org/client');
  });
});

describe('staged rotation', () => {
  const admin = (method: string, path: string) => fetch(base + path, { method, headers: { authorization: `Bearer ${ADMIN}` } });

  it('publishes a key ahead of signing with it, then activates it', async () => {
    const before = await register();
    const staged = await admin('POST', '/admin/keys?activate=false');
    expect(staged.status).toBe(201);
    const { created, current, published } = (await staged.json()) as { created: string; current: string; published: string[] };
    expect(current).toBe(before.kid);
    expect(published).toEqual([before.kid, created]);
    // Published, not yet used: new WITs still come from the current key.
    expect((await register()).kid).toBe(before.kid);

    const activated = await admin('POST', `/admin/keys/${created}/activate`);
    expect(activated.status).toBe(200);
    expect(((await activated.json()) as { published: string[] }).published).toEqual([created, before.kid]);
    const after = await register();
    expect(after.kid).toBe(created);
    expect((await verifyWith(after.wit, after.privateJwk)).workload).toBe('spiffe://example.org/client');
    expect((await verifyWith(before.wit, before.privateJwk)).workload).toBe('spiffe://example.org/client');
    expect((await problem(await admin('POST', '/admin/keys/nope/activate'))).code).toBe('key_unknown');
  });
});

describe('admin disabled', () => {
  it('answers 404 admin_disabled when no admin token is configured', async () => {
    const s = await createIdentityServer({ trustDomain: 'example.org', issuer: 'x', workloads: [], witLifetime: 60 });
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(s.server.address() as AddressInfo).port}/admin/keys`, {
        method: 'POST',
        headers: { authorization: 'Bearer ' },
      });
      expect(res.status).toBe(404);
      expect((await problem(res)).code).toBe('admin_disabled');
    } finally {
      await new Promise<void>((resolve) => s.server.close(() => resolve()));
    }
  });
});

describe('development mode', () => {
  it('answers POST /wit with 404 dev_registration_disabled unless devMode is set', async () => {
    const s = await createIdentityServer({ trustDomain: 'example.org', issuer: 'x', workloads: ['client'], witLifetime: 60 });
    await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(s.server.address() as AddressInfo).port}/wit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ workload: 'client', jwk: (await keyPair()).publicJwk }),
      });
      expect(res.status).toBe(404);
      expect((await problem(res)).code).toBe('dev_registration_disabled');
    } finally {
      await new Promise<void>((resolve) => s.server.close(() => resolve()));
    }
  });
});
