/**
 * Certificate public keys (public-key.ts rules) through the mTLS verifier: a client certificate,
 * or a CA on its path, with a degenerate key is refused with `mtls_key_invalid`.
 */
import { webcrypto } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundle, createCa, issueCert, type TestCert } from '@wimse/test-support/certs';
import { AUDIENCE, NOW, createIssuer, type Issuer } from '@wimse/test-support/factory';
import { IDENTITY_JWK, rsaExponentOneJwk } from '@wimse/test-support/forged';
import { createVerifier } from '../verifier.js';

const CLIENT = 'spiffe://example.org/client';
const RSA = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]) };
let root: TestCert;
let issuer: Issuer;

beforeAll(async () => {
  root = await createCa('example.org root', { at: NOW });
  issuer = await createIssuer();
});

function verify(chain: readonly Uint8Array[], anchors: TestCert = root) {
  return createVerifier({
    trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } },
    audience: AUDIENCE,
    proofs: ['mtls'],
    mtls: { trustBundles: { 'example.org': bundle(anchors) } },
    now: () => NOW,
  }).verify({ method: 'GET', path: '/orders', headers: {}, peerCertificates: chain });
}

const leafWith = async (publicKey: webcrypto.CryptoKey, ca: TestCert = root) =>
  issueCert(ca, { at: NOW, uris: [CLIENT], publicKey: publicKey as unknown as CryptoKey });

describe('mTLS: the client certificate key (mtls_key_invalid)', () => {
  it('Ed25519 identity point', async () => {
    const key = await webcrypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: IDENTITY_JWK.x! }, { name: 'Ed25519' }, true, [
      'verify',
    ]);
    await expect(verify((await leafWith(key)).chain)).rejects.toMatchObject({
      code: 'mtls_key_invalid',
      status: 400,
      message: expect.stringMatching(/client certificate.*small order/),
    });
  });

  it('RSA e = 1', async () => {
    const { alg: _alg, ...jwk } = rsaExponentOneJwk();
    const key = await webcrypto.subtle.importKey('jwk', jwk, RSA, true, ['verify']);
    await expect(verify((await leafWith(key)).chain)).rejects.toMatchObject({
      code: 'mtls_key_invalid',
      message: expect.stringMatching(/exponent/),
    });
  });

  it('RSA 1024 bits', async () => {
    const { publicKey } = await webcrypto.subtle.generateKey({ ...RSA, modulusLength: 1024 }, true, ['sign', 'verify']);
    await expect(verify((await leafWith(publicKey)).chain)).rejects.toMatchObject({
      code: 'mtls_key_invalid',
      message: expect.stringMatching(/1024 bits/),
    });
  });

  it('a sound key on the same path is accepted', async () => {
    const { publicKey } = await webcrypto.subtle.generateKey({ ...RSA, modulusLength: 2048 }, true, ['sign', 'verify']);
    await expect(verify((await leafWith(publicKey)).chain)).resolves.toMatchObject({ workload: CLIENT, method: 'mtls' });
  });
});

describe('mTLS: the keys of the CAs on the path (mtls_key_invalid)', () => {
  it('an intermediate with a 1024-bit RSA key', async () => {
    const inter = await createCa('weak intermediate', { at: NOW, parent: root, keyAlgorithm: { ...RSA, modulusLength: 1024 } });
    const leaf = await issueCert(inter, { at: NOW, uris: [CLIENT] });
    await expect(verify(leaf.chain)).rejects.toMatchObject({
      code: 'mtls_key_invalid',
      message: expect.stringMatching(/issuing CA.*1024 bits/),
    });
  });

  it('a trust anchor with a 1024-bit RSA key', async () => {
    const weakRoot = await createCa('weak root', { at: NOW, keyAlgorithm: { ...RSA, modulusLength: 1024 } });
    const leaf = await issueCert(weakRoot, { at: NOW, uris: [CLIENT] });
    await expect(verify(leaf.chain, weakRoot)).rejects.toMatchObject({
      code: 'mtls_key_invalid',
      message: expect.stringMatching(/issuing CA.*1024 bits/),
    });
  });
});
