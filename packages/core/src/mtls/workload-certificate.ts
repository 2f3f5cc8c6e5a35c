/**
 * Workload Identity Certificate validation (draft-ietf-wimse-mutual-tls-02 §3.2,
 * draft-ietf-wimse-workload-creds-02 §6.1). Node's TLS stack checks the chain against the union
 * of every configured CA when it accepts the handshake; this module decides whether the
 * certificate authenticates a workload: one identifier, chained to the anchors of *that
 * identifier's* trust domain, valid now, and usable for the TLS role; the path found must then meet
 * every RFC 5280 constraint of its CAs (certification-path.ts), whatever OpenSSL decided before.
 */
import { WimseError } from '../errors.js';
import { checkWorkloadIdentifier, type IdentifierOptions, type WorkloadIdentifier } from '../identifier.js';
import { keyObjectFlaw } from '../public-key.js';
import { EKU_CLIENT_AUTH, EKU_SERVER_AUTH, validateCertificationPath } from './certification-path.js';
import { parseAltNames } from './subject-alt-name.js';
import type { BundleResolver } from './trust-bundles.js';
import { certTime, x509Class, type X509Certificate } from './x509.js';

/** Longest chain a peer may present (leaf + intermediates). */
export const MAX_CHAIN_LENGTH = 10;
// identifier.ts accepts these schemes unless configured otherwise.
const DEFAULT_SCHEMES: readonly string[] = ['spiffe', 'wimse'];
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9+.-]*):/;

/** A certificate that authenticated a workload, for authorization, accounting and audit. */
export interface WorkloadCertificateInfo {
  /** The Workload Identifier from the URI SAN, e.g. `spiffe://example.org/billing`. */
  readonly workload: string;
  readonly trustDomain: string;
  /** Subject and issuer distinguished names as Node prints them. */
  readonly subject: string;
  readonly issuer: string;
  /** Hex serial number. */
  readonly serialNumber: string;
  /** SHA-256 fingerprint, colon-separated hex. */
  readonly fingerprint256: string;
  /** Validity period, ISO 8601. */
  readonly validFrom: string;
  readonly validTo: string;
  /** The trust anchor of the trust domain's bundle that the chain ended at. */
  readonly trustAnchor: { readonly subject: string; readonly fingerprint256: string };
  /** True when the certificate came in an RFC 9440 `Client-Cert` field from a trusted proxy. */
  readonly forwarded: boolean;
}

/** A validated certificate and its identifier. */
export interface VerifiedCertificate {
  readonly id: WorkloadIdentifier;
  readonly info: WorkloadCertificateInfo;
  /** The earliest `notAfter` on the path, anchor included (ms): the result holds until then. */
  readonly notAfter: number;
  /** The bundle the chain was validated against (a rotated bundle is a different array). */
  readonly anchors: readonly X509Certificate[];
}

export interface CertificatePolicy {
  /** CA bundle of an identifier's trust domain. */
  readonly bundleFor: BundleResolver;
  readonly identifier: IdentifierOptions;
  /** Seconds of clock skew tolerated on the validity period. */
  readonly clockTolerance: number;
  readonly now: () => number;
  /** The TLS role the certificate authenticates. Default `client`. */
  readonly role?: 'client' | 'server';
}

/**
 * Validates a certificate chain (DER, leaf first) as a Workload Identity Certificate, with every
 * RFC 5280 §6.1 constraint on the path to the trust domain's anchor.
 * Throws a {@link WimseError} with an `mtls_*` code.
 */
export async function verifyWorkloadCertificate(
  chain: readonly Uint8Array[],
  p: CertificatePolicy,
  forwarded = false,
): Promise<VerifiedCertificate> {
  const { path, at, ...verified } = checkWorkloadCertificate(chain, p, forwarded);
  // RFC 5280 §6.1: pathLen, name constraints, key usage, critical extensions, … on the path found.
  await validateCertificationPath(path, { at: new Date(at), role: p.role ?? 'client' });
  return verified;
}

/**
 * The synchronous part of {@link verifyWorkloadCertificate}: identifier, trust domain, a signed path
 * to one of its anchors, validity and extended key usage, but not the constraints CAs put on the
 * path. Alone, only where OpenSSL has validated the same path against the same anchors (a TLS
 * client's `checkServerIdentity` with `rejectUnauthorized` and `ca` = the trust domain's bundle).
 */
