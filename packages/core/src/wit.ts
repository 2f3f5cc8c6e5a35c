/**
 * Workload Identity Token (draft-ietf-wimse-workload-creds-02 §5.1, validation per the §5.1.4
 * checklist of the editor's copy that wpt-02 and http-signature-07 cite).
 */
import {
  SignJWT,
  importJWK,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  type JWTVerifyGetKey,
  type KeyObject,
} from 'jose';
import { decodeCompactJwt, hasPrivateMembers, isSupportedAlgorithm, keyMismatch, typMatches, type WimseAlgorithm } from './algorithms.js';
import { WimseError, type WimseErrorCode } from './errors.js';
import { ExpiringMap } from './expiring-map.js';
import { tokenHashNow } from './hash.js';
import { checkWorkloadIdentifier, parseWorkloadIdentifier, type IdentifierOptions, type WorkloadIdentifier } from './identifier.js';
import type { MaybePromise } from './maybe-async.js';
import { importProofKey, type ProofKey } from './proof-key.js';
import { publicKeyFlaw, verificationKeyFlaw } from './public-key.js';
import type { TrustAnchor } from './trust.js';
import { verifyWitSignature } from './wit-signature.js';

/** workload-creds-02 §5.1.1: the media type of a WIT, as `typ`. */
export const WIT_TYP = 'wit+jwt';

/** The claims of a verified WIT. */
export interface WitClaims extends JWTPayload {
  sub: string;
  exp: number;
  cnf: { jwk: JWK & { alg: string } };
}

/** A WIT whose signature, claims and confirmation key all passed validation. */
export interface VerifiedWit {
  /** The compact token exactly as received. Never log it. */
  readonly token: string;
  readonly header: JWTHeaderParameters;
  readonly claims: WitClaims;
  /** The validated `sub`. */
  readonly id: WorkloadIdentifier;
  /** `cnf.jwk`, imported. */
  readonly proofKey: ProofKey;
  /** `wth`: base64url(SHA-256(token)), computed once (wpt-02 §2). */
  readonly hash: string;
}

export interface WitVerifierOptions {
  /** Trust anchors for an identifier's trust domain, `undefined` when the domain is not trusted. */
  anchorFor: (id: WorkloadIdentifier) => TrustAnchor | undefined;
  /** Algorithms a `cnf.jwk.alg` may name. */
  proofAlgorithms: readonly WimseAlgorithm[];
  /** Seconds of clock skew tolerated on `exp`/`nbf`. */
  clockTolerance: number;
  /** Longest accepted remaining lifetime `exp - now`, in seconds ([post-02] §5.1: unreasonably long lifetimes SHOULD be rejected). */
  maxLifetime: number;
  /** Longest accepted WIT length in characters. */
  maxLength: number;
  identifier: IdentifierOptions;
  /** Verified WITs kept for reuse, and for how long at most (never past their `exp`). */
  cache: { maxEntries: number; ttlMs: number };
  now: () => number;
}

/**
 * Builds a WIT verifier that caches verified tokens (bounded, never past `exp`), so a repeat
 * caller costs no WIT signature check and no key import: a cached WIT is answered now, a new one
 * as a promise.
 */
export function createWitVerifier(options: WitVerifierOptions): (token: string) => MaybePromise<VerifiedWit> {
  // Keyed by the token's signature part: a lookup hashes ~90 characters instead of the whole token
  // (a fresh string per request); a hit counts only for the very same token.
  const cache = new ExpiringMap<string, VerifiedWit>(options.cache.maxEntries);
  return (token) => {
    const now = options.now();
    const key = token.slice(token.lastIndexOf('.') + 1);
    const hit = cache.get(key, now);
    if (hit !== undefined && hit.token === token) return hit;
    return verifyWit(token, options).then((wit) => {
      if (options.cache.ttlMs > 0) cache.set(key, wit, Math.min(wit.claims.exp * 1000, now + options.cache.ttlMs), now);
      return wit;
    });
  };
}

