/**
 * Verification of platform tokens: JWTs a workload's platform issued to it (the model is a
 * Kubernetes projected service account token), presented as the RFC 8693 `subject_token`.
 *
 * Trust is configured, never discovered from the token: the token's `iss` only selects one of the
 * configured issuers (exact string match), whose keys come from its configuration (a static JWKS,
 * a JWKS URL, or OIDC discovery at `<issuer>/.well-known/openid-configuration`). Then: algorithm
 * allow-list, signature, exactly this identity server as the one audience, `exp`/`iat` present and
 * within bounds (RFC 7519 §4.1; RFC 8725 §3.8, §3.9, §3.11).
 */
import { TokenExchangeError, typMatches, type WimseAlgorithm } from '@wimse/core';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  errors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
} from 'jose';

/** One platform whose tokens this identity server accepts as attestation. */
export interface PlatformIssuer {
  /** The exact `iss` of its tokens, e.g. `https://kubernetes.default.svc.cluster.local`. */
  issuer: string;
  /** Its public keys, given here... */
  jwks?: JSONWebKeySet;
  /** ...or fetched from this URL... */
  jwksUri?: string;
  /** ...or found by OIDC discovery (`jwks_uri` of `<issuer>/.well-known/openid-configuration`). Exactly one of the three. */
  discovery?: boolean;
  /** The `aud` its tokens must carry, alone. Default: the identity server's `issuer` URL. */
  audience?: string;
  /** Accepted signature algorithms. Default `['RS256', 'ES256']` (what Kubernetes API servers use). */
  algorithms?: readonly WimseAlgorithm[];
  /** Longest accepted lifetime `exp - iat`, in seconds. Default 86 400 (24 h). */
  maxLifetime?: number;
}

/** A verified platform token: its claims and the configuration that accepted it. */
export interface VerifiedPlatformToken {
  issuer: PlatformIssuer;
  claims: JWTPayload & { iss: string; sub: string; exp: number; iat: number };
}

export interface PlatformTokenVerifierOptions {
  /** Default audience: this identity server's URL. */
  audience: string;
  /** Allowed clock difference, seconds. Default 30. */
  clockTolerance?: number;
  /** Timeout of a JWKS or discovery fetch, ms. Default 5000. */
  fetchTimeout?: number;
  /** After a failed discovery, wait this long (ms) before trying again. Default 5000. */
  retryAfter?: number;
}

export interface PlatformTokenVerifier {
  /**
   * @throws TokenExchangeError `invalid_request` for a token that is not acceptable (RFC 8693 §2.2.2),
   * `temporarily_unavailable` (503) when the issuer's keys cannot be fetched now.
   */
  verify(token: string, now: number): Promise<VerifiedPlatformToken>;
}

const DEFAULT_ALGORITHMS: readonly WimseAlgorithm[] = ['RS256', 'ES256'];

/** Raised by a key source that could not reach the issuer: the client is not at fault. */
class KeysUnavailable extends Error {}

const invalid = (why: string) => new TokenExchangeError('invalid_request', `subject_token: ${why}`);

