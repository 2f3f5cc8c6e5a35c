/**
 * Degenerate keys through the verifier (issue #9 item 2): each forged proof below passes raw
 * crypto (node:crypto, or jose for the issuer key) and must be refused with a stable code.
 */
import { createPublicKey, generateKeyPairSync, sign, verify, webcrypto } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, compactVerify, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WimseError } from './errors.js';
import { tokenHash } from './hash.js';
import type { WimseRequest } from './request.js';
import { createWorkloadSigner } from './signer.js';
import { AUDIENCE, NOW, TRUST_DOMAIN, createIssuer, verifierFor, type Issuer } from '@wimse/test-support/factory';
import { IDENTITY_JWK, IDENTITY_SIGNATURE, jwsWithSignature, rs256WithExponentOne, rsaExponentOneJwk } from '@wimse/test-support/forged';
import { signJws } from '@wimse/test-support/tokens';
import { createVerifier } from './verifier.js';
import { issueWit } from './wit.js';

const now = NOW / 1000;
const SUB = `spiffe://${TRUST_DOMAIN}/client`;
let issuer: Issuer;

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
});

/** A WIT honestly signed by the trusted issuer, binding `cnf` (as a lax identity server would have). */
const witFor = (cnf: JWK) =>
  signJws({ alg: 'ES256', typ: 'wit+jwt', kid: 'k1' }, { sub: SUB, exp: now + 600, jti: 'w1', cnf: { jwk: cnf } }, issuer.privateKey);
const wptClaims = async (wit: string) => ({
  aud: `${AUDIENCE}/orders`,
  exp: now + 60,
  jti: `j-${Math.random()}`,
  wth: await tokenHash(wit),
});
const wptView = (wit: string, wpt: string): WimseRequest => ({
  method: 'GET',
  path: '/orders',
  headers: { 'workload-identity-token': wit, authorization: `WPT ${wpt}` },
});
const nodeKey = (jwk: JWK) => createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });

async function refused(promise: Promise<unknown>, code: string, status: number): Promise<void> {
  const e = await promise.then(
    () => expect.fail(`expected ${code}`),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(WimseError);
  expect({ code: (e as WimseError).code, status: (e as WimseError).status }).toEqual({ code, status });
}

describe('WIT cnf.jwk: a degenerate confirmation key is refused (wit_cnf_invalid)', () => {
  it('Ed25519 identity point, WPT "signed" with R = identity, S = 0', async () => {
    const wit = await witFor(IDENTITY_JWK);
    const wpt = jwsWithSignature({ alg: 'EdDSA', typ: 'wpt+jwt' }, await wptClaims(wit), () => IDENTITY_SIGNATURE);
    const [h, p, s] = wpt.split('.');
    expect(verify(null, Buffer.from(`${h}.${p}`), nodeKey(IDENTITY_JWK), base64url.decode(s!))).toBe(true);
    await refused(verifierFor(issuer).verify(wptView(wit, wpt)), 'wit_cnf_invalid', 400);
  });

  it('Ed25519 identity point, HTTP signature R = identity, S = 0', async () => {
    const wit = await witFor(IDENTITY_JWK);
    const signer = await createWorkloadSigner({ wit, privateKey: generateKeyPairSync('ed25519').privateKey });
    const headers = await signer.httpSigHeaders({ method: 'GET', url: `${AUDIENCE}/orders`, now: NOW });
    headers.signature = headers.signature!.replace(/:[^:]+:/, `:${Buffer.from(IDENTITY_SIGNATURE).toString('base64')}:`);
    await refused(
      verifierFor(issuer, { proofs: ['http-sig'] }).verify({ method: 'GET', path: '/orders', headers }),
      'wit_cnf_invalid',
      400,
    );
  });

  it('RSA e = 1, WPT "signed" with the EMSA-PKCS1-v1_5 encoding (RS256)', async () => {
    const cnf = rsaExponentOneJwk();
    const wit = await witFor(cnf);
    const wpt = jwsWithSignature({ alg: 'RS256', typ: 'wpt+jwt' }, await wptClaims(wit), (input) => rs256WithExponentOne(input));
    const [h, p, s] = wpt.split('.');
    expect(verify('sha256', Buffer.from(`${h}.${p}`), nodeKey(cnf), base64url.decode(s!))).toBe(true);
    await refused(verifierFor(issuer).verify(wptView(wit, wpt)), 'wit_cnf_invalid', 400);
  });

  it('RSA 512 bits, WPT signed by its (factorable) private key', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 512 });
    const wit = await witFor({ ...(publicKey.export({ format: 'jwk' }) as JWK), alg: 'RS256' });
    const wpt = jwsWithSignature({ alg: 'RS256', typ: 'wpt+jwt' }, await wptClaims(wit), (input) =>
      sign('sha256', Buffer.from(input), privateKey),
    );
    await refused(verifierFor(issuer).verify(wptView(wit, wpt)), 'wit_cnf_invalid', 400);
  });

  it('EC point off the curve (full-size coordinates)', async () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JWK;
    const y = base64url.decode(jwk.y!);
    y[31]! ^= 1;
    const wit = await witFor({ ...jwk, y: base64url.encode(y), alg: 'ES256' });
    const wpt = jwsWithSignature({ alg: 'ES256', typ: 'wpt+jwt' }, await wptClaims(wit), () => new Uint8Array(64));
    await refused(verifierFor(issuer).verify(wptView(wit, wpt)), 'wit_cnf_invalid', 400);
  });
});

