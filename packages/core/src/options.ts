/**
 * Verifier options: one typed object, validated eagerly with messages that name the option, so
 * a misconfiguration fails at start-up rather than on the first request.
 */
import { DEFAULT_ALGORITHMS, isSupportedAlgorithm, type WimseAlgorithm } from './algorithms.js';
import { resolveAudience, type Audience, type AudienceEntry } from './audience.js';
import type { IdentifierOptions } from './identifier.js';
import { createOperatorLog, type OperatorLog, type WimseLogger } from './logger.js';
import { createMtlsPolicy, type MtlsOptions, type MtlsPolicy } from './mtls/mtls-policy.js';
import type { ProofMethod } from './principal.js';
import { MemoryReplayStore } from './memory-replay-store.js';
import { rejectUnknownKeys, type KnownKeys } from './option-keys.js';
import type { ReplayStore } from './replay.js';
import type { TrustDomainConfig, TrustDomains } from './trust.js';
import { TRANSACTION_TOKEN_KEYS, type TransactionTokenOptions } from './txn-token.js';

export interface VerifierOptions {
  /** Issuer keys per trust domain. Only WITs whose `sub` is in one of these are accepted. */
  trustDomains: TrustDomains;
  /**
   * The public base URL(s) this service is reached at, e.g. `https://orders.example.com`, and any
   * deployment-specific audience values it recognises, as `{ value: 'spiffe://example.org/orders' }`.
   * WPT `aud` (or one member of an `aud` array) and signature `wimse-aud` must equal a base URL
   * joined with the request path (scheme and host case and a default port do not matter; query
   * and fragment are ignored), or one of the values exactly.
   */
  audience: AudienceEntry | readonly AudienceEntry[];
  /** Proofs accepted. Default `['wpt', 'http-sig']`. */
  proofs?: readonly ProofMethod[];
  /** Seconds of clock skew tolerated. Default 30. */
  clockTolerance?: number;
  /** Longest accepted WPT remaining lifetime `exp - now`, in seconds. Default 300. */
  maxWptLifetime?: number;
  /** Longest accepted HTTP signature lifetime `expires - created` (and age), in seconds. Default 600. */
  maxSignatureLifetime?: number;
  /** Longest accepted WIT remaining lifetime, in seconds. Default 86 400. */
  maxWitLifetime?: number;
  /** Longest accepted token, in characters. Default 8192. */
  maxTokenLength?: number;
  /** Algorithms a WIT's `cnf.jwk.alg` may name. Default: every supported asymmetric algorithm. */
  proofAlgorithms?: readonly WimseAlgorithm[];
  /**
   * Header fields every request signature must cover on top of the profile's (http-signature-07 §3
   * lists a minimum), e.g. `['content-type', 'x-tenant']`. A request without one of them is refused
   * (`sig_components`): a required field must be sent and signed.
   */
  requiredSignatureComponents?: readonly string[];
  /** Token-carrying fields (besides `Txn-Token`) that a WPT binds with `oth`, e.g. `['x-user-context']`. */
  contextTokenHeaders?: readonly string[];
  /**
   * Where used `jti`s and nonces are remembered. Default: a `MemoryReplayStore` of 1 000 000
   * entries (a quarter per workload) that refuses (429/503) rather than forget a live proof.
   */
  replayStore?: ReplayStore;
  /** Verified-WIT cache. Default 10 000 entries for at most 300 s each (never past `exp`). */
  witCache?: { maxEntries?: number; ttlSeconds?: number };
  /** Workload Identifier rules. */
  identifier?: IdentifierOptions;
  /** Mutual TLS with Workload Identity Certificates; required when `proofs` includes `'mtls'`. Needs Node's `X509Certificate`. */
  mtls?: MtlsOptions;
  /**
   * Verify Txn-Tokens (draft-ietf-oauth-transaction-tokens-10 §12.2): a request's `Txn-Token`, once
   * its proof binds it, is verified against these keys and becomes `principal.transaction`.
   * Without this option a Txn-Token is only bound by the proof, not verified, and no route can require a scope.
   */
  transactionTokens?: TransactionTokenOptions;
  /** Older wire formats, off by default. */
  compat?: {
    /** Accept wpt-01 proofs: `Workload-Proof-Token` field, `ath` bound to a bearer token. */
    wpt01?: boolean;
    /** Accept http-signature-06 signatures: `@request-target` instead of `@path` + `@query`. */
    httpSignature06?: boolean;
  };
  /**
   * Where configuration and upstream failures are logged (a JWKS that answers 404 or HTML, a
   * failing replay store, and with the adapters an audience or issuer that does not match), each
   * kind once, then at most once a minute. Fields first, as pino takes them. Default: the console
   * (errors and warnings); `false` logs nothing. Tokens are never logged.
   */
  logger?: WimseLogger | false;
  /** Clock in ms, for tests. */
  now?: () => number;
}