/** Creates the verifier over the configured issuers; checks the configuration. */
export function createPlatformTokenVerifier(
  issuers: readonly PlatformIssuer[],
  options: PlatformTokenVerifierOptions,
): PlatformTokenVerifier {
  const timeout = options.fetchTimeout ?? 5000;
  const retryAfter = options.retryAfter ?? 5000;
  const tolerance = options.clockTolerance ?? 30;
  const byIssuer = new Map<string, { config: PlatformIssuer; keys: JWTVerifyGetKey }>();
  for (const config of issuers) {
    const sources = [config.jwks, config.jwksUri, config.discovery === true ? true : undefined].filter((s) => s !== undefined);
    if (sources.length !== 1) throw new TypeError(`Platform issuer ${config.issuer}: give exactly one of jwks, jwksUri, discovery`);
    if (byIssuer.has(config.issuer)) throw new TypeError(`Platform issuer ${config.issuer} is configured twice`);
    if (!URL.canParse(config.issuer)) throw new TypeError(`Platform issuer ${config.issuer} is not a URL`);
    const keys =
      config.jwks !== undefined
        ? createLocalJWKSet(config.jwks)
        : config.jwksUri !== undefined
          ? remote(new URL(config.jwksUri), timeout)
          : discovered(config.issuer, timeout, retryAfter);
    byIssuer.set(config.issuer, { config, keys });
  }

  return {
    async verify(token, now) {
      let unverified: JWTPayload;
      try {
        unverified = decodeJwt(token);
      } catch {
        throw invalid('not a JWT');
      }
      // `iss` selects among configured issuers only; an unknown one is refused, never fetched.
      const entry = typeof unverified.iss === 'string' ? byIssuer.get(unverified.iss) : undefined;
      if (entry === undefined) throw invalid('issuer is not a configured platform issuer');
      const { config } = entry;
      const audience = config.audience ?? options.audience;
      let payload: JWTPayload;
      let typ: unknown;
      try {
        ({
          payload,
          protectedHeader: { typ },
        } = await jwtVerify(token, entry.keys, {
          issuer: config.issuer,
          audience,
          algorithms: [...(config.algorithms ?? DEFAULT_ALGORITHMS)],
          requiredClaims: ['iss', 'sub', 'aud', 'exp', 'iat'],
          clockTolerance: tolerance,
          currentDate: new Date(now),
        }));
      } catch (e) {
        if (e instanceof KeysUnavailable) {
          throw new TokenExchangeError('temporarily_unavailable', `The keys of platform issuer ${config.issuer} cannot be fetched now`, {
            headers: { 'retry-after': String(Math.ceil(retryAfter / 1000)) },
          });
        }
        throw invalid(reason(e));
      }
      // RFC 8725 §3.11: a token explicitly typed as something else (an access token, a DPoP proof) is not a platform token.
      if (typ !== undefined && !typMatches(typ, 'jwt')) throw invalid('typ marks another kind of token');
      // Exactly one audience: a token also meant for another service could be replayed here by that service.
      const aud = payload.aud;
      if (Array.isArray(aud) ? aud.length !== 1 || aud[0] !== audience : aud !== audience) throw invalid(`aud must be exactly ${audience}`);
      const { iat, exp, sub } = payload as { iat: unknown; exp: unknown; sub: unknown };
      if (typeof iat !== 'number' || typeof exp !== 'number' || typeof sub !== 'string') throw invalid('iat, exp and sub are required');
      if (iat > now / 1000 + tolerance) throw invalid('iat is in the future');
      if (exp - iat > (config.maxLifetime ?? 86_400)) throw invalid('lifetime is longer than this issuer may grant');
      return { issuer: config, claims: payload as VerifiedPlatformToken['claims'] };
    },
  };
}

// A short description of why jose refused, without echoing the token.
function reason(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'expired';
  if (e instanceof errors.JWTClaimValidationFailed) return `claim ${e.claim} is not acceptable`;
  if (e instanceof errors.JOSEAlgNotAllowed) return 'alg is not allowed for this issuer';
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'signature is invalid';
  if (e instanceof errors.JWKSNoMatchingKey) return 'signed with a key this issuer does not publish';
  if (e instanceof errors.JWKSMultipleMatchingKeys) return 'the key is ambiguous (no kid)';
  return 'not a valid JWT';
}

// jose's remote set caches keys, refetches on an unknown kid at most once per cooldown, and times out.
function remote(url: URL, timeout: number): JWTVerifyGetKey {
  const set = createRemoteJWKSet(url, { timeoutDuration: timeout, cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 });
  return async (header, token) => {
    try {
      return await set(header, token);
    } catch (e) {
      // A token problem stays a token problem; anything else (timeout, network, not a JWKS) is the issuer's.
      if (e instanceof errors.JWKSNoMatchingKey || e instanceof errors.JWKSMultipleMatchingKeys || e instanceof errors.JOSEAlgNotAllowed)
        throw e;
      throw new KeysUnavailable('JWKS fetch failed', { cause: e });
    }
  };
}

/**
 * OIDC Discovery 1.0 §4: fetch the metadata once (concurrent callers share the fetch), require its
 * `issuer` to equal the configured one (§4.3), then use its `jwks_uri`. A failure is remembered for
 * `retryAfter` ms so a flood of requests does not become a flood of fetches.
 */
function discovered(issuer: string, timeout: number, retryAfter: number): JWTVerifyGetKey {
  let keys: Promise<JWTVerifyGetKey> | undefined;
  let failedAt = -Infinity;
  const load = async (): Promise<JWTVerifyGetKey> => {
    const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(timeout), redirect: 'error', headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    const meta = (await res.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (meta.issuer !== issuer) throw new Error(`${url} names another issuer`);
    if (typeof meta.jwks_uri !== 'string' || !URL.canParse(meta.jwks_uri)) throw new Error(`${url} has no jwks_uri`);
    const jwksUri = new URL(meta.jwks_uri);
    // An https issuer's keys over plain http could be swapped on the way.
    if (new URL(issuer).protocol === 'https:' && jwksUri.protocol !== 'https:') throw new Error(`${url}: jwks_uri is not https`);
    return remote(jwksUri, timeout);
  };
  return async (header, token) => {
    if (keys === undefined) {
      if (Date.now() - failedAt < retryAfter) throw new KeysUnavailable('discovery failed recently');
      keys = load();
      keys.catch(() => {
        keys = undefined;
        failedAt = Date.now();
      });
    }
    let resolve: JWTVerifyGetKey;
    try {
      resolve = await keys;
    } catch (e) {
      throw new KeysUnavailable('discovery failed', { cause: e });
    }
    return resolve(header, token);
  };
}
