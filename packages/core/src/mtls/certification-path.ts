/**
 * Certification path validation (RFC 5280 §6.1) of a path already built from a workload certificate
 * to an anchor of its trust domain's bundle (workload-certificate.ts, where Node verified each
 * signature), by PKI.js's `CertificateChainValidationEngine`: name chaining, validity,
 * basicConstraints cA and keyCertSign on every issuer, certificate policies, name constraints.
 *
 * What that engine leaves out (read in the PKI.js 4.0.0 source) is checked here on the structures
 * PKI.js parsed, never on hand-read ASN.1:
 * - pathLenConstraint (§6.1.4 (l), (m)): the engine does not look at it;
 * - name constraints (§6.1.4 (g)) bind every certificate below their CA, the trust anchor's included
 *   (as OpenSSL applies them): the engine ignores the anchor's and takes the *union* of the other
 *   CAs', so each constrained CA gets a run of its own with only its subtrees (an intersection);
 * - unrecognised critical extensions (§4.2) and unparseable recognised ones, on every certificate;
 * - key usage of the end entity (§4.2.1.3: digitalSignature, no keyCertSign), and the extended key
 *   usage of intermediates (as OpenSSL's purpose check: a CA restricted to other purposes cannot
 *   issue TLS client or server certificates).
 *
 * PKI.js is loaded on first use: services without mTLS never load it, and the main entry stays
 * free of it (it needs only WebCrypto, so it would also run on Web-standard runtimes).
 */
import type * as Asn1js from 'asn1js';
import type * as Pkijs from 'pkijs';
import { WimseError } from '../errors.js';
import type { X509Certificate } from './x509.js';

/** RFC 5280 §4.2.1.12 key purposes. */
export const EKU_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';
export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

const BASIC_CONSTRAINTS = '2.5.29.19';
const KEY_USAGE = '2.5.29.15';
const EXT_KEY_USAGE = '2.5.29.37';
const NAME_CONSTRAINTS = '2.5.29.30';
/**
 * Extensions this validation acts on, so they may be critical (§4.2: any other critical extension
 * makes the certificate unusable). The same set OpenSSL recognises, less those it only knows for
 * revocation, proxies, RFC 3779 and Netscape, which nothing here acts on.
 */
const RECOGNISED_CRITICAL = new Set([
  BASIC_CONSTRAINTS,
  KEY_USAGE,
  EXT_KEY_USAGE,
  NAME_CONSTRAINTS,
  '2.5.29.17', // subjectAltName: the workload identifier
  '2.5.29.32', // certificatePolicies  } processed by the engine
  '2.5.29.33', // policyMappings       }
  '2.5.29.36', // policyConstraints    }
  '2.5.29.54', // inhibitAnyPolicy     }
]);
// KeyUsage BIT STRING, first octet (§4.2.1.3): bit 0 is the most significant.
const KU_DIGITAL_SIGNATURE = 0x80;
const KU_KEY_CERT_SIGN = 0x04;

/** What the path must allow. */
export interface PathCheck {
  /** The instant the path is checked at (inside every certificate's validity period). */
  readonly at: Date;
  /** The TLS role the end-entity certificate authenticates. */
  readonly role: 'client' | 'server';
}

type PkijsModule = typeof Pkijs;
interface Libraries {
  readonly pkijs: PkijsModule;
  readonly asn1js: typeof Asn1js;
}
let libraries: Promise<Libraries> | undefined;
const load = (): Promise<Libraries> =>
  (libraries ??= Promise.all([import('pkijs'), import('asn1js')]).then(([pkijs, asn1js]) => ({ pkijs, asn1js })));

/**
 * Validates `path` (end-entity certificate first, trust anchor last; each certificate's signature
 * already verified with the next one's key) under RFC 5280 §6.1.
 * Throws a {@link WimseError}: `mtls_untrusted` for a path its CAs do not allow, `mtls_usage` for
 * an end-entity certificate not usable for the TLS role.
 */