async function verifyWit(token: string, o: WitVerifierOptions): Promise<VerifiedWit> {
  // §5.1.1 / step 1: one compact JWT.
  if (token.length > o.maxLength) throw new WimseError('wit_too_large', `WIT longer than ${o.maxLength} characters`);
  const { header, claims: unverified } = decodeCompactJwt(token, 'wit_malformed', 'WIT');
  // Step 2: explicit typing.
  if (!typMatches(header.typ, WIT_TYP)) throw new WimseError('wit_typ', `WIT typ must be ${WIT_TYP}`);
  // Step 3: sub is one valid Workload Identifier; its authority is the trust domain.
  const checked = checkWorkloadIdentifier(unverified.sub, o.identifier);
  if (!checked.ok) throw new WimseError('wit_sub_invalid', `WIT sub: ${checked.reason}`);
  // Step 4: anchors from local configuration for that trust domain, never from iss.
  const anchor = o.anchorFor(checked.id);
  if (anchor === undefined) throw new WimseError('wit_untrusted_domain', `Trust domain ${checked.id.trustDomain} is not trusted`);
  // Step 5: asymmetric algorithm allowed for this domain.
  if (!anchor.algorithms.includes(header.alg as WimseAlgorithm)) {
    throw new WimseError('wit_alg', `WIT algorithm ${String(header.alg)} not allowed for ${anchor.name}`);
  }
  // Steps 6-8: key by kid, signature, exp/nbf with tolerance.
  const now = o.now();
  let claims: JWTPayload;
  try {
    claims = await verifyWitSignature(token, {
      header,
      claims: unverified,
      getKey: guardedKey(anchor.getKey),
      algorithms: anchor.algorithms,
      clockTolerance: o.clockTolerance,
      now,
    });
  } catch (e) {
    throw witError(e);
  }
  if (typeof claims.exp !== 'number') throw new WimseError('wit_claims', 'WIT exp is required');
  // RFC 7519 §4.1.6: jose checks iat only with maxTokenAge; a WIT issued in the future is not valid yet.
  if (typeof claims.iat === 'number' && claims.iat > now / 1000 + o.clockTolerance)
    throw new WimseError('wit_not_yet_valid', 'WIT iat is in the future');
  if (claims.exp - now / 1000 > o.maxLifetime) throw new WimseError('wit_lifetime', `WIT expires more than ${o.maxLifetime}s from now`);
  if (claims.sub !== checked.id.value) throw new WimseError('wit_sub_invalid', 'WIT sub changed during verification');
  // Step 9: cnf.jwk with an allowed alg, public, of a matching key type.
  const proofKey = await confirmationKey(claims, o.proofAlgorithms);
  // Step 10: iss allow-list when the deployment configured one.
  if (anchor.issuers !== undefined && (typeof claims.iss !== 'string' || !anchor.issuers.includes(claims.iss))) {
    throw issuerMismatch(claims.iss, anchor.issuers, checked.id.trustDomain);
  }
  return Object.freeze({ token, header, claims: claims as WitClaims, id: checked.id, proofKey, hash: await tokenHashNow(token) });
}

async function confirmationKey(claims: JWTPayload, allowed: readonly WimseAlgorithm[]): Promise<ProofKey> {
  const cnf = claims.cnf as { jwk?: unknown } | undefined;
  const jwk = cnf?.jwk as JWK | undefined;
  if (typeof cnf !== 'object' || cnf === null || typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) {
    throw new WimseError('wit_cnf_invalid', 'WIT cnf.jwk is required');
  }
  const alg = jwk.alg;
  if (!isSupportedAlgorithm(alg) || !allowed.includes(alg)) {
    throw new WimseError('wit_cnf_invalid', 'WIT cnf.jwk.alg must name an allowed asymmetric algorithm');
  }
  if (hasPrivateMembers(jwk)) throw new WimseError('wit_cnf_invalid', 'WIT cnf.jwk must be a public key');
  const mismatch = keyMismatch(jwk, alg);
  if (mismatch !== undefined) throw new WimseError('wit_cnf_invalid', `WIT cnf.jwk: ${mismatch}`);
  // A degenerate key (small-order point, RSA e = 1, short modulus) lets anyone make the proof (public-key.ts).
  const flaw = publicKeyFlaw(jwk);
  if (flaw !== undefined) throw new WimseError('wit_cnf_invalid', `WIT cnf.jwk: ${flaw}`);
  try {
    return await importProofKey(jwk, alg);
  } catch (cause) {
    throw new WimseError('wit_cnf_invalid', 'WIT cnf.jwk is not a usable public key', { cause });
  }
}

// Resolver failures: an unknown kid is the token's fault, anything else is ours (network, bad JWKS,
// or an issuer key public-key.ts refuses: it is never used). A remote JWKS reports no matching key
// only once a fresh set lacks it (remote-jwks.ts), and throws trust_unavailable with Retry-After
// while a refresh is pending or failing.
// Shared with txn-token.ts, whose key failures differ only in the code and the token's name.
export function guardedKey(getKey: JWTVerifyGetKey, unknownKey: WimseErrorCode = 'wit_key_unknown', token = 'WIT'): JWTVerifyGetKey {
  return async (header, jws) => {
    try {
      const key = await getKey(header, jws);
      const flaw = await verificationKeyFlaw(key);
      if (flaw !== undefined)
        throw new WimseError(
          'trust_unavailable',
          `The trusted issuer key${header.kid === undefined ? '' : ` ${JSON.stringify(header.kid)}`} is refused: ${flaw}`,
        );
      return key;
    } catch (e) {
      if (e instanceof WimseError) throw e;
      if (joseCode(e) === 'ERR_JWKS_NO_MATCHING_KEY') throw new WimseError(unknownKey, `No trusted key matches the ${token} header`);
      // §3: without kid, policy must make the key unambiguous; several candidates are not.
      if (joseCode(e) === 'ERR_JWKS_MULTIPLE_MATCHING_KEYS')
        throw new WimseError(unknownKey, `Several trusted keys match; the ${token} needs a kid`);
      throw new WimseError('trust_unavailable', 'Trust anchors could not be loaded', { cause: e });
    }
  };
}