export interface ResolvedOptions {
  readonly trustDomains: TrustDomains;
  readonly audience: Audience;
  readonly proofs: ReadonlySet<ProofMethod>;
  readonly clockTolerance: number;
  readonly maxWptLifetime: number;
  readonly maxSignatureLifetime: number;
  readonly maxWitLifetime: number;
  readonly maxTokenLength: number;
  readonly proofAlgorithms: readonly WimseAlgorithm[];
  readonly contextTokenHeaders: readonly string[];
  readonly requiredSignatureComponents: readonly string[];
  readonly replayStore: ReplayStore;
  readonly witCache: { readonly maxEntries: number; readonly ttlMs: number };
  readonly identifier: IdentifierOptions;
  readonly mtls: MtlsPolicy | undefined;
  readonly compat: { readonly wpt01: boolean; readonly httpSignature06: boolean };
  readonly log: OperatorLog | undefined;
  readonly transactionTokens: TransactionTokenOptions | undefined;
  readonly now: () => number;
}

const PROOFS: readonly ProofMethod[] = ['wpt', 'http-sig', 'mtls'];

/** Every key of {@link VerifierOptions} (adapters accept these plus their own). */
export const VERIFIER_KEYS: KnownKeys<VerifierOptions> = {
  trustDomains: true,
  audience: true,
  proofs: true,
  clockTolerance: true,
  maxWptLifetime: true,
  maxSignatureLifetime: true,
  maxWitLifetime: true,
  maxTokenLength: true,
  proofAlgorithms: true,
  contextTokenHeaders: true,
  requiredSignatureComponents: true,
  replayStore: true,
  witCache: true,
  identifier: true,
  mtls: true,
  compat: true,
  logger: true,
  transactionTokens: true,
  now: true,
};
const TRUST_DOMAIN_KEYS: KnownKeys<TrustDomainConfig> = { keys: true, issuer: true, algorithms: true, remote: true };
const WIT_CACHE_KEYS: KnownKeys<NonNullable<VerifierOptions['witCache']>> = { maxEntries: true, ttlSeconds: true };
const IDENTIFIER_KEYS: KnownKeys<IdentifierOptions> = { canonical: true, schemes: true, allowIpTrustDomain: true };
const MTLS_KEYS: KnownKeys<MtlsOptions> = { trustBundles: true, trustedProxies: true, intermediaries: true };
const COMPAT_KEYS: KnownKeys<NonNullable<VerifierOptions['compat']>> = { wpt01: true, httpSignature06: true };

// A misspelt option is ignored otherwise, and an ignored `issuer` or `allow` fails open (option-keys.ts).
function rejectUnknownOptions(o: VerifierOptions): void {
  rejectUnknownKeys('createVerifier', o, VERIFIER_KEYS);
  if (o.trustDomains !== null && typeof o.trustDomains === 'object') {
    for (const [name, config] of Object.entries(o.trustDomains))
      rejectUnknownKeys(`trustDomains[${JSON.stringify(name)}]`, config, TRUST_DOMAIN_KEYS);
  }
  if (o.witCache !== undefined) rejectUnknownKeys('witCache', o.witCache, WIT_CACHE_KEYS);
  if (o.identifier !== undefined) rejectUnknownKeys('identifier', o.identifier, IDENTIFIER_KEYS);
  if (o.mtls !== undefined) rejectUnknownKeys('mtls', o.mtls, MTLS_KEYS);
  if (o.compat !== undefined) rejectUnknownKeys('compat', o.compat, COMPAT_KEYS);
  // The verifier's clockTolerance, maxTokenLength and now apply: they are not transactionTokens keys.
  if (o.transactionTokens !== undefined) rejectUnknownKeys('transactionTokens', o.transactionTokens, TRANSACTION_TOKEN_KEYS);
}

