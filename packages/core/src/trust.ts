/**
 * Trust anchors per trust domain (workload-creds-02 §3). Keys for a WIT are chosen by the trust
 * domain of its `sub`, from local configuration only: never from `iss`, `jku` or anything else
 * carried in the token. An unconfigured trust domain is rejected before any network call.
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import { DEFAULT_ALGORITHMS, hasPrivateMembers, isSupportedAlgorithm, type WimseAlgorithm } from './algorithms.js';
import type { WorkloadIdentifier } from './identifier.js';
import type { OperatorLog } from './logger.js';
import { WimseError } from './errors.js';
import { createRemoteJwks, type JwksEvent } from './remote-jwks.js';
import { publicKeyFlaw, verificationKeyFlaw } from './public-key.js';

/**
 * How a remote JWKS is fetched and cached. While the endpoint fails, fetches back off
 * exponentially (never one per request) and the last good key set keeps serving for
 * `staleIfErrorMs` past its max age; an unknown `kid` refetches at once, at most once per cooldown.
 */
export interface RemoteJwksOptions {
  /** Time for the whole fetch, body included, in ms. Default 5000. */
  timeoutMs?: number;
  /** Largest accepted JWKS body in bytes; a longer one is abandoned while streaming. Default 512 KiB. */
  maxBytes?: number;
  /** How long a fetched JWKS is fresh, in ms; an older one is refetched before use. Default 600 000. */
  cacheMaxAgeMs?: number;
  /** Minimum time between two refetches caused by an unknown `kid`, in ms. Default 10 000. */
  cooldownMs?: number;
  /** How long past `cacheMaxAgeMs` the last good set still serves while the JWKS cannot be fetched, in ms. Default 3 600 000; 0 disables. */
  staleIfErrorMs?: number;
  /** First wait after a failed fetch, in ms; doubles on each failure in a row. Default 1000. */
  backoffMinMs?: number;
  /** Longest wait between fetches while failing, in ms. Default 30 000. */
  backoffMaxMs?: number;
  /** Told of every fetch outcome, e.g. to log a JWKS that answers 404 or HTML. Exceptions it throws are ignored. */
  onEvent?: (event: JwksEvent) => void;
}

/** The issuer keys of one trust domain. */
export interface TrustDomainConfig {
  /**
   * Issuer public keys: a JWK, a JWKS, an `http(s)` URL of a JWKS (fetched and cached, see {@link RemoteJwksOptions}),
   * or a jose key resolver `(protectedHeader, token) => key`. Degenerate keys (public-key.ts) are
   * never used: a static one fails start-up, a fetched or resolved one fails with `trust_unavailable`
   * (off Node, resolvers must return extractable keys so they can be checked).
   */
  keys: JWK | JSONWebKeySet | string | URL | JWTVerifyGetKey;
  /** Accepted WIT `iss` values; when set, a WIT without one of them is rejected. */
  issuer?: string | readonly string[];
  /** WIT signature algorithms accepted for this domain. Default: every supported asymmetric algorithm. */
  algorithms?: readonly WimseAlgorithm[];
  /** Fetch options when `keys` is a URL. */
  remote?: RemoteJwksOptions;
}

/**
 * Trust domains by name. A key is either a bare trust domain (`example.org`, any scheme) or a
 * Workload Identifier Origin (`spiffe://example.org`, that scheme only), which wins when both exist.
 */
export type TrustDomains = Readonly<Record<string, TrustDomainConfig>>;

/** A resolved trust domain, ready for verification. */
export interface TrustAnchor {
  readonly name: string;
  readonly getKey: JWTVerifyGetKey;
  readonly algorithms: readonly WimseAlgorithm[];
  readonly issuers: readonly string[] | undefined;
}

const TRUST_DOMAIN_RE = /^(?:[a-z][a-z0-9+.-]*:\/\/)?[a-z0-9._-]+$/;

/** Builds the trust anchors once, validating configuration eagerly. Throws `TypeError` on bad config. */
export function createTrustAnchors(
  domains: TrustDomains,
  context: { now?: () => number; log?: OperatorLog | undefined } = {},
): (id: WorkloadIdentifier) => TrustAnchor | undefined {
  const now = context.now ?? Date.now;
  const jwksLog = context.log === undefined ? undefined : context.log.jwks;
  if (domains === null || typeof domains !== 'object' || Object.keys(domains).length === 0) {
    throw new TypeError('trustDomains must name at least one trust domain');
  }
  const anchors = new Map<string, TrustAnchor>();
  for (const [name, config] of Object.entries(domains)) {
    if (!TRUST_DOMAIN_RE.test(name))
      throw new TypeError(`trustDomains: ${JSON.stringify(name)} is not a lower-case trust domain or origin`);
    anchors.set(name, toAnchor(name, config, now, jwksLog));
  }
  return (id) => anchors.get(`${id.scheme}://${id.trustDomain}`) ?? anchors.get(id.trustDomain);
}

/** Told of every remote JWKS fetch outcome. */
export type JwksListener = (event: JwksEvent) => void;

function toAnchor(name: string, config: TrustDomainConfig, now: () => number, jwksLog: JwksListener | undefined): TrustAnchor {
  const where = `trustDomains[${JSON.stringify(name)}]`;
  if (config === null || typeof config !== 'object' || config.keys === undefined) throw new TypeError(`${where}.keys is required`);
  const algorithms = config.algorithms ?? DEFAULT_ALGORITHMS;
  for (const alg of algorithms) {
    if (!isSupportedAlgorithm(alg)) throw new TypeError(`${where}.algorithms: ${JSON.stringify(alg)} is not an asymmetric JWS algorithm`);
  }
  const issuers = config.issuer === undefined ? undefined : typeof config.issuer === 'string' ? [config.issuer] : [...config.issuer];
  return { name, getKey: issuerKeyResolver(where, name, config, now, jwksLog), algorithms, issuers };
}

