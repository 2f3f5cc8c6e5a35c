import { describe, expect, it } from 'vitest';
import { AUDIENCE, NOW, createIssuer, createWorkload, verifierFor } from '@wimse/test-support/factory';
import { signJws } from '@wimse/test-support/tokens';
import { tokenHash } from './hash.js';
import { createVerifier } from './verifier.js';
import type { VerifierOptions } from './options.js';
import { parseRawRequest, vector } from './test-support/vectors.js';

const keys = vector('keys-wit-wpt-examples');
const trustDomains = { 'example.com': { keys: keys.identity_server_public_jwk } };
const audience = 'https://workload.example.com';

function verifierAt(seconds: number, extra: Partial<VerifierOptions> = {}) {
  // The example WITs live one hour; the drafts' WPT lifetime (~17 min) exceeds our 300 s default, so widen it for the vectors.
  return createVerifier({ trustDomains, audience, maxWptLifetime: 3600, now: () => seconds * 1000, ...extra });
}

describe('wpt-02 §2 example request', () => {
  const v = vector('wpt-02-request');
  const req = parseRawRequest(v.http_request);
  const view = { method: req.method, path: req.path, headers: req.headers };

  it('verifies: WIT (ES256), WPT (EdDSA), wth', async () => {
    const p = await verifierAt(v.clock.suggested_verify_at).verify(view);
    expect(p.workload).toBe('wimse://example.com/specific-workload');
    expect(p.method).toBe('wpt');
    expect(req.headers.authorization?.[0]?.startsWith(`${v.expected.authorization_scheme} `)).toBe(true);
  });

  it('is expired one second after exp (no tolerance)', async () => {
    await expect(verifierAt(v.clock.wpt_exp + 1, { clockTolerance: 0 }).verify(view)).rejects.toMatchObject({
      code: 'wpt_expired',
      status: 401,
      headers: { 'www-authenticate': 'WPT' },
    });
  });

  // At the WIT's iat (earlier and the WIT itself is not valid yet) the WPT exp is 1106 s ahead.
  it('is rejected by default as too far in the future (300 s policy)', async () => {
    await expect(createVerifier({ trustDomains, audience, now: () => v.clock.wit_iat * 1000 }).verify(view)).rejects.toMatchObject({
      code: 'wpt_exp_too_far',
    });
  });

  it('does not verify against the creds-02 WIT (different wth)', async () => {
    const creds = vector('wit-creds-02');
    const headers = { ...req.headers, 'workload-identity-token': creds.compact };
    await expect(verifierAt(v.clock.suggested_verify_at).verify({ ...view, headers })).rejects.toMatchObject({ code: 'wpt_wth' });
  });
});

describe('derived-wpt-negative-cases.json: every case gets its expected outcome', () => {
  const d = vector('derived-wpt-negative-cases');
  const codes: Record<string, string> = {
    'alg-ed25519-vs-cnf-eddsa': 'wpt_alg_mismatch',
    'typ-jwt': 'wpt_typ',
    'typ-missing': 'wpt_typ',
    'aud-other-host': 'wpt_aud',
    'aud-other-path': 'wpt_aud',
    'exp-far-future': 'wpt_exp_too_far',
    'exp-missing': 'wpt_claims',
    'jti-missing': 'wpt_claims',
    'wth-of-other-wit': 'wpt_wth',
    'wth-missing': 'wpt_wth',
    'oth-unknown-entry': 'wpt_oth',
  };
  const view = (wpt: string) => ({
    method: d.request.method,
    path: new URL(d.request.target_uri).pathname,
    headers: { 'workload-identity-token': d.wit, authorization: `WPT ${wpt}` },
  });
  for (const c of d.cases as { id: string; expected: string; wpt: string }[]) {
    if (c.expected.startsWith('accept')) {
      it(`${c.id}: accepted`, async () => {
        const p = await verifierAt(d.clock.verify_at).verify(view(c.wpt));
        expect(p.workload).toBe('wimse://example.com/specific-workload');
      });
    } else {
      it(`${c.id}: rejected with ${codes[c.id]}`, async () => {
        expect(codes[c.id]).toBeDefined();
        await expect(verifierAt(d.clock.verify_at).verify(view(c.wpt))).rejects.toMatchObject({ code: codes[c.id], status: 401 });
      });
    }
  }
});

describe('wpt-01 wire format (compatibility mode only)', () => {
  const v = vector('wpt-01-request-legacy');
  const req = parseRawRequest(v.http_request);
  const view = { method: req.method, path: req.path, headers: req.headers };

  it('is accepted with compat.wpt01, binding the access token with ath', async () => {
    const p = await verifierAt(v.clock.suggested_verify_at, { compat: { wpt01: true } }).verify(view);
    expect(p.workload).toBe('wimse://example.com/specific-workload');
    expect(p.context.accessToken).toBe(v.access_token_in_request);
  });

  it('is not accepted by default: a bearer token is not a WPT', async () => {
    await expect(verifierAt(v.clock.suggested_verify_at).verify(view)).rejects.toMatchObject({ code: 'wpt_missing', status: 401 });
  });

  it('rejects a different access token (ath)', async () => {
    const headers = { ...req.headers, authorization: 'Bearer another-token' };
    await expect(verifierAt(v.clock.suggested_verify_at, { compat: { wpt01: true } }).verify({ ...view, headers })).rejects.toMatchObject({
      code: 'wpt_ath',
    });
  });
});

describe('s2s-protocol-00 tokens (pre-split) are not accepted', () => {
  it('rejects the legacy wimse-id+jwt typ', async () => {
    const v = vector('s2s-00-wit-wpt-legacy');
    const wit: string = v.wit ?? v.wit_compact;
    const headers = { 'workload-identity-token': wit, authorization: 'WPT a.b.c' };
    await expect(
      verifierAt(v.clock?.suggested_verify_at ?? 1717000000).verify({ method: 'GET', path: '/', headers }),
    ).rejects.toMatchObject({ code: 'wit_typ' });
  });
});

// wpt.ts decodes each distinct protected header once and shares it (bounded): every token is still
// judged by its own header, also once the cache is full.
describe('protected headers decoded once are judged per token', () => {
  it('300 distinct headers (past the cache bound) all verify; a header differing from a cached one only in typ, or adding crit, is refused', async () => {
    const issuer = await createIssuer('ES256', 'k1');
    const workload = await createWorkload(issuer);
    const verifier = verifierFor(issuer);
    const wth = await tokenHash(workload.wit);
    const wpt = (header: Record<string, unknown>, jti: string) =>
      signJws(header, { aud: `${AUDIENCE}/orders`, exp: NOW / 1000 + 60, jti, wth }, workload.privateKey);
    const request = (token: string) => ({
      method: 'GET',
      path: '/orders',
      headers: { 'workload-identity-token': workload.wit, authorization: `WPT ${token}` },
    });
    for (let i = 0; i < 300; i++) {
      const principal = await verifier.verify(request(await wpt({ alg: 'ES256', typ: 'wpt+jwt', n: i }, `j${i}`)));
      expect(principal.method).toBe('wpt');
    }
    // The same header as a verified one, but typ changed: refused by its own header.
    await expect(verifier.verify(request(await wpt({ alg: 'ES256', typ: 'jwt', n: 0 }, 'x1')))).rejects.toMatchObject({ code: 'wpt_typ' });
    await expect(
      verifier.verify(request(await wpt({ alg: 'ES256', typ: 'wpt+jwt', n: 0, crit: ['b64'], b64: true }, 'x2'))),
    ).rejects.toMatchObject({
      code: 'wpt_signature',
    });
  });
});
