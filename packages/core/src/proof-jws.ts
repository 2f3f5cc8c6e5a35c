/**
 * Verifies the JWS of a proof (a WPT) with the WIT's confirmation key. The per-request hot spot:
 * on Node it uses `node:crypto` with the cached `KeyObject` (synchronous, about twice the rate of
 * Web Crypto there, see `pnpm bench`); elsewhere, Bun, Deno and workerd included (node-crypto.ts
 * says why), jose over Web Crypto. Both paths accept exactly
 * the same tokens (proof-jws.test.ts checks them against each other).
 *
 * The caller has already checked that the header `alg` string-equals `cnf.jwk.alg` (wpt-02 §2 step 3).
 */
import { base64url, compactVerify, errors } from 'jose';
import { verifyBase } from './jws-algorithm.js';
import type { MaybePromise } from './maybe-async.js';
import type { ProofKey } from './proof-key.js';

export interface VerifiedJws {
  readonly protectedHeader: Readonly<Record<string, unknown>>;
  readonly payload: Uint8Array;
}

/**
 * Resolves the verified header and payload; rejects with a jose error (`code` `ERR_JWS_*` or
 * `ERR_JOSE_*`) when the signature or the JWS is invalid, so any other rejection is a bug.
 * `protectedHeader` is the token's header as the caller already decoded it (not decoded twice).
 */
export async function verifyProofJws(
  token: string,
  key: ProofKey,
  protectedHeader: Readonly<Record<string, unknown>>,
): Promise<VerifiedJws> {
  return proofJws(token, key, protectedHeader);
}

/**
 * {@link verifyProofJws}, answered now on the `node:crypto` path (a throw instead of a rejection there).
 * `compact`: the caller has matched the token against `COMPACT_JWS_RE`, so its segments are base64url.
 */
export function proofJws(
  token: string,
  key: ProofKey,
  protectedHeader: Readonly<Record<string, unknown>>,
  compact = false,
): MaybePromise<VerifiedJws> {
  if (key.nodeKey === undefined) {
    if (key.key === undefined) throw new TypeError('Proof key not imported');
    return compactVerify(token, key.key, { algorithms: [key.alg] });
  }
  // RFC 7515 §4.1.11: we understand no extensions, so any crit is rejected (as jose does without options).
  if (typeof protectedHeader !== 'object' || protectedHeader === null || protectedHeader.alg !== key.alg || 'crit' in protectedHeader) {
    throw new errors.JWSInvalid('JWS header not acceptable');
  }
  // RFC 7515 §7.1: three segments; the signing input is all before the second dot.
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1 || token.includes('.', second + 1)) throw new errors.JWSInvalid('Invalid Compact JWS');
  const ok = verifyBase(token.slice(0, second), decode(token.slice(second + 1), compact), key, key.alg);
  if (typeof ok === 'boolean') return verified(ok, token, first, second, protectedHeader, compact);
  return ok.then((valid) => verified(valid, token, first, second, protectedHeader, compact));
}

function verified(
  valid: boolean,
  token: string,
  first: number,
  second: number,
  protectedHeader: Readonly<Record<string, unknown>>,
  compact: boolean,
): VerifiedJws {
  if (!valid) throw new errors.JWSSignatureVerificationFailed();
  return { protectedHeader, payload: decode(token.slice(first + 1, second), compact) };
}

// Node's own decoder where there is one, for what jose's decode would take the same way: only
// base64url characters, a length that is not 1 mod 4 (which jose refuses). Anything else goes to jose.
const nodeBuffer = (globalThis as { Buffer?: { from(value: string, encoding: 'base64url'): Uint8Array } }).Buffer;
const BASE64URL_RE = /^[A-Za-z0-9_-]*$/;

// RFC 7515 §7.1: a segment that is not base64url makes the JWS invalid (jose's decode throws a TypeError).
// `checked`: the segment is known to hold base64url characters only.
function decode(segment: string, checked: boolean): Uint8Array {
  if (nodeBuffer !== undefined && segment.length % 4 !== 1 && (checked || BASE64URL_RE.test(segment)))
    return nodeBuffer.from(segment, 'base64url');
  try {
    return base64url.decode(segment);
  } catch (cause) {
    throw new errors.JWSInvalid('JWS segment is not base64url', { cause });
  }
}
