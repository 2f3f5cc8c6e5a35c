/**
 * Transaction Tokens (draft-ietf-oauth-transaction-tokens-10): issuing one (§9, §11.3, for a
 * Txn-Token Service) and verifying one as a receiving workload (§12.2). The token is request
 * context, never the caller's credential (§13.12): a WIMSE proof binds it (WPT `tth`, or the
 * signature covering `txn-token`), and only then is it verified here.
 *
 * Keys come from configuration only (a JWK, JWKS, JWKS URL or resolver, as for WIT issuers), never
 * from `iss`, `jku` or `jwk` in the token; algorithms from an allow-list, never from the token.
 */
import { SignJWT, type CryptoKey, type JSONWebKeySet, type JWK, type JWTPayload, type JWTVerifyGetKey, type KeyObject } from 'jose';
import { decodeCompactJwt, DEFAULT_ALGORITHMS, isSupportedAlgorithm, typMatches, type WimseAlgorithm } from './algorithms.js';
import { WimseError } from './errors.js';
import { ExpiringMap } from './expiring-map.js';
import { after, type MaybePromise } from './maybe-async.js';
import { rejectUnknownKeys, type KnownKeys } from './option-keys.js';
import type { WimsePrincipal } from './principal.js';
import { singleField, type WimseRequest } from './request.js';
import { issuerKeyResolver, type RemoteJwksOptions } from './trust.js';
import { guardedKey, joseCode } from './wit.js';
import { verifyWitSignature } from './wit-signature.js';

/** §9.1: "The `typ` Header Parameter MUST be present and MUST have the value `txntoken+jwt`." */
export const TXN_TOKEN_TYP = 'txntoken+jwt';

/** §12: the HTTP field carrying the Txn-Token (lower-case, as in {@link WimseRequest} headers). */
export const TXN_TOKEN_FIELD = 'txn-token';

/** How this service verifies Txn-Tokens (the `transactionTokens` verifier option). */
export interface TransactionTokenOptions {
  /** This service's trust domain, e.g. `example.org`: a Txn-Token's `aud` must be it or contain it (§9.2). */
  trustDomain: string;
  /**
   * The Txn-Token Service's public keys: a JWK, a JWKS, an `http(s)` URL of a JWKS (fetched and
   * cached, see {@link RemoteJwksOptions}) or a jose key resolver. Same rules as WIT issuer keys.
   */
  keys: JWK | JSONWebKeySet | string | URL | JWTVerifyGetKey;
  /** Signature algorithms accepted. Default: every supported asymmetric algorithm. */
  algorithms?: readonly WimseAlgorithm[];
  /** Accepted `iss` values; when set, a Txn-Token without one of them is refused (`iss` is OPTIONAL in §9.2). */
  issuer?: string | readonly string[];
  /** Longest accepted lifetime `exp - iat`, in seconds ("short-lived", §6, §13.1). Default 600. */
  maxLifetime?: number;
  /** Fetch options when `keys` is a URL. */
  remote?: RemoteJwksOptions;
  /** Verified-token cache. Default 10 000 entries for at most 300 s each (never past `exp`). */
  cache?: { maxEntries?: number; ttlSeconds?: number };
}

