import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVerifier } from './verifier.js';
import { AUDIENCE, NOW, createIssuer, createWorkload, wptRequest, type Issuer } from '@wimse/test-support/factory';

let issuer: Issuer;
let server: Server;
let base: string;
let hits = 0;
let mode: 'ok' | 'error' | 'slow' = 'ok';

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  server = createServer((_req, res) => {
    hits++;
    if (mode === 'error') return void res.writeHead(500).end();
    if (mode === 'slow') return void setTimeout(() => res.end('{}'), 2000);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ keys: [issuer.publicJwk] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const verifier = (keys: string, extra: object = {}) =>
  createVerifier({ trustDomains: { 'example.org': { keys, ...extra } }, audience: AUDIENCE, now: () => NOW });

describe('workload-creds-02 §3: trust anchors per trust domain', () => {
  it('fetches a remote JWKS once and verifies with it', async () => {
    mode = 'ok';
    hits = 0;
    const v = verifier(`${base}/jwks`);
    const w = await createWorkload(issuer);
    await v.verify(await wptRequest(w));
    await v.verify(await wptRequest(await createWorkload(issuer)));
    expect(hits).toBe(1);
  });

  it('never fetches for an unconfigured trust domain, whatever iss says', async () => {
    mode = 'ok';
    hits = 0;
    const v = verifier(`${base}/jwks`);
    const w = await createWorkload(issuer, { sub: 'spiffe://other.org/x', iss: `${base}/jwks` });
    await expect(v.verify(await wptRequest(w))).rejects.toMatchObject({ code: 'wit_untrusted_domain' });
    expect(hits).toBe(0);
  });

  it('answers 503 trust_unavailable when the JWKS cannot be fetched', async () => {
    mode = 'error';
    const v = verifier(`${base}/jwks`);
    await expect(v.verify(await wptRequest(await createWorkload(issuer)))).rejects.toMatchObject({
      code: 'trust_unavailable',
      status: 503,
    });
  });

  it('times out a slow JWKS endpoint', async () => {
    mode = 'slow';
    const v = verifier(`${base}/jwks`, { remote: { timeoutMs: 100 } });
    await expect(v.verify(await wptRequest(await createWorkload(issuer)))).rejects.toMatchObject({ code: 'trust_unavailable' });
  });

  it('accepts a resolver function', async () => {
    const v = createVerifier({
      trustDomains: {
        'example.org': { keys: async (header) => (header.kid === 'k1' ? issuer.publicJwk : Promise.reject(new Error('unknown'))) },
      },
      audience: AUDIENCE,
      now: () => NOW,
    });
    await expect(v.verify(await wptRequest(await createWorkload(issuer)))).resolves.toMatchObject({ trustDomain: 'example.org' });
  });

  it('an origin key (scheme://domain) wins over the bare domain', async () => {
    const other = await createIssuer('ES256', 'k1');
    const v = createVerifier({
      trustDomains: {
        'example.org': { keys: { keys: [other.publicJwk] } },
        'spiffe://example.org': { keys: { keys: [issuer.publicJwk] } },
      },
      audience: AUDIENCE,
      now: () => NOW,
    });
    await expect(v.verify(await wptRequest(await createWorkload(issuer)))).resolves.toBeDefined();
  });

  it('caches a verified WIT, but never past its exp', async () => {
    let now = NOW;
    const v = createVerifier({
      trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } },
      audience: AUDIENCE,
      clockTolerance: 0,
      now: () => now,
    });
    const w = await createWorkload(issuer, { lifetime: 120 });
    await v.verify(await wptRequest(w));
    now = NOW + 121_000;
    const { createWorkloadSigner } = await import('./signer.js');
    const signer = await createWorkloadSigner({ wit: w.wit, privateKey: w.privateKey });
    const headers = await signer.wptHeaders({ url: `${AUDIENCE}/orders`, now });
    await expect(v.verify({ method: 'GET', path: '/orders', headers })).rejects.toMatchObject({ code: 'wit_expired' });
  });
});
