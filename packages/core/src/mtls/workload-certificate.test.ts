/**
 * Workload Identity Certificate checks through the verifier (mutual-tls-02 §3.2, workload-creds-02
 * §6.1): one describe per validation step, one case per way to violate it, each with its exact code.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createAuthorizer } from '../authorization.js';
import { WimseError } from '../errors.js';
import type { VerifierOptions } from '../options.js';
import type { WimseRequest } from '../request.js';
import { bundle, createCa, EKU, issueCert, KEY_USAGE, selfSigned, type CertOptions, type TestCert } from '@wimse/test-support/certs';
import { AUDIENCE, createIssuer, createWorkload, NOW, wptRequest, type Issuer } from '@wimse/test-support/factory';
import { createVerifier } from '../verifier.js';

const DAY = 86_400_000;
const CLIENT = 'spiffe://example.org/client';
let root: TestCert; // example.org
let inter: TestCert; // example.org intermediate
let otherRoot: TestCert; // other.org
let strayRoot: TestCert; // configured nowhere
let issuer: Issuer;

const at = <T extends CertOptions>(o: T = {} as T): T => ({ at: NOW, ...o });
const leaf = (ca: TestCert, o: CertOptions = {}) => issueCert(ca, at({ uris: [CLIENT], ...o }));

beforeAll(async () => {
  root = await createCa('example.org root', at());
  inter = await createCa('example.org intermediate', { at: NOW, parent: root });
  otherRoot = await createCa('other.org root', at());
  strayRoot = await createCa('stray root', at());
  issuer = await createIssuer();
});

function verifier(options: Partial<VerifierOptions> = {}) {
  return createVerifier({
    trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } },
    audience: AUDIENCE,
    proofs: ['mtls'],
    mtls: { trustBundles: { 'example.org': bundle(root), 'other.org': bundle(otherRoot) } },
    now: () => NOW,
    ...options,
  });
}

function view(chain: readonly Uint8Array[] | undefined, extra: Partial<WimseRequest> = {}): WimseRequest {
  return { method: 'GET', path: '/orders', headers: {}, ...(chain === undefined ? {} : { peerCertificates: chain }), ...extra };
}

async function rejects(promise: Promise<unknown>, code: string, status = 400): Promise<WimseError> {
  const e = await promise.then(
    () => expect.fail(`expected ${code}`),
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(WimseError);
  expect({ code: (e as WimseError).code, status: (e as WimseError).status }).toEqual({ code, status });
  expect((e as WimseError).problem.code).toBe(code);
  return e as WimseError;
}

const sf = (der: Uint8Array) => `:${Buffer.from(der).toString('base64')}:`;

describe('accepted certificates', () => {
  it('authenticates a leaf issued by the root as method mtls, without a WIT', async () => {
    const cert = await leaf(root);
    const p = await verifier().verify(view(cert.chain));
    expect(p).toMatchObject({ workload: CLIENT, trustDomain: 'example.org', method: 'mtls', context: { other: {} } });
    expect(p.wit).toBeUndefined();
    expect(p.certificate).toMatchObject({
      workload: CLIENT,
      serialNumber: cert.cert.serialNumber.toUpperCase(),
      forwarded: false,
      trustAnchor: { subject: 'CN=example.org root' },
    });
    expect(p.certificate?.validTo).toBe(new Date(NOW + DAY).toISOString());
  });

  it('follows an intermediate, in any order, with or without the root in the chain', async () => {
    const cert = await leaf(inter);
    for (const chain of [cert.chain, [cert.der, root.der, inter.der], [cert.der, inter.der, root.der]]) {
      await expect(verifier().verify(view(chain))).resolves.toMatchObject({ workload: CLIENT, method: 'mtls' });
    }
  });

  it('accepts a certificate without EKU (SPIFFE X.509-SVIDs may omit it) and one with clientAuth only', async () => {
    await expect(verifier().verify(view((await leaf(root, { eku: null })).chain))).resolves.toMatchObject({ method: 'mtls' });
    await expect(verifier().verify(view((await leaf(root, { eku: [EKU.clientAuth] })).chain))).resolves.toMatchObject({ method: 'mtls' });
  });

  it('accepts a wimse:// identifier and ignores URI SANs of other schemes and DNS SANs', async () => {
    const cert = await leaf(root, { uris: ['https://client.example.org/', 'wimse://example.org/billing'], dns: ['client.example.org'] });
    await expect(verifier().verify(view(cert.chain))).resolves.toMatchObject({ workload: 'wimse://example.org/billing' });
  });

  it('picks the bundle by Workload Identifier Origin before the bare trust domain', async () => {
    const v = verifier({ mtls: { trustBundles: { 'spiffe://example.org': bundle(root), 'example.org': bundle(otherRoot) } } });
    await expect(v.verify(view((await leaf(root)).chain))).resolves.toMatchObject({ workload: CLIENT });
  });

  it('tolerates clock skew at the edges of the validity period', async () => {
    const cert = await leaf(root, { notBefore: new Date(NOW + 20_000), notAfter: new Date(NOW + DAY) });
    await expect(verifier().verify(view(cert.chain))).resolves.toMatchObject({ method: 'mtls' });
  });

  it('follows a bundle source that rotates to a new CA', async () => {
    let pem = bundle(root);
    const v = verifier({ mtls: { trustBundles: { 'example.org': () => pem } } });
    const newRoot = await createCa('example.org root 2', at());
    const before = await leaf(root);
    const after = await leaf(newRoot);
    await expect(v.verify(view(before.chain))).resolves.toMatchObject({ method: 'mtls' });
    await rejects(v.verify(view(after.chain)), 'mtls_untrusted');
    pem = bundle(root, newRoot); // overlap during the rotation
    await expect(v.verify(view(after.chain))).resolves.toMatchObject({ method: 'mtls' });
    await expect(v.verify(view(before.chain))).resolves.toMatchObject({ method: 'mtls' });
    pem = bundle(newRoot);
    await rejects(v.verify(view(before.chain)), 'mtls_untrusted');
  });
});

describe('step 1: a client certificate is required', () => {
  it('rejects a request without one', async () => {
    const e = await rejects(verifier().verify(view(undefined)), 'mtls_missing');
    expect(e.headers).toEqual({});
  });

  it('rejects an empty chain', async () => {
    await rejects(verifier().verify(view([])), 'mtls_missing');
  });

  it('rejects bytes that are not a certificate', async () => {
    await rejects(verifier().verify(view([new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])])), 'mtls_malformed');
  });

  it('rejects a chain longer than ten certificates', async () => {
    const cert = await leaf(inter);
    await rejects(verifier().verify(view([cert.der, ...Array<Uint8Array>(10).fill(inter.der)])), 'mtls_malformed');
  });
});

describe('step 2: exactly one URI SAN holding a valid Workload Identifier', () => {
  const cases: [string, CertOptions, string][] = [
    ['no SAN at all', { uris: [] }, 'mtls_san'],
    ['a DNS SAN only', { uris: [], dns: ['client.example.org'] }, 'mtls_san'],
    ['an IP SAN only', { uris: [], ips: ['10.0.0.1'] }, 'mtls_san'],
    ['a URI SAN of another scheme only', { uris: ['https://example.org/client'] }, 'mtls_san'],
    ['two spiffe URI SANs', { uris: [CLIENT, 'spiffe://example.org/admin'] }, 'mtls_san'],
    ['a spiffe and a wimse URI SAN', { uris: [CLIENT, 'wimse://example.org/client'] }, 'mtls_san'],
    ['the same URI SAN twice', { uris: [CLIENT, CLIENT] }, 'mtls_san'],
    ['a dot-segment path', { uris: ['spiffe://example.org/a/../admin'] }, 'mtls_identifier'],
    ['a port', { uris: ['spiffe://example.org:8443/client'] }, 'mtls_identifier'],
    ['an upper-case trust domain', { uris: ['spiffe://Example.org/client'] }, 'mtls_identifier'],
    ['no path (a trust domain, as on SPIFFE CA certificates)', { uris: ['spiffe://example.org'] }, 'mtls_identifier'],
    ['a query', { uris: ['spiffe://example.org/client?admin=1'] }, 'mtls_identifier'],
    ['percent-encoding', { uris: ['spiffe://example.org/%61dmin'] }, 'mtls_identifier'],
    ['user information', { uris: ['spiffe://admin@example.org/client'] }, 'mtls_identifier'],
    ['an IP address as trust domain', { uris: ['spiffe://10.0.0.1/client'] }, 'mtls_identifier'],
    // Node prints this one SAN quoted, so it cannot pass for two entries.
    ['a SAN smuggling a second entry after ", "', { uris: ['spiffe://example.org/a, URI:spiffe://example.org/admin'] }, 'mtls_identifier'],
  ];
  it.each(cases)('rejects %s', async (_name, options, code) => {
    await rejects(verifier().verify(view((await leaf(root, options)).chain)), code);
  });
});

describe('step 3: chain to the CA bundle of the identifier’s own trust domain', () => {
  it('rejects a certificate from a CA configured nowhere', async () => {
    await rejects(verifier().verify(view((await leaf(strayRoot)).chain)), 'mtls_untrusted');
  });

  it('rejects an example.org identifier issued by the other.org CA (a configured CA of another domain)', async () => {
    await rejects(verifier().verify(view((await leaf(otherRoot)).chain)), 'mtls_untrusted');
  });

  it('rejects it even when the issuing CA is in the chain the peer presented', async () => {
    const cert = await leaf(otherRoot);
    await rejects(verifier().verify(view([cert.der, otherRoot.der])), 'mtls_untrusted');
  });

  it('accepts the other.org identifier from the other.org CA (per-domain bundles)', async () => {
    const cert = await leaf(otherRoot, { uris: ['spiffe://other.org/client'] });
    await expect(verifier().verify(view(cert.chain))).resolves.toMatchObject({
      trustDomain: 'other.org',
      certificate: { trustAnchor: { subject: 'CN=other.org root' } },
    });
  });

  it('rejects a trust domain without a bundle', async () => {
    await rejects(verifier().verify(view((await leaf(strayRoot, { uris: ['spiffe://stray.org/client'] })).chain)), 'mtls_untrusted_domain');
  });

  it('rejects a missing intermediate', async () => {
    await rejects(verifier().verify(view([(await leaf(inter)).der])), 'mtls_untrusted');
  });

  it('rejects a self-signed leaf', async () => {
    await rejects(verifier().verify(view((await selfSigned(at({ uris: [CLIENT] }))).chain)), 'mtls_untrusted');
  });

  it('rejects a chain through an intermediate that is not a CA', async () => {
    const notCa = await issueCert(
      root,
      at({ name: 'not a ca', ca: false, keyUsage: KEY_USAGE.keyCertSign | KEY_USAGE.digitalSignature, uris: [] }),
    );
    const cert = await leaf(notCa);
    await rejects(verifier().verify(view([cert.der, notCa.der])), 'mtls_untrusted');
  });

  it('rejects a chain through a CA whose key usage lacks keyCertSign', async () => {
    const noSign = await issueCert(root, at({ name: 'no certsign', ca: true, keyUsage: KEY_USAGE.digitalSignature, uris: [] }));
    const cert = await leaf(noSign);
    await rejects(verifier().verify(view([cert.der, noSign.der])), 'mtls_untrusted');
  });

  it('rejects a tampered certificate (signature no longer verifies)', async () => {
    const der = Uint8Array.from((await leaf(root)).der);
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff;
    await rejects(verifier().verify(view([der])), 'mtls_untrusted'); // the byte is in the signature value
  });
});

describe('validity period (RFC 5280 §6.1.3)', () => {
  it('rejects an expired certificate', async () => {
    const cert = await leaf(root, { notBefore: new Date(NOW - 2 * DAY), notAfter: new Date(NOW - 60_000) });
    await rejects(verifier().verify(view(cert.chain)), 'mtls_expired');
  });

  it('rejects a certificate not yet valid', async () => {
    const cert = await leaf(root, { notBefore: new Date(NOW + 60_000), notAfter: new Date(NOW + DAY) });
    await rejects(verifier().verify(view(cert.chain)), 'mtls_not_yet_valid');
  });

  it('rejects a chain through an expired intermediate', async () => {
    const old = await createCa('old intermediate', { parent: root, notBefore: new Date(NOW - 2 * DAY), notAfter: new Date(NOW - 60_000) });
    const cert = await leaf(old);
    const e = await rejects(verifier().verify(view(cert.chain)), 'mtls_expired');
    expect(e.message).toMatch(/issuing CA/);
  });

  it('rejects a certificate whose trust anchor has expired', async () => {
    const oldRoot = await createCa('old root', { notBefore: new Date(NOW - 2 * DAY), notAfter: new Date(NOW - 60_000) });
    const v = verifier({ mtls: { trustBundles: { 'example.org': bundle(oldRoot) } } });
    await rejects(v.verify(view((await leaf(oldRoot)).chain)), 'mtls_expired');
  });
});

describe('verified chains are remembered, never past their validity', () => {
  it('rejects a chain that expired after it was first accepted', async () => {
    let now = NOW;
    const v = verifier({ now: () => now });
    const cert = await leaf(root, { notAfter: new Date(NOW + 3_600_000) });
    await expect(v.verify(view(cert.chain))).resolves.toMatchObject({ method: 'mtls' });
    now = NOW + 3_600_000 + 31_000; // past notAfter + 30 s tolerance
    await rejects(v.verify(view(cert.chain)), 'mtls_expired');
  });

  it('rejects a chain whose intermediate expired after it was first accepted', async () => {
    let now = NOW;
    const shortInter = await createCa('short intermediate', {
      parent: root,
      notBefore: new Date(NOW - DAY),
      notAfter: new Date(NOW + 60_000),
    });
    const v = verifier({ now: () => now });
    const cert = await leaf(shortInter);
    await expect(v.verify(view(cert.chain))).resolves.toMatchObject({ method: 'mtls' });
    now = NOW + 120_000;
    await rejects(v.verify(view(cert.chain)), 'mtls_expired');
  });

  it('keeps a forwarded and a direct presentation of one chain apart', async () => {
    const cert = await leaf(root);
    const v = verifier({ mtls: { trustBundles: { 'example.org': bundle(root) }, trustedProxies: ['10.0.0.5'] } });
    expect((await v.verify(view(cert.chain))).certificate?.forwarded).toBe(false);
    const fwd = await v.verify(view(undefined, { headers: { 'client-cert': sf(cert.der) }, remoteAddress: '10.0.0.5' }));
    expect(fwd.certificate?.forwarded).toBe(true);
  });
});

describe('usage: a CA is not a workload, and EKU must allow clientAuth', () => {
  it('rejects a CA certificate used as the leaf', async () => {
    const ca = await createCa('ca as leaf', at({ parent: root, uris: [CLIENT] }));
    await rejects(verifier().verify(view(ca.chain)), 'mtls_usage');
  });

  it('rejects the trust anchor itself presented as the client certificate', async () => {
    await rejects(verifier().verify(view([root.der])), 'mtls_usage');
  });

  it('rejects EKU serverAuth only', async () => {
    await rejects(verifier().verify(view((await leaf(root, { eku: [EKU.serverAuth] })).chain)), 'mtls_usage');
  });

  it('rejects EKU codeSigning only', async () => {
    await rejects(verifier().verify(view((await leaf(root, { eku: [EKU.codeSigning] })).chain)), 'mtls_usage');
  });
});

describe('step 4: the trust domain this route requires', () => {
  it('authenticates an other.org workload but the route policy for example.org answers 403', async () => {
    const cert = await leaf(otherRoot, { uris: ['spiffe://other.org/client'] });
    const p = await verifier().verify(view(cert.chain));
    expect(() => createAuthorizer('spiffe://example.org')(p)).toThrow(expect.objectContaining({ code: 'forbidden', status: 403 }));
  });
});

describe('RFC 9440 Client-Cert from trusted proxies only', () => {
  const PROXY = '10.0.0.5';
  const proxied = (o: Partial<VerifierOptions> = {}) =>
    verifier({ mtls: { trustBundles: { 'example.org': bundle(root) }, trustedProxies: [PROXY] }, ...o });

  it('uses the forwarded certificate and chain from a trusted proxy (IPv4-mapped address too)', async () => {
    const cert = await leaf(inter);
    const proxyCert = await leaf(root, { uris: ['spiffe://example.org/proxy'] });
    const headers = { 'client-cert': sf(cert.der), 'client-cert-chain': sf(inter.der) };
    for (const remoteAddress of [PROXY, `::ffff:${PROXY}`]) {
      const p = await proxied().verify(view(proxyCert.chain, { headers, remoteAddress }));
      expect(p).toMatchObject({ workload: CLIENT, method: 'mtls', certificate: { forwarded: true } });
    }
  });

  it('accepts a proxy predicate', async () => {
    const cert = await leaf(root);
    const v = verifier({ mtls: { trustBundles: { 'example.org': bundle(root) }, trustedProxies: (a) => a.startsWith('10.') } });
    await expect(v.verify(view(undefined, { headers: { 'client-cert': sf(cert.der) }, remoteAddress: '10.9.9.9' }))).resolves.toMatchObject(
      { workload: CLIENT },
    );
  });

  it('rejects Client-Cert from a peer that is not a trusted proxy', async () => {
    const cert = await leaf(root);
    await rejects(
      proxied().verify(view(undefined, { headers: { 'client-cert': sf(cert.der) }, remoteAddress: '10.0.0.6' })),
      'mtls_proxy_untrusted',
    );
  });

  it('rejects Client-Cert next to a direct client certificate from an untrusted peer', async () => {
    const cert = await leaf(root);
    await rejects(
      proxied().verify(view(cert.chain, { headers: { 'client-cert': sf(cert.der) }, remoteAddress: '192.0.2.1' })),
      'mtls_proxy_untrusted',
    );
  });

  it('rejects Client-Cert when the peer address is unknown', async () => {
    const cert = await leaf(root);
    await rejects(proxied().verify(view(undefined, { headers: { 'client-cert': sf(cert.der) } })), 'mtls_proxy_untrusted');
  });

  it('ignores Client-Cert when the opt-in is off (the TLS peer certificate decides)', async () => {
    const mine = await leaf(root);
    const claimed = await leaf(root, { uris: ['spiffe://example.org/admin'] });
    const p = await verifier().verify(view(mine.chain, { headers: { 'client-cert': sf(claimed.der) }, remoteAddress: PROXY }));
    expect(p.workload).toBe(CLIENT);
    await rejects(
      verifier().verify(view(undefined, { headers: { 'client-cert': sf(claimed.der) }, remoteAddress: PROXY })),
      'mtls_missing',
    );
  });

  it('does not take the proxy’s own certificate for the caller’s', async () => {
    const proxyCert = await leaf(root, { uris: ['spiffe://example.org/proxy'] });
    await rejects(proxied().verify(view(proxyCert.chain, { remoteAddress: PROXY })), 'mtls_missing');
  });

  const malformed: [string, Record<string, string | string[]>][] = [
    ['a token instead of a byte sequence', { 'client-cert': 'abc' }],
    ['invalid base64', { 'client-cert': ':!!!:' }],
    ['an empty byte sequence', { 'client-cert': '::' }],
    ['PEM text', { 'client-cert': '-----BEGIN CERTIFICATE-----' }],
    ['two Client-Cert fields', { 'client-cert': [':AAAA:', ':AAAA:'] }],
    ['Client-Cert-Chain without Client-Cert', { 'client-cert-chain': ':AAAA:' }],
    ['a Client-Cert-Chain member that is an inner list', { 'client-cert': ':AAAA:', 'client-cert-chain': '(:AAAA:)' }],
    ['an oversized field', { 'client-cert': `:${'A'.repeat(40_000)}:` }],
  ];
  it.each(malformed)('rejects a malformed header: %s', async (_name, headers) => {
    await rejects(proxied().verify(view(undefined, { headers, remoteAddress: PROXY })), 'mtls_proxy_header');
  });

  it('rejects a forwarded byte sequence that is not a certificate', async () => {
    await rejects(proxied().verify(view(undefined, { headers: { 'client-cert': ':AAAA:' }, remoteAddress: PROXY })), 'mtls_malformed');
  });

  it('checks a forwarded certificate like a direct one', async () => {
    const cert = await leaf(otherRoot);
    await rejects(proxied().verify(view(undefined, { headers: { 'client-cert': sf(cert.der) }, remoteAddress: PROXY })), 'mtls_untrusted');
  });
});

describe('mTLS with an application-layer proof (the application layer never overrides the certificate)', () => {
  const both = (o: Partial<VerifierOptions> = {}) => verifier({ proofs: ['wpt', 'http-sig', 'mtls'], ...o });

  it('a WPT of the certificate’s workload: method wpt, with the certificate attached', async () => {
    const w = await createWorkload(issuer, { sub: CLIENT });
    const cert = await leaf(root);
    const p = await both().verify({ ...(await wptRequest(w)), peerCertificates: cert.chain });
    expect(p).toMatchObject({ workload: CLIENT, method: 'wpt', certificate: { workload: CLIENT } });
    expect(p.wit?.claims.sub).toBe(CLIENT);
  });

  it('rejects a WPT of another workload than the certificate’s', async () => {
    const w = await createWorkload(issuer, { sub: 'spiffe://example.org/admin' });
    const cert = await leaf(root);
    await rejects(both().verify({ ...(await wptRequest(w)), peerCertificates: cert.chain }), 'mtls_identity_mismatch');
  });

  it('accepts another workload’s WPT through a configured intermediary', async () => {
    const w = await createWorkload(issuer, { sub: 'spiffe://example.org/admin' });
    const proxy = await leaf(root, { uris: ['spiffe://example.org/proxy'] });
    const v = both({ mtls: { trustBundles: { 'example.org': bundle(root) }, intermediaries: ['spiffe://example.org/proxy'] } });
    const p = await v.verify({ ...(await wptRequest(w)), peerCertificates: proxy.chain });
    expect(p).toMatchObject({
      workload: 'spiffe://example.org/admin',
      method: 'wpt',
      certificate: { workload: 'spiffe://example.org/proxy' },
    });
  });

  it('rejects a valid WPT when the certificate beside it is invalid (no fallback)', async () => {
    const w = await createWorkload(issuer, { sub: CLIENT });
    const cert = await leaf(root, { notBefore: new Date(NOW - 2 * DAY), notAfter: new Date(NOW - 60_000) });
    await rejects(both().verify({ ...(await wptRequest(w)), peerCertificates: cert.chain }), 'mtls_expired');
  });

  it('a bare WIT without proof next to a certificate authenticates by the certificate only', async () => {
    const w = await createWorkload(issuer, { sub: 'spiffe://example.org/admin' });
    const cert = await leaf(root);
    const p = await both().verify(view(cert.chain, { headers: { 'workload-identity-token': w.wit } }));
    expect(p).toMatchObject({ workload: CLIENT, method: 'mtls' });
    expect(p.wit).toBeUndefined();
  });

  it('an unauthenticated identity header never overrides the certificate', async () => {
    const cert = await leaf(root);
    const p = await verifier().verify(view(cert.chain, { headers: { 'x-client-id': 'spiffe://example.org/admin' } }));
    expect(p.workload).toBe(CLIENT);
  });

  it('without mtls among the proofs, a certificate is ignored', async () => {
    const w = await createWorkload(issuer, { sub: CLIENT });
    const bad = await leaf(strayRoot, { uris: ['spiffe://example.org/admin'] });
    const v = createVerifier({
      trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } },
      audience: AUDIENCE,
      now: () => NOW,
    });
    await expect(v.verify({ ...(await wptRequest(w)), peerCertificates: bad.chain })).resolves.toMatchObject({
      workload: CLIENT,
      method: 'wpt',
    });
    await rejects(v.verify(view(bad.chain)), 'credentials_missing', 401);
  });

  it('with WPT and mTLS accepted, no credentials at all is the WPT challenge', async () => {
    const e = await rejects(both().verify(view(undefined)), 'credentials_missing', 401);
    expect(e.headers['www-authenticate']).toBe('WPT');
  });
});

describe('configuration is checked at start-up', () => {
  it.each<[string, () => Partial<VerifierOptions>, RegExp]>([
    ["'mtls' without bundles", () => ({ mtls: undefined }), /mtls\.trustBundles/],
    ['mtls options without the mtls proof', () => ({ proofs: ['wpt'] }), /proofs does not include/],
    ['no trust domain', () => ({ mtls: { trustBundles: {} } }), /at least one trust domain/],
    ['an upper-case trust domain key', () => ({ mtls: { trustBundles: { 'Example.org': bundle(root) } } }), /lower-case/],
    ['a bundle without certificates', () => ({ mtls: { trustBundles: { 'example.org': 'not pem' } } }), /no PEM certificate/],
    [
      'a trusted proxy that is no address',
      () => ({ mtls: { trustBundles: { 'example.org': bundle(root) }, trustedProxies: ['proxy.local'] } }),
      /not an IP address/,
    ],
    [
      'a bad intermediary pattern',
      () => ({ mtls: { trustBundles: { 'example.org': bundle(root) }, intermediaries: ['proxy'] } }),
      /mtls\.intermediaries/,
    ],
  ])('rejects %s', (_name, options, message) => {
    expect(() => verifier(options())).toThrow(message);
  });

  it('rejects a leaf certificate in a bundle', async () => {
    const cert = await leaf(root);
    expect(() => verifier({ mtls: { trustBundles: { 'example.org': cert.pem } } })).toThrow(/not a CA certificate/);
  });

  it('a rotating bundle that turns unreadable is a 503, not a client error', async () => {
    let pem = bundle(root);
    const v = verifier({ mtls: { trustBundles: { 'example.org': () => pem } } });
    const cert = await leaf(root);
    await v.verify(view(cert.chain));
    pem = 'garbage';
    await rejects(v.verify(view(cert.chain)), 'trust_unavailable', 503);
  });
});
