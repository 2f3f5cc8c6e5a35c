/**
 * mTLS conformance (mutual-tls-02 §3.2): the six targets behind HTTPS servers with `requestCert`,
 * one table, the same answers everywhere. Two server set-ups:
 * - `app`: `rejectUnauthorized: false` — TLS asks for a certificate, the core decides (public and
 *   optional routes keep working without one); every WIMSE rule answers with its problem code.
 * - `tls`: `rejectUnauthorized: true` — what OpenSSL refuses is a TLS alert at the handshake; what
 *   it accepts still meets the WIMSE checks (e.g. a CA of another trust domain → 400).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WimseAdapterOptions } from '@wimse/core';
import { bundle, createCa, EKU, issueCert, KEY_USAGE, type CertOptions, type TestCert } from '@wimse/test-support/certs';
import { adapterOptions, ADMIN, CLIENT, createFixtures, wptHeaders, type Fixtures } from './fixtures.js';
import { send, type Fields, type RawRequest, type RawResponse } from './http.js';
import type { Running, Target } from './targets/contract.js';
import { express4Target, express5Target } from './targets/express.js';
import { fastifyTarget } from './targets/fastify.js';
import { honoTarget } from './targets/hono.js';
import { nestExpressTarget, nestFastifyTarget } from './targets/nestjs.js';

const targets: Target[] = [express4Target, express5Target, fastifyTarget, honoTarget, nestExpressTarget, nestFastifyTarget];
const SERVER = 'spiffe://example.org/server';
const PROXY_ADDRESS = '127.0.0.2';
const DAY = 86_400_000;

interface Certs {
  root: TestCert;
  inter: TestCert;
  otherRoot: TestCert;
  strayRoot: TestCert;
  server: TestCert;
  client: TestCert;
  clientViaInter: TestCert;
  admin: TestCert;
  otherDomainCa: TestCert;
  untrustedDomain: TestCert;
  stray: TestCert;
  twoUris: TestCert;
  dnsOnly: TestCert;
  badId: TestCert;
  expired: TestCert;
  notYet: TestCert;
  caLeaf: TestCert;
  serverOnly: TestCert;
  /** Issued below an intermediate that its CA's pathLenConstraint 0 does not allow. */
  beyondPathLen: TestCert;
  /** The admin identifier from an intermediate whose nameConstraints permit team.example.org only. */
  outsideNameConstraints: TestCert;
}

async function createCerts(): Promise<Certs> {
  const root = await createCa('example.org root');
  const inter = await createCa('example.org intermediate', { parent: root });
  const otherRoot = await createCa('other.org root');
  const strayRoot = await createCa('stray root');
  const leaf = (ca: TestCert, o: CertOptions = {}) => issueCert(ca, { uris: [CLIENT], ...o });
  const now = Date.now();
  return {
    root,
    inter,
    otherRoot,
    strayRoot,
    server: await issueCert(root, { uris: [SERVER], ips: ['127.0.0.1'], dns: ['localhost'] }),
    client: await leaf(root),
    clientViaInter: await leaf(inter),
    admin: await leaf(root, { uris: [ADMIN] }),
    otherDomainCa: await leaf(otherRoot),
    untrustedDomain: await leaf(strayRoot, { uris: ['spiffe://stray.example/client'] }),
    stray: await leaf(strayRoot),
    twoUris: await leaf(root, { uris: [CLIENT, ADMIN] }),
    dnsOnly: await leaf(root, { uris: [], dns: ['client.example.org'] }),
    badId: await leaf(root, { uris: ['spiffe://example.org/a/../admin'] }),
    expired: await leaf(root, { notBefore: new Date(now - 2 * DAY), notAfter: new Date(now - 3_600_000) }),
    notYet: await leaf(root, { notBefore: new Date(now + 3_600_000), notAfter: new Date(now + DAY) }),
    caLeaf: await createCa('ca as leaf', { parent: root, uris: [CLIENT], keyUsage: KEY_USAGE.keyCertSign | KEY_USAGE.digitalSignature }),
    serverOnly: await leaf(root, { eku: [EKU.serverAuth] }),
    beyondPathLen: await leaf(await createCa('below pathLen 0', { parent: await createCa('pathLen 0', { parent: root, pathLength: 0 }) })),
    outsideNameConstraints: await leaf(
      await createCa('team.example.org only', { parent: root, nameConstraints: { permitted: ['team.example.org'] } }),
      { uris: [ADMIN] },
    ),
  };
}

type Mode = 'app' | 'tls';

