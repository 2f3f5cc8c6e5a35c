/**
 * A small certificate factory for tests: CAs per trust domain and Workload Identity Certificates
 * with exactly the SANs, validity and extensions a case needs. Test-only (uses `@peculiar/x509`
 * and its ASN.1 schemas, devDependencies); production code reads certificates with Node's
 * `X509Certificate` and PKI.js.
 */
import { KeyObject, webcrypto } from 'node:crypto';
import 'reflect-metadata';
import { AsnConvert } from '@peculiar/asn1-schema';
import { GeneralName, GeneralSubtree, GeneralSubtrees, NameConstraints } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

/** A certificate with its key, as PEM and DER. */
export interface TestCert {
  /** PEM of this certificate only. */
  readonly pem: string;
  readonly der: Uint8Array;
  /** PKCS#8 PEM of the private key. */
  readonly keyPem: string;
  readonly keys: CryptoKeyPair;
  readonly cert: x509.X509Certificate;
  /** DER chain as a TLS peer presents it: this certificate, then its intermediates (no root). */
  readonly chain: readonly Uint8Array[];
  /** PEM of {@link chain}: what `svid.pem` holds. */
  readonly chainPem: string;
}

export interface CertOptions {
  /** Subject common name. */
  name?: string;
  /** URI SANs, e.g. `['spiffe://example.org/api']`. */
  uris?: readonly string[];
  dns?: readonly string[];
  ips?: readonly string[];
  notBefore?: Date;
  notAfter?: Date;
  /** Default validity is this instant (ms) ± one day. Default `Date.now()`. */
  at?: number;
  /** Basic constraints cA. Default false for leaves, true for {@link createCa}. */
  ca?: boolean;
  /** Extended key usages (OIDs); `null` leaves the extension out. Default: clientAuth + serverAuth. */
  eku?: readonly string[] | null;
  /** Key usage flags; `null` leaves the extension out. */
  keyUsage?: number | null;
  /** Key pair to generate instead of P-256, e.g. a short RSA key. */
  keyAlgorithm?: RsaHashedKeyGenParams;
  /** Public key to certify instead of the generated one (a degenerate key; the certificate cannot then sign). */
  publicKey?: CryptoKey;
  /** Basic constraints pathLenConstraint (CAs). */
  pathLength?: number;
  /** RFC 5280 §4.2.1.10 name constraints on URIs (host or `.domain`), critical. */
  nameConstraints?: { permitted?: readonly string[]; excluded?: readonly string[] };
  /** Further extensions, e.g. {@link unknownExtension}. */
  extensions?: readonly x509.Extension[];
}

export const EKU = {
  clientAuth: x509.ExtendedKeyUsage.clientAuth,
  serverAuth: x509.ExtendedKeyUsage.serverAuth,
  codeSigning: x509.ExtendedKeyUsage.codeSigning,
} as const;
export const KEY_USAGE = x509.KeyUsageFlags;

/** A self-signed root CA (or, with `parent`, an intermediate) for one trust domain. */
export async function createCa(name: string, o: CertOptions & { parent?: TestCert } = {}): Promise<TestCert> {
  const opts: CertOptions = { ca: true, eku: null, keyUsage: KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign, uris: [], ...o, name };
  return o.parent === undefined ? make(undefined, opts) : make(o.parent, opts);
}

/** A certificate issued by `issuer`. Defaults: a leaf valid from a day ago for a day, EKU clientAuth + serverAuth. */
export async function issueCert(issuer: TestCert, o: CertOptions = {}): Promise<TestCert> {
  return make(issuer, { keyUsage: KEY_USAGE.digitalSignature, ...o });
}

/** A self-signed certificate that is not a CA. */
export async function selfSigned(o: CertOptions = {}): Promise<TestCert> {
  return make(undefined, { keyUsage: KEY_USAGE.digitalSignature, ...o });
}

/** Concatenated PEM of several certificates (a bundle). */
export function bundle(...certs: readonly TestCert[]): string {
  return certs.map((c) => c.pem).join('');
}

async function make(issuer: TestCert | undefined, o: CertOptions): Promise<TestCert> {
  const generated = (await webcrypto.subtle.generateKey(o.keyAlgorithm ?? ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const keys: CryptoKeyPair = o.publicKey === undefined ? generated : { privateKey: generated.privateKey, publicKey: o.publicKey };
  const now = o.at ?? Date.now();
  const names: x509.JsonGeneralName[] = [
    ...(o.uris ?? []).map((value) => ({ type: 'url' as const, value })),
    ...(o.dns ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(o.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
  ];
  const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(o.ca === true, o.pathLength, true)];
  if (o.keyUsage !== null && o.keyUsage !== undefined) extensions.push(new x509.KeyUsagesExtension(o.keyUsage, true));
  const eku = o.eku === undefined ? [EKU.clientAuth, EKU.serverAuth] : o.eku;
  if (eku !== null) extensions.push(new x509.ExtendedKeyUsageExtension([...eku]));
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names, true));
  if (o.nameConstraints !== undefined) extensions.push(nameConstraintsExtension(o.nameConstraints));
  extensions.push(...(o.extensions ?? []));
  extensions.push(await x509.SubjectKeyIdentifierExtension.create(keys.publicKey));
  if (issuer !== undefined) extensions.push(await x509.AuthorityKeyIdentifierExtension.create(issuer.keys.publicKey));
  const subject = `CN=${o.name ?? 'workload'}`;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject,
    issuer: issuer === undefined ? subject : issuer.cert.subject,
    notBefore: o.notBefore ?? new Date(now - DAY),
    notAfter: o.notAfter ?? new Date(now + DAY),
    signingAlgorithm:
      (issuer ?? { keys }).keys.privateKey.algorithm.name === 'ECDSA' ? ALG : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    publicKey: keys.publicKey,
    signingKey: issuer === undefined ? keys.privateKey : issuer.keys.privateKey,
    extensions,
  });
  const der = new Uint8Array(cert.rawData);
  const pem = `${cert.toString('pem')}\n`;
  // An issuer that is itself issued (an intermediate) travels with the chain; a root does not.
  const issuerChain = issuer === undefined || isRoot(issuer) ? [] : issuer.chain;
  const chain = [der, ...issuerChain];
  const chainPem = pem + (issuer === undefined || isRoot(issuer) ? '' : issuer.chainPem);
  const keyPem = KeyObject.from(keys.privateKey as unknown as webcrypto.CryptoKey)
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  return { pem, der, keyPem, keys, cert, chain, chainPem };
}

function isRoot(c: TestCert): boolean {
  return c.cert.subject === c.cert.issuer;
}

function randomSerial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(12));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x10; // positive, no leading zero
  return Buffer.from(bytes).toString('hex');
}

/** An extension of a private OID (value: DER NULL) that no validator recognises. */
export function unknownExtension(critical: boolean, oid = '1.3.6.1.4.1.55555.1.1'): x509.Extension {
  return new x509.Extension(oid, critical, new Uint8Array([0x05, 0x00]));
}

function nameConstraintsExtension(nc: { permitted?: readonly string[]; excluded?: readonly string[] }): x509.Extension {
  const subtrees = (uris: readonly string[] | undefined) =>
    uris === undefined
      ? undefined
      : new GeneralSubtrees(uris.map((uri) => new GeneralSubtree({ base: new GeneralName({ uniformResourceIdentifier: uri }) })));
  const value = new NameConstraints({ permittedSubtrees: subtrees(nc.permitted), excludedSubtrees: subtrees(nc.excluded) });
  return new x509.Extension('2.5.29.30', true, AsnConvert.serialize(value));
}
