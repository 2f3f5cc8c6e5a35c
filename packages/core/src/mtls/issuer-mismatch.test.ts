/**
 * Error codes precise enough to act on: a certificate whose CA (found by name in the trust
 * domain's bundle) now uses another algorithm or key is told apart, in `detail`, from one issued
 * by a CA the trust domain does not know. Also: a WIT `iss` mismatch names both issuers.
 */
import { webcrypto } from 'node:crypto';
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { WimseError } from '../errors.js';
import { bundle, createCa, issueCert, type TestCert } from '@wimse/test-support/certs';
import {
  AUDIENCE,
  NOW,
  TRUST_DOMAIN,
  createIssuer,
  createWorkload,
  verifierFor,
  wptRequest,
  type Issuer,
} from '@wimse/test-support/factory';
import { createVerifier } from '../verifier.js';

const CLIENT = 'spiffe://example.org/client';
let ecCa: TestCert;
let rsaCaPem: string;
let issuer: Issuer;

// The same CA name re-keyed to RSA: what a bundle looks like after a CA changed algorithm.
async function rsaCa(name: string): Promise<string> {
  const alg = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name,
    notBefore: new Date(NOW - 86_400_000),
    notAfter: new Date(NOW + 86_400_000),
    signingAlgorithm: alg,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  return `${cert.toString('pem')}\n`;
}

beforeAll(async () => {
  ecCa = await createCa('example.org CA', { at: NOW });
  rsaCaPem = await rsaCa('CN=example.org CA');
  issuer = await createIssuer();
});

function mtlsVerifier(caBundle: string) {
  return createVerifier({
    trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } },
    audience: AUDIENCE,
    proofs: ['mtls'],
    mtls: { trustBundles: { 'example.org': caBundle } },
    now: () => NOW,
  });
}

async function refusal(promise: Promise<unknown>): Promise<WimseError> {
  const e = await promise.catch((x: unknown) => x);
  expect(e).toBeInstanceOf(WimseError);
  return e as WimseError;
}

describe('mutual-tls-02 §3.2 step 3: why a chain fails is in the detail', () => {
  it('a CA of that name with a key of another algorithm: says so, naming the key type', async () => {
    const leaf = await issueCert(ecCa, { uris: [CLIENT], at: NOW });
    const e = await refusal(mtlsVerifier(rsaCaPem).verify({ method: 'GET', path: '/', headers: {}, peerCertificates: leaf.chain }));
    expect(e.code).toBe('mtls_untrusted');
    expect(e.message).toContain('names CN=example.org CA of trust domain example.org as its issuer');
    expect(e.message).toContain("that CA's RSA key");
  });
  it('an unknown CA: "does not chain"', async () => {
    const stray = await createCa('stray CA', { at: NOW });
    const leaf = await issueCert(stray, { uris: [CLIENT], at: NOW });
    const e = await refusal(mtlsVerifier(bundle(ecCa)).verify({ method: 'GET', path: '/', headers: {}, peerCertificates: leaf.chain }));
    expect(e.code).toBe('mtls_untrusted');
    expect(e.message).toBe('The certificate does not chain to a CA of trust domain example.org');
  });
  it('the matching CA still verifies', async () => {
    const leaf = await issueCert(ecCa, { uris: [CLIENT], at: NOW });
    await expect(
      mtlsVerifier(bundle(ecCa)).verify({ method: 'GET', path: '/', headers: {}, peerCertificates: leaf.chain }),
    ).resolves.toMatchObject({ workload: CLIENT });
  });
});

describe('workload-creds §5.1.4 step 10: a WIT iss mismatch names what arrived and what is allowed', () => {
  const withIssuer = () => ({ trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] }, issuer: 'https://id.example.org' } } });
  it('another iss', async () => {
    const w = await createWorkload(issuer, { iss: 'https://rogue.example.org' });
    const e = await refusal(verifierFor(issuer, withIssuer()).verify(await wptRequest(w)));
    expect(e.code).toBe('wit_iss');
    expect(e.message).toBe(
      'WIT iss "https://rogue.example.org" is not an issuer of trust domain example.org; expected "https://id.example.org"',
    );
    expect(e.mismatch).toEqual({ expected: ['https://id.example.org'], received: ['https://rogue.example.org'] });
  });
  it('no iss', async () => {
    const w = await createWorkload(issuer);
    const e = await refusal(verifierFor(issuer, withIssuer()).verify(await wptRequest(w)));
    expect(e.code).toBe('wit_iss');
    expect(e.message).toContain('WIT iss is required by trust domain example.org');
  });
});