export function checkWorkloadCertificate(
  chain: readonly Uint8Array[],
  p: CertificatePolicy,
  forwarded = false,
): VerifiedCertificate & { readonly path: readonly X509Certificate[]; readonly at: number } {
  if (chain.length === 0) throw new WimseError('mtls_missing', 'A client certificate is required');
  if (chain.length > MAX_CHAIN_LENGTH)
    throw new WimseError('mtls_malformed', `A certificate chain may hold at most ${MAX_CHAIN_LENGTH} certificates`);
  const [leaf, ...intermediates] = chain.map(parse);
  if (leaf === undefined) throw new WimseError('mtls_missing');
  // RFC 5280 §4.2.1.9: a CA certificate issues certificates; it does not identify a workload.
  if (leaf.ca) throw new WimseError('mtls_usage', 'A CA certificate cannot be a workload certificate');
  const id = workloadIdentifier(leaf, p.identifier);
  // mutual-tls-02 §3.2 + workload-creds-02 §3: the anchors come from the identifier's trust domain only.
  const anchors = p.bundleFor(id);
  if (anchors === undefined)
    throw new WimseError('mtls_untrusted_domain', `Trust domain ${id.trustDomain} is not trusted for client certificates`);
  const path = buildPath(leaf, intermediates, anchors);
  if (path === undefined) throw new WimseError('mtls_untrusted', noPathDetail(leaf, intermediates, anchors, id.trustDomain));
  checkPublicKeys([...path.certs, path.anchor]);
  const { notAfter, at } = checkValidity(path.certs, path.anchor, p);
  checkExtendedKeyUsage(leaf, p.role ?? 'client');
  const info: WorkloadCertificateInfo = Object.freeze({
    workload: id.value,
    trustDomain: id.trustDomain,
    subject: oneLine(leaf.subject),
    issuer: oneLine(leaf.issuer),
    serialNumber: leaf.serialNumber,
    fingerprint256: leaf.fingerprint256,
    validFrom: new Date(certTime(leaf.validFrom)).toISOString(),
    validTo: new Date(certTime(leaf.validTo)).toISOString(),
    trustAnchor: Object.freeze({ subject: oneLine(path.anchor.subject), fingerprint256: path.anchor.fingerprint256 }),
    forwarded,
  });
  return { id, info, notAfter, anchors, path: [...path.certs, path.anchor], at };
}

function parse(der: Uint8Array): X509Certificate {
  const X509 = x509Class();
  try {
    return new X509(der);
  } catch (e) {
    throw new WimseError('mtls_malformed', 'The client certificate could not be parsed', { cause: e });
  }
}

// workload-creds-02 §6.1: the identifier sits in exactly one URI SAN. Which URI SANs "carry a
// Workload Identifier" is left to implementations (mtls.md step 2): those whose scheme is an
// accepted identifier scheme. Other URI SANs may be present for PKIX reasons and are ignored.
export function workloadIdentifier(leaf: X509Certificate, options: IdentifierOptions): WorkloadIdentifier {
  let names: ReturnType<typeof parseAltNames>;
  try {
    names = parseAltNames(leaf.subjectAltName);
  } catch (e) {
    throw new WimseError('mtls_malformed', 'The subjectAltName extension could not be read', { cause: e });
  }
  const schemes = options.schemes ?? DEFAULT_SCHEMES;
  const candidates = names.filter((n) => n.type === 'URI' && schemes.includes(SCHEME_RE.exec(n.value)?.[1]?.toLowerCase() ?? ''));
  if (candidates.length === 0) throw new WimseError('mtls_san', 'The client certificate has no workload identifier URI SAN');
  if (candidates.length > 1) throw new WimseError('mtls_san', 'The client certificate has more than one workload identifier URI SAN');
  const checked = checkWorkloadIdentifier(candidates[0]?.value, options);
  if (!checked.ok) throw new WimseError('mtls_identifier', `The URI SAN is not a valid workload identifier: ${checked.reason}`);
  return checked.id;
}

// RFC 5280 §6.1 path building from the leaf to an anchor of the bundle: each link must name its
// issuer (`checkIssued`, which also demands keyCertSign when the issuer has key usage) and carry
// its signature; every intermediate must be a CA. Anchors are tried first at every step.
function buildPath(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
): { certs: X509Certificate[]; anchor: X509Certificate } | undefined {
  const certs = [leaf];
  const used = new Set<X509Certificate>();
  let current = leaf;
  for (let depth = 0; depth <= MAX_CHAIN_LENGTH; depth++) {
    const anchor = anchors.find((a) => issued(current, a));
    if (anchor !== undefined) return { certs, anchor };
    const next = intermediates.find((c) => !used.has(c) && c.ca && issued(current, c));
    if (next === undefined) return undefined;
    used.add(next);
    certs.push(next);
    current = next;
  }
  return undefined;
}

