/**
 * How a verifier uses client certificates (mutual-tls-02 §3.2, §3.3; mtls.md "Relation to the WIT").
 *
 * Combination rule: a verified client certificate authenticates the request as `mtls` when no
 * application-layer proof (WPT or HTTP signature) is present. When one is, both are verified and the
 * principal is the application-layer one, carrying the certificate as `principal.certificate`; its
 * workload must be the certificate's, unless the certificate's workload is a configured
 * `intermediary` (e.g. a proxy's SVID), whose role is to relay other workloads' protected proofs.
 * An application-layer identity thus never silently overrides the mTLS-established one.
 */
import { WimseError } from '../errors.js';
import { ExpiringMap } from '../expiring-map.js';
import type { IdentifierOptions } from '../identifier.js';
import { nodeCrypto } from '../node-crypto.js';
import type { WimsePrincipal } from '../principal.js';
import type { WimseRequest } from '../request.js';
import { compileWorkloadPatterns, type WorkloadMatcher } from '../workload-pattern.js';
import { presentedChain, trustedProxyMatcher, type TrustedProxies } from './forwarded-cert.js';
import { createBundleResolver, type TrustBundles } from './trust-bundles.js';
import { x509Class } from './x509.js';
import { verifyWorkloadCertificate, type CertificatePolicy, type VerifiedCertificate } from './workload-certificate.js';

/** Mutual TLS options of a verifier (used when `proofs` includes `'mtls'`). */
export interface MtlsOptions {
  /**
   * CA bundle per trust domain: a client certificate must chain to the bundle of the trust domain
   * in its own URI SAN. Give a function to follow a bundle that rotates on disk.
   *
   * @example
   * trustBundles: { 'example.org': () => files.current.bundle }
   */
  trustBundles: TrustBundles;
  /**
   * Believe RFC 9440 `Client-Cert` fields from these TLS peers (reverse proxies that terminate
   * mTLS and strip the fields from client requests): IP addresses, or a predicate over the peer
   * address. Off by default; from any other peer the fields are rejected (`mtls_proxy_untrusted`).
   */
  trustedProxies?: TrustedProxies;
  /**
   * Workload patterns (see `compileWorkloadPattern`) of TLS peers allowed to carry another
   * workload's WPT or HTTP signature. Default none: the certificate's workload and the
   * application-layer workload must be identical.
   */
  intermediaries?: readonly string[];
}

/** The resolved mTLS behaviour of a verifier. */
export interface MtlsPolicy {
  /**
   * The request's verified certificate, `undefined` when none was presented; synchronous for a
   * chain verified before (keep-alive connections), a promise while a new chain's path is validated.
   */
  certificate(request: WimseRequest): VerifiedCertificate | undefined | Promise<VerifiedCertificate>;
  /** Checks an application-layer principal against the certificate on the same request. */
  combine(principal: WimsePrincipal, certificate: VerifiedCertificate | undefined): WimsePrincipal;
}

/** Validates the options eagerly; throws `TypeError` naming the option. */
export function createMtlsPolicy(
  o: MtlsOptions,
  shared: { identifier: IdentifierOptions; clockTolerance: number; now: () => number },
): MtlsPolicy {
  if (o === null || typeof o !== 'object') throw new TypeError('mtls must be an object');
  x509Class(); // fail at start-up on a runtime without node:crypto, not on the first request
  const certPolicy: CertificatePolicy = { bundleFor: createBundleResolver(o.trustBundles), role: 'client', ...shared };
  const proxies = o.trustedProxies === undefined ? undefined : trustedProxyMatcher(o.trustedProxies);
  let intermediaries: WorkloadMatcher | undefined;
  try {
    intermediaries =
      o.intermediaries === undefined || o.intermediaries.length === 0
        ? undefined
        : compileWorkloadPatterns(o.intermediaries, shared.identifier);
  } catch (e) {
    throw new TypeError(`mtls.intermediaries: ${(e as Error).message}`);
  }
  // Parsing a certificate costs far more than a signature check, and a keep-alive connection
  // presents the same chain on every request: results are kept (by chain digest) until the first
  // notAfter on the path, for at most CACHE_TTL_MS, and only while the bundle is unchanged.
  const cache = new ExpiringMap<string, VerifiedCertificate>(CACHE_ENTRIES);
  // A burst of requests with one new chain validates it once (at most one entry per chain in flight).
  const pending = new Map<string, Promise<VerifiedCertificate>>();
  const validate = async (key: string, chain: readonly Uint8Array[], forwarded: boolean): Promise<VerifiedCertificate> => {
    try {
      const verified = await verifyWorkloadCertificate(chain, certPolicy, forwarded);
      const now = shared.now();
      cache.set(key, verified, Math.min(verified.notAfter, now + CACHE_TTL_MS), now);
      return verified;
    } finally {
      pending.delete(key);
    }
  };
  return {
    certificate(request) {
      const presented = presentedChain(request, proxies);
      if (presented === undefined) return undefined;
      const key = chainDigest(presented.chain, presented.forwarded);
      const hit = cache.get(key, shared.now());
      if (hit !== undefined && certPolicy.bundleFor(hit.id) === hit.anchors) return hit;
      let running = pending.get(key);
      if (running === undefined) {
        running = validate(key, presented.chain, presented.forwarded);
        pending.set(key, running);
      }
      return running;
    },
    combine(principal, certificate) {
      if (certificate === undefined) return principal;
      const same = certificate.id.value === principal.workload;
      if (!same && intermediaries?.test(certificate.id) !== true) {
        throw new WimseError('mtls_identity_mismatch', 'The application-layer workload differs from the client certificate workload');
      }
      return Object.freeze({ ...principal, certificate: certificate.info });
    },
  };
}

const CACHE_ENTRIES = 1000;
const CACHE_TTL_MS = 300_000;

function chainDigest(chain: readonly Uint8Array[], forwarded: boolean): string {
  const hash = nodeCrypto()!
    .createHash('sha256')
    .update(forwarded ? 'f' : 'd');
  for (const der of chain) hash.update(String(der.length)).update(':').update(der);
  return hash.digest('base64');
}

/** The principal of a request authenticated by its client certificate alone. */
export function mtlsPrincipal(certificate: VerifiedCertificate): WimsePrincipal {
  return Object.freeze({
    workload: certificate.id.value,
    trustDomain: certificate.id.trustDomain,
    id: certificate.id,
    method: 'mtls',
    context: Object.freeze({ other: Object.freeze({}) }),
    certificate: certificate.info,
  });
}
