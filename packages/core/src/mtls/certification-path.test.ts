/**
 * RFC 5280 §6.1 constraints of the CAs on a client certificate's path, through the verifier, for a
 * TLS peer's chain and a forwarded RFC 9440 `Client-Cert` alike: one describe per rule, one case
 * per way to break it, each with its exact code. (Verdicts against OpenSSL: certification-path.openssl.test.ts.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { WimseError } from '../errors.js';
import type { WimseRequest } from '../request.js';
import { bundle, createCa, EKU, issueCert, KEY_USAGE, unknownExtension, type CertOptions, type TestCert } from '@wimse/test-support/certs';
import { NOW } from '@wimse/test-support/factory';
import { createVerifier } from '../verifier.js';
import * as x509 from '@peculiar/x509';

const ADMIN = 'spiffe://example.org/admin';
const TEAM = 'spiffe://team.example.org/api';
const EVIL = 'spiffe://evil.org/x';
const PROXY = '10.0.0.9';

const at = <T extends CertOptions>(o: T): T => ({ at: NOW, ...o });
const ca = (name: string, o: CertOptions & { parent?: TestCert } = {}) => createCa(name, at(o));
const leaf = (issuer: TestCert, o: CertOptions = {}) => issueCert(issuer, at({ uris: [ADMIN], ...o }));

/** A verifier trusting `root` for every trust domain used here, and Client-Cert from {@link PROXY}. */
function verifier(root: TestCert) {
  const pem = bundle(root);
  return createVerifier({
    trustDomains: { 'example.org': { keys: { keys: [] } } },
    audience: 'https://service.example.org',
    proofs: ['mtls'],
    mtls: { trustBundles: { 'example.org': pem, 'team.example.org': pem, 'evil.org': pem }, trustedProxies: [PROXY] },
    now: () => NOW,
  });
}

const direct = (chain: readonly Uint8Array[]): WimseRequest => ({ method: 'GET', path: '/', headers: {}, peerCertificates: chain });
const sf = (der: Uint8Array) => `:${Buffer.from(der).toString('base64')}:`;
const forwarded = ([first, ...rest]: readonly Uint8Array[]): WimseRequest => ({
  method: 'GET',
  path: '/',
  headers: { 'client-cert': sf(first!), ...(rest.length === 0 ? {} : { 'client-cert-chain': rest.map(sf).join(', ') }) },
  remoteAddress: PROXY,
});

/** Both presentations of `chain` are refused with `code`. */
async function refused(root: TestCert, chain: readonly Uint8Array[], code: string): Promise<void> {
  for (const request of [direct(chain), forwarded(chain)]) {
    const e = await verifier(root)
      .verify(request)
      .then(
        () => expect.fail(`expected ${code}`),
        (err: unknown) => err,
      );
    expect(e).toBeInstanceOf(WimseError);
    expect({ code: (e as WimseError).code, status: (e as WimseError).status, forwarded: request.remoteAddress !== undefined }).toEqual({
      code,
      status: 400,
      forwarded: request.remoteAddress !== undefined,
    });
  }
}

async function accepted(root: TestCert, chain: readonly Uint8Array[], workload = ADMIN): Promise<void> {
  for (const request of [direct(chain), forwarded(chain)]) {
    await expect(verifier(root).verify(request)).resolves.toMatchObject({ workload, method: 'mtls' });
  }
}

let root: TestCert;
beforeAll(async () => {
  root = await ca('root');
});

describe('basicConstraints pathLenConstraint (RFC 5280 §4.2.1.9, §6.1.4 (l), (m))', () => {
  it('rejects an intermediate below a root with pathLen 0', async () => {
    const limited = await ca('root', { pathLength: 0 });
    const inter = await ca('inter', { parent: limited });
    await refused(limited, (await leaf(inter)).chain, 'mtls_untrusted');
  });

  it('rejects an intermediate below an intermediate with pathLen 0', async () => {
    const upper = await ca('upper', { parent: root, pathLength: 0 });
    const lower = await ca('lower', { parent: upper });
    await refused(root, (await leaf(lower)).chain, 'mtls_untrusted');
  });

  it('accepts a leaf right below a CA with pathLen 0, and a self-issued intermediate (key rollover), which does not count', async () => {
    const limited = await ca('root', { pathLength: 0 });
    await accepted(limited, (await leaf(limited)).chain);
    const rollover = await ca('root', { parent: limited }); // same name as its issuer: self-issued
    const cert = await leaf(rollover);
    await accepted(limited, [cert.der, rollover.der]);
  });
});

