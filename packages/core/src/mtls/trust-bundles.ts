/**
 * X.509 trust anchors per trust domain (workload-creds-02 §3, mutual-tls-02 §3.2): each trust
 * domain has its own CA bundle, chosen by the trust domain of the certificate's Workload
 * Identifier, never one global pool.
 */
import { WimseError } from '../errors.js';
import type { WorkloadIdentifier } from '../identifier.js';
import { pemCertificates, x509Class, type X509Certificate } from './x509.js';

/**
 * The CA certificates of one trust domain: PEM text (one or more certificates, e.g. the contents of
 * a SPIFFE `bundle.pem`), several PEM texts, or a function returning the current ones, so a bundle
 * that rotates on disk is seen at once (see `watchCredentialFiles` in `@wimse/core/node`).
 */
export type TrustBundleSource = string | readonly string[] | (() => string | readonly string[]);

/**
 * CA bundles by trust domain. A key is a bare trust domain (`example.org`, any scheme) or a
 * Workload Identifier Origin (`spiffe://example.org`, that scheme only), which wins when both exist.
 */
export type TrustBundles = Readonly<Record<string, TrustBundleSource>>;

/** The anchors of an identifier's trust domain; `undefined` when the domain has no bundle. */
export type BundleResolver = (id: WorkloadIdentifier) => readonly X509Certificate[] | undefined;

const TRUST_DOMAIN_RE = /^(?:[a-z][a-z0-9+.-]*:\/\/)?[a-z0-9._-]+$/;

/** Validates the configuration eagerly (static bundles are parsed now). Throws `TypeError`. */
export function createBundleResolver(bundles: TrustBundles): BundleResolver {
  if (bundles === null || typeof bundles !== 'object' || Object.keys(bundles).length === 0) {
    throw new TypeError('mtls.trustBundles must name at least one trust domain');
  }
  const sources = new Map<string, () => readonly X509Certificate[]>();
  for (const [name, source] of Object.entries(bundles)) {
    const where = `mtls.trustBundles[${JSON.stringify(name)}]`;
    if (!TRUST_DOMAIN_RE.test(name)) throw new TypeError(`${where}: not a lower-case trust domain or origin`);
    if (typeof source === 'function') {
      sources.set(name, dynamicBundle(where, source));
    } else {
      const anchors = parseBundle(where, source);
      sources.set(name, () => anchors);
    }
  }
  return (id) => (sources.get(`${id.scheme}://${id.trustDomain}`) ?? sources.get(id.trustDomain))?.();
}

// A rotating source is parsed again only when its text changes.
function dynamicBundle(where: string, source: () => string | readonly string[]): () => readonly X509Certificate[] {
  let lastText: string | undefined;
  let last: readonly X509Certificate[] = [];
  return () => {
    const value = source();
    const text = typeof value === 'string' ? value : value.join('\n');
    if (text !== lastText) {
      try {
        last = parseBundle(where, value);
      } catch (e) {
        throw new WimseError('trust_unavailable', 'The CA bundle of this trust domain could not be read', { cause: e });
      }
      lastText = text;
    }
    return last;
  };
}

/** Parses PEM CA certificates; throws `TypeError` (naming `where`) on a non-CA or empty bundle. */
export function parseBundle(where: string, value: string | readonly string[]): readonly X509Certificate[] {
  const X509 = x509Class();
  const texts = typeof value === 'string' ? [value] : value;
  const anchors: X509Certificate[] = [];
  for (const text of texts) {
    if (typeof text !== 'string') throw new TypeError(`${where}: expected PEM text`);
    for (const pem of pemCertificates(text)) {
      let cert: X509Certificate;
      try {
        cert = new X509(pem);
      } catch (e) {
        throw new TypeError(`${where}: a certificate in the bundle could not be parsed`, { cause: e });
      }
      // RFC 5280 §6.1: anchors issue certificates; a leaf put in a bundle by mistake must not become one.
      if (!cert.ca) throw new TypeError(`${where}: ${cert.subject.replace(/\n/g, ', ')} is not a CA certificate`);
      anchors.push(cert);
    }
  }
  if (anchors.length === 0) throw new TypeError(`${where}: no PEM certificate found`);
  return Object.freeze(anchors);
}