// Why no path: a CA of the right name whose key does not verify the signature (re-keyed, often to
// another algorithm) is a different fix from an unknown CA, so the detail tells them apart.
function noPathDetail(
  leaf: X509Certificate,
  intermediates: readonly X509Certificate[],
  anchors: readonly X509Certificate[],
  trustDomain: string,
): string {
  for (const subject of [leaf, ...intermediates]) {
    // By name only: OpenSSL's checkIssued also refuses a key of another algorithm or key id.
    const named = [...anchors, ...intermediates].find(
      (c) => c !== subject && c.ca && subject.issuer === c.subject && !subject.verify(c.publicKey),
    );
    if (named === undefined) continue;
    const which = subject === leaf ? 'The certificate' : 'An intermediate CA certificate';
    return `${which} names ${oneLine(named.subject)} of trust domain ${trustDomain} as its issuer, but its signature does not verify with that CA's ${keyType(named)} key (another algorithm or another key)`;
  }
  return `The certificate does not chain to a CA of trust domain ${trustDomain}`;
}

function keyType(cert: X509Certificate): string {
  const k = cert.publicKey;
  const curve = k.asymmetricKeyDetails?.namedCurve;
  return `${(k.asymmetricKeyType ?? 'unknown').toUpperCase()}${curve === undefined ? '' : ` ${curve}`}`;
}

function issued(subject: X509Certificate, issuer: X509Certificate): boolean {
  return subject.checkIssued(issuer) && subject.verify(issuer.publicKey);
}

// RFC 5280 §6.1.3 (a)(2): every certificate on the path, the anchor included, must be valid now.
// `at`: the instant nearest to now inside every validity period, for the path validation that
// follows (it has no clock tolerance of its own).
function checkValidity(certs: readonly X509Certificate[], anchor: X509Certificate, p: CertificatePolicy): { notAfter: number; at: number } {
  const now = p.now();
  const skew = p.clockTolerance * 1000;
  let notAfter = Infinity;
  let earliest = Infinity;
  let latest = -Infinity;
  for (const [i, cert] of [...certs, anchor].entries()) {
    const which = i === 0 ? 'The client certificate' : 'An issuing CA certificate';
    const from = certTime(cert.validFrom);
    const to = certTime(cert.validTo);
    if (from - skew > now) throw new WimseError('mtls_not_yet_valid', `${which} is not valid yet`);
    if (to + skew < now) throw new WimseError('mtls_expired', `${which} has expired`);
    notAfter = Math.min(notAfter, to + skew);
    earliest = Math.min(earliest, to);
    latest = Math.max(latest, from);
  }
  return { notAfter, at: Math.min(Math.max(now, latest), earliest) };
}

// workload-creds-02 §6.1 (issue #341): EKU is optional (SPIFFE SVIDs may omit it), but when present
// it must allow the TLS role. anyExtendedKeyUsage is not enough, as in OpenSSL's purpose check.
function checkExtendedKeyUsage(leaf: X509Certificate, role: 'client' | 'server'): void {
  // Node 20 names the EKU list `keyUsage`; newer Node versions also call it `extKeyUsage`.
  const eku = ((leaf as { extKeyUsage?: readonly string[] }).extKeyUsage ?? leaf.keyUsage) as readonly string[] | undefined;
  const needed = role === 'client' ? EKU_CLIENT_AUTH : EKU_SERVER_AUTH;
  if (eku !== undefined && !eku.includes(needed)) {
    throw new WimseError('mtls_usage', `The certificate's extended key usage does not allow TLS ${role} authentication`);
  }
}

// A degenerate key anywhere on the path (public-key.ts) lets anyone sign as its holder.
function checkPublicKeys(certs: readonly X509Certificate[]): void {
  for (const [i, cert] of certs.entries()) {
    const flaw = keyObjectFlaw(cert.publicKey);
    if (flaw !== undefined)
      throw new WimseError('mtls_key_invalid', `${i === 0 ? 'The client certificate' : 'An issuing CA certificate'}: ${flaw}`);
  }
}

function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}
