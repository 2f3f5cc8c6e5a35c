/**
 * Workload Proof Token (draft-ietf-wimse-wpt-02 §2), with the wpt-01 wire format
 * (`Workload-Proof-Token` field, `ath`) as an explicit compatibility mode.
 */
import { SignJWT, base64url, decodeProtectedHeader, type CryptoKey, type JWK, type JWTPayload, type KeyObject } from 'jose';
import { COMPACT_JWS_RE, typMatches, type WimseAlgorithm } from './algorithms.js';
import { checkAudience, type Audience } from './audience.js';
import { WimseError, type WimseErrorCode } from './errors.js';
import { tokenHash, tokenHashNow } from './hash.js';
import type { OperatorLog } from './logger.js';
import { after, type MaybePromise } from './maybe-async.js';
import type { ProofKey } from './proof-key.js';
import { proofJws, type VerifiedJws } from './proof-jws.js';
import { checkReplay } from './replay.js';
import type { ReplayStore } from './replay.js';
import { fieldValues, singleField, type RequestHeaders, type WimseRequest } from './request.js';
import { joseCode, type VerifiedWit } from './wit.js';

/** wpt-02 §4: the media type of a WPT, as `typ`. */
export const WPT_TYP = 'wpt+jwt';
/** wpt-02 §4: the HTTP authentication scheme. */
export const WPT_SCHEME = 'WPT';
/** wpt-01 §2 (and s2s-protocol): the field that carried the WPT before wpt-02 moved it to `Authorization`. */
export const WPT01_FIELD = 'Workload-Proof-Token';

/**
 * The WPT wire format to send: `wpt-02` (`Authorization: WPT <jwt>`, the default) or `wpt-01`
 * (`Workload-Proof-Token: <jwt>`, an access token in `Authorization: Bearer` bound by `ath`), for
 * peers that still speak draft-ietf-wimse-wpt-01.
 */
export type WptVersion = 'wpt-02' | 'wpt-01';

/** The `typ` a WPT may carry: `wpt+jwt`, or its media-type form, which some peers require. */
export type WptTyp = 'wpt+jwt' | 'application/wpt+jwt';

/** The claims of a verified WPT. */
export interface WptClaims extends JWTPayload {
  aud: string | string[];
  exp: number;
  jti: string;
  wth: string;
  tth?: string;
  oth?: Record<string, string>;
}

/** Context tokens the proof covered: only these may be used for authorization (wpt-02 §2 step 11). */
export interface ContextTokens {
  /** The `Txn-Token` value, bound by `tth`. */
  readonly txnToken?: string;
  /** Other token-carrying fields bound by `oth`, by lower-case name. */
  readonly other: Readonly<Record<string, string>>;
  /** wpt-01 compatibility only: the access token in `Authorization: Bearer`, bound by `ath`. */
  readonly accessToken?: string;
}

/** A WPT found in a request. */
export interface PresentedWpt {
  readonly token: string;
  /** The token already matched {@link COMPACT_JWS_RE} where it was found (one scan of it, not two). */
  readonly compact?: boolean;
  /** wpt-01 wire format (`Workload-Proof-Token` field). */
  readonly legacy: boolean;
  /** wpt-01: the bearer token riding in `Authorization`. */
  readonly accessToken?: string;
}

