/**
 * Key material rules (public-key.ts). Expected values come from the RFCs and from libsodium's
 * small-order blocklist; OpenSSL (node:crypto) shows that each refused key really is forgeable.
 */
import { createPublicKey, generateKeyPairSync, randomBytes, verify, webcrypto } from 'node:crypto';
import { base64url, importJWK, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { keyObjectFlaw, publicKeyFlaw, verificationKeyFlaw } from './public-key.js';
import { ED25519_IDENTITY, IDENTITY_SIGNATURE, rs256WithExponentOne, rsaExponentOneJwk } from '@wimse/test-support/forged';

const b64 = (bytes: Uint8Array) => base64url.encode(bytes);
const hex = (h: string) => Uint8Array.from(Buffer.from(h, 'hex'));
const big = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(Math.ceil(n.toString(16).length / 2) * 2, '0'), 'hex'));
const ed25519 = (x: Uint8Array): JWK => ({ kty: 'OKP', crv: 'Ed25519', x: b64(x) });
const rsaJwk = (n: bigint, e = 65_537n): JWK => ({ kty: 'RSA', n: b64(big(n)), e: b64(big(e)) });
/** A random odd integer of exactly `bits` bits (the rules look at size, parity and e only). */
const oddOfBits = (bits: number) =>
  (1n << BigInt(bits - 1)) | (BigInt(`0x${randomBytes(Math.ceil(bits / 8)).toString('hex')}`) & ((1n << BigInt(bits - 1)) - 1n)) | 1n;

// libsodium ed25519_ref10.c `blocklist` (ge25519_has_small_order): every small-order point,
// canonical and not; libsodium compares with the sign bit cleared, so each also with it set.
const SODIUM_BLOCKLIST = [
  '0000000000000000000000000000000000000000000000000000000000000000', // 0 (order 4)
  '0100000000000000000000000000000000000000000000000000000000000000', // 1 (order 1)
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p-1 (order 2)
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p (= 0, order 4)
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p+1 (= 1, order 1)
];
const SMALL_ORDER_ENCODINGS = SODIUM_BLOCKLIST.flatMap((h) => {
  const signed = hex(h);
  signed[31]! |= 0x80;
  return [[h, hex(h)] as const, [`${h.slice(0, 62)}${signed[31]!.toString(16)}`, signed] as const];
});

describe('Ed25519: small-order points (RFC 8032 §5.1.7, libsodium blocklist)', () => {
  it.each(SMALL_ORDER_ENCODINGS)('refuses %s, for which OpenSSL accepts R = identity, S = 0', (_hex, x) => {
    const key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: b64(x) }, format: 'jwk' });
    // [S]B = R + [k]A holds when ord(A) divides k: at most 8 messages in expectation for any of these.
    let forged = false;
    for (let i = 0; i < 400 && !forged; i++) forged = verify(null, randomBytes(16), key, IDENTITY_SIGNATURE);
    expect(forged).toBe(true);
    expect(publicKeyFlaw(ed25519(x))).toMatch(/small order|not canonically encoded/);
  });

  it('the identity key verifies R = identity, S = 0 for every message in raw crypto', () => {
    const key = createPublicKey({ key: ed25519(ED25519_IDENTITY) as import('node:crypto').JsonWebKey, format: 'jwk' });
    for (const m of ['a', 'b', 'any message']) expect(verify(null, Buffer.from(m), key, IDENTITY_SIGNATURE)).toBe(true);
    expect(publicKeyFlaw(ed25519(ED25519_IDENTITY))).toMatch(/small order/);
  });

  it('accepts a generated key', () => {
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }) as JWK;
    expect(publicKeyFlaw(jwk)).toBeUndefined();
  });
});

describe('Ed25519/Ed448: encoding (RFC 8032 §5.1.3, §5.2.3)', () => {
  it('refuses a key that is not 32 octets', () => {
    expect(publicKeyFlaw(ed25519(new Uint8Array(31).fill(9)))).toMatch(/32 octets/);
  });

  it('refuses y >= p for a point that is not of small order (y = p + 2)', () => {
    const x = hex('efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f');
    expect(publicKeyFlaw(ed25519(x))).toMatch(/not canonically encoded/);
  });

  it('refuses x that is not base64url', () => {
    expect(
      publicKeyFlaw({
        kty: 'OKP',
        crv: 'Ed25519',
        x: `${b64(generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).subarray(12))}=`,
      }),
    ).toMatch(/32 octets/);
  });

  it('refuses X25519, a key-agreement curve', () => {
    expect(publicKeyFlaw(generateKeyPairSync('x25519').publicKey.export({ format: 'jwk' }) as JWK)).toMatch(/not a signature curve/);
  });
});