interface Expected {
  status: number;
  www?: string;
  type: 'application/problem+json' | 'application/json';
  code?: string;
  body?: Record<string, unknown>;
}

interface MtlsCase {
  name: string;
  mode: Mode;
  /** The client certificate the TLS client presents. */
  cert?: (c: Certs) => TestCert;
  /** Connect from this loopback address (the trusted proxy is 127.0.0.2). */
  from?: string;
  request: (f: Fixtures, c: Certs) => Promise<RawRequest>;
  /** An HTTP answer, or a refused handshake. */
  expect: Expected | 'tls-alert';
}

const get = (path: string, headers: Fields = {}): RawRequest => ({ method: 'GET', path, headers });
const problem = (status: number, code: string): Expected => ({
  status,
  code,
  type: 'application/problem+json',
  ...(status === 401 ? { www: 'WPT' } : {}),
});
const ok = (body: Record<string, unknown>): Expected => ({ status: 200, type: 'application/json', body });
const asClient = { workload: CLIENT, trustDomain: 'example.org', method: 'mtls' };
const sf = (der: Uint8Array) => `:${Buffer.from(der).toString('base64')}:`;
const clientCert = (der: Uint8Array) => ({ 'client-cert': sf(der) });
/** RFC 9440 fields for a certificate and its intermediates. */
const clientCertChain = (cert: TestCert) => ({ 'client-cert': sf(cert.der), 'client-cert-chain': cert.chain.slice(1).map(sf).join(', ') });
const whoami = async () => get('/whoami');