// RFC 9110 §11.4: credentials = auth-scheme 1*SP token68. Group 1: a token68 that is also a compact
// JWS (step 2's shape, so verifyWptJws need not scan it again); group 2: any other token68.
const WPT_AUTHORIZATION_RE = /^WPT +(?:([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)|([A-Za-z0-9._~+/-]+=*))$/i;
const BEARER_RE = /^Bearer +([A-Za-z0-9._~+/-]+=*)$/i;
const MAX_JTI_LENGTH = 256;

/**
 * Finds the WPT of a request: `Authorization: WPT <jwt>` (wpt-02 §2 step 1), or with `wpt01`
 * the `Workload-Proof-Token` field. `undefined` when the request carries none.
 */
export function presentedWpt(headers: RequestHeaders, wpt01: boolean): PresentedWpt | undefined {
  const authorization = fieldValues(headers, 'authorization');
  let first: RegExpExecArray | null = null;
  let any = false;
  for (let i = 0; i < authorization.length; i++) {
    const m = WPT_AUTHORIZATION_RE.exec(authorization[i]!.trim());
    if (i === 0) first = m;
    any ||= m !== null;
  }
  if (any) {
    if (authorization.length > 1) throw new WimseError('wpt_duplicate', 'Exactly one Authorization field is allowed');
    const compact = first![1];
    return compact === undefined ? { token: first![2]!, legacy: false } : { token: compact, legacy: false, compact: true };
  }
  if (!wpt01) return undefined;
  const legacy = singleField(headers, 'workload-proof-token', 'wpt_duplicate');
  if (legacy === undefined) return undefined;
  if (authorization.length > 1) throw new WimseError('wpt_duplicate', 'Exactly one Authorization field is allowed');
  const bearer = authorization[0] === undefined ? undefined : BEARER_RE.exec(authorization[0].trim())?.[1];
  return { token: legacy.trim(), legacy: true, ...(bearer === undefined ? {} : { accessToken: bearer }) };
}

/** Verifier settings for WPTs. */
export interface WptPolicy {
  /** This service's configured audiences. */
  readonly audience: Audience;
  readonly clockTolerance: number;
  /** Longest accepted `exp - now`, in seconds (step 7: "unreasonably far in the future"). */
  readonly maxLifetime: number;
  readonly maxLength: number;
  /** Lower-case names of token-carrying fields bound by `oth`. */
  readonly contextTokenHeaders: readonly string[];
  readonly replayStore: ReplayStore;
  /** Where replay store failures are logged. */
  readonly log?: OperatorLog | undefined;
  readonly now: () => number;
}

/**
 * wpt-02 §2 validation steps 2-11 for a WPT presented with an already verified WIT: the context
 * tokens the proof covered, now on the synchronous path (node:crypto, a synchronous replay store;
 * a refusal is then thrown), else as a promise.
 */
export function verifyWpt(request: WimseRequest, presented: PresentedWpt, wit: VerifiedWit, p: WptPolicy): MaybePromise<ContextTokens> {
  const claims = verifyWptJws(presented, wit.proofKey, p.maxLength);
  if (claims instanceof Promise) return claims.then((c) => checkWptClaims(request, presented, wit, p, c));
  return checkWptClaims(request, presented, wit, p, claims);
}

function checkWptClaims(
  request: WimseRequest,
  presented: PresentedWpt,
  wit: VerifiedWit,
  p: WptPolicy,
  claims: Partial<WptClaims>,
): MaybePromise<ContextTokens> {
  const now = p.now() / 1000;
  // Step 6: aud is the target URI without query and fragment (authorities from configuration
  // only) or a recognised alias; RFC 7519 §4.1.3 allows an array, one member must match.
  checkAudience(p.audience, request.path, claims.aud, 'wpt_aud');
  // Step 7: exp present, not passed, not unreasonably far.
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) throw new WimseError('wpt_claims', 'WPT exp is required');
  if (now > claims.exp + p.clockTolerance) throw new WimseError('wpt_expired', 'WPT expired');
  if (claims.exp - now > p.maxLifetime + p.clockTolerance) {
    throw new WimseError('wpt_exp_too_far', `WPT expires more than ${p.maxLifetime}s from now`);
  }
  // wpt-02 defines no iat or nbf; when present they are RFC 7519 §4.1.5/§4.1.6 claims, and a proof
  // issued or valid only beyond the tolerated skew in the future is refused.
  notInFuture(claims, 'iat', now, p.clockTolerance);
  notInFuture(claims, 'nbf', now, p.clockTolerance);
  // Step 8: wth binds the WIT sent with it.
  if (claims.wth !== wit.hash)
    throw new WimseError(
      'wpt_wth',
      claims.wth === undefined ? 'WPT wth is required' : 'WPT wth does not match the Workload-Identity-Token',
    );
  const jti = claims.jti;
  if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
    throw new WimseError('wpt_claims', 'WPT jti is required');
  }
  const exp = claims.exp;
  // Steps 10-11: tth and oth bind the context tokens; wpt-01 ath binds the access token.
  const bound = boundContextTokens(request.headers, claims, p.contextTokenHeaders);
  // wpt-02 with no context token (the common case) goes on in the same tick, without closures.
  if (bound instanceof Promise || presented.legacy) {
    return after(bound, (context) =>
      after(presented.legacy ? checkAccessTokenHash(claims, presented.accessToken) : undefined, () =>
        replayChecked(presented, wit, p, jti, exp, context),
      ),
    );
  }
  return replayChecked(presented, wit, p, jti, exp, bound);
}