describe('Ed448: small-order points (RFC 8032 §5.2: cofactor 4)', () => {
  const p = 2n ** 448n - 2n ** 224n - 1n;
  const d = p - 39_081n;
  // RFC 8032 §5.2.2: 57 octets, y little-endian, the top bit of the last octet is the sign of x.
  const encode = (y: bigint, xOdd: boolean) => {
    const out = Uint8Array.from(Buffer.from(y.toString(16).padStart(114, '0'), 'hex').reverse());
    if (xOdd) out[56]! |= 0x80;
    return out;
  };
  const onCurve = (x: bigint, y: bigint) => (x * x + y * y - 1n - d * x * x * y * y) % p === 0n;
  const points: Array<[string, bigint, bigint]> = [
    ['the identity (0, 1)', 0n, 1n],
    ['(0, -1), order 2', 0n, p - 1n],
    ['(1, 0), order 4', 1n, 0n],
    ['(-1, 0), order 4', p - 1n, 0n],
  ];
  it.each(points)('refuses %s', (_name, x, y) => {
    expect(onCurve(x, y)).toBe(true);
    expect(publicKeyFlaw({ kty: 'OKP', crv: 'Ed448', x: b64(encode(y, x % 2n === 1n)) })).toMatch(/small order/);
  });

  it('refuses a non-canonical identity (y = p + 1)', () => {
    expect(publicKeyFlaw({ kty: 'OKP', crv: 'Ed448', x: b64(encode(p + 1n, false)) })).toMatch(/not canonically encoded/);
  });

  it('accepts a generated key', () => {
    expect(publicKeyFlaw(generateKeyPairSync('ed448').publicKey.export({ format: 'jwk' }) as JWK)).toBeUndefined();
  });
});

describe('RSA: public exponent (FIPS 186-5 §A.1.1, SP 800-56B §6.2.1: odd, 65537 <= e < 2^256)', () => {
  it('refuses e = 1, for which the EMSA-PKCS1-v1_5 encoding is a valid RS256 signature in raw crypto', () => {
    const jwk = rsaExponentOneJwk();
    const key = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    expect(verify('sha256', Buffer.from('any message'), key, rs256WithExponentOne('any message'))).toBe(true);
    expect(publicKeyFlaw(jwk)).toMatch(/exponent/);
  });

  it.each([
    ['3', 3n],
    ['65535', 65_535n],
    ['even (65538)', 65_538n],
    ['2^256 + 1', 2n ** 256n + 1n],
  ])('refuses e = %s', (_name, e) => {
    expect(publicKeyFlaw(rsaJwk(oddOfBits(2048), e))).toMatch(/exponent/);
  });

  it.each([
    ['65537', 65_537n],
    ['2^255 + 1', 2n ** 255n + 1n],
  ])('accepts e = %s', (_name, e) => {
    expect(publicKeyFlaw(rsaJwk(oddOfBits(2048), e))).toBeUndefined();
  });
});

describe('RSA: modulus (RFC 7518 §3.3: 2048 bits or larger)', () => {
  it('refuses a real 512-bit key', () => {
    expect(publicKeyFlaw(generateKeyPairSync('rsa', { modulusLength: 512 }).publicKey.export({ format: 'jwk' }) as JWK)).toMatch(
      /512 bits/,
    );
  });

  it('refuses 2047 bits', () => {
    expect(publicKeyFlaw(rsaJwk(oddOfBits(2047)))).toMatch(/2047 bits/);
  });

  it('does not count a leading zero octet', () => {
    const n = big(oddOfBits(2047));
    expect(publicKeyFlaw({ kty: 'RSA', n: b64(Uint8Array.from([0, ...n])), e: 'AQAB' })).toMatch(/2047 bits/);
  });

  it('refuses an even modulus', () => {
    expect(publicKeyFlaw(rsaJwk(oddOfBits(2048) - 1n))).toMatch(/odd/);
  });

  it('refuses more than 16384 bits (beyond what OpenSSL verifies with)', () => {
    expect(publicKeyFlaw(rsaJwk(oddOfBits(16_385)))).toMatch(/at most 16384/);
  });

  it('refuses n that is not base64url', () => {
    expect(publicKeyFlaw({ kty: 'RSA', n: `${b64(big(oddOfBits(2048)))}==`, e: 'AQAB' })).toMatch(/base64url/);
    expect(publicKeyFlaw({ kty: 'RSA', n: `+${b64(big(oddOfBits(2048))).slice(1)}`, e: 'AQAB' })).toMatch(/base64url/);
  });

  it('accepts generated 2048- and 3072-bit keys', () => {
    for (const modulusLength of [2048, 3072]) {
      expect(publicKeyFlaw(generateKeyPairSync('rsa', { modulusLength }).publicKey.export({ format: 'jwk' }) as JWK)).toBeUndefined();
    }
  });
});