/**
 * A key resolver over configured issuer keys (static, remote JWKS or a resolver), checked as
 * described on {@link TrustDomainConfig.keys}. Shared by WIT trust anchors and the Txn-Token
 * service keys (txn-token.ts). `where` names the option in errors, `name` the key owner in events,
 * `jwksLog` (the operator log) hears remote fetch outcomes beside `remote.onEvent`.
 * Throws `TypeError` on bad configuration.
 */
export function issuerKeyResolver(
  where: string,
  name: string,
  config: Pick<TrustDomainConfig, 'keys' | 'remote'>,
  now: () => number,
  jwksLog?: JwksListener,
): JWTVerifyGetKey {
  const { keys } = config;
  if (typeof keys === 'function') return keys;
  if (typeof keys === 'string' || keys instanceof URL) {
    const url = new URL(keys);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`${where}.keys: a JWKS URL must be http(s)`);
    // The Fetch standard refuses such a URL, so every fetch would fail; and logs must not show them.
    if (url.username !== '' || url.password !== '') throw new TypeError(`${where}.keys: a JWKS URL must not carry credentials`);
    const r = config.remote ?? {};
    const ms = (option: Exclude<keyof RemoteJwksOptions, 'onEvent'>, fallback: number, min = 0): number => {
      const value = r[option] ?? fallback;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < min)
        throw new TypeError(`${where}.remote.${option} must be a number >= ${min}`);
      return value;
    };
    const backoffMinMs = ms('backoffMinMs', 1000, 1);
    const backoffMaxMs = ms('backoffMaxMs', 30_000, backoffMinMs);
    if (r.onEvent !== undefined && typeof r.onEvent !== 'function') throw new TypeError(`${where}.remote.onEvent must be a function`);
    return createRemoteJwks({
      url,
      trustDomain: name,
      timeoutMs: ms('timeoutMs', 5000, 1),
      maxBytes: ms('maxBytes', 512 * 1024, 1),
      cacheMaxAgeMs: ms('cacheMaxAgeMs', 600_000),
      cooldownMs: ms('cooldownMs', 10_000),
      staleIfErrorMs: ms('staleIfErrorMs', 3_600_000),
      backoffMinMs,
      backoffMaxMs,
      keySet: (json) => issuerKeySet(json, `JWKS of ${name}`),
      listeners: [r.onEvent, jwksLog].filter((l): l is JwksListener => l !== undefined),
      now,
    });
  }
  const set: JSONWebKeySet = 'keys' in keys && Array.isArray(keys.keys) ? (keys as JSONWebKeySet) : { keys: [keys as JWK] };
  for (const k of issuerKeySet(set, `${where}.keys`).keys) {
    const flaw = publicKeyFlaw(k);
    if (flaw !== undefined) throw new TypeError(`${where}.keys: ${k.kid === undefined ? '' : `kid ${JSON.stringify(k.kid)}: `}${flaw}`);
  }
  return createLocalJWKSet(set);
}

/**
 * A jose key resolver over the keys of an issuer outside WIMSE (e.g. an OAuth authorization server
 * whose JWTs a service accepts), under the rules of WIT issuer keys: configured keys are checked
 * now (`TypeError`), a JWKS URL is fetched with the bounded policy of {@link RemoteJwksOptions},
 * and a selected key that public-key.ts refuses (a degenerate key lets anyone sign) is never used:
 * it rejects with `trust_unavailable` (503), as does a JWKS that cannot be fetched. An unknown
 * `kid` rejects with jose's `JWKSNoMatchingKey` (the token's fault), once a fresh set lacks it.
 *
 * @example
 * const getKey = createIssuerKeyResolver({ keys: 'https://idp.example.com/jwks' }, { name: 'https://idp.example.com' })
 * await jwtVerify(token, getKey, { issuer: 'https://idp.example.com', audience, algorithms: ['ES256'] })
 */
export function createIssuerKeyResolver(
  config: Pick<TrustDomainConfig, 'keys' | 'remote'>,
  options: { name?: string; where?: string; now?: () => number } = {},
): JWTVerifyGetKey {
  const name = options.name ?? 'issuer';
  const getKey = issuerKeyResolver(options.where ?? 'keys', name, config, options.now ?? Date.now);
  return async (header, token) => {
    const key = await getKey(header, token);
    const flaw = await verificationKeyFlaw(key);
    if (flaw !== undefined)
      throw new WimseError(
        'trust_unavailable',
        `The key${header.kid === undefined ? '' : ` ${JSON.stringify(header.kid)}`} of ${name} is refused: ${flaw}`,
      );
    return key;
  };
}

/**
 * The one place issuer keys enter, configured or fetched: a JWKS of public keys only (RFC 7517 §5).
 * Throws `TypeError` naming `where`.
 */
function issuerKeySet(value: unknown, where: string): JSONWebKeySet {
  const keys = typeof value === 'object' && value !== null ? (value as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new TypeError(`${where}: not a JWKS (no "keys" array)`);
  for (const k of keys as unknown[]) {
    if (typeof k !== 'object' || k === null || typeof (k as JWK).kty !== 'string') throw new TypeError(`${where}: not a JWK`);
    if (hasPrivateMembers(k) || (k as JWK).kty === 'oct') throw new TypeError(`${where}: issuer keys must be public keys`);
  }
  return value as JSONWebKeySet;
}
