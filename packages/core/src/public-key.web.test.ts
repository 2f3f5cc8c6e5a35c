/** The key rules without node:crypto (Web-standard runtimes): the same refusals on Web Crypto alone. */
import { base64url, generateKeyPair, type CryptoKey } from 'jose';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { IDENTITY_JWK, IDENTITY_SIGNATURE, jwsWithSignature, rs256WithExponentOne, rsaExponentOneJwk } from '@wimse/test-support/forged';

vi.mock('./node-crypto.js', () => ({ nodeCrypto: () => undefined, nodeSignatures: () => undefined }));

const { verificationKeyFlaw } = await import('./public-key.js');
const { tokenHash } = await import('./hash.js');
const { signJws } = await import('@wimse/test-support/tokens');
const { AUDIENCE, NOW, TRUST_DOMAIN, createIssuer, verifierFor } = await import('@wimse/test-support/factory');
type Issuer = Awaited<ReturnType<typeof createIssuer>>;

const now = NOW / 1000;
let issuer: Issuer;
beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
});

async function forgedRequest(cnf: Record<string, unknown>, alg: string, signature: (input: string) => Uint8Array) {
  const wit = await signJws(
    { alg: 'ES256', typ: 'wit+jwt', kid: 'k1' },
    { sub: `spiffe://${TRUST_DOMAIN}/client`, exp: now + 600, cnf: { jwk: cnf } },
    issuer.privateKey,
  );
  const wpt = jwsWithSignature(
    { alg, typ: 'wpt+jwt' },
    { aud: `${AUDIENCE}/orders`, exp: now + 60, jti: 'j1', wth: await tokenHash(wit) },
    signature,
  );
  return { method: 'GET', path: '/orders', headers: { 'workload-identity-token': wit, authorization: `WPT ${wpt}` } };
}

describe('WIT cnf.jwk on Web Crypto: degenerate keys refused (wit_cnf_invalid)', () => {
  it('Ed25519 identity point with R = identity, S = 0', async () => {
    const request = await forgedRequest(IDENTITY_JWK, 'EdDSA', () => IDENTITY_SIGNATURE);
    // Web Crypto itself accepts the forged signature.
    const key = await crypto.subtle.importKey('jwk', IDENTITY_JWK, { name: 'Ed25519' }, false, ['verify']);
    const [h, p, s] = String(request.headers.authorization).slice(4).split('.');
    expect(
      await crypto.subtle.verify(
        { name: 'Ed25519' },
        key,
        base64url.decode(s!) as Uint8Array<ArrayBuffer>,
        new TextEncoder().encode(`${h}.${p}`),
      ),
    ).toBe(true);
    await expect(verifierFor(issuer).verify(request)).rejects.toMatchObject({ code: 'wit_cnf_invalid', status: 400 });
  });

  it('RSA e = 1 with the EMSA-PKCS1-v1_5 encoding as signature', async () => {
    const request = await forgedRequest(rsaExponentOneJwk(), 'RS256', (input) => rs256WithExponentOne(input));
    await expect(verifierFor(issuer).verify(request)).rejects.toMatchObject({ code: 'wit_cnf_invalid', status: 400 });
  });
});

describe('resolved issuer keys on Web Crypto', () => {
  it('refuses a non-extractable Ed25519 key: it cannot be inspected', async () => {
    const { publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const key = await crypto.subtle.importKey('raw', await crypto.subtle.exportKey('raw', publicKey), { name: 'Ed25519' }, false, [
      'verify',
    ]);
    expect(await verificationKeyFlaw(key as CryptoKey)).toMatch(/not extractable/);
  });

  it('judges a non-extractable RSA key by its size and exponent', async () => {
    const params = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]) };
    const small = await crypto.subtle.generateKey({ ...params, modulusLength: 1024 }, false, ['sign', 'verify']);
    const large = await crypto.subtle.generateKey({ ...params, modulusLength: 2048 }, false, ['sign', 'verify']);
    expect(await verificationKeyFlaw(await reimport(small.publicKey))).toMatch(/1024 bits/);
    expect(await verificationKeyFlaw(await reimport(large.publicKey))).toBeUndefined();
  });
});

// Web Crypto makes generated public keys extractable; import a copy that is not.
async function reimport(key: CryptoKey): Promise<CryptoKey> {
  return crypto.subtle.importKey('jwk', await crypto.subtle.exportKey('jwk', key), key.algorithm as RsaHashedImportParams, false, [
    'verify',
  ]);
}