// Step 9, last so a rejected request never burns a jti.
function replayChecked(
  presented: PresentedWpt,
  wit: VerifiedWit,
  p: WptPolicy,
  jti: string,
  exp: number,
  context: ContextTokens,
): MaybePromise<ContextTokens> {
  const replay = checkReplay(
    p.replayStore,
    { workload: wit.id.value, kind: 'wpt', id: jti },
    (exp + p.clockTolerance) * 1000,
    'wpt_replay',
    p.log,
  );
  if (replay instanceof Promise) return replay.then(() => withAccessToken(presented, context));
  return withAccessToken(presented, context);
}

function withAccessToken(presented: PresentedWpt, context: ContextTokens): ContextTokens {
  return presented.accessToken === undefined ? context : { ...context, accessToken: presented.accessToken };
}

function notInFuture(claims: Partial<WptClaims>, claim: 'iat' | 'nbf', now: number, clockTolerance: number): void {
  const value = (claims as Record<string, unknown>)[claim];
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new WimseError('wpt_claims', `WPT ${claim} must be a NumericDate`);
  if (value > now + clockTolerance) throw new WimseError('wpt_not_yet_valid', `WPT ${claim} is in the future`);
}

// Steps 2-5: one well-formed JWT, alg string-equal to cnf.jwk.alg, signed by cnf.jwk, typ wpt+jwt.
function verifyWptJws({ token, compact }: PresentedWpt, key: ProofKey, maxLength: number): MaybePromise<Partial<WptClaims>> {
  if (token.length > maxLength) throw new WimseError('wpt_too_large', `WPT longer than ${maxLength} characters`);
  if (compact !== true && !COMPACT_JWS_RE.test(token)) throw new WimseError('wpt_malformed', 'WPT is not a compact JWS');
  const header = wptHeader(token);
  if (header.alg !== key.alg) throw new WimseError('wpt_alg_mismatch', `WPT alg must be ${key.alg}, the WIT cnf.jwk.alg`);
  let verified: MaybePromise<VerifiedJws>;
  try {
    // Its segments are base64url now (COMPACT_JWS_RE): decoded without a second scan.
    verified = proofJws(token, key, header, true);
  } catch (cause) {
    throw wptSignatureError(cause);
  }
  if (verified instanceof Promise) return verified.then(wptClaims, (cause: unknown) => Promise.reject(wptSignatureError(cause)));
  return wptClaims(verified);
}

// A client sends the same protected header (e.g. {"alg":"ES256","typ":"wpt+jwt"}) on every WPT: each
// distinct one is decoded once (bounded: headers come from requests) and shared, frozen.
const MAX_HEADERS = 256;
const decodedHeaders = new Map<string, Readonly<Record<string, unknown>>>();

