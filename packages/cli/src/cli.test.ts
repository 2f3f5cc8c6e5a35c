import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVerifier, createWorkloadSigner, isWimseError, signHttpResponse, type WimseRequest } from '@wimse/core';
import { SignJWT, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { inspect } from './commands/inspect.js';
import { describeError, type CliIo } from './io.js';
import { run } from './run.js';

/** An in-memory IO: files in a map, output captured. */
function memoryIo(files: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const secret = new Set<string>();
  const io: CliIo = {
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    readFile: async (p) => {
      if (!(p in files)) throw new Error('ENOENT');
      return files[p]!;
    },
    writeFile: async (p, d, s) => {
      files[p] = d;
      if (s) secret.add(p);
    },
    readStdin: async () => files['-'] ?? '',
    fetch: globalThis.fetch,
  };
  return { io, files, secret, out: () => out.join(''), err: () => err.join('') };
}

async function cli(argv: string[], files: Record<string, string> = {}) {
  const m = memoryIo(files);
  const code = await run(argv, m.io);
  return { code, ...m };
}

/** An issuer key, a workload key and a WIT, made with the CLI itself. */
async function trustDomain() {
  const files: Record<string, string> = {};
  expect((await cli(['keygen', '--out', 'issuer.jwk', '--kid', 'issuer-1'], files)).code).toBe(0);
  expect((await cli(['keygen', '--alg', 'EdDSA', '--out', 'svc.jwk'], files)).code).toBe(0);
  const issued = await cli(
    [
      'wit',
      'issue',
      '--issuer-key',
      'issuer.jwk',
      '--sub',
      'spiffe://example.org/svc',
      '--key',
      'svc.jwk',
      '--iss',
      'https://id.example.org',
    ],
    files,
  );
  expect(issued.code).toBe(0);
  files['svc.wit'] = issued.out().trim();
  return files;
}

describe('wimse keygen', () => {
  it('prints a private JWK with alg and a thumbprint kid', async () => {
    const r = await cli(['keygen']);
    expect(r.code).toBe(0);
    const jwk = JSON.parse(r.out()) as JWK;
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', d: expect.any(String), kid: expect.any(String) });
  });

  it('writes the private key (owner-only) and a public JWKS with --out', async () => {
    const r = await cli(['keygen', '--alg', 'PS256', '--out', 'k.jwk']);
    expect(r.code).toBe(0);
    expect(r.secret.has('k.jwk')).toBe(true);
    const jwks = JSON.parse(r.files['k.jwks.json']!) as { keys: JWK[] };
    expect(jwks.keys[0]).toMatchObject({ kty: 'RSA', alg: 'PS256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(r.out()).toContain('public JWKS: k.jwks.json');
  });

  it.each([['HS256'], ['none'], ['RSA-OAEP']])('refuses --alg %s', async (alg) => {
    const r = await cli(['keygen', '--alg', alg]);
    expect(r.code).toBe(2);
    expect(r.err()).toContain('not a supported asymmetric JWS algorithm');
  });
});

describe('wimse wit issue', () => {
  it('issues a WIT bound to the workload public key, with the issuer kid', async () => {
    const files = await trustDomain();
    const wit = files['svc.wit']!;
    expect(decodeProtectedHeader(wit)).toMatchObject({ typ: 'wit+jwt', alg: 'ES256', kid: 'issuer-1' });
    const claims = decodeJwt(wit);
    expect(claims).toMatchObject({ sub: 'spiffe://example.org/svc', iss: 'https://id.example.org' });
    const cnf = (claims.cnf as { jwk: JWK }).jwk;
    expect(cnf).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(cnf).not.toHaveProperty('d');
    expect(cnf).not.toHaveProperty('kid');
  });

  it.each([
    [['wit', 'issue', '--sub', 'spiffe://example.org/x'], '--issuer-key, --sub and --key are required'],
    [
      ['wit', 'issue', '--issuer-key', 'issuer.jwk', '--sub', 'https://example.org/x', '--key', 'svc.jwk'],
      '--sub: Invalid workload identifier',
    ],
    [['wit', 'issue', '--issuer-key', 'issuer.jwks.json', '--sub', 'spiffe://example.org/x', '--key', 'svc.jwk'], 'is not a JWK'],
    [['wit', 'issue', '--issuer-key', 'missing.jwk', '--sub', 'spiffe://example.org/x', '--key', 'svc.jwk'], 'cannot read missing.jwk'],
    [
      ['wit', 'issue', '--issuer-key', 'issuer.jwk', '--sub', 'spiffe://example.org/x', '--key', 'svc.jwk', '--lifetime=0'],
      '--lifetime must be a positive',
    ],
    [
      ['wit', 'issue', '--issuer-key', 'issuer.jwk', '--sub', 'spiffe://example.org/x', '--key', 'svc.jwk', '--bogus'],
      "Unknown option '--bogus'",
    ],
    [['wit', 'mint'], 'did you mean: wimse wit issue'],
    [['frobnicate'], 'unknown command "frobnicate"'],
  ])('usage error for %j', async (argv, message) => {
    const files = await trustDomain();
    const r = await cli(argv, files);
    expect(r.code).toBe(2);
    expect(r.err()).toContain(message);
  });

  it('refuses a public issuer key', async () => {
    const files = await trustDomain();
    files['pub.jwk'] = JSON.stringify((JSON.parse(files['issuer.jwks.json']!) as { keys: JWK[] }).keys[0]);
    const r = await cli(['wit', 'issue', '--issuer-key', 'pub.jwk', '--sub', 'spiffe://example.org/x', '--key', 'svc.jwk'], files);
    expect(r.code).toBe(2);
    expect(r.err()).toContain('the issuer key must be private');
  });
});

describe('wimse inspect', () => {
  it('decodes a WIT without keys', async () => {
    const files = await trustDomain();
    const r = await cli(['inspect', 'svc.wit'], files);
    expect(r.code).toBe(0);
    expect(r.out()).toContain('Workload Identity Token');
    expect(r.out()).toContain('"sub": "spiffe://example.org/svc"');
    expect(r.out()).toMatch(/exp {2}\S+ \(in 59m\d+s\)|exp {2}\S+ \(in 1h0m\)/);
  });

  it('marks decoded output NOT VERIFIED, first and last, without --jwks', async () => {
    const files = await trustDomain();
    const lines = (await cli(['inspect', 'svc.wit'], files)).out().trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NOT VERIFIED: .*--jwks/);
    expect(lines.at(-1)).toBe(lines[0]);
  });

  it('verifies a WIT against a JWKS file (or the issuer key file) and names the key', async () => {
    const files = await trustDomain();
    for (const jwks of ['issuer.jwks.json', 'issuer.jwk']) {
      const r = await cli(['inspect', files['svc.wit']!, '--jwks', jwks], files);
      expect(r.out()).toContain('verified: WIT valid for spiffe://example.org/svc, signed by example.org key issuer-1');
      expect(r.out()).not.toContain('NOT VERIFIED');
      expect(r.code).toBe(0);
    }
  });

  it('reads the token from stdin', async () => {
    const files = await trustDomain();
    files['-'] = `${files['svc.wit']}\n`;
    expect((await cli(['inspect', '-', '--jwks', 'issuer.jwks.json'], files)).code).toBe(0);
  });

  it.each([
    ['another issuer key', async (f: Record<string, string>) => ['--jwks', (await keyFile(f)).jwks], 'wit_key_unknown'],
    ['another trust domain', async () => ['--jwks', 'issuer.jwks.json', '--trust-domain', 'other.org'], 'wit_untrusted_domain'],
    ['an unexpected issuer', async () => ['--jwks', 'issuer.jwks.json', '--iss', 'https://elsewhere'], 'wit_iss'],
  ])('says which rule fails: %s', async (_name, extra, code) => {
    const files = await trustDomain();
    const r = await cli(['inspect', 'svc.wit', ...(await extra(files))], files);
    expect(r.code).toBe(1);
    expect(r.out()).toContain(`FAILED ${code}:`);
    expect(r.out()).toContain('[draft-ietf-wimse-workload-creds-02]');
  });

  it('says when a WIT has expired', async () => {
    const files = await trustDomain();
    const m = memoryIo(files);
    expect(await inspect(['svc.wit', '--jwks', 'issuer.jwks.json'], m.io, () => Date.now() + 2 * 3600_000)).toBe(1);
    expect(m.out()).toContain('FAILED wit_expired: WIT expired');
    expect(m.out()).toContain('h');
  });

  it('says when a WIT has a bad type, subject or algorithm (crafted tokens)', async () => {
    const files = await trustDomain();
    const issuer = await importJWK(JSON.parse(files['issuer.jwk']!) as JWK, 'ES256');
    const cnf = (decodeJwt(files['svc.wit']!).cnf as { jwk: JWK }).jwk;
    const craft = (header: Record<string, unknown>, claims: Record<string, unknown>) =>
      new SignJWT({ cnf: { jwk: cnf }, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: 'issuer-1', ...header } as { alg: string })
        .setExpirationTime('1h')
        .sign(issuer);
    const cases: [string, string][] = [
      [await craft({ typ: 'JWT' }, { sub: 'spiffe://example.org/svc' }), 'wit_typ'],
      [await craft({ typ: 'wit+jwt' }, { sub: 'spiffe://example.org/../svc' }), 'wit_sub_invalid'],
      [await craft({ typ: 'wit+jwt' }, { sub: 'spiffe://example.org/svc', cnf: { jwk: { ...cnf, alg: 'HS256' } } }), 'wit_cnf_invalid'],
    ];
    for (const [token, code] of cases) {
      const r = await cli(['inspect', token, '--jwks', 'issuer.jwks.json', '--trust-domain', 'example.org'], files);
      expect(r.out()).toContain(`FAILED ${code}:`);
      expect(r.code).toBe(1);
    }
  });

  it('verifies a WPT together with its WIT, against a target URL', async () => {
    const files = await trustDomain();
    const signer = await createWorkloadSigner({ wit: files['svc.wit']!, privateKey: JSON.parse(files['svc.jwk']!) as JWK });
    const wpt = String((await signer.wptHeaders({ url: 'https://api.example.org/orders?id=1' })).authorization).slice(4);
    const ok = await cli(
      ['inspect', wpt, '--wit', 'svc.wit', '--jwks', 'issuer.jwks.json', '--url', 'https://api.example.org/orders'],
      files,
    );
    expect(ok.out()).toContain('Workload Proof Token');
    expect(ok.out()).toContain('verified: WPT valid for https://api.example.org/orders, proven by spiffe://example.org/svc');
    expect(ok.code).toBe(0);
    const wrong = await cli(
      ['inspect', wpt, '--wit', 'svc.wit', '--jwks', 'issuer.jwks.json', '--url', 'https://api.example.org/admin'],
      files,
    );
    expect(wrong.out()).toContain('FAILED wpt_aud:');
    expect(wrong.out()).toContain('[draft-ietf-wimse-wpt-02]');
    // The same WPT presented with another workload's WIT: wth no longer matches.
    await cli(['keygen', '--alg', 'EdDSA', '--out', 'other.jwk'], files);
    files['other.wit'] = (
      await cli(['wit', 'issue', '--issuer-key', 'issuer.jwk', '--sub', 'spiffe://example.org/other', '--key', 'other.jwk'], files)
    )
      .out()
      .trim();
    const unbound = await cli(['inspect', wpt, '--wit', 'other.wit', '--jwks', 'issuer.jwks.json'], files);
    expect(unbound.out()).toContain('FAILED wpt_signature:');
    expect((await cli(['inspect', wpt, '--jwks', 'issuer.jwks.json'], files)).err()).toContain('add --wit');
  });

  it('rejects what is not a JWT', async () => {
    const r = await cli(['inspect', 'a.b.c']);
    expect(r.code).toBe(1);
    expect(r.out()).toContain('not a JWT');
    expect((await cli(['inspect', 'no-such-file'])).err()).toContain('neither a token nor a readable file');
  });
});

async function keyFile(files: Record<string, string>) {
  await cli(['keygen', '--out', 'other.jwk'], files);
  return { jwks: 'other.jwks.json' };
}

describe('wimse request', () => {
  let server: Server;
  let base: string;
  let files: Record<string, string>;

  beforeAll(async () => {
    files = await trustDomain();
    const issuerJwks = JSON.parse(files['issuer.jwks.json']!) as { keys: JWK[] };
    // The server has its own identity: a response signed with the requester's key is rejected.
    await cli(['keygen', '--out', 'server.jwk'], files);
    const serverWit = (
      await cli(['wit', 'issue', '--issuer-key', 'issuer.jwk', '--sub', 'spiffe://example.org/server', '--key', 'server.jwk'], files)
    )
      .out()
      .trim();
    const serverSigner = await createWorkloadSigner({ wit: serverWit, privateKey: JSON.parse(files['server.jwk']!) as JWK });
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const view: WimseRequest = { method: req.method!, path: req.url!, headers: req.headersDistinct, body: Buffer.concat(chunks) };
        verifier
          .verify(view)
          .then(async (p) => {
            const body = JSON.stringify({
              workload: p.workload,
              method: p.method,
              txn: p.context.txnToken ?? null,
              body: Buffer.concat(chunks).toString(),
            });
            const headers: Record<string, string> = { 'content-type': 'application/json' };
            // `/always…`: signed by local policy, asked or not.
            if (p.signature !== undefined && (p.signature.signResponse || view.path.startsWith('/always'))) {
              Object.assign(
                headers,
                await signHttpResponse({
                  credentials: serverSigner,
                  request: view,
                  requestNonce: p.signature.nonce,
                  status: 200,
                  headers,
                  body,
                }),
              );
            }
            res.writeHead(200, headers).end(body);
          })
          .catch((e: unknown) => {
            if (!isWimseError(e)) throw e;
            res.writeHead(e.status, { 'content-type': 'application/problem+json', ...e.headers }).end(JSON.stringify(e.problem));
          });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    // `var`: hoisted to the describe scope, assigned once the server listens.
    var verifier = createVerifier({ trustDomains: { 'example.org': { keys: issuerJwks } }, audience: base });
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('sends a WPT-authenticated GET and prints the body', async () => {
    const r = await cli(['request', `${base}/whoami`, '--wit', 'svc.wit', '--key', 'svc.jwk'], files);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out())).toMatchObject({ workload: 'spiffe://example.org/svc', method: 'wpt' });
  });

  it('sends an HTTP-signed POST with a body and a Txn-Token, printing status and headers with -i', async () => {
    const r = await cli(
      [
        'request',
        `${base}/echo`,
        '-d',
        '{"n":1}',
        '--proof',
        'http-sig',
        '--txn-token',
        'txn-1',
        '-i',
        '--wit',
        'svc.wit',
        '--key',
        'svc.jwk',
      ],
      files,
    );
    expect(r.code).toBe(0);
    expect(r.out()).toMatch(/^HTTP 200 OK\n/);
    expect(r.out()).toContain('content-type: application/json');
    expect(r.out()).toContain('"method":"http-sig","txn":"txn-1","body":"{\\"n\\":1}"');
  });

  it('shows the request headers with -v and verifies a signed response', async () => {
    const r = await cli(
      [
        'request',
        `${base}/whoami`,
        '--proof',
        'http-sig',
        '--sign-response',
        '--jwks',
        'issuer.jwks.json',
        '-v',
        '--wit',
        'svc.wit',
        '--key',
        'svc.jwk',
      ],
      files,
    );
    expect(r.out()).toContain('> signature-input: wimse=');
    expect(r.out()).toContain('wimse-sign-response');
    expect(r.err()).toContain('response signed by spiffe://example.org/server');
    expect(r.code).toBe(0);
  });

  it('verifies a signed response it did not ask for against --jwks, and refuses one it has no keys for', async () => {
    const base_ = ['request', `${base}/always`, '--proof', 'http-sig', '--wit', 'svc.wit', '--key', 'svc.jwk'];
    const verified = await cli([...base_, '--jwks', 'issuer.jwks.json'], files);
    expect([verified.code, verified.err()]).toEqual([0, expect.stringContaining('response signed by spiffe://example.org/server')]);
    const wrongResponder = await cli([...base_, '--jwks', 'issuer.jwks.json', '--expect-responder', 'spiffe://example.org/orders'], files);
    expect([wrongResponder.code, wrongResponder.err()]).toEqual([1, expect.stringContaining('FAILED sig_response_workload')]);
    const noKeys = await cli(base_, files);
    expect([noKeys.code, noKeys.err()]).toEqual([1, expect.stringContaining('FAILED sig_response')]);
  });

  it('fails when the signed response cannot be verified (responder outside the trusted domain)', async () => {
    const r = await cli(
      [
        'request',
        `${base}/whoami`,
        '--proof',
        'http-sig',
        '--sign-response',
        '--jwks',
        'issuer.jwks.json',
        '--trust-domain',
        'other.org',
        '--wit',
        'svc.wit',
        '--key',
        'svc.jwk',
      ],
      files,
    );
    expect(r.err()).toContain('response signature FAILED wit_untrusted_domain');
    expect(r.code).toBe(1);
  });

  it('refuses a signed response from another workload than --expect-responder', async () => {
    const base_ = [
      'request',
      `${base}/whoami`,
      '--proof',
      'http-sig',
      '--sign-response',
      '--jwks',
      'issuer.jwks.json',
      '--wit',
      'svc.wit',
      '--key',
      'svc.jwk',
    ];
    const wrong = await cli([...base_, '--expect-responder', 'spiffe://example.org/orders'], files);
    expect([wrong.code, wrong.err()]).toEqual([1, expect.stringContaining('response signature FAILED sig_response_workload')]);
    expect((await cli([...base_, '--expect-responder', 'spiffe://example.org'], files)).code).toBe(0);
  });

  it('refuses an unsigned error response when it asked for a signed one', async () => {
    files['wrong.jwk'] = (await cli(['keygen', '--alg', 'EdDSA'])).out();
    const r = await cli(
      [
        'request',
        `${base}/whoami`,
        '--proof',
        'http-sig',
        '--sign-response',
        '--jwks',
        'issuer.jwks.json',
        '--wit',
        'svc.wit',
        '--key',
        'wrong.jwk',
      ],
      files,
    );
    expect(r.err()).toContain('response signature FAILED sig_response');
    expect(r.err()).toContain('400 answer is unsigned');
    expect(r.code).toBe(1);
  });

  // 0.0.0.0 is not a loopback name (so it is refused) yet connects locally (port 1: refused at once), with no DNS.
  it('sends credentials over plain http to a non-loopback host only with --allow-insecure', async () => {
    const r = await cli(['request', 'http://0.0.0.0:1/x', '--wit', 'svc.wit', '--key', 'svc.jwk'], files);
    expect([r.code, r.err()]).toEqual([1, expect.stringContaining('Refusing to send workload credentials over http:')]);
    const opted = await cli(['request', 'http://0.0.0.0:1/x', '--allow-insecure', '--wit', 'svc.wit', '--key', 'svc.jwk'], files);
    expect(opted.code).toBe(1);
    expect(opted.err()).not.toContain('Refusing');
  });

  it('--wpt01 sends Workload-Proof-Token (typ per --wpt-typ, ath for --access-token) that a wpt-01 peer accepts', async () => {
    const r = await cli(
      [
        'request',
        `${base}/whoami`,
        '--wpt01',
        '--wpt-typ',
        'application/wpt+jwt',
        '--access-token',
        'at-1',
        '-v',
        '--wit',
        'svc.wit',
        '--key',
        'svc.jwk',
      ],
      files,
    );
    expect(r.code).toBe(0);
    // This server speaks wpt-02 only, and says which option would accept the old field.
    expect(r.out()).toContain('HTTP 401');
    expect(r.out()).toContain('compat.wpt01');
    const sent = Object.fromEntries([...r.out().matchAll(/^> ([a-z-]+): (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    expect(sent.authorization).toBe('Bearer at-1');
    expect(decodeProtectedHeader(sent['workload-proof-token']!).typ).toBe('application/wpt+jwt');
    const issuerJwks = JSON.parse(files['issuer.jwks.json']!) as { keys: JWK[] };
    const wpt01Peer = createVerifier({ trustDomains: { 'example.org': { keys: issuerJwks } }, audience: base, compat: { wpt01: true } });
    const p = await wpt01Peer.verify({ method: 'GET', path: '/whoami', headers: sent });
    expect(p).toMatchObject({ workload: 'spiffe://example.org/svc', method: 'wpt', context: { accessToken: 'at-1' } });
  });

  it('prints the problem of a rejected request', async () => {
    files['wrong.jwk'] = (await cli(['keygen', '--alg', 'EdDSA'])).out();
    const r = await cli(['request', `${base}/whoami`, '-i', '--wit', 'svc.wit', '--key', 'wrong.jwk'], files);
    expect(r.out()).toMatch(/^HTTP 401/);
    expect(r.out()).toContain('"code":"wpt_signature"');
  });

  it.each([
    [['request', 'ftp://x'], 'give the http(s) URL'],
    [['request', 'http://x', '--proof', 'dpop', '--wit', 'svc.wit', '--key', 'svc.jwk'], '--proof must be wpt or http-sig'],
    [['request', 'http://x'], 'give --wit and --key, or --identity and --workload'],
    [['request', 'http://x', '--identity', 'http://id'], '--identity needs --workload'],
    [
      ['request', 'http://x', '--sign-response', '--proof', 'http-sig', '--wit', 'svc.wit', '--key', 'svc.jwk'],
      '--sign-response needs --jwks',
    ],
    [['request', 'http://x', '-H', 'novalue', '--wit', 'svc.wit', '--key', 'svc.jwk'], 'expected "name: value"'],
    [['request', 'http://x', '--wit', 'svc.wit', '--key', 'issuer.jwks.json'], 'is not a JWK'],
    [['request', 'http://x', '--access-token', 'a', '--wit', 'svc.wit', '--key', 'svc.jwk'], '--access-token needs --wpt01'],
    [
      ['request', 'http://x', '--wpt01', '--proof', 'http-sig', '--wit', 'svc.wit', '--key', 'svc.jwk'],
      '--wpt01 and --wpt-typ apply to --proof wpt',
    ],
    [
      ['request', 'http://x', '--wpt-typ', 'JWT', '--wit', 'svc.wit', '--key', 'svc.jwk'],
      '--wpt-typ must be wpt+jwt or application/wpt+jwt',
    ],
  ])('usage error for %j', async (argv, message) => {
    const r = await cli(argv, { ...files });
    expect(r.err()).toContain(message);
    expect(r.code).toBe(2);
  });

  it('reports a request that cannot be sent', async () => {
    const r = await cli(['request', 'http://127.0.0.1:1/x', '--wit', 'svc.wit', '--key', 'svc.jwk'], files);
    expect(r.code).toBe(1);
    expect(r.err()).toContain('request failed');
  });

  it('names the cause of a network error, not just "fetch failed"', async () => {
    // A port that was free a moment ago: nothing listens there, so the connection is refused.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const r = await cli(['request', `http://127.0.0.1:${port}/x`, '--wit', 'svc.wit', '--key', 'svc.jwk'], files);
    expect(r.code).toBe(1);
    expect(r.err()).toMatch(/^request failed: fetch failed: .*ECONNREFUSED/);
  });
});

describe('wimse request --fail (curl: exit 22 on a 4xx or 5xx answer)', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const status = Number(req.url!.slice(1));
      res.writeHead(status, { 'content-type': 'application/problem+json' }).end(JSON.stringify({ status, code: `status_${status}` }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const send = async (path: string, ...flags: string[]) =>
    cli(['request', `${base}${path}`, ...flags, '--wit', 'svc.wit', '--key', 'svc.jwk'], await trustDomain());

  it.each([['/403'], ['/503']])('%s with -f: exit 22, no body, the status on stderr', async (path) => {
    const r = await send(path, '-f');
    expect(r.code).toBe(22);
    expect(r.out()).toBe('');
    expect(r.err()).toContain(`HTTP ${path.slice(1)}`);
  });

  it('403 with --fail-with-body: exit 22 and the problem printed', async () => {
    const r = await send('/403', '--fail-with-body');
    expect(r.code).toBe(22);
    expect(r.out()).toContain('"code":"status_403"');
  });

  it('403 without --fail: exit 0, as curl', async () => {
    const r = await send('/403');
    expect(r.code).toBe(0);
    expect(r.out()).toContain('"code":"status_403"');
  });

  it('200 and 302 with -f: exit 0', async () => {
    expect((await send('/200', '-f')).code).toBe(0);
    expect((await send('/302', '--fail')).code).toBe(0);
  });

  it('refuses -f together with --fail-with-body', async () => {
    const r = await send('/200', '-f', '--fail-with-body');
    expect(r.code).toBe(2);
    expect(r.err()).toContain('exclude each other');
  });
});

describe('describeError', () => {
  it('follows causes and names their codes', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
    expect(describeError(new TypeError('fetch failed', { cause: refused }))).toBe('fetch failed: connect ECONNREFUSED 127.0.0.1:9');
    const timeout = Object.assign(new Error('Connect Timeout Error'), { code: 'UND_ERR_CONNECT_TIMEOUT' });
    expect(describeError(new TypeError('fetch failed', { cause: timeout }))).toBe(
      'fetch failed: Connect Timeout Error (UND_ERR_CONNECT_TIMEOUT)',
    );
  });

  it('lists every attempt of an AggregateError', () => {
    const e = new AggregateError([new Error('connect ECONNREFUSED ::1:80'), new Error('connect ECONNREFUSED 127.0.0.1:80')], '');
    expect(describeError(new TypeError('fetch failed', { cause: e }))).toBe(
      'fetch failed: connect ECONNREFUSED ::1:80; connect ECONNREFUSED 127.0.0.1:80',
    );
  });

  it('stops at a cycle and prints a cause that is not an Error', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(describeError(a)).toBe('a: b');
    expect(describeError(new Error('x', { cause: 'socket hang up' }))).toBe('x: socket hang up');
  });
});

describe('wimse help', () => {
  it('prints usage for every command', async () => {
    const r = await cli(['help']);
    expect(r.code).toBe(0);
    for (const c of ['wimse keygen', 'wimse wit issue', 'wimse inspect', 'wimse request']) expect(r.out()).toContain(c);
    expect((await cli([])).code).toBe(2);
  });

  const commands: [string[], string][] = [
    [['keygen'], 'wimse keygen'],
    [['wit', 'issue'], 'wimse wit issue'],
    [['wit'], 'wimse wit issue'],
    [['inspect'], 'wimse inspect'],
    [['request'], 'wimse request'],
  ];
  it.each(commands)('%j --help and -h print that command only, exit 0 (even without its required options)', async (command, usage) => {
    for (const flag of ['--help', '-h']) {
      const r = await cli([...command, flag]);
      expect(r.code).toBe(0);
      expect(r.out().startsWith(usage)).toBe(true);
      expect(r.out()).not.toContain('wimse — WIMSE');
      expect(r.err()).toBe('');
    }
  });

  it.each(commands)('wimse help %j', async (command, usage) => {
    const r = await cli(['help', ...command]);
    expect(r.code).toBe(0);
    expect(r.out().startsWith(usage)).toBe(true);
  });

  it('refuses help for an unknown command', async () => {
    const r = await cli(['help', 'nope']);
    expect(r.code).toBe(2);
    expect(r.err()).toContain('unknown command "nope"');
  });
});

describe('wimse --version', () => {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  it.each([['--version'], ['-V'], ['version']])('%s prints the package version and the drafts', async (flag) => {
    const r = await cli([flag]);
    expect(r.code).toBe(0);
    expect(r.out().split('\n')[0]).toBe(`wimse ${version}`);
    expect(r.out()).toContain('draft-ietf-wimse-wpt-02');
  });
});