const cases: MtlsCase[] = [
  // Accepted
  { name: 'valid client certificate', mode: 'app', cert: (c) => c.client, request: whoami, expect: ok(asClient) },
  { name: 'valid certificate through an intermediate', mode: 'app', cert: (c) => c.clientViaInter, request: whoami, expect: ok(asClient) },
  { name: 'valid certificate, TLS-verified server', mode: 'tls', cert: (c) => c.client, request: whoami, expect: ok(asClient) },
  { name: 'public route without a certificate', mode: 'app', request: async () => get('/health'), expect: ok({ status: 'ok' }) },
  {
    name: 'optional route without a certificate → no principal',
    mode: 'app',
    request: async () => get('/optional'),
    expect: ok({ workload: null }),
  },
  {
    name: 'optional route with a certificate → principal',
    mode: 'app',
    cert: (c) => c.client,
    request: async () => get('/optional'),
    expect: ok(asClient),
  },
  {
    name: 'POST: the app still parses its JSON body',
    mode: 'app',
    cert: (c) => c.client,
    request: async () => ({ method: 'POST', path: '/echo', headers: { 'content-type': 'application/json' }, body: '{"a":1}' }),
    expect: ok({ ...asClient, body: { a: 1 } }),
  },

  // Route policy, optional mode, error hook: as for WPT
  {
    name: 'admin route, admin certificate',
    mode: 'app',
    cert: (c) => c.admin,
    request: async () => get('/admin'),
    expect: ok({ workload: ADMIN, method: 'mtls' }),
  },
  {
    name: 'admin route, client certificate → 403',
    mode: 'app',
    cert: (c) => c.client,
    request: async () => get('/admin'),
    expect: problem(403, 'forbidden'),
  },
  {
    name: 'optional route, invalid certificate → still rejected',
    mode: 'app',
    cert: (c) => c.expired,
    request: async () => get('/optional'),
    expect: problem(400, 'mtls_expired'),
  },
  {
    name: 'error hook reshapes a certificate error',
    mode: 'app',
    cert: (c) => c.stray,
    request: async () => get('/hooked/whoami'),
    expect: { status: 400, type: 'application/json', code: 'mtls_untrusted' },
  },

  // No certificate
  {
    name: 'no certificate → the WPT challenge (WPT is also accepted)',
    mode: 'app',
    request: whoami,
    expect: problem(401, 'credentials_missing'),
  },
  { name: 'no certificate, TLS-verified server → TLS alert', mode: 'tls', request: whoami, expect: 'tls-alert' },

  // Chain and trust domain
  { name: 'certificate from an unknown CA', mode: 'app', cert: (c) => c.stray, request: whoami, expect: problem(400, 'mtls_untrusted') },
  {
    name: 'certificate from an unknown CA, TLS-verified server → TLS alert',
    mode: 'tls',
    cert: (c) => c.stray,
    request: whoami,
    expect: 'tls-alert',
  },
  {
    name: 'example.org identifier from the other.org CA',
    mode: 'app',
    cert: (c) => c.otherDomainCa,
    request: whoami,
    expect: problem(400, 'mtls_untrusted'),
  },
  {
    name: 'example.org identifier from the other.org CA passes TLS, fails the anchor re-check',
    mode: 'tls',
    cert: (c) => c.otherDomainCa,
    request: whoami,
    expect: problem(400, 'mtls_untrusted'),
  },
  {
    name: 'trust domain without a bundle',
    mode: 'app',
    cert: (c) => c.untrustedDomain,
    request: whoami,
    expect: problem(400, 'mtls_untrusted_domain'),
  },

  // RFC 5280 constraints of the CAs on the path (issue #9): OpenSSL refuses them at the handshake, the core in every mode
  {
    name: 'intermediate beyond its CA’s pathLenConstraint',
    mode: 'app',
    cert: (c) => c.beyondPathLen,
    request: whoami,
    expect: problem(400, 'mtls_untrusted'),
  },
  {
    name: 'intermediate beyond its CA’s pathLenConstraint, TLS-verified server → TLS alert',
    mode: 'tls',
    cert: (c) => c.beyondPathLen,
    request: whoami,
    expect: 'tls-alert',
  },
  {
    name: 'Client-Cert chain beyond a pathLenConstraint from the trusted proxy',
    mode: 'app',
    from: PROXY_ADDRESS,
    request: async (_f, c) => get('/whoami', clientCertChain(c.beyondPathLen)),
    expect: problem(400, 'mtls_untrusted'),
  },
  {
    name: 'admin identifier outside the intermediate’s nameConstraints',
    mode: 'app',
    cert: (c) => c.outsideNameConstraints,
    request: async () => get('/admin'),
    expect: problem(400, 'mtls_untrusted'),
  },
  {
    name: 'admin identifier outside the nameConstraints, TLS-verified server → TLS alert',
    mode: 'tls',
    cert: (c) => c.outsideNameConstraints,
    request: async () => get('/admin'),
    expect: 'tls-alert',
  },
  {
    name: 'Client-Cert admin identifier outside the nameConstraints from the trusted proxy',
    mode: 'app',
    from: PROXY_ADDRESS,
    request: async (_f, c) => get('/admin', clientCertChain(c.outsideNameConstraints)),
    expect: problem(400, 'mtls_untrusted'),
  },

  // Identifier in the URI SAN
  { name: 'two URI SANs', mode: 'app', cert: (c) => c.twoUris, request: whoami, expect: problem(400, 'mtls_san') },
  { name: 'a DNS SAN only', mode: 'app', cert: (c) => c.dnsOnly, request: whoami, expect: problem(400, 'mtls_san') },
  {
    name: 'malformed identifier in the URI SAN',
    mode: 'app',
    cert: (c) => c.badId,
    request: whoami,
    expect: problem(400, 'mtls_identifier'),
  },

  // Validity and usage
  { name: 'expired certificate', mode: 'app', cert: (c) => c.expired, request: whoami, expect: problem(400, 'mtls_expired') },
  {
    name: 'expired certificate, TLS-verified server → TLS alert',
    mode: 'tls',
    cert: (c) => c.expired,
    request: whoami,
    expect: 'tls-alert',
  },
  { name: 'certificate not yet valid', mode: 'app', cert: (c) => c.notYet, request: whoami, expect: problem(400, 'mtls_not_yet_valid') },
  { name: 'CA certificate as client certificate', mode: 'app', cert: (c) => c.caLeaf, request: whoami, expect: problem(400, 'mtls_usage') },
  { name: 'EKU serverAuth only', mode: 'app', cert: (c) => c.serverOnly, request: whoami, expect: problem(400, 'mtls_usage') },

  // With an application-layer proof
  {
    name: 'WPT of the certificate’s workload',
    mode: 'app',
    cert: (c) => c.client,
    request: async (f) => get('/whoami', await wptHeaders(f.client, '/whoami')),
    expect: ok({ workload: CLIENT, method: 'wpt' }),
  },
  {
    name: 'WPT of another workload than the certificate’s',
    mode: 'app',
    cert: (c) => c.client,
    request: async (f) => get('/whoami', await wptHeaders(f.admin, '/whoami')),
    expect: problem(400, 'mtls_identity_mismatch'),
  },
  {
    name: 'an identity header never overrides the certificate',
    mode: 'app',
    cert: (c) => c.client,
    request: async () => get('/admin', { 'x-client-id': ADMIN }),
    expect: problem(403, 'forbidden'),
  },

  // RFC 9440 Client-Cert
  {
    name: 'Client-Cert from the trusted proxy',
    mode: 'app',
    from: PROXY_ADDRESS,
    request: async (_f, c) => get('/whoami', clientCert(c.client.der)),
    expect: ok(asClient),
  },
  {
    name: 'Client-Cert from an untrusted peer',
    mode: 'app',
    request: async (_f, c) => get('/whoami', clientCert(c.admin.der)),
    expect: problem(400, 'mtls_proxy_untrusted'),
  },
  {
    name: 'Client-Cert beside a real certificate, untrusted peer',
    mode: 'app',
    cert: (c) => c.client,
    request: async (_f, c) => get('/admin', clientCert(c.admin.der)),
    expect: problem(400, 'mtls_proxy_untrusted'),
  },
  {
    name: 'malformed Client-Cert from the trusted proxy',
    mode: 'app',
    from: PROXY_ADDRESS,
    request: async () => get('/whoami', { 'client-cert': 'not-a-byte-sequence' }),
    expect: problem(400, 'mtls_proxy_header'),
  },
  {
    name: 'Client-Cert of an expired certificate from the trusted proxy',
    mode: 'app',
    from: PROXY_ADDRESS,
    request: async (_f, c) => get('/whoami', clientCert(c.expired.der)),
    expect: problem(400, 'mtls_expired'),
  },
];

