/**
 * Subject token validation (txn-tokens-10 §11.3: "The TTS MUST validate the `subject_token`,
 * including verifying the signature, if it is signed"). Every failure of the token itself is
 * RFC 8693 §2.2.2 `invalid_request`; a key set that cannot be fetched is the service's problem (503).
 *
 * - external OAuth/OIDC JWTs (`access_token`, `id_token`, `jwt`): keys only from a configured
 *   issuer (the unverified `iss` merely selects among configured ones), exact `iss` and `aud`, `exp`
 *   required, algorithm allow-list; the token's scope bounds the Txn-Token's (§13.6).
 * - `self_signed` (§11.2.1): a JWT signed with the requester's own proof key (its WIT `cnf.jwk`),
 *   `iss` = the requester, `aud` = this service, `iat` recent, `exp` required.
 * - `unsigned_json` (§11.2.2): a JSON object with `sub`.
 * - `txn_token` (§13.15): a Txn-Token this service issued, verified with its own keys.
 */
import {
  DEFAULT_ALGORITHMS,
  TokenExchangeError,
  createIssuerKeyResolver,
  WimseError,
  isWimseError,
  parseScope,
  typMatches,
  type RemoteJwksOptions,
  type WimsePrincipal,
  type WimseTransaction,
} from '@wimse/core';
import { decodeJwt, errors, importJWK, jwtVerify, type JSONWebKeySet, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { SubjectKind } from './policy.js';

/** An external OAuth/OIDC issuer whose JWTs are accepted as subject tokens. */
export interface SubjectIssuer {
  /** Exact `iss`. */
  issuer: string;
  /** Accepted `aud` values (the token must name one). */
  audience: string | readonly string[];
  /**
   * Its JWKS, or the URL of it: fetched and cached with core's bounded policy (`remote`), keys
   * checked by core's public-key rules (a degenerate key is never used).
   */
  keys: JSONWebKeySet | string | URL;
  /** Fetch policy when `keys` is a URL (timeouts, size cap, cache age, backoff). Core's defaults otherwise. */
  remote?: RemoteJwksOptions;
  /** Accepted algorithms. Default: the asymmetric ones WIMSE supports. */
  algorithms?: readonly string[];
  /** Claim holding the scope: a space-separated string or an array of strings. Default `scope`. */
  scopeClaim?: string;
}

/** What the service learns from a valid subject token. */
export interface VerifiedSubject {
  readonly kind: SubjectKind;
  /** The transaction's principal (§9.2 `sub`). */
  readonly sub: string;
  /**
   * The scope the subject carries: the bound of the Txn-Token's scope (§13.6). `undefined` for an
   * external token without one (refused, §13.14); `'requester'` when the requester itself starts
   * the transaction (self-signed or unsigned subject) and only its policy bounds the scope.
   */
  readonly scope: readonly string[] | undefined | 'requester';
  /** The verified Txn-Token being replaced. */
  readonly replaced?: WimseTransaction;
}

/** Clock and bounds. */
export interface SubjectContext {
  readonly principal: WimsePrincipal;
  /** This service's identifier, the `aud` of self-signed subject tokens (§11.2.1). */
  readonly serviceId: string;
  readonly nowMs: number;
  readonly clockTolerance: number;
  /** Oldest accepted self-signed `iat`, in seconds. */
  readonly maxSelfSignedAge: number;
}

export interface SubjectVerifier {
  verify(kind: SubjectKind, token: string, context: SubjectContext): Promise<VerifiedSubject>;
}

const KIND_BY_TYPE: Readonly<Record<string, SubjectKind>> = {
  'urn:ietf:params:oauth:token-type:access_token': 'access_token',
  'urn:ietf:params:oauth:token-type:id_token': 'id_token',
  'urn:ietf:params:oauth:token-type:jwt': 'jwt',
  'urn:ietf:params:oauth:token-type:self_signed': 'self_signed',
  'urn:ietf:params:oauth:token-type:unsigned_json': 'unsigned_json',
  'urn:ietf:params:oauth:token-type:txn_token': 'txn_token',
};

/** The kind of a `subject_token_type`, or `invalid_request` for a type this service does not take (e.g. SAML). */
export function subjectKind(type: string): SubjectKind {
  const kind = KIND_BY_TYPE[type];
  if (kind === undefined) throw new TokenExchangeError('invalid_request', 'Unsupported subject_token_type');
  return kind;
}

// Types of our own and WIMSE's tokens: never accepted as a self-signed subject, whoever signed them.
const FOREIGN_TYPES = ['wit+jwt', 'wpt+jwt', 'txntoken+jwt'];

/**
 * Builds the subject verifier. Issuer configuration is checked now (`TypeError`).
 * `txnTokens` verifies Txn-Tokens with this service's own keys.
 */
export function createSubjectVerifier(
  issuers: readonly SubjectIssuer[],
  txnTokens: { verify(token: string): WimseTransaction | Promise<WimseTransaction> },
): SubjectVerifier {
  const byIssuer = new Map<string, { config: SubjectIssuer; getKey: JWTVerifyGetKey; audience: string[]; algorithms: string[] }>();
  for (const [i, config] of issuers.entries()) {
    const where = `subjectIssuers[${i}]`;
    if (typeof config?.issuer !== 'string' || config.issuer === '') throw new TypeError(`${where}.issuer is required`);
    const audience = typeof config.audience === 'string' ? [config.audience] : [...(config.audience ?? [])];
    if (audience.length === 0 || audience.some((a) => typeof a !== 'string' || a === ''))
      throw new TypeError(`${where}.audience is required`);
    const algorithms = [...(config.algorithms ?? DEFAULT_ALGORITHMS)];
    if (algorithms.some((a) => a === 'none' || a.startsWith('HS'))) throw new TypeError(`${where}.algorithms: only asymmetric algorithms`);
    // Core's rules for issuer keys: static keys checked now (TypeError), fetched ones when selected.
    const getKey = issuerKeys(config, where);
    byIssuer.set(config.issuer, { config, getKey, audience, algorithms });
  }

  async function external(kind: SubjectKind, token: string, ctx: SubjectContext): Promise<VerifiedSubject> {
    const iss = unverifiedIssuer(token);
    const trusted = iss === undefined ? undefined : byIssuer.get(iss);
    if (trusted === undefined) throw new TokenExchangeError('invalid_request', 'subject_token is not from a trusted issuer');
    const { payload } = await verifying(() =>
      jwtVerify(token, trusted.getKey, {
        issuer: trusted.config.issuer,
        audience: trusted.audience,
        algorithms: trusted.algorithms,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: ctx.clockTolerance,
        currentDate: new Date(ctx.nowMs),
      }),
    );
    return { kind, sub: subOf(payload), scope: scopeOf(payload[trusted.config.scopeClaim ?? 'scope']) };
  }

  async function selfSigned(token: string, ctx: SubjectContext): Promise<VerifiedSubject> {
    const cnf = ctx.principal.wit?.claims.cnf.jwk;
    if (cnf === undefined)
      throw new TokenExchangeError('invalid_request', 'A self_signed subject token needs a requester authenticated with a WIT');
    const key = await importJWK(cnf, cnf.alg);
    const { payload, protectedHeader } = await verifying(() =>
      jwtVerify(token, key, {
        algorithms: [cnf.alg],
        audience: ctx.serviceId,
        requiredClaims: ['iss', 'sub', 'aud', 'iat', 'exp'],
        clockTolerance: ctx.clockTolerance,
        maxTokenAge: ctx.maxSelfSignedAge,
        currentDate: new Date(ctx.nowMs),
      }),
    );
    if (FOREIGN_TYPES.some((t) => typMatches(protectedHeader.typ, t)))
      throw new TokenExchangeError('invalid_request', 'subject_token is not a self-signed subject token');
    // §11.2.1: iss "identifies the workload that created the JWT", the requester here.
    if (payload.iss !== ctx.principal.workload)
      throw new TokenExchangeError('invalid_request', 'A self_signed subject token must be issued by the requesting workload');
    // §11.2.1: iat "unreasonably far in the future" is refused (jose checks only its age).
    if ((payload.iat as number) > ctx.nowMs / 1000 + ctx.clockTolerance)
      throw new TokenExchangeError('invalid_request', 'subject_token iat is in the future');
    return { kind: 'self_signed', sub: subOf(payload), scope: payload.scope === undefined ? 'requester' : scopeOf(payload.scope) };
  }

  function unsignedJson(token: string): VerifiedSubject {
    let value: unknown;
    try {
      value = JSON.parse(token);
    } catch {
      throw new TokenExchangeError('invalid_request', 'An unsigned_json subject token must be a JSON object');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new TokenExchangeError('invalid_request', 'An unsigned_json subject token must be a JSON object');
    const claims = value as JWTPayload;
    return { kind: 'unsigned_json', sub: subOf(claims), scope: claims.scope === undefined ? 'requester' : scopeOf(claims.scope) };
  }

  async function replacement(token: string): Promise<VerifiedSubject> {
    let replaced: WimseTransaction;
    try {
      replaced = await txnTokens.verify(token);
    } catch (e) {
      if (isWimseError(e) && e.status < 500) throw new TokenExchangeError('invalid_request', `subject_token: ${e.message}`, { cause: e });
      throw e;
    }
    return { kind: 'txn_token', sub: replaced.sub, scope: replaced.scope, replaced };
  }

  return {
    verify(kind, token, ctx) {
      switch (kind) {
        case 'self_signed':
          return selfSigned(token, ctx);
        case 'unsigned_json':
          return Promise.resolve().then(() => unsignedJson(token));
        case 'txn_token':
          return replacement(token);
        default:
          return external(kind, token, ctx);
      }
    },
  };
}

function unverifiedIssuer(token: string): string | undefined {
  try {
    const { iss } = decodeJwt(token);
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    throw new TokenExchangeError('invalid_request', 'subject_token is not a JWT');
  }
}

// §9.2: sub is REQUIRED and becomes the Txn-Token's principal.
function subOf(claims: JWTPayload): string {
  if (typeof claims.sub !== 'string' || claims.sub === '' || claims.sub.length > 512)
    throw new TokenExchangeError('invalid_request', 'subject_token sub must be a non-empty string');
  return claims.sub;
}

// A malformed scope is as good as none: unknown, so it grants nothing (§13.14).
function scopeOf(value: unknown): readonly string[] | undefined {
  try {
    if (typeof value === 'string') return parseScope(value);
    if (Array.isArray(value) && value.length > 0 && value.every((s) => typeof s === 'string')) return parseScope(value.join(' '));
  } catch {
    return undefined;
  }
  return undefined;
}

// A key set that cannot be fetched (network, timeout, not 200, too large, not a JWKS) or a
// refused key is the service's problem (503 trust_unavailable, Retry-After); no matching key is
// the token's (jose's JWKSNoMatchingKey, a JOSEError: invalid_request).
function issuerKeys(config: SubjectIssuer, where: string): JWTVerifyGetKey {
  const getKey = createIssuerKeyResolver(
    { keys: config.keys, ...(config.remote === undefined ? {} : { remote: config.remote }) },
    { name: config.issuer, where },
  );
  return async (header, token) => {
    try {
      return await getKey(header, token);
    } catch (e) {
      if (e instanceof WimseError || e instanceof errors.JOSEError) throw e;
      throw new WimseError('trust_unavailable', 'The subject token issuer keys could not be used', { cause: e, retryAfter: 30 });
    }
  };
}

// jose's verdicts on the token are the client's problem.
async function verifying<T>(verify: () => Promise<T>): Promise<T> {
  try {
    return await verify();
  } catch (e) {
    if (e instanceof TokenExchangeError || e instanceof WimseError) throw e;
    if (e instanceof errors.JWTExpired) throw new TokenExchangeError('invalid_request', 'subject_token expired', { cause: e });
    if (e instanceof errors.JOSEError) throw new TokenExchangeError('invalid_request', `subject_token invalid (${e.code})`, { cause: e });
    throw e;
  }
}
