/**
 * Node's X.509 parser, through the core's one seam to `node:crypto` (node-crypto.ts: no static
 * `node:` import), so the main entry stays loadable on Web-standard runtimes (Hono on Workers):
 * only a verifier configured for mTLS needs it.
 */
import type { X509Certificate } from 'node:crypto';
import { nodeCrypto } from '../node-crypto.js';

export type { X509Certificate };

/** Node's `X509Certificate` class; throws `TypeError` on a runtime without it. */
export function x509Class(): typeof X509Certificate {
  const X509 = nodeCrypto()?.X509Certificate;
  if (X509 === undefined) throw new TypeError('mtls: this runtime has no node:crypto X509Certificate (Node >= 20.19 is required for mTLS)');
  return X509;
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM blocks of certificates in `text` (a bundle file may hold several, plus comments). */
export function pemCertificates(text: string): string[] {
  return text.match(PEM_CERT_RE) ?? [];
}

/** `Date.parse` of Node's `validFrom`/`validTo` (`Nov 22 13:39:02 2026 GMT`), in ms. */
export function certTime(value: string): number {
  return Date.parse(value);
}