function options(f: Fixtures, c: Certs): WimseAdapterOptions {
  return {
    ...adapterOptions(f),
    proofs: ['wpt', 'http-sig', 'mtls'],
    mtls: { trustBundles: { 'example.org': bundle(c.root), 'other.org': bundle(c.otherRoot) }, trustedProxies: [PROXY_ADDRESS] },
  };
}

/** HTTPS with an optional client certificate; rejects when the handshake is refused. */
function sendTls(base: URL, r: RawRequest, c: Certs, cert: TestCert | undefined, from: string | undefined): Promise<RawResponse> {
  return send(base, r, {
    ca: bundle(c.root),
    ...(cert === undefined ? {} : { cert: cert.chainPem, key: cert.keyPem }),
    ...(from === undefined ? {} : { localAddress: from }),
  });
}

let fixtures: Fixtures;
let certs: Certs;
beforeAll(async () => {
  [fixtures, certs] = await Promise.all([createFixtures(), createCerts()]);
});

it('has at least 25 mTLS cases, each named once', () => {
  expect(cases.length).toBeGreaterThanOrEqual(25);
  expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
});

describe.each(targets)('$name over mTLS', (target) => {
  const servers: Partial<Record<Mode, Running>> = {};
  beforeAll(async () => {
    const tls = {
      cert: certs.server.chainPem,
      key: certs.server.keyPem,
      ca: [bundle(certs.root), bundle(certs.otherRoot)],
      requestCert: true,
    };
    servers.app = await target.start(options(fixtures, certs), { ...tls, rejectUnauthorized: false });
    servers.tls = await target.start(options(fixtures, certs), { ...tls, rejectUnauthorized: true });
  });
  afterAll(async () => {
    await Promise.all(Object.values(servers).map((s) => s.close()));
  });

  it.each(cases)('$name', async (c: MtlsCase) => {
    const server = servers[c.mode];
    if (server === undefined) throw new Error('server not started');
    expect(server.url.protocol).toBe('https:');
    const request = await c.request(fixtures, certs);
    const sent = sendTls(server.url, request, certs, c.cert?.(certs), c.from);
    if (c.expect === 'tls-alert') {
      // The handshake is refused: an alert (TLS 1.3 delivers it on the first read) or a reset, never an HTTP answer.
      await expect(sent).rejects.toMatchObject({ code: expect.stringMatching(/^(ERR_SSL_|ECONNRESET$)/) });
      return;
    }
    assertResponse(await sent, c.expect);
  });
});

function assertResponse(res: RawResponse, e: Expected): void {
  const type = (res.headers['content-type'] as string | undefined)?.split(';')[0]?.trim();
  const json = type?.endsWith('json') === true ? (JSON.parse(res.text) as Record<string, unknown>) : undefined;
  expect({ status: res.status, www: res.headers['www-authenticate'], type, code: json?.code }, res.text).toEqual({
    status: e.status,
    www: e.www,
    type: e.type,
    code: e.code,
  });
  if (e.type === 'application/problem+json')
    expect(json).toMatchObject({ status: e.status, type: `https://github.com/wimse-js/wimse-js/blob/main/docs/errors.md#${e.code}` });
  if (e.body !== undefined) expect(json).toMatchObject(e.body);
}
