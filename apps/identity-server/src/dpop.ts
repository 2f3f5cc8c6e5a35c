/**
 * Proof of possession of the workload key at the token exchange: a DPoP proof (RFC 9449 §4) in the
 * `DPoP` request field. Its header `jwk` is the key the WIT will confirm (`cnf.jwk`), its header
 * `alg` the algorithm the workload's WPTs will use (`cnf.jwk.alg`). The proof is bound to this
 * token endpoint (`htm`, `htu`), fresh (`iat` window) and single-use (`jti` in a replay store),
 * so a captured proof cannot be used for another endpoint, later, or twice.
 *
 * Checks follow RFC 9449 §4.3; server-provided nonces (§8) and `ath` (no access token is
 * presented) are not used.
 */
import { COMPACT_JWS_RE, TokenExchangeError, isSupportedAlgorithm, typMatches, type WimseAlgorithm } from '@wimse/core';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { Problem } from './problem.js';
import { workloadPublicKey } from './registration.js';

/** RFC 9449 §4.2 `typ` of a DPoP proof. */
export const DPOP_TYP = 'dpop+jwt';

export interface DpopCheck {
  /** The request method, e.g. `POST`. */
  htm: string;
  /** This endpoint's public URL, e.g. `https://id.example.org/token`. */
  htu: string;
  /** Algorithms accepted for the proof (and so for the workload key). */
  algorithms: readonly WimseAlgorithm[];
  /** Oldest acceptable `iat`, in seconds before now. */
  maxAge: number;
  /** Allowed clock difference, in seconds. */
  clockTolerance: number;
  /** Clock in ms. */
  now: number;
}

/** A verified proof: the workload key (public members + `alg`), its RFC 7638 thumbprint, and the one-time `jti`. */
export interface DpopProof {
  jwk: JWK & { alg: WimseAlgorithm };
  jkt: string;
  jti: string;
  /** Until when (ms) the `jti` must be remembered: after that the `iat` check refuses the proof anyway. */
  replayUntil: number;
}

const MAX_JTI = 256;

const refuse = (why: string) => new TokenExchangeError('invalid_dpop_proof', why);

/**
 * Verifies the `DPoP` field values of a token request. Recording `jti` is left to the caller, after
 * the rest of the request was accepted, so requests that fail later do not fill the replay store.
 *
 * @throws TokenExchangeError `invalid_dpop_proof`
 */
export async function verifyDpopProof(values: readonly string[], check: DpopCheck): Promise<DpopProof> {
  // §4.3 (1): exactly one DPoP field; (2) a well-formed JWT.
  if (values.length === 0) throw refuse('A DPoP proof of the workload key is required (RFC 9449)');
  if (values.length > 1) throw refuse('More than one DPoP field');
  const proof = values[0]!;
  if (!COMPACT_JWS_RE.test(proof)) throw refuse('DPoP is not a compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw refuse('DPoP header is not JSON');
  }
  // (4) typ; (5) an asymmetric algorithm we allow (never none, never HMAC).
  if (!typMatches(header.typ, DPOP_TYP)) throw refuse(`DPoP typ must be ${DPOP_TYP}`);
  const alg = header.alg;
  if (!isSupportedAlgorithm(alg) || !check.algorithms.includes(alg)) throw refuse('DPoP alg is not an allowed asymmetric algorithm');
  // (7) jwk: a public key; the key the WIT will confirm.
  const headerJwk = header.jwk as unknown;
  if (typeof headerJwk !== 'object' || headerJwk === null || Array.isArray(headerJwk)) throw refuse('DPoP header has no jwk');
  // A key that declares another algorithm than the one it proved with is not the key requested for this alg.
  const declared = (headerJwk as { alg?: unknown }).alg;
  if (declared !== undefined && declared !== alg) throw refuse(`DPoP jwk is declared for ${String(declared)} but the proof uses ${alg}`);
  let jwk: JWK & { alg: WimseAlgorithm };
  try {
    jwk = workloadPublicKey({ ...(headerJwk as object), alg });
  } catch (e) {
    if (e instanceof Problem) throw refuse(`DPoP jwk: ${e.message}`);
    throw e;
  }
  // (6) the signature, with that key and that algorithm only.
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(proof, await importJWK(jwk, alg), {
      algorithms: [alg],
      typ: DPOP_TYP,
      currentDate: new Date(check.now),
      clockTolerance: check.clockTolerance,
    }));
  } catch {
    throw refuse('DPoP signature or claims are invalid');
  }
  // (3) required claims; (8) htm; (9) htu without query and fragment; (11) iat.
  const { jti, htm, htu, iat } = payload;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI)
    throw refuse(`DPoP jti must be a string of 1 to ${MAX_JTI} characters`);
  if (htm !== check.htm) throw refuse(`DPoP htm must be ${check.htm}`);
  if (typeof htu !== 'string' || !sameEndpoint(htu, check.htu)) throw refuse(`DPoP htu must be ${check.htu}`);
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw refuse('DPoP iat is required');
  const now = check.now / 1000;
  if (iat > now + check.clockTolerance) throw refuse('DPoP iat is in the future');
  if (iat < now - check.maxAge - check.clockTolerance) throw refuse('DPoP proof is too old');
  return { jwk, jkt: await calculateJwkThumbprint(jwk), jti, replayUntil: (iat + check.maxAge + check.clockTolerance) * 1000 + 1000 };
}

// RFC 9449 §4.3 (9): compare without query and fragment, after RFC 3986 §6.2.2/§6.2.3 normalisation (the URL parser's).
function sameEndpoint(htu: string, expected: string): boolean {
  if (!URL.canParse(htu)) return false;
  const a = new URL(htu);
  const b = new URL(expected);
  a.search = a.hash = b.search = b.hash = '';
  return a.href === b.href;
}
