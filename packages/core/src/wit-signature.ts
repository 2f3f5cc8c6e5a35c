/**
 * WIT signature and time claims (workload-creds-02 §5.1.4 steps 6-8). jose over Web Crypto is the
 * reference; on Node, the common case — no `crit`/`b64`, an issuer key jose itself would take for
 * the header's `alg` — is verified with the issuer key's `KeyObject` (cached per key) and
 * synchronous `node:crypto`, then the time claims are checked as jose's `jwtVerify` checks them
 * (RFC 7519 §4.1.4-4.1.6), raising jose's own errors. Anything else goes to jose unchanged.
 * wit-signature.test.ts checks both paths against each other.
 */
import { base64url, errors, jwtVerify, type CryptoKey, type JWTHeaderParameters, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { WimseAlgorithm } from './algorithms.js';
import { verifyBase, type DualKey } from './jws-algorithm.js';
import { nodeSignatures } from './node-crypto.js';

export interface WitSignatureCheck {
  /** The decoded protected header and claims (jose's strict decoding), already checked to be objects. */
  header: JWTHeaderParameters;
  claims: JWTPayload;
  /** Resolves the issuer key for the header (already guarded against refused keys). */
  getKey: JWTVerifyGetKey;
  algorithms: readonly WimseAlgorithm[];
  clockTolerance: number;
  /** ms */
  now: number;
}

/** Resolves the verified claims, or rejects with the error jose's `jwtVerify` would raise. */
export async function verifyWitSignature(token: string, c: WitSignatureCheck): Promise<JWTPayload> {
  const node = nodeSignatures();
  const alg = c.header.alg as WimseAlgorithm;
  if (node === undefined || 'crit' in c.header || 'b64' in c.header || !c.algorithms.includes(alg)) return viaJose(token, c.getKey, c);
  const [h = '', p = '', s = ''] = token.split('.');
  const key = await c.getKey(c.header, { protected: h, payload: p, signature: s });
  const dual = fastKey(key, alg);
  // A key jose would judge differently (another algorithm, no verify usage, short RSA): jose decides.
  if (dual === undefined) return viaJose(token, () => key, c);
  let signature: Uint8Array;
  try {
    signature = base64url.decode(s);
  } catch (cause) {
    throw new errors.JWSInvalid('Failed to base64url decode the signature', { cause });
  }
  if (!(await verifyBase(`${h}.${p}`, signature, dual, alg))) throw new errors.JWSSignatureVerificationFailed();
  checkTimes(c.claims, c.now, c.clockTolerance);
  return c.claims;
}

function viaJose(token: string, getKey: JWTVerifyGetKey, c: WitSignatureCheck): Promise<JWTPayload> {
  return jwtVerify(token, getKey, { algorithms: [...c.algorithms], currentDate: new Date(c.now), clockTolerance: c.clockTolerance }).then(
    (r) => r.payload,
  );
}

// RFC 7519 §4.1.4-4.1.6 as jose applies them: iat, nbf, exp numbers when present; nbf not after
// now + tolerance; exp after now - tolerance; now in whole seconds.
function checkTimes(claims: JWTPayload, nowMs: number, tolerance: number): void {
  const now = Math.floor(nowMs / 1000);
  const numeric = (claim: 'iat' | 'nbf' | 'exp'): number | undefined => {
    const value = claims[claim];
    if (value !== undefined && typeof value !== 'number')
      throw new errors.JWTClaimValidationFailed(`"${claim}" claim must be a number`, claims, claim, 'invalid');
    return value;
  };
  numeric('iat');
  const nbf = numeric('nbf');
  if (nbf !== undefined && nbf > now + tolerance)
    throw new errors.JWTClaimValidationFailed('"nbf" claim timestamp check failed', claims, 'nbf', 'check_failed');
  const exp = numeric('exp');
  if (exp !== undefined && exp <= now - tolerance)
    throw new errors.JWTExpired('"exp" claim timestamp check failed', claims, 'exp', 'check_failed');
}

// The Web Crypto algorithm a key must have for each JWS alg (RFC 7518 §3), as jose checks it.
const EXPECTED: Record<WimseAlgorithm, { name: string; curve?: string; hash?: string }> = {
  ES256: { name: 'ECDSA', curve: 'P-256' },
  ES384: { name: 'ECDSA', curve: 'P-384' },
  ES512: { name: 'ECDSA', curve: 'P-521' },
  EdDSA: { name: 'Ed25519' },
  Ed25519: { name: 'Ed25519' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  RS384: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' },
  RS512: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-512' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
  PS384: { name: 'RSA-PSS', hash: 'SHA-384' },
  PS512: { name: 'RSA-PSS', hash: 'SHA-512' },
};

const dualKeys = new WeakMap<CryptoKey, DualKey>();

/** The issuer key with its `KeyObject` when it is a public Web Crypto key fit for `alg`, else `undefined`. */
function fastKey(key: unknown, alg: WimseAlgorithm): DualKey | undefined {
  const node = nodeSignatures();
  if (node === undefined || !isCryptoKey(key) || key.type !== 'public' || !key.usages.includes('verify')) return undefined;
  const want = EXPECTED[alg];
  const a = key.algorithm as { name: string; namedCurve?: string; hash?: { name?: string }; modulusLength?: number };
  if (
    a.name !== want.name ||
    (want.curve !== undefined && a.namedCurve !== want.curve) ||
    (want.hash !== undefined && a.hash?.name !== want.hash)
  )
    return undefined;
  if (want.hash !== undefined && (a.modulusLength ?? 0) < 2048) return undefined;
  let dual = dualKeys.get(key);
  if (dual === undefined)
    dualKeys.set(key, (dual = { key, nodeKey: node.KeyObject.from(key as Parameters<typeof node.KeyObject.from>[0]) }));
  return dual;
}

function isCryptoKey(k: unknown): k is CryptoKey {
  return (
    typeof k === 'object' &&
    k !== null &&
    typeof (k as CryptoKey).algorithm === 'object' &&
    Array.isArray((k as CryptoKey).usages) &&
    typeof (k as CryptoKey).type === 'string'
  );
}