/** Validates and fills in defaults. Throws `TypeError` naming the offending option. */
export function resolveOptions(o: VerifierOptions): ResolvedOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('createVerifier: options object required');
  rejectUnknownOptions(o);
  const audience = resolveAudience(o.audience);
  const proofs = o.proofs ?? ['wpt', 'http-sig'];
  for (const p of proofs) if (!PROOFS.includes(p)) throw new TypeError(`proofs: unknown proof method ${JSON.stringify(p)}`);
  if (proofs.length === 0) throw new TypeError('proofs: accept at least one proof method');
  const proofAlgorithms = o.proofAlgorithms ?? DEFAULT_ALGORITHMS;
  for (const a of proofAlgorithms)
    if (!isSupportedAlgorithm(a)) throw new TypeError(`proofAlgorithms: ${JSON.stringify(a)} is not an asymmetric JWS algorithm`);
  const contextTokenHeaders = (o.contextTokenHeaders ?? []).map((h) => {
    if (typeof h !== 'string' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(h))
      throw new TypeError(`contextTokenHeaders: ${JSON.stringify(h)} is not a field name`);
    return h.toLowerCase();
  });
  const requiredSignatureComponents = (o.requiredSignatureComponents ?? []).map((h) => {
    if (typeof h !== 'string' || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/i.test(h)) {
      throw new TypeError(
        `requiredSignatureComponents: ${JSON.stringify(h)} is not a header field name (derived components are not configurable)`,
      );
    }
    return h.toLowerCase();
  });
  return {
    trustDomains: o.trustDomains,
    audience,
    proofs: new Set(proofs),
    clockTolerance: nonNegative('clockTolerance', o.clockTolerance, 30),
    maxWptLifetime: nonNegative('maxWptLifetime', o.maxWptLifetime, 300),
    maxSignatureLifetime: nonNegative('maxSignatureLifetime', o.maxSignatureLifetime, 600),
    maxWitLifetime: nonNegative('maxWitLifetime', o.maxWitLifetime, 86_400),
    maxTokenLength: nonNegative('maxTokenLength', o.maxTokenLength, 8192),
    proofAlgorithms,
    contextTokenHeaders,
    requiredSignatureComponents,
    replayStore: o.replayStore ?? new MemoryReplayStore(o.now === undefined ? {} : { now: o.now }),
    witCache: {
      maxEntries: nonNegative('witCache.maxEntries', o.witCache?.maxEntries, 10_000),
      ttlMs: nonNegative('witCache.ttlSeconds', o.witCache?.ttlSeconds, 300) * 1000,
    },
    identifier: o.identifier ?? {},
    mtls: mtlsPolicy(o, proofs),
    compat: { wpt01: o.compat?.wpt01 === true, httpSignature06: o.compat?.httpSignature06 === true },
    log: createOperatorLog(o.logger, o.now ?? Date.now),
    transactionTokens: o.transactionTokens,
    now: o.now ?? Date.now,
  };
}

// mutual-tls-02 §3.2: client certificates count only when 'mtls' is accepted, and then need CA bundles.
function mtlsPolicy(o: VerifierOptions, proofs: readonly ProofMethod[]): MtlsPolicy | undefined {
  if (!proofs.includes('mtls')) {
    if (o.mtls !== undefined) throw new TypeError("mtls: set, but proofs does not include 'mtls'");
    return undefined;
  }
  if (o.mtls === undefined) throw new TypeError("proofs includes 'mtls': mtls.trustBundles (a CA bundle per trust domain) is required");
  return createMtlsPolicy(o.mtls, { identifier: o.identifier ?? {}, clockTolerance: o.clockTolerance ?? 30, now: o.now ?? Date.now });
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new TypeError(`${name} must be a non-negative number`);
  return value;
}
