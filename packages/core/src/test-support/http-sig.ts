/** Test helpers for HTTP signatures: vector WITs (unverifiable issuer) and hand-built signatures. */
import { decodeJwt, decodeProtectedHeader, type CryptoKey, type JWK, type JWTHeaderParameters } from 'jose';
import { parseList, type InnerList } from 'structured-headers';
import type { WimseAlgorithm } from '../algorithms.js';
import { tokenHash } from '../hash.js';
import { signatureBase, type SignedMessage } from '../http-signature/signature-base.js';
import { signBase } from '../jws-algorithm.js';
import { parseWorkloadIdentifier } from '../identifier.js';
import { importProofKey } from '../proof-key.js';
import type { VerifiedWit, WitClaims } from '../wit.js';

/**
 * A "verified" WIT built from a token without checking its issuer signature: the draft examples'
 * issuer key was never published, so only the HTTP signature itself can be checked.
 */
export async function unverifiedWit(token: string): Promise<VerifiedWit> {
  const claims = decodeJwt(token) as WitClaims;
  return {
    token,
    header: decodeProtectedHeader(token) as JWTHeaderParameters,
    claims,
    id: parseWorkloadIdentifier(claims.sub),
    proofKey: await importProofKey(claims.cnf.jwk as JWK, claims.cnf.jwk.alg as WimseAlgorithm),
    hash: await tokenHash(token),
  };
}

/**
 * Signs an arbitrary `Signature-Input` member (`("@method" …);created=…`) over `message` with
 * `key`, so negative tests can present any parameters or components with a valid signature.
 * Returns the `signature-input` and `signature` field values under `label`.
 */
export async function signRaw(
  member: string,
  message: SignedMessage,
  key: CryptoKey,
  alg: WimseAlgorithm,
  options: { label?: string; request?: SignedMessage } = {},
): Promise<{ 'signature-input': string; signature: string }> {
  const label = options.label ?? 'sig1';
  const [items] = parseList(member)[0] as InnerList;
  const components = items.map(([name, p]) => ({ name: name as string, req: p.has('req') }));
  // The @signature-params line reuses the member text exactly as given. A member too malformed
  // to build a base from gets a dummy signature: the verifier must reject it before looking.
  let sig: Uint8Array = new Uint8Array(64);
  try {
    sig = await signBase(signatureBase(components, member, message, options.request), { key }, alg);
  } catch {
    // keep the dummy
  }
  return { 'signature-input': `${label}=${member}`, signature: `${label}=:${Buffer.from(sig).toString('base64')}:` };
}
