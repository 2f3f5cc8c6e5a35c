import { describe, expect, it } from 'vitest';
import { SUPPORTED_ALGORITHMS, type WimseAlgorithm } from './algorithms.js';
import { createVerifier } from './verifier.js';
import { tokenHash } from './hash.js';
import { createIssuer, createWorkload, keyPair, NOW, verifierFor, wptRequest } from '@wimse/test-support/factory';
import { decodePart, withPayload } from '@wimse/test-support/tokens';
import { parseRawRequest, vector } from './test-support/vectors.js';
import { issueWit } from './wit.js';

const keys = vector('keys-wit-wpt-examples');
const creds02 = vector('wit-creds-02');

describe('workload-creds-02 §5.1 example WIT', () => {
  it('has the wth the digest computed', async () => {
    expect(await tokenHash(creds02.compact)).toBe(creds02.hashes.wth_of_this_wit);
  });

  it('verifies with the example issuer key at the pinned clock (through the wpt-01 example request that carries it)', async () => {
    const v = vector('wpt-01-request-legacy');
    expect(v.wit).toBe(creds02.compact);
    const req = parseRawRequest(v.http_request);
    const verifier = createVerifier({
      trustDomains: { 'example.com': { keys: keys.identity_server_public_jwk } },
      audience: 'https://workload.example.com',
      compat: { wpt01: true },
      maxWptLifetime: 3600,
      now: () => creds02.clock.suggested_verify_at * 1000,
    });
    const p = await verifier.verify({ method: req.method, path: req.path, headers: req.headers });
    expect(p.workload).toBe(creds02.expected.sub);
    expect(p.trustDomain).toBe(creds02.expected.trust_domain);
    expect(p.wit?.claims.cnf.jwk.alg).toBe(creds02.expected.cnf_jwk_alg);
    expect(p.wit?.header).toEqual(creds02.decoded_header);
  });

  it('verifies on its own with verifyWit', async () => {
    const verifier = createVerifier({
      trustDomains: { 'example.com': { keys: keys.identity_server_public_jwk } },
      audience: 'https://workload.example.com',
      now: () => creds02.clock.suggested_verify_at * 1000,
    });
    const wit = await verifier.verifyWit(creds02.compact);
    expect(wit.claims).toEqual(creds02.decoded_claims);
    expect(wit.hash).toBe(creds02.hashes.wth_of_this_wit);
  });

  it('is rejected after exp (valid_after_exp: false)', async () => {
    const v = vector('wpt-02-request');
    const req = parseRawRequest(v.http_request);
    const verifier = createVerifier({
      trustDomains: { 'example.com': { keys: keys.identity_server_public_jwk } },
      audience: 'https://workload.example.com',
      clockTolerance: 0,
      now: () => (creds02.clock.exp + 1) * 1000,
    });
    await expect(verifier.verify({ method: req.method, path: req.path, headers: req.headers })).rejects.toMatchObject({
      code: 'wit_expired',
      status: 400,
    });
  });

  it('can be re-minted with the example issuer private key (same issuer, new claims)', async () => {
    const issuerKey = { ...keys.identity_server_public_jwk, d: keys.identity_server_private_d.value };
    const wit = await issueWit({
      sub: 'wimse://example.com/another',
      cnfJwk: { ...keys.identity_server_public_jwk, kid: undefined, alg: 'ES256' },
      issuerKey,
      alg: 'ES256',
      kid: 'June 5',
      now: NOW,
    });
    expect(wit.split('.')).toHaveLength(3);
  });
});

describe('round trips: issue → sign → verify for every supported algorithm', () => {
  const algs = SUPPORTED_ALGORITHMS as readonly WimseAlgorithm[];
  it.each(algs)('WIT signed with %s', async (alg) => {
    const issuer = await createIssuer(alg);
    const workload = await createWorkload(issuer);
    const p = await verifierFor(issuer).verify(await wptRequest(workload));
    expect(p.wit?.header.alg).toBe(alg);
  });
  it.each(algs)('WPT signed with %s (cnf.jwk.alg)', async (alg) => {
    const issuer = await createIssuer('ES256');
    const workload = await createWorkload(issuer, { alg });
    const p = await verifierFor(issuer).verify(await wptRequest(workload));
    expect(p.method).toBe('wpt');
    expect(p.wit?.claims.cnf.jwk.alg).toBe(alg);
  });
});

describe('issueWit refuses what a verifier would reject', () => {
  it.each([
    ['an invalid sub', { sub: 'spiffe://example.org/a?b' }],
    ['cnf.jwk without a supported alg', { cnfJwk: { kty: 'EC', alg: 'HS256' } }],
    ['a private cnf.jwk', { cnfJwk: { kty: 'OKP', crv: 'Ed25519', x: 'x', d: 'd', alg: 'EdDSA' } }],
    ['a cnf.jwk of the wrong type', { cnfJwk: { kty: 'OKP', crv: 'Ed25519', x: 'x', alg: 'ES256' } }],
  ])('%s', async (_, override) => {
    const issuer = await createIssuer();
    const { publicJwk } = await keyPair('ES256');
    await expect(
      issueWit({
        sub: 'spiffe://example.org/a',
        cnfJwk: { ...publicJwk, alg: 'ES256' },
        issuerKey: issuer.privateKey,
        alg: 'ES256',
        ...override,
      } as Parameters<typeof issueWit>[0]),
    ).rejects.toThrow(TypeError);
  });
});

// The WIT cache is keyed by the signature part (wit.ts): only the very same token may hit.
describe('a cached WIT answers for that token only', () => {
  it('a token with the cached signature part but another payload is verified, and refused', async () => {
    const issuer = await createIssuer('ES256', 'k1');
    const workload = await createWorkload(issuer);
    const verifier = verifierFor(issuer);
    expect((await verifier.verifyWit(workload.wit)).id.value).toBe(workload.sub);
    const claims = decodePart(workload.wit, 1);
    const forged = withPayload(workload.wit, { ...claims, sub: 'spiffe://example.org/other' });
    await expect(verifier.verifyWit(forged)).rejects.toMatchObject({ code: 'wit_signature' });
    // The genuine token still hits afterwards.
    expect((await verifier.verifyWit(workload.wit)).id.value).toBe(workload.sub);
  });
});
