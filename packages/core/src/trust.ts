/**
 * Trust anchors per trust domain (workload-creds-02 §3). Keys for a WIT are chosen by the trust
 * domain of its `sub`, from local configuration only: never from `iss`, `jku` or anything else
 * carried in the token. An unconfigured trust domain is rejected before any network call.
 */
import { createLocalJWKSet, createRemoteJWKSet, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import { isSupportedAlgorithm, DEFAULT_ALGORITHMS, type WimseAlgorithm } from './algorithms.js';
import type { WorkloadIdentifier } from './identifier.js';

/** Options for a remote JWKS (passed to jose `createRemoteJWKSet`). */
export interface RemoteJwksOptions {
  /** HTTP timeout in ms. Default 5000. */
  timeoutMs?: number;
  /** Minimum time between refetches in ms (on an unknown `kid`). Default 30 000. */
  cooldownMs?: number;
  /** How long a fetched JWKS is fresh, in ms. Default 600 000. */
  cacheMaxAgeMs?: number;
}

/** The issuer keys of one trust domain. */
export interface TrustDomainConfig {
  /**
   * Issuer public keys: a JWK, a JWKS, an `http(s)` URL of a JWKS (fetched and cached with jose),
   * or a jose key resolver `(protectedHeader, token) => key`.
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
export function createTrustAnchors(domains: TrustDomains): (id: WorkloadIdentifier) => TrustAnchor | undefined {
  if (domains === null || typeof domains !== 'object' || Object.keys(domains).length === 0) {
    throw new TypeError('trustDomains must name at least one trust domain');
  }
  const anchors = new Map<string, TrustAnchor>();
  for (const [name, config] of Object.entries(domains)) {
    if (!TRUST_DOMAIN_RE.test(name)) throw new TypeError(`trustDomains: ${JSON.stringify(name)} is not a lower-case trust domain or origin`);
    anchors.set(name, toAnchor(name, config));
  }
  return (id) => anchors.get(`${id.scheme}://${id.trustDomain}`) ?? anchors.get(id.trustDomain);
}

function toAnchor(name: string, config: TrustDomainConfig): TrustAnchor {
  const where = `trustDomains[${JSON.stringify(name)}]`;
  if (config === null || typeof config !== 'object' || config.keys === undefined) throw new TypeError(`${where}.keys is required`);
  const algorithms = config.algorithms ?? DEFAULT_ALGORITHMS;
  for (const alg of algorithms) {
    if (!isSupportedAlgorithm(alg)) throw new TypeError(`${where}.algorithms: ${JSON.stringify(alg)} is not an asymmetric JWS algorithm`);
  }
  const issuers = config.issuer === undefined ? undefined : typeof config.issuer === 'string' ? [config.issuer] : [...config.issuer];
  return { name, getKey: keyResolver(where, config), algorithms, issuers };
}

function keyResolver(where: string, config: TrustDomainConfig): JWTVerifyGetKey {
  const { keys } = config;
  if (typeof keys === 'function') return keys;
  if (typeof keys === 'string' || keys instanceof URL) {
    const url = new URL(keys);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`${where}.keys: a JWKS URL must be http(s)`);
    const remote = config.remote ?? {};
    return createRemoteJWKSet(url, {
      timeoutDuration: remote.timeoutMs ?? 5000,
      cooldownDuration: remote.cooldownMs ?? 30_000,
      cacheMaxAge: remote.cacheMaxAgeMs ?? 600_000,
    });
  }
  const set: JSONWebKeySet = 'keys' in keys && Array.isArray(keys.keys) ? (keys as JSONWebKeySet) : { keys: [keys as JWK] };
  for (const k of set.keys) {
    if (typeof k !== 'object' || k === null || typeof k.kty !== 'string') throw new TypeError(`${where}.keys: not a JWK`);
    if ('d' in k || k.kty === 'oct') throw new TypeError(`${where}.keys: issuer keys must be public keys`);
  }
  return createLocalJWKSet(set);
}