describe('nameConstraints on URI SANs (RFC 5280 §4.2.1.10, §6.1.4 (g))', () => {
  it('rejects spiffe://example.org/admin from an intermediate permitted team.example.org only', async () => {
    const team = await ca('team', { parent: root, nameConstraints: { permitted: ['team.example.org'] } });
    await refused(root, (await leaf(team)).chain, 'mtls_untrusted');
    await accepted(root, (await leaf(team, { uris: [TEAM] })).chain, TEAM);
  });

  it('rejects an identifier in an excluded subtree', async () => {
    const inter = await ca('inter', { parent: root, nameConstraints: { excluded: ['example.org'] } });
    await refused(root, (await leaf(inter)).chain, 'mtls_untrusted');
  });

  it('applies the trust anchor’s own constraints', async () => {
    const constrained = await ca('root', { nameConstraints: { permitted: ['team.example.org'] } });
    await refused(constrained, (await leaf(constrained)).chain, 'mtls_untrusted');
    const inter = await ca('inter', { parent: constrained });
    await refused(constrained, (await leaf(inter)).chain, 'mtls_untrusted');
  });

  it('takes the intersection of nested constraints: a lower CA cannot widen an upper one', async () => {
    const upper = await ca('root', { nameConstraints: { permitted: ['example.org'] } });
    const lower = await ca('lower', { parent: upper, nameConstraints: { permitted: ['evil.org'] } });
    await refused(upper, (await leaf(lower, { uris: [EVIL] })).chain, 'mtls_untrusted');
  });
});

describe('key usage (RFC 5280 §4.2.1.3)', () => {
  it('rejects a client certificate whose key usage lacks digitalSignature', async () => {
    await refused(root, (await leaf(root, { keyUsage: KEY_USAGE.keyEncipherment })).chain, 'mtls_usage');
  });

  it('rejects a client certificate with keyCertSign but no cA', async () => {
    await refused(root, (await leaf(root, { keyUsage: KEY_USAGE.digitalSignature | KEY_USAGE.keyCertSign })).chain, 'mtls_usage');
  });

  it('rejects a client certificate whose key usage is not a BIT STRING (OpenSSL finds no issuer for an invalid certificate)', async () => {
    const badKu = new x509.Extension('2.5.29.15', true, new Uint8Array([0x02, 0x01, 0x05]));
    await refused(root, (await leaf(root, { keyUsage: null, extensions: [badKu] })).chain, 'mtls_untrusted');
  });
});

describe('extended key usage of issuing CAs (OpenSSL purpose check)', () => {
  it('rejects a chain through an intermediate restricted to serverAuth', async () => {
    const inter = await ca('inter', { parent: root, eku: [EKU.serverAuth] });
    await refused(root, (await leaf(inter)).chain, 'mtls_untrusted');
  });
});

describe('critical extensions (RFC 5280 §4.2)', () => {
  it('rejects an unrecognised critical extension on the client certificate', async () => {
    await refused(root, (await leaf(root, { extensions: [unknownExtension(true)] })).chain, 'mtls_usage');
  });

  it('rejects an unrecognised critical extension on an intermediate', async () => {
    const inter = await ca('inter', { parent: root, extensions: [unknownExtension(true)] });
    await refused(root, (await leaf(inter)).chain, 'mtls_untrusted');
  });

  it('rejects an unrecognised critical extension on the trust anchor', async () => {
    const odd = await ca('root', { extensions: [unknownExtension(true)] });
    await refused(odd, (await leaf(odd)).chain, 'mtls_untrusted');
  });

  it('rejects an extension present twice', async () => {
    await refused(root, (await leaf(root, { extensions: [unknownExtension(false), unknownExtension(false)] })).chain, 'mtls_malformed');
  });

  it('accepts an unrecognised non-critical extension', async () => {
    await accepted(root, (await leaf(root, { extensions: [unknownExtension(false)] })).chain);
  });
});

describe('many requests with one new chain', () => {
  it('answers all of them alike, valid or not', async () => {
    const good = (await leaf(root)).chain;
    const inter = await ca('inter', { parent: root, nameConstraints: { permitted: ['team.example.org'] } });
    const bad = (await leaf(inter)).chain;
    const v = verifier(root);
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => v.verify(direct(i % 2 === 0 ? good : bad))));
    expect(results.filter((r) => r.status === 'fulfilled').length).toBe(20);
    expect(new Set(results.map((r) => (r.status === 'rejected' ? (r.reason as WimseError).code : (r.value.workload as string))))).toEqual(
      new Set([ADMIN, 'mtls_untrusted']),
    );
  });
});
