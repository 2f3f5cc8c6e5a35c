/**
 * Algorithm policy. workload-creds-02 §5.1: WIT and proof algorithms are asymmetric JWS
 * algorithms, never `none`, never HMAC; ES256 is mandatory to implement. The algorithm is always
 * taken from configuration or from the verified `cnf.jwk.alg`, never trusted from a token alone.
 */
import { decodeJwt, decodeProtectedHeader, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { WimseError, type WimseErrorCode } from './errors.js';

/** Every asymmetric JWS algorithm this library can verify. */
export const SUPPORTED_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
] as const;

export type WimseAlgorithm = (typeof SUPPORTED_ALGORITHMS)[number];

/** Default allow-list for WIT signatures and for proofs. */
export const DEFAULT_ALGORITHMS: readonly WimseAlgorithm[] = SUPPORTED_ALGORITHMS;

export function isSupportedAlgorithm(alg: unknown): alg is WimseAlgorithm {
  return typeof alg === 'string' && (SUPPORTED_ALGORITHMS as readonly string[]).includes(alg);
}

// JWK members that only private or symmetric keys have (RFC 7518 §6).
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;

/** True when a JWK carries private or symmetric key material. */
export function hasPrivateMembers(jwk: object): boolean {
  return PRIVATE_MEMBERS.some((m) => m in jwk);
}

/** workload-creds-02 §5.1.4 step 9: the key type must fit `alg`. Returns a reason when it does not. */
export function keyMismatch(jwk: JWK, alg: WimseAlgorithm): string | undefined {
  const want = KEY_TYPES[alg];
  if (jwk.kty !== want.kty) return `kty must be ${want.kty} for ${alg}`;
  if (want.crv !== undefined && jwk.crv !== want.crv) return `crv must be ${want.crv} for ${alg}`;
  return undefined;
}

const KEY_TYPES: Record<WimseAlgorithm, { kty: string; crv?: string }> = {
  ES256: { kty: 'EC', crv: 'P-256' },
  ES384: { kty: 'EC', crv: 'P-384' },
  ES512: { kty: 'EC', crv: 'P-521' },
  EdDSA: { kty: 'OKP', crv: 'Ed25519' },
  Ed25519: { kty: 'OKP', crv: 'Ed25519' },
  RS256: { kty: 'RSA' },
  RS384: { kty: 'RSA' },
  RS512: { kty: 'RSA' },
  PS256: { kty: 'RSA' },
  PS384: { kty: 'RSA' },
  PS512: { kty: 'RSA' },
};

/**
 * RFC 7515 §4.1.9: a `typ` without `/` means `application/<typ>`; media types compare
 * case-insensitively. `expected` is the short form, e.g. `wit+jwt`.
 */
export function typMatches(typ: unknown, expected: string): boolean {
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  return t === expected || t === `application/${expected}`;
}

/** RFC 7515 §7.1 compact serialization: three base64url parts, no padding or whitespace. */
export const COMPACT_JWS_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * The unverified header and claims of a compact JWT (RFC 7519 §7.2 steps 1–6), or `malformed`
 * naming `what`: the shape every token this library verifies is checked against first.
 */
export function decodeCompactJwt(
  token: string,
  malformed: WimseErrorCode,
  what: string,
): { header: JWTHeaderParameters; claims: JWTPayload } {
  if (!COMPACT_JWS_RE.test(token)) throw new WimseError(malformed, `${what} is not a compact JWS`);
  try {
    return { header: decodeProtectedHeader(token) as JWTHeaderParameters, claims: decodeJwt(token) };
  } catch (cause) {
    throw new WimseError(malformed, `${what} header or claims are not JSON objects`, { cause });
  }
}
