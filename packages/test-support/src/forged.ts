/**
 * Degenerate public keys and the "signatures" anyone can make for them, without a private key
 * (see public-key.ts). Test-only: these forge real proofs, which raw crypto accepts.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { base64url, type JWK } from 'jose';

const json = (v: unknown) => base64url.encode(JSON.stringify(v));

/** RFC 8032 §5.1.2 encoding of the Ed25519 neutral element (0, 1): y = 1, little-endian, sign bit 0. */
export const ED25519_IDENTITY = Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? 1 : 0));

/** An Ed25519 `cnf.jwk` that is the identity point. */
export const IDENTITY_JWK: JWK & { alg: string } = { kty: 'OKP', crv: 'Ed25519', x: base64url.encode(ED25519_IDENTITY), alg: 'EdDSA' };

/**
 * R = identity, S = 0: RFC 8032 §5.1.7 checks [S]B = R + [k]A, and with A = identity both sides
 * are the identity for every message k.
 */
export const IDENTITY_SIGNATURE = Uint8Array.from([...ED25519_IDENTITY, ...new Uint8Array(32)]);

/** A 2048-bit RSA public key with e = 1 (n from a real key, so every size rule but e passes). */
export function rsaExponentOneJwk(): JWK & { alg: string } {
  const { n } = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  return { kty: 'RSA', n: n!, e: base64url.encode(Uint8Array.of(1)), alg: 'RS256' };
}

// RFC 8017 §9.2 note 1: the DER DigestInfo prefix for SHA-256.
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/**
 * An RS256 "signature" for a key with e = 1: s^1 mod n = s, so the signature is the
 * EMSA-PKCS1-v1_5 encoding itself (RFC 8017 §9.2: 0x00 0x01 PS 0x00 T), `k` octets long.
 */
export function rs256WithExponentOne(message: string, k = 256): Uint8Array {
  const t = Buffer.concat([SHA256_DIGEST_INFO, createHash('sha256').update(message).digest()]);
  return Uint8Array.from(Buffer.concat([Buffer.of(0, 1), Buffer.alloc(k - t.length - 3, 0xff), Buffer.of(0), t]));
}

/** A compact JWS with the given header, claims and signature bytes (no key involved). */
export function jwsWithSignature(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  sign: (signingInput: string) => Uint8Array,
): string {
  const input = `${json(header)}.${json(claims)}`;
  return `${input}.${base64url.encode(sign(input))}`;
}