export async function validateCertificationPath(path: readonly X509Certificate[], check: PathCheck): Promise<void> {
  if (path.length < 2) throw new TypeError('a certification path holds the end-entity certificate and its anchor');
  const { pkijs: lib, asn1js } = await load();
  const certs = path.map((cert) => parsed(lib, cert));
  for (const [i, cert] of certs.entries()) checkExtensions(cert, i === 0);
  checkEndEntityUsage(certs[0]!, asn1js);
  checkIssuerPurposes(certs, check.role);
  checkPathLength(certs);
  // The engine on the whole path: everything but the gaps listed above.
  await engineRun(lib, certs.slice(0, -1), certs[certs.length - 1]!, check.at);
  // §6.1.4 (g): each constrained CA (anchor included) in a run of its own, with only its subtrees.
  for (let k = 1; k < certs.length; k++) {
    const constraints = extension(certs[k]!, NAME_CONSTRAINTS)?.parsedValue as Pkijs.NameConstraints | undefined;
    if (constraints === undefined) continue;
    await engineRun(lib, certs.slice(0, k).map(withoutNameConstraints), certs[k]!, check.at, {
      initialPermittedSubtreesSet: constraints.permittedSubtrees ?? [],
      initialExcludedSubtreesSet: constraints.excludedSubtrees ?? [],
    });
  }
}

// Parsing is most of the cost, and CA certificates recur on every path: parsed certificates are
// kept by SHA-256 fingerprint (bounded, oldest out first). The engine never changes them.
const PARSED_ENTRIES = 512;
const parsedCache = new Map<string, Pkijs.Certificate>();

function parsed(lib: PkijsModule, cert: X509Certificate): Pkijs.Certificate {
  const key = cert.fingerprint256;
  let p = parsedCache.get(key);
  if (p === undefined) {
    try {
      p = lib.Certificate.fromBER(new Uint8Array(cert.raw));
    } catch (e) {
      throw new WimseError('mtls_malformed', 'A certificate of the chain could not be parsed', { cause: e });
    }
    if (parsedCache.size >= PARSED_ENTRIES) parsedCache.delete(parsedCache.keys().next().value!);
    parsedCache.set(key, p);
  }
  return p;
}

// `below`: end-entity first, up to (not including) `anchor`.
async function engineRun(
  lib: PkijsModule,
  below: readonly Pkijs.Certificate[],
  anchor: Pkijs.Certificate,
  at: Date,
  params: Pkijs.CertificateChainValidationEngineVerifyParams = {},
): Promise<void> {
  // The path is fixed and its signatures were verified while it was built (workload-certificate.ts,
  // Node's X509Certificate): each certificate's issuer is the next one, nothing is searched again.
  const path = [...below, anchor];
  const findIssuer = (cert: Pkijs.Certificate) => {
    const i = path.indexOf(cert);
    return Promise.resolve(i >= 0 && i + 1 < path.length ? [path[i + 1]!] : []);
  };
  // The engine takes the end-entity certificate last.
  const engine = new lib.CertificateChainValidationEngine({
    trustedCerts: [anchor],
    certs: [...below].reverse(),
    checkDate: at,
    findIssuer,
  });
  const result = await engine.verify({ passedWhenNotRevValues: true, ...params });
  if (!result.result) throw new WimseError('mtls_untrusted', `The certificate chain is not valid: ${result.resultMessage}`);
}

function extension(cert: Pkijs.Certificate, oid: string): Pkijs.Extension | undefined {
  return cert.extensions?.find((e) => e.extnID === oid);
}

// A shallow copy whose name constraints the engine does not see; the parsed original is shared.
function withoutNameConstraints(cert: Pkijs.Certificate): Pkijs.Certificate {
  if (cert.extensions === undefined) return cert;
  const copy = Object.assign(Object.create(Object.getPrototypeOf(cert) as object) as Pkijs.Certificate, cert);
  copy.extensions = cert.extensions.filter((e) => e.extnID !== NAME_CONSTRAINTS);
  return copy;
}