// jose's verdicts on the token become WIT codes; anything else (a bug, a bad issuer key) is rethrown as is.
function witError(e: unknown): unknown {
  if (e instanceof WimseError) return e;
  const reason = (e as { claim?: string }).claim;
  switch (joseCode(e)) {
    case 'ERR_JWT_EXPIRED':
      return new WimseError('wit_expired', 'WIT expired', { cause: e });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return reason === 'nbf'
        ? new WimseError('wit_not_yet_valid', 'WIT not yet valid', { cause: e })
        : new WimseError('wit_claims', `WIT claim ${String(reason)} invalid`, { cause: e });
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new WimseError('wit_alg', 'WIT algorithm not allowed', { cause: e });
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED': // e.g. an unknown crit extension (RFC 7515 §4.1.11)
      return new WimseError('wit_malformed', 'WIT is not a valid JWT', { cause: e });
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new WimseError('wit_signature', 'WIT signature could not be verified with the trusted key', { cause: e });
    default:
      return e;
  }
}

/** The `code` of a jose error, if it is one. */
export function joseCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}

/** What an identity server needs to issue a WIT. */
export interface IssueWitOptions {
  /** The workload identifier, the WIT `sub`. */
  sub: string;
  /** The workload's public key; must carry `alg`, the algorithm its proofs will use. */
  cnfJwk: JWK & { alg: string };
  /** The issuer's private key and its algorithm. */
  issuerKey: CryptoKey | KeyObject | JWK | Uint8Array;
  alg: WimseAlgorithm;
  /** `kid` of the issuer key, so verifiers can select it. */
  kid?: string;
  /** RECOMMENDED `iss` (workload-creds-01). */
  iss?: string;
  /** Lifetime in seconds. Default 3600 ("on the order of hours"). */
  lifetime?: number;
  /** Extra claims, e.g. collision-resistant private claims. */
  claims?: Record<string, unknown>;
  /** Clock in ms, for tests. */
  now?: number;
}

/**
 * Issues a WIT (for identity servers and tests). Throws `TypeError` when `cnfJwk` is not a public
 * key for its `alg`, or is one {@link publicKeyFlaw} refuses (a WIT for it would prove nothing).
 *
 * @example
 * const wit = await issueWit({ sub: 'spiffe://example.org/api', cnfJwk: { ...publicJwk, alg: 'ES256' },
 *   issuerKey, alg: 'ES256', kid: 'k1', iss: 'https://id.example.org' })
 */
export async function issueWit(options: IssueWitOptions): Promise<string> {
  parseWorkloadIdentifier(options.sub);
  const { cnfJwk } = options;
  if (!isSupportedAlgorithm(cnfJwk.alg)) throw new TypeError('cnfJwk.alg must name an asymmetric JWS algorithm');
  if (hasPrivateMembers(cnfJwk)) throw new TypeError('cnfJwk must be a public key');
  const mismatch = keyMismatch(cnfJwk, cnfJwk.alg);
  if (mismatch !== undefined) throw new TypeError(`cnfJwk: ${mismatch}`);
  const flaw = publicKeyFlaw(cnfJwk);
  if (flaw !== undefined) throw new TypeError(`cnfJwk: ${flaw}`);
  // The import refuses EC points off the curve (SEC 1 §3.2.2.1) and anything else unusable.
  await importJWK(cnfJwk, cnfJwk.alg).catch((cause: unknown) => {
    throw new TypeError('cnfJwk is not a usable public key', { cause });
  });
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  const jwt = new SignJWT({ ...options.claims, cnf: { jwk: cnfJwk } })
    .setProtectedHeader({ alg: options.alg, typ: WIT_TYP, ...(options.kid === undefined ? {} : { kid: options.kid }) })
    .setSubject(options.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.lifetime ?? 3600))
    .setJti(crypto.randomUUID());
  if (options.iss !== undefined) jwt.setIssuer(options.iss);
  return jwt.sign(options.issuerKey);
}

// What arrived and what the trust domain's issuer list allows: `iss` values, never the token.
function issuerMismatch(iss: unknown, issuers: readonly string[], trustDomain: string): WimseError {
  const expected = issuers.map((i) => JSON.stringify(i)).join(' or ');
  if (typeof iss !== 'string')
    return new WimseError('wit_iss', `WIT iss is required by trust domain ${trustDomain}; expected ${expected}`, {
      mismatch: { expected: issuers, received: [] },
    });
  const shown = iss.length > 200 ? `${iss.slice(0, 200)}…` : iss;
  return new WimseError(
    'wit_iss',
    `WIT iss ${JSON.stringify(shown)} is not an issuer of trust domain ${trustDomain}; expected ${expected}`,
    { mismatch: { expected: issuers, received: [shown] } },
  );
}
