/**
 * The demo's certificate authority: one CA per trust domain, and Workload Identity Certificates
 * (mutual-tls-02 §3.1, workload-creds-02 §6.1) with exactly one URI SAN, `spiffe://<domain>/<name>`,
 * written in the layout SPIFFE helpers use (`svid.pem`, `svid_key.pem`, `bundle.pem`), one folder
 * per workload. Node can read certificates but not make them, hence `@peculiar/x509` (demo only).
 */
import 'reflect-metadata'; // @peculiar/x509's dependency injection container needs it
import { KeyObject, webcrypto } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { SPIFFE_HELPER_FILES } from '@wimse/core/node';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const MINUTE = 60_000;

/** A CA of one trust domain. */
export interface DemoCa {
  readonly trustDomain: string;
  /** PEM of the CA certificate: the trust domain's bundle. */
  readonly pem: string;
  readonly cert: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
}

/** A workload certificate and its key, as PEM. */
export interface DemoCertificate {
  /** `spiffe://<trust domain>/<name>`. */
  readonly workload: string;
  readonly pem: string;
  readonly keyPem: string;
  /** Hex, lower case. */
  readonly serialNumber: string;
}

/** A self-signed CA for `trustDomain`, valid for a day. */
export async function createCa(trustDomain: string): Promise<DemoCa> {
  const keys = await generateKeys();
  const name = `CN=WIMSE demo CA ${trustDomain}`;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name,
    notBefore: new Date(now - 5 * MINUTE),
    notAfter: new Date(now + 24 * 60 * MINUTE),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { trustDomain, pem: pemOf(cert), cert, keys };
}

/**
 * A leaf certificate issued by `ca` for `workload` (a full Workload Identifier, so a CA can be made
 * to issue an identity of another trust domain — the impostor case). Valid for an hour, usable for
 * TLS client and server authentication (as SPIFFE X.509-SVIDs usually are). `ip` adds an IP SAN
 * for clients that check the host name (curl); the URI SAN stays the only workload identity.
 */
export async function issueCertificate(ca: DemoCa, workload: string, o: { ip?: string } = {}): Promise<DemoCertificate> {
  const keys = await generateKeys();
  const now = Date.now();
  const serialNumber = serial();
  const names: x509.JsonGeneralName[] = [
    { type: 'url', value: workload },
    ...(o.ip === undefined ? [] : [{ type: 'ip' as const, value: o.ip }]),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject: `CN=${workload.replace(/^spiffe:\/\/[^/]+\//, '')}`,
    issuer: ca.cert.subject,
    notBefore: new Date(now - 5 * MINUTE),
    notAfter: new Date(now + 60 * MINUTE),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(names),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(ca.keys.publicKey),
    ],
  });
  const keyPem = KeyObject.from(keys.privateKey as unknown as webcrypto.CryptoKey)
    .export({ type: 'pkcs8', format: 'pem' })
    .toString();
  return { workload, pem: pemOf(cert), keyPem, serialNumber };
}

/**
 * Writes `svid_key.pem`, `svid.pem` and `bundle.pem` into `dir`, each by rename-into-place so a
 * watcher never reads half a file (it may see the new key before the new certificate; core's
 * `watchCredentialFiles` waits until the set matches).
 */
export async function writeSpiffeFiles(dir: string, certificate: DemoCertificate, bundle: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const put = async (name: string, text: string, mode: number) => {
    const temporary = join(dir, `.${name}.tmp`);
    await writeFile(temporary, text, { mode });
    await rename(temporary, join(dir, name));
  };
  await put(SPIFFE_HELPER_FILES.key, certificate.keyPem, 0o600);
  await put(SPIFFE_HELPER_FILES.cert, certificate.pem, 0o644);
  await put(SPIFFE_HELPER_FILES.bundle, bundle, 0o644);
}

/** A fresh temporary folder for the demo's credentials, and a function removing it. */
export async function credentialsRoot(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'wimse-demo-mtls-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

function pemOf(cert: x509.X509Certificate): string {
  return `${cert.toString('pem')}\n`;
}

// Positive, 16 bytes, no leading zero byte: the same hex in every tool.
function serial(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x10;
  return Buffer.from(bytes).toString('hex');
}
