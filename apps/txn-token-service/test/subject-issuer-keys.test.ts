/**
 * External issuers' keys under core's rules (public-key.ts, remote-jwks.ts): a degenerate key is
 * never used, configured or fetched, and a failing or oversized JWKS is fetched a bounded number
 * of times and answered 503 — never a client error, never an accepted token.
 */
import { verify as nodeVerify, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GATEWAY, OAUTH_AUDIENCE, OAUTH_ISSUER, TD, startRig, type Rig } from './support.js';

// Literal identifiers from RFC 8693 §2.1/§3 and txn-tokens-10 §11, not the code's constants.
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TXN_TYPE = 'urn:ietf:params:oauth:token-type:txn_token';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';

// The Ed25519 identity point (y = 1, RFC 8032 §5.1.2 encoding): a small-order public key.
const IDENTITY = Buffer.alloc(32);
IDENTITY[0] = 1;
const SMALL_ORDER_JWK = { kty: 'OKP', crv: 'Ed25519', x: IDENTITY.toString('base64url'), kid: 'small', alg: 'EdDSA' };

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(cleanup.map((c) => c()));
  cleanup = [];
});

/** A JWKS endpoint on a free loopback port; counts its requests. */
async function jwksServer(answer: () => { status: number; body: string }): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits++;
    const { status, body } = answer();
    res.writeHead(status, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`, hits: () => hits };
}

async function rigWith(keys: string | { keys: object[] }, remote?: object): Promise<Rig> {
  const rig = await startRig({
    subjectIssuers: [{ issuer: OAUTH_ISSUER, audience: OAUTH_AUDIENCE, keys: keys as never, ...(remote === undefined ? {} : { remote }) }],
  });
  cleanup.push(() => rig.close());
  return rig;
}

async function exchange(rig: Rig, subject: string): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const f = await rig.fetchAs(GATEWAY);
  const res = await f(rig.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: GRANT,
      requested_token_type: TXN_TYPE,
      audience: TD,
      scope: 'orders.read',
      subject_token: subject,
      subject_token_type: ACCESS,
    }).toString(),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

// An access token "signed" for the identity key: R = identity, S = 0 satisfies the Ed25519
// verification equation for every message (RFC 8032 §5.1.7 with A of small order).
function forgedAccessToken(): { token: string; signingInput: string; signature: Buffer } {
  const now = Math.floor(Date.now() / 1000);
  const header = Buffer.from(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: 'small' })).toString('base64url');
  const payload = Buffer.from(
    JSON.stringify({ iss: OAUTH_ISSUER, aud: OAUTH_AUDIENCE, sub: 'mallory', scope: 'orders.read', iat: now, exp: now + 300 }),
  ).toString('base64url');
  const signature = Buffer.concat([IDENTITY, Buffer.alloc(32)]);
  return { token: `${header}.${payload}.${signature.toString('base64url')}`, signingInput: `${header}.${payload}`, signature };
}

describe('subject issuer keys: degenerate keys are never used (public-key.ts)', () => {
  it('the forged signature does verify under the small-order key with OpenSSL (so only the key rule stops it)', () => {
    const { signingInput, signature } = forgedAccessToken();
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: SMALL_ORDER_JWK.x }, format: 'jwk' });
    expect(nodeVerify(null, Buffer.from(signingInput), key, signature)).toBe(true);
  });

  it('a configured JWKS with the small-order Ed25519 key stops the service at start-up', async () => {
    await expect(rigWith({ keys: [SMALL_ORDER_JWK] })).rejects.toThrow(/small order/);
  });

  it('a configured RSA key with e = 1 stops the service at start-up', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const jwk = { ...publicKey.export({ format: 'jwk' }), e: 'AQ', kid: 'e1', alg: 'RS256' };
    await expect(rigWith({ keys: [jwk] })).rejects.toThrow(/exponent|RSA/);
  });

  it('a fetched JWKS with the small-order key: the forged token is refused with 503 trust_unavailable, no Txn-Token', async () => {
    const jwks = await jwksServer(() => ({ status: 200, body: JSON.stringify({ keys: [SMALL_ORDER_JWK] }) }));
    const rig = await rigWith(jwks.url);
    const a = await exchange(rig, forgedAccessToken().token);
    expect(a.status).toBe(503);
    expect(a.body.code).toBe('trust_unavailable');
    expect(a.body.access_token).toBeUndefined();
  });
});

describe("subject issuer keys: a remote JWKS is fetched under core's bounded policy (remote-jwks.ts)", () => {
  it('a failing JWKS endpoint under a flood of 20 requests is fetched once during its backoff; every answer is 503 with Retry-After', async () => {
    const jwks = await jwksServer(() => ({ status: 500, body: 'down' }));
    const rig = await rigWith(jwks.url, { backoffMinMs: 60_000, backoffMaxMs: 60_000 });
    const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read' });
    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await exchange(rig, subject));
    expect(new Set(answers.map((a) => `${a.status} ${String(a.body.code)}`))).toEqual(new Set(['503 trust_unavailable']));
    expect(answers.every((a) => a.headers.get('retry-after') !== null)).toBe(true);
    expect(jwks.hits()).toBe(1);
  });

  it('a JWKS larger than maxBytes is refused: 503, not used', async () => {
    // The right keys, padded past the limit: only the size is wrong.
    let body = '';
    const jwks = await jwksServer(() => ({ status: 200, body }));
    const rig = await rigWith(jwks.url, { maxBytes: 4096 });
    body = JSON.stringify({ keys: rig.oauthJwks.keys, padding: 'x'.repeat(8192) });
    const a = await exchange(rig, await rig.accessToken({ sub: 'user-42', scope: 'orders.read' }));
    expect([a.status, a.body.code]).toEqual([503, 'trust_unavailable']);
  });

  it('a well-formed fetched JWKS still works: 200 and a Txn-Token', async () => {
    let served = '';
    const jwks = await jwksServer(() => ({ status: 200, body: served }));
    const rig = await rigWith(jwks.url);
    served = JSON.stringify(rig.oauthJwks);
    const a = await exchange(rig, await rig.accessToken({ sub: 'user-42', scope: 'orders.read' }));
    expect(a.status).toBe(200);
    expect(typeof a.body.access_token).toBe('string');
  });
});