// §4.2: "A certificate-using system MUST reject the certificate if it encounters a critical
// extension it does not recognize"; one acted on here that PKI.js could not parse is no better
// (the others are not parsed at all: nothing reads them).
function checkExtensions(cert: Pkijs.Certificate, endEntity: boolean): void {
  const seen = new Set<string>();
  for (const e of cert.extensions ?? []) {
    // §4.2: a certificate MUST NOT include more than one instance of a particular extension.
    if (seen.has(e.extnID)) throw new WimseError('mtls_malformed', `A certificate of the chain repeats extension ${e.extnID}`);
    seen.add(e.extnID);
    if (RECOGNISED_CRITICAL.has(e.extnID)) {
      const value = e.parsedValue as { parsingError?: string } | undefined;
      if (
        value === undefined ||
        (typeof value === 'object' && value !== null && 'parsingError' in value && value.parsingError !== undefined)
      ) {
        throw new WimseError('mtls_malformed', `A certificate of the chain has a malformed extension ${e.extnID}`);
      }
    } else if (e.critical) {
      throw new WimseError(
        endEntity ? 'mtls_usage' : 'mtls_untrusted',
        `${endEntity ? 'The client certificate' : 'An issuing CA certificate'} has an unrecognised critical extension ${e.extnID}`,
      );
    }
  }
}

// §4.2.1.3: the TLS handshake signature needs digitalSignature; keyCertSign belongs to CAs only.
function checkEndEntityUsage(leaf: Pkijs.Certificate, asn1js: typeof Asn1js): void {
  const value: unknown = extension(leaf, KEY_USAGE)?.parsedValue;
  if (value === undefined) return;
  // PKI.js leaves KeyUsage as the generic ASN.1 value it decoded: it must be the BIT STRING.
  if (!(value instanceof asn1js.BitString))
    throw new WimseError('mtls_malformed', 'The key usage extension of the client certificate is malformed');
  const ku = value.valueBlock.valueHexView[0] ?? 0;
  if ((ku & KU_DIGITAL_SIGNATURE) === 0) throw new WimseError('mtls_usage', 'The certificate key usage does not allow digitalSignature');
  if ((ku & KU_KEY_CERT_SIGN) !== 0)
    throw new WimseError('mtls_usage', 'A certificate with keyCertSign is a CA certificate, not a workload certificate');
}

// As OpenSSL's purpose check: an intermediate with an extended key usage must allow the role.
function checkIssuerPurposes(certs: readonly Pkijs.Certificate[], role: 'client' | 'server'): void {
  const needed = role === 'client' ? EKU_CLIENT_AUTH : EKU_SERVER_AUTH;
  for (const cert of certs.slice(1, -1)) {
    const eku = extension(cert, EXT_KEY_USAGE)?.parsedValue as Pkijs.ExtKeyUsage | undefined;
    if (eku !== undefined && !eku.keyPurposes.includes(needed)) {
      throw new WimseError('mtls_untrusted', `An issuing CA's extended key usage does not allow TLS ${role} authentication`);
    }
  }
}

// §6.1.4 (l), (m): a CA's pathLenConstraint bounds the non-self-issued intermediates below it.
function checkPathLength(certs: readonly Pkijs.Certificate[]): void {
  let below = 0; // non-self-issued intermediates between the end entity and certs[k]
  for (let k = 1; k < certs.length; k++) {
    const cert = certs[k]!;
    const bc = extension(cert, BASIC_CONSTRAINTS)?.parsedValue as Pkijs.BasicConstraints | undefined;
    // A number, or an INTEGER too large for one (no bound in practice).
    const limit = typeof bc?.pathLenConstraint === 'number' ? bc.pathLenConstraint : undefined;
    if (limit !== undefined && below > limit) {
      throw new WimseError(
        'mtls_untrusted',
        `The chain exceeds the pathLenConstraint ${limit} of ${k === certs.length - 1 ? 'its trust anchor' : 'an issuing CA'}`,
      );
    }
    if (!cert.subject.isEqual(cert.issuer)) below++;
  }
}