/** {@link TransactionTokenOptions} for {@link verifyTxnToken} used on its own. */
export interface TxnTokenVerifierOptions extends TransactionTokenOptions {
  /** Seconds of clock skew tolerated on `exp` and `iat`. Default 30. */
  clockTolerance?: number;
  /** Longest accepted token, in characters. Default 8192. */
  maxLength?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** The verified claims of a Txn-Token (§9.2), frozen. Unknown claims are left out (§9.2: ignored). */
export interface WimseTransaction {
  /** Unique transaction identifier. */
  readonly txn: string;
  /** The principal of the transaction, unique within the trust domain. */
  readonly sub: string;
  /** `scope` split on spaces (RFC 6749 §3.3). */
  readonly scope: readonly string[];
  /** `req_wl`: the workload that requested the Txn-Token (usually the gateway, not the immediate caller). */
  readonly reqWl: string;
  readonly iat: number;
  readonly exp: number;
  readonly iss?: string;
  /** Transaction context set by the Txn-Token Service (authoritative, immutable through the call chain). */
  readonly tctx?: Readonly<Record<string, unknown>>;
  /** Request context (e.g. `req_ip`, `authn`). */
  readonly rctx?: Readonly<Record<string, unknown>>;
}

/** Verifies Txn-Tokens against one configuration. */
export interface TxnTokenVerifier {
  /** The verified transaction, synchronously when the token was verified before; rejects/throws a {@link WimseError}. */
  verify(token: string): WimseTransaction | Promise<WimseTransaction>;
  /** Longest accepted token, in characters. */
  readonly maxLength: number;
}

/** Every key of {@link TransactionTokenOptions}. */
export const TRANSACTION_TOKEN_KEYS: KnownKeys<TransactionTokenOptions> = {
  trustDomain: true,
  keys: true,
  algorithms: true,
  issuer: true,
  maxLifetime: true,
  remote: true,
  cache: true,
};
const STANDALONE_KEYS: KnownKeys<TxnTokenVerifierOptions> = { ...TRANSACTION_TOKEN_KEYS, clockTolerance: true, maxLength: true, now: true };
const CACHE_KEYS: KnownKeys<NonNullable<TransactionTokenOptions['cache']>> = { maxEntries: true, ttlSeconds: true };

// RFC 6749 §3.3: scope = scope-token *( SP scope-token ), scope-token = 1*NQCHAR.
const SCOPE_RE = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/;

/** True when `value` is one RFC 6749 §3.3 scope-token (printable ASCII without space, `"` or `\`). */
export function isScopeToken(value: unknown): value is string {
  return typeof value === 'string' && !value.includes(' ') && SCOPE_RE.test(value);
}

interface Resolved {
  readonly trustDomain: string;
  readonly getKey: JWTVerifyGetKey;
  readonly algorithms: readonly WimseAlgorithm[];
  readonly issuers: readonly string[] | undefined;
  readonly maxLifetime: number;
  readonly clockTolerance: number;
  readonly maxLength: number;
  readonly now: () => number;
}

/**
 * Builds a Txn-Token verifier; options are validated now (bad configuration throws `TypeError`).
 * Verified tokens are cached (bounded, never past `exp`), so a repeat costs no signature check.
 *
 * @example
 * const txn = createTxnTokenVerifier({ trustDomain: 'example.org', keys: 'https://tts.example.org/jwks' })
 * const transaction = await txn.verify(request.headers['txn-token'])
 * @param where the option's name in configuration errors.
 */
export function createTxnTokenVerifier(options: TxnTokenVerifierOptions, where = 'transactionTokens'): TxnTokenVerifier {
  rejectUnknownKeys(where, options, STANDALONE_KEYS);
  if (options.cache !== undefined) rejectUnknownKeys(`${where}.cache`, options.cache, CACHE_KEYS);
  const now = options.now ?? Date.now;
  const { trustDomain } = options;
  if (typeof trustDomain !== 'string' || trustDomain.length === 0 || trustDomain.trim() !== trustDomain) {
    throw new TypeError(`${where}.trustDomain must be the trust domain name, e.g. "example.org"`);
  }
  if (options.keys === undefined || options.keys === null) throw new TypeError(`${where}.keys is required`);
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  if (!Array.isArray(algorithms) || algorithms.length === 0) throw new TypeError(`${where}.algorithms must list at least one algorithm`);
  for (const alg of algorithms)
    if (!isSupportedAlgorithm(alg)) throw new TypeError(`${where}.algorithms: ${JSON.stringify(alg)} is not an asymmetric JWS algorithm`);
  const issuer = options.issuer;
  const issuers = issuer === undefined ? undefined : typeof issuer === 'string' ? [issuer] : [...issuer];
  if (issuers !== undefined && (issuers.length === 0 || issuers.some((i) => typeof i !== 'string' || i === '')))
    throw new TypeError(`${where}.issuer must be a non-empty string or list of them`);
  const r: Resolved = {
    trustDomain,
    getKey: guardedKey(issuerKeyResolver(where, trustDomain, options, now), 'txn_token_key_unknown', 'Txn-Token'),
    algorithms: [...algorithms],
    issuers,
    maxLifetime: nonNegative(`${where}.maxLifetime`, options.maxLifetime, 600),
    clockTolerance: nonNegative(`${where}.clockTolerance`, options.clockTolerance, 30),
    maxLength: nonNegative(`${where}.maxLength`, options.maxLength, 8192),
    now,
  };
  const maxEntries = nonNegative(`${where}.cache.maxEntries`, options.cache?.maxEntries, 10_000);
  const ttlMs = nonNegative(`${where}.cache.ttlSeconds`, options.cache?.ttlSeconds, 300) * 1000;
  const cache = maxEntries >= 1 && ttlMs > 0 ? new ExpiringMap<string, WimseTransaction>(Math.floor(maxEntries)) : undefined;
  return {
    maxLength: r.maxLength,
    verify(token) {
      // Bounded before anything else, the cache lookup included: no work for a flood of huge values.
      if (typeof token !== 'string' || token.length > r.maxLength)
        throw new WimseError('txn_token_too_large', `Txn-Token longer than ${r.maxLength} characters`);
      const at = r.now();
      const hit = cache?.get(token, at);
      if (hit !== undefined) return hit;
      return verifyToken(token, r).then((t) => {
        cache?.set(token, t, Math.min(t.exp * 1000, at + ttlMs), at);
        return t;
      });
    },
  };
}

/**
 * Wraps proof verification with Txn-Token verification: exactly one `Txn-Token` field (§12),
 * checked before the proof; then the token the proof bound (WPT `tth`, or the signature's covered
 * `txn-token`; for mTLS alone, the field of the authenticated connection) is verified (§12.2) and
 * becomes `principal.transaction`. Without a Txn-Token the principal is returned as it is.
 */
export function withTransactions(
  verifyProof: (request: WimseRequest) => MaybePromise<WimsePrincipal>,
  txn: TxnTokenVerifier,
): (request: WimseRequest) => MaybePromise<WimsePrincipal> {
  return (request) => {
    const field = singleField(request.headers, TXN_TOKEN_FIELD, 'txn_token_duplicate');
    // A flood of huge values costs no proof verification either.
    if (field !== undefined && field.length > txn.maxLength)
      throw new WimseError('txn_token_too_large', `Txn-Token longer than ${txn.maxLength} characters`);
    const proven = verifyProof(request);
    if (field === undefined) return proven;
    return after(proven, (principal) => {
      const token = principal.method === 'mtls' ? field : principal.context.txnToken;
      // Every proof refuses a Txn-Token it does not bind (wpt.ts, http-signature/request.ts): reaching here without one is a bug.
      if (token === undefined) throw new Error('A Txn-Token was sent but the proof did not bind it');
      // A cached Txn-Token answers in the same tick (maybe-async.ts).
      return after(txn.verify(token.trim()), (transaction) => Object.freeze({ ...principal, transaction }));
    });
  };
}

const standalone = new WeakMap<TxnTokenVerifierOptions, TxnTokenVerifier>();

/**
 * Verifies a Txn-Token as a receiving workload (§12.2). The verifier built for `options` is kept
 * with that object, so calls with the same options share its cache and remote key set.
 * Rejects with a {@link WimseError} (`txn_token_*`, or `trust_unavailable` when keys cannot be fetched).
 *
 * @example
 * const options = { trustDomain: 'example.org', keys: ttsJwks }
 * const { txn, sub, scope } = await verifyTxnToken(token, options)
 */
export async function verifyTxnToken(token: string, options: TxnTokenVerifierOptions): Promise<WimseTransaction> {
  let verifier = standalone.get(options);
  if (verifier === undefined) standalone.set(options, (verifier = createTxnTokenVerifier(options)));
  return verifier.verify(token);
}

async function verifyToken(token: string, r: Resolved): Promise<WimseTransaction> {
  // §9: a JWS in compact serialization.
  const { header, claims: unverified } = decodeCompactJwt(token, 'txn_token_malformed', 'Txn-Token');
  // §9.1: explicit typing (RFC 7515 §4.1.9 normalisation, as for wit+jwt).
  if (!typMatches(header.typ, TXN_TOKEN_TYP)) throw new WimseError('txn_token_typ', `Txn-Token typ must be ${TXN_TOKEN_TYP}`);
  if (!r.algorithms.includes(header.alg as WimseAlgorithm))
    throw new WimseError('txn_token_alg', `Txn-Token algorithm ${String(header.alg)} not allowed`);
  const now = r.now();
  let claims: JWTPayload;
  try {
    // §12.2: signature with the configured keys; exp (and nbf, when present) with clock tolerance.
    claims = await verifyWitSignature(token, {
      header,
      claims: unverified,
      getKey: r.getKey,
      algorithms: r.algorithms,
      clockTolerance: r.clockTolerance,
      now,
    });
  } catch (e) {
    throw joseError(e);
  }
  return transactionOf(claims, r, now / 1000);
}

// §9.2 claims, checked after the signature.
function transactionOf(c: JWTPayload, r: Resolved, now: number): WimseTransaction {
  if (typeof c.exp !== 'number' || !Number.isFinite(c.exp)) throw new WimseError('txn_token_claims', 'Txn-Token exp is required');
  if (typeof c.iat !== 'number' || !Number.isFinite(c.iat)) throw new WimseError('txn_token_claims', 'Txn-Token iat is required');
  // RFC 7519 §4.1.6: a token issued in the future is not valid yet.
  if (c.iat > now + r.clockTolerance) throw new WimseError('txn_token_not_yet_valid', 'Txn-Token iat is in the future');
  // §6, §13.1: "short-lived"; a Txn-Token is not replay-resistant, so its lifetime is bounded here.
  if (c.exp - c.iat > r.maxLifetime) throw new WimseError('txn_token_lifetime', `Txn-Token lifetime exceeds ${r.maxLifetime}s`);
  // §9.2: aud identifies the trust domain; "MUST NOT be accepted outside" it.
  const aud = c.aud;
  if (aud === undefined) throw new WimseError('txn_token_audience', 'Txn-Token aud is required');
  if (!(aud === r.trustDomain || (Array.isArray(aud) && aud.every((a) => typeof a === 'string') && aud.includes(r.trustDomain)))) {
    const received = (
      typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud.filter((a): a is string => typeof a === 'string') : []
    ).map((a) => (a.length > 200 ? `${a.slice(0, 200)}…` : a));
    throw new WimseError('txn_token_audience', `Txn-Token aud does not name trust domain ${r.trustDomain}`, {
      mismatch: { expected: [r.trustDomain], received },
    });
  }
  const txn = requiredString(c, 'txn');
  const sub = requiredString(c, 'sub');
  const reqWl = requiredString(c, 'req_wl');
  if (typeof c.scope !== 'string' || !SCOPE_RE.test(c.scope))
    throw new WimseError('txn_token_claims', 'Txn-Token scope must be space-separated scope tokens (RFC 6749 §3.3)');
  const tctx = optionalObject(c, 'tctx');
  const rctx = optionalObject(c, 'rctx');
  if (c.iss !== undefined && typeof c.iss !== 'string') throw new WimseError('txn_token_claims', 'Txn-Token iss must be a string');
  if (r.issuers !== undefined && (c.iss === undefined || !r.issuers.includes(c.iss))) {
    throw new WimseError('txn_token_iss', `Txn-Token iss is not ${r.issuers.map((i) => JSON.stringify(i)).join(' or ')}`);
  }
  return Object.freeze({
    txn,
    sub,
    scope: Object.freeze(c.scope.split(' ')),
    reqWl,
    iat: c.iat,
    exp: c.exp,
    ...(c.iss === undefined ? {} : { iss: c.iss }),
    ...(tctx === undefined ? {} : { tctx }),
    ...(rctx === undefined ? {} : { rctx }),
  });
}

function requiredString(c: JWTPayload, name: 'txn' | 'sub' | 'req_wl'): string {
  const v = c[name];
  if (typeof v !== 'string' || v.length === 0) throw new WimseError('txn_token_claims', `Txn-Token ${name} must be a non-empty string`);
  return v;
}

// §9.2.2 / §9.2.3: JSON objects when present. Frozen deeply: a cached transaction is shared by requests.
function optionalObject(c: JWTPayload, name: 'tctx' | 'rctx'): Readonly<Record<string, unknown>> | undefined {
  const v = c[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new WimseError('txn_token_claims', `Txn-Token ${name} must be a JSON object`);
  return deepFreeze(v as Record<string, unknown>);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

// jose's verdicts on the token become Txn-Token codes; anything else (a bug) is rethrown as is.
function joseError(e: unknown): unknown {
  if (e instanceof WimseError) return e;
  switch (joseCode(e)) {
    case 'ERR_JWT_EXPIRED':
      return new WimseError('txn_token_expired', 'Txn-Token expired', { cause: e });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (e as { claim?: string }).claim;
      return claim === 'nbf'
        ? new WimseError('txn_token_not_yet_valid', 'Txn-Token not yet valid', { cause: e })
        : new WimseError('txn_token_claims', `Txn-Token claim ${String(claim)} invalid`, { cause: e });
    }
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new WimseError('txn_token_alg', 'Txn-Token algorithm not allowed', { cause: e });
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return new WimseError('txn_token_malformed', 'Txn-Token is not a valid JWT', { cause: e });
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return new WimseError('txn_token_signature', 'Txn-Token signature could not be verified with the configured keys', { cause: e });
    default:
      return e;
  }
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number`);
  return value;
}

/** The claims a Txn-Token Service sets (§9.2, §11.3). */
export interface TxnTokenClaimsInput {
  /** The trust domain, e.g. `example.org` (§9.2: "MUST identify the Trust Domain"). */
  aud: string;
  /** The transaction's principal, unique within the trust domain. */
  sub: string;
  /** Scope tokens, or one space-separated string (RFC 6749 §3.3). */
  scope: string | readonly string[];
  /** The workload that requested the token. */
  req_wl: string;
  /** Transaction id; default a random UUID (§13.2: "SHOULD be unique"). Keep it on replacement (§13.15). */
  txn?: string;
  tctx?: Record<string, unknown>;
  rctx?: Record<string, unknown>;
  iss?: string;
  /** Expiry (seconds since the epoch), e.g. to keep a replaced token's; default `iat + lifetime`. */
  exp?: number;
}

/** The Txn-Token Service's signing key. */
export interface IssueTxnTokenOptions {
  privateKey: CryptoKey | KeyObject | JWK;
  alg: WimseAlgorithm;
  /** `kid` of the key, so receivers can select it (§9.1: rotation "SHOULD be supported"). */
  kid?: string;
  /** Lifetime in seconds when `exp` is not given. Default 300 (§6: "on the order of minutes or less"). */
  lifetime?: number;
  /** Clock in ms, for tests. */
  now?: number;
}

/**
 * Issues a Txn-Token (for a Txn-Token Service and tests): typ `txntoken+jwt`, `iat` now. Throws
 * `TypeError` on claims a receiver would refuse.
 *
 * @example
 * const token = await issueTxnToken(
 *   { aud: 'example.org', sub: 'user-42', scope: 'orders.read', req_wl: 'spiffe://example.org/gateway' },
 *   { privateKey, alg: 'ES256', kid: 'tts-1' })
 */
export async function issueTxnToken(claims: TxnTokenClaimsInput, options: IssueTxnTokenOptions): Promise<string> {
  if (claims === null || typeof claims !== 'object') throw new TypeError('issueTxnToken: claims object required');
  if (!isSupportedAlgorithm(options.alg)) throw new TypeError('issueTxnToken: alg must name an asymmetric JWS algorithm');
  for (const name of ['aud', 'sub', 'req_wl'] as const) {
    if (typeof claims[name] !== 'string' || claims[name].length === 0)
      throw new TypeError(`issueTxnToken: ${name} must be a non-empty string`);
  }
  const scope = typeof claims.scope === 'string' ? claims.scope : Array.isArray(claims.scope) ? claims.scope.join(' ') : undefined;
  if (scope === undefined || !SCOPE_RE.test(scope))
    throw new TypeError('issueTxnToken: scope must be one or more scope tokens (RFC 6749 §3.3)');
  for (const name of ['tctx', 'rctx'] as const) {
    const v = claims[name];
    if (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v)))
      throw new TypeError(`issueTxnToken: ${name} must be an object`);
  }
  if (claims.txn !== undefined && (typeof claims.txn !== 'string' || claims.txn.length === 0))
    throw new TypeError('issueTxnToken: txn must be a non-empty string');
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const lifetime = options.lifetime ?? 300;
  if (!Number.isFinite(lifetime) || lifetime <= 0) throw new TypeError('issueTxnToken: lifetime must be a positive number of seconds');
  const exp = claims.exp ?? iat + lifetime;
  if (!Number.isFinite(exp) || exp <= iat) throw new TypeError('issueTxnToken: exp must be after iat');
  const payload: JWTPayload = {
    iat,
    aud: claims.aud,
    exp,
    txn: claims.txn ?? crypto.randomUUID(),
    sub: claims.sub,
    scope,
    req_wl: claims.req_wl,
    ...(claims.iss === undefined ? {} : { iss: claims.iss }),
    ...(claims.tctx === undefined ? {} : { tctx: claims.tctx }),
    ...(claims.rctx === undefined ? {} : { rctx: claims.rctx }),
  };
  return new SignJWT(payload)
    .setProtectedHeader({ alg: options.alg, typ: TXN_TOKEN_TYP, ...(options.kid === undefined ? {} : { kid: options.kid }) })
    .sign(options.privateKey);
}
