/**
 * Verifies the JWS of a proof (a WPT) with the WIT's confirmation key. The per-request hot spot:
 * on Node it uses `node:crypto` with the cached `KeyObject` (synchronous, about twice the rate of
 * Web Crypto there, see `pnpm bench`); elsewhere jose over Web Crypto. Both paths accept exactly
 * the same tokens (proof-jws.test.ts checks them against each other).
 *
 * The caller has already checked that the header `alg` string-equals `cnf.jwk.alg` (wpt-02 §2 step 3).
 */
import { base64url, compactVerify } from 'jose';
import type { WimseAlgorithm } from './algorithms.js';
import { nodeCrypto } from './node-crypto.js';
import type { ProofKey } from './proof-key.js';

export interface VerifiedJws {
  readonly protectedHeader: Readonly<Record<string, unknown>>;
  readonly payload: Uint8Array;
}

const utf8 = new TextEncoder();

/**
 * Resolves the verified header and payload; rejects when the signature or the JWS is invalid.
 * `protectedHeader` is the token's header as the caller already decoded it (not decoded twice).
 */
export async function verifyProofJws(token: string, key: ProofKey, protectedHeader: Readonly<Record<string, unknown>>): Promise<VerifiedJws> {
  if (key.nodeKey === undefined) return compactVerify(token, key.key, { algorithms: [key.alg] });
  const [h = '', p = '', s = ''] = token.split('.');
  // RFC 7515 §4.1.11: we understand no extensions, so any crit is rejected (as jose does without options).
  if (typeof protectedHeader !== 'object' || protectedHeader === null || protectedHeader.alg !== key.alg || 'crit' in protectedHeader) {
    throw new TypeError('JWS header not acceptable');
  }
  const params = NODE_PARAMS[key.alg];
  let ok = false;
  try {
    ok = nodeCrypto()!.verify(params.hash, utf8.encode(`${h}.${p}`), { key: key.nodeKey, ...params.options }, base64url.decode(s));
  } catch {
    // A signature of the wrong length or encoding is simply invalid.
  }
  if (!ok) throw new TypeError('JWS signature invalid');
  return { protectedHeader, payload: base64url.decode(p) };
}

// RFC 7518 §3: hash and encoding per JWS algorithm; PSS salt equals the hash length.
const PSS = { padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: -1 /* RSA_PSS_SALTLEN_DIGEST */ };
const NODE_PARAMS: Record<WimseAlgorithm, { hash: string | null; options: Record<string, unknown> }> = {
  ES256: { hash: 'sha256', options: { dsaEncoding: 'ieee-p1363' } },
  ES384: { hash: 'sha384', options: { dsaEncoding: 'ieee-p1363' } },
  ES512: { hash: 'sha512', options: { dsaEncoding: 'ieee-p1363' } },
  EdDSA: { hash: null, options: {} },
  Ed25519: { hash: null, options: {} },
  RS256: { hash: 'sha256', options: {} },
  RS384: { hash: 'sha384', options: {} },
  RS512: { hash: 'sha512', options: {} },
  PS256: { hash: 'sha256', options: PSS },
  PS384: { hash: 'sha384', options: PSS },
  PS512: { hash: 'sha512', options: PSS },
};