describe('issueWit: no WIT for a degenerate confirmation key (TypeError)', () => {
  const issue = (cnfJwk: JWK & { alg: string }) => issueWit({ sub: SUB, cnfJwk, issuerKey: issuer.privateKey, alg: 'ES256', now: NOW });

  it('Ed25519 identity point', async () => {
    await expect(issue(IDENTITY_JWK)).rejects.toThrow(/small order/);
  });

  it('RSA e = 1', async () => {
    await expect(issue(rsaExponentOneJwk())).rejects.toThrow(/exponent/);
  });

  it('RSA 512 bits', async () => {
    await expect(
      issue({ ...(generateKeyPairSync('rsa', { modulusLength: 512 }).publicKey.export({ format: 'jwk' }) as JWK), alg: 'RS256' }),
    ).rejects.toThrow(/512 bits/);
  });

  it('EC point off the curve', async () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JWK;
    const y = base64url.decode(jwk.y!);
    y[31]! ^= 1;
    await expect(issue({ ...jwk, y: base64url.encode(y), alg: 'ES256' })).rejects.toThrow(TypeError);
  });
});

describe('issuer keys: a degenerate key is never used', () => {
  const e1 = rsaExponentOneJwk();
  /** A WIT "signed" under an e = 1 issuer key: the signature is the EMSA-PKCS1-v1_5 encoding. */
  const forgedWit = async (kid: string) =>
    jwsWithSignature(
      { alg: 'RS256', typ: 'wit+jwt', kid },
      {
        sub: SUB,
        exp: now + 600,
        cnf: { jwk: { ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }), alg: 'ES256' } },
      },
      (i) => rs256WithExponentOne(i),
    );

  let server: Server;
  let jwksUrl: string;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [{ ...e1, kid: 'weak' }, issuer.publicJwk] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('a static JWKS with an e = 1 key is a configuration error', () => {
    expect(() =>
      createVerifier({
        trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk, { ...e1, kid: 'weak' }] } } },
        audience: AUDIENCE,
      }),
    ).toThrow(/kid "weak".*exponent/);
  });

  it('a remote JWKS: the e = 1 key is refused (trust_unavailable), which jose alone would accept', async () => {
    const wit = await forgedWit('weak');
    await expect(compactVerify(wit, await importJWK(e1, 'RS256'))).resolves.toBeDefined();
    const verifier = createVerifier({ trustDomains: { [TRUST_DOMAIN]: { keys: jwksUrl } }, audience: AUDIENCE, now: () => NOW });
    await refused(verifier.verifyWit(wit), 'trust_unavailable', 503);
    // The other key of the same JWKS still works.
    const good = await signJws(
      { alg: 'ES256', typ: 'wit+jwt', kid: 'k1' },
      { sub: SUB, exp: now + 600, cnf: { jwk: IDENTITY_JWK } },
      issuer.privateKey,
    );
    await refused(verifier.verifyWit(good), 'wit_cnf_invalid', 400);
  });

  it('a key resolver returning a small-order Ed25519 key: refused (trust_unavailable)', async () => {
    const identity = await webcrypto.subtle.importKey('jwk', IDENTITY_JWK, { name: 'Ed25519' }, false, ['verify']);
    const wit = jwsWithSignature(
      { alg: 'EdDSA', typ: 'wit+jwt' },
      { sub: SUB, exp: now + 600, cnf: { jwk: { ...(issuer.publicJwk as JWK), alg: 'ES256', kid: undefined } } },
      () => IDENTITY_SIGNATURE,
    );
    await expect(compactVerify(wit, identity as unknown as CryptoKey)).resolves.toBeDefined();
    const verifier = createVerifier({
      trustDomains: { [TRUST_DOMAIN]: { keys: async () => identity as unknown as CryptoKey } },
      audience: AUDIENCE,
      now: () => NOW,
    });
    await refused(verifier.verifyWit(wit), 'trust_unavailable', 503);
  });
});