function wptHeader(token: string): Readonly<Record<string, unknown>> {
  const encoded = token.slice(0, token.indexOf('.'));
  const known = decodedHeaders.get(encoded);
  if (known !== undefined) return known;
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    throw new WimseError('wpt_malformed', 'WPT header is not a JSON object', { cause });
  }
  if (decodedHeaders.size < MAX_HEADERS) decodedHeaders.set(encoded, deepFreeze(header));
  return header;
}

// A shared header must not be changed by one request for the next.
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const member of Object.values(value)) deepFreeze(member);
  }
  return value;
}

// proof-jws.ts rejects invalid tokens with jose errors only; anything else is a bug, not the token's fault.
function wptSignatureError(cause: unknown): unknown {
  if (joseCode(cause) === undefined) return cause;
  return new WimseError('wpt_signature', 'WPT signature does not verify with the WIT cnf key', { cause });
}

function wptClaims(verified: VerifiedJws): Partial<WptClaims> {
  if (!typMatches(verified.protectedHeader.typ, WPT_TYP)) throw new WimseError('wpt_typ', `WPT typ must be ${WPT_TYP}`);
  return parseClaims(verified.payload, 'wpt_malformed');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses a verified JWS payload as a JSON object. */
export function parseClaims(payload: Uint8Array, code: WimseErrorCode): Record<string, unknown> {
  let claims: unknown;
  try {
    claims = JSON.parse(strictUtf8.decode(payload));
  } catch (cause) {
    throw new WimseError(code, 'Token claims are not JSON', { cause });
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
    throw new WimseError(code, 'Token claims are not a JSON object');
  return claims as Record<string, unknown>;
}

/** No context token bound: shared, as most requests carry none. */
const NO_OTHER: Readonly<Record<string, string>> = Object.freeze({});
const NO_CONTEXT: ContextTokens = Object.freeze({ other: NO_OTHER });

function boundContextTokens(headers: RequestHeaders, claims: Partial<WptClaims>, names: readonly string[]): MaybePromise<ContextTokens> {
  const txnToken = singleField(headers, 'txn-token', 'wpt_tth');
  if (txnToken === undefined) {
    if (claims.tth !== undefined) throw new WimseError('wpt_tth', 'WPT tth given but no Txn-Token sent');
    return boundOtherTokens(headers, claims, names, undefined);
  }
  return after(tokenHashNow(txnToken), (hash) => {
    if (claims.tth !== hash) throw new WimseError('wpt_tth', 'WPT tth does not match the Txn-Token');
    return boundOtherTokens(headers, claims, names, txnToken);
  });
}

function boundOtherTokens(
  headers: RequestHeaders,
  claims: Partial<WptClaims>,
  names: readonly string[],
  txnToken: string | undefined,
): MaybePromise<ContextTokens> {
  const oth = claims.oth;
  if (oth !== undefined && (typeof oth !== 'object' || oth === null || Array.isArray(oth)))
    throw new WimseError('wpt_oth', 'WPT oth must be an object');
  if (oth === undefined && txnToken === undefined && names.length === 0) return NO_CONTEXT;
  const entries = Object.entries(oth ?? {});
  const other: Record<string, string> = {};
  const step = (i: number): MaybePromise<ContextTokens> => {
    if (i === entries.length) {
      for (const name of names) {
        if (headers[name] !== undefined && !(name in other)) throw new WimseError('wpt_oth', `${name} is sent but not bound by WPT oth`);
      }
      const bound = entries.length === 0 ? NO_OTHER : other;
      return txnToken === undefined ? (bound === NO_OTHER ? NO_CONTEXT : { other: bound }) : { txnToken, other: bound };
    }
    const [name, hash] = entries[i]!;
    if (!names.includes(name)) throw new WimseError('wpt_oth', `WPT oth member ${JSON.stringify(name)} is not understood`);
    const value = singleField(headers, name, 'wpt_oth');
    if (value === undefined) throw new WimseError('wpt_oth', `WPT oth names ${name} but the request has no such field`);
    return after(tokenHashNow(value.trim()), (computed) => {
      if (typeof hash !== 'string' || hash !== computed) throw new WimseError('wpt_oth', `WPT oth does not match ${name}`);
      other[name] = value.trim();
      return step(i + 1);
    });
  };
  return step(0);
}

// wpt-01 §2: ath binds the access token sent alongside the WPT.
function checkAccessTokenHash(claims: Record<string, unknown>, accessToken: string | undefined): MaybePromise<void> {
  if (accessToken === undefined) return;
  return after(tokenHashNow(accessToken), (hash) => {
    if (claims.ath !== hash) throw new WimseError('wpt_ath', 'WPT ath does not match the access token');
  });
}

/** What a caller needs to make a WPT. */
export interface CreateWptOptions {
  /** The caller's WIT, exactly as it will be sent. */
  wit: string;
  /** The private key matching the WIT's `cnf.jwk`. */
  key: CryptoKey | KeyObject | JWK | Uint8Array;
  /** `cnf.jwk.alg` of the WIT. */
  alg: WimseAlgorithm;
  /** The target URI without query and fragment. */
  aud: string;
  /** Seconds until `exp`. Default 60. */
  lifetime?: number;
  txnToken?: string;
  /** Other token-carrying fields to bind with `oth`, by name. */
  otherTokens?: Readonly<Record<string, string>>;
  /** Wire format the WPT is made for. Default `wpt-02`. */
  version?: WptVersion;
  /** JOSE `typ`. Default `wpt+jwt`. */
  typ?: WptTyp;
  /** `wpt-01` only: the access token sent in `Authorization: Bearer`, bound with `ath` (wpt-02 removed both). */
  accessToken?: string;
  /** Clock in ms, for tests. */
  now?: number;
}

/**
 * Creates a WPT for one request (wpt-02 §2).
 *
 * @example
 * const wpt = await createWpt({ wit, key, alg: 'ES256', aud: 'https://svc.example.com/orders' })
 * headers.set('authorization', `WPT ${wpt}`)
 */
export async function createWpt(o: CreateWptOptions): Promise<string> {
  const version = wptVersion(o.version);
  const typ = o.typ ?? WPT_TYP;
  if (!typMatches(typ, WPT_TYP)) throw new TypeError(`typ: ${JSON.stringify(typ)} is not a WPT type (wpt+jwt or application/wpt+jwt)`);
  if (o.accessToken !== undefined && version !== 'wpt-01') {
    throw new TypeError('accessToken: only wpt-01 binds an access token (ath); under wpt-02 the WPT itself occupies Authorization');
  }
  const claims: Record<string, unknown> = { aud: o.aud, wth: await tokenHash(o.wit) };
  // wpt-01 §2: ath is the hash of the access token sent alongside.
  if (o.accessToken !== undefined) claims.ath = await tokenHash(o.accessToken);
  if (o.txnToken !== undefined) claims.tth = await tokenHash(o.txnToken);
  if (o.otherTokens !== undefined && Object.keys(o.otherTokens).length > 0) {
    const oth: Record<string, string> = {};
    for (const [name, value] of Object.entries(o.otherTokens)) oth[name.toLowerCase()] = await tokenHash(value.trim());
    claims.oth = oth;
  }
  const now = Math.floor((o.now ?? Date.now()) / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: o.alg, typ })
    .setExpirationTime(now + (o.lifetime ?? 60))
    .setJti(base64url.encode(crypto.getRandomValues(new Uint8Array(16))))
    .sign(o.key);
}

/** Checks a {@link WptVersion} option; `undefined` is `wpt-02`. */
export function wptVersion(value: unknown): WptVersion {
  if (value === undefined || value === 'wpt-02') return 'wpt-02';
  if (value === 'wpt-01') return 'wpt-01';
  throw new TypeError(`version: ${JSON.stringify(value)} is not a WPT wire format (wpt-02 or wpt-01)`);
}