describe('EC: points on the curve (SEC 1 §3.2.2.1), left to the import', () => {
  const offCurve = (crv: string) => {
    const jwk = generateKeyPairSync('ec', { namedCurve: crv }).publicKey.export({ format: 'jwk' });
    const y = base64url.decode(jwk.y!);
    y[y.length - 1]! ^= 1;
    return { ...jwk, y: b64(y) };
  };

  it.each(['P-256', 'P-384', 'P-521'])('Node, Web Crypto and jose all refuse an off-curve %s point', async (crv) => {
    const jwk = offCurve(crv);
    expect(() => createPublicKey({ key: jwk, format: 'jwk' })).toThrow();
    await expect(webcrypto.subtle.importKey('jwk', jwk, { name: 'ECDSA', namedCurve: crv }, true, ['verify'])).rejects.toThrow();
    await expect(importJWK(jwk as JWK, { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[crv]!)).rejects.toThrow();
  });

  it('refuses a coordinate of the wrong size', () => {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JWK;
    expect(publicKeyFlaw({ ...jwk, x: b64(base64url.decode(jwk.x!).subarray(1)) })).toMatch(/32-octet/);
  });

  it('refuses secp256k1 (not a JOSE curve of the supported algorithms)', () => {
    expect(publicKeyFlaw(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'jwk' }) as JWK)).toMatch(
      /not supported/,
    );
  });

  it('accepts generated keys on every supported curve', () => {
    for (const namedCurve of ['P-256', 'P-384', 'P-521']) {
      expect(publicKeyFlaw(generateKeyPairSync('ec', { namedCurve }).publicKey.export({ format: 'jwk' }) as JWK)).toBeUndefined();
    }
  });
});

describe('key objects: the same rules for Node KeyObjects and Web Crypto keys', () => {
  const identity = () => createPublicKey({ key: ed25519(ED25519_IDENTITY) as import('node:crypto').JsonWebKey, format: 'jwk' });

  it('refuses a small-order Ed25519 KeyObject', () => {
    expect(keyObjectFlaw(identity())).toMatch(/small order/);
  });

  it('refuses a 1024-bit RSA-PSS KeyObject (no JWK form in Node)', () => {
    expect(keyObjectFlaw(generateKeyPairSync('rsa-pss', { modulusLength: 1024 }).publicKey)).toMatch(/1024 bits/);
  });

  it('refuses DSA keys', () => {
    expect(keyObjectFlaw(generateKeyPairSync('dsa', { modulusLength: 2048, divisorLength: 256 }).publicKey)).toMatch(/not supported/);
  });

  it('refuses a private key', () => {
    expect(keyObjectFlaw(generateKeyPairSync('ed25519').privateKey)).toMatch(/not a public key/);
  });

  it('refuses small-order Ed25519 CryptoKeys, extractable or not', async () => {
    for (const extractable of [true, false]) {
      const key = await webcrypto.subtle.importKey('raw', ED25519_IDENTITY, { name: 'Ed25519' }, extractable, ['verify']);
      expect(await verificationKeyFlaw(key as unknown as CryptoKey)).toMatch(/small order/);
    }
  });

  it('refuses a shared secret', async () => {
    expect(await verificationKeyFlaw(new Uint8Array(32))).toMatch(/secret/);
  });

  it('accepts generated keys in every form', async () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(await verificationKeyFlaw(publicKey)).toBeUndefined();
    expect(await verificationKeyFlaw(publicKey.export({ format: 'jwk' }) as JWK)).toBeUndefined();
    const web = await webcrypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
    expect(await verificationKeyFlaw((web as webcrypto.CryptoKeyPair).publicKey as unknown as CryptoKey)).toBeUndefined();
  });
});
