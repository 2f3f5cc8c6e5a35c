/**
 * Talking to wpt-01 peers: the outbound wpt-01 mode of `createWpt`, the signer and
 * `createWimseFetch` (draft-ietf-wimse-wpt-01 §2: `Workload-Proof-Token` field, `ath` bound to the
 * access token in `Authorization: Bearer`), a configurable `typ`, and the inbound hint when
 * `compat.wpt01` is off. Expected values come from the wpt-01 example (vector), not from our code.
 */
import { decodeJwt, decodeProtectedHeader, importJWK, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { createWimseFetch } from './client.js';
import { PROBLEM_CONTENT_TYPE, WimseError } from './errors.js';
import { createWorkloadSigner } from './signer.js';
import { createIssuer, createWorkload } from '@wimse/test-support/factory';
import { parseRawRequest, vector } from './test-support/vectors.js';
import { createVerifier } from './verifier.js';
import { createWpt } from './wpt.js';

const v = vector('wpt-01-request-legacy');
const keys = vector('keys-wit-wpt-examples');
const request = parseRawRequest(v.http_request);
const verifyAt = v.clock.suggested_verify_at as number;
const exampleVerifier = (wpt01: boolean) =>
  createVerifier({
    trustDomains: { 'example.com': { keys: keys.identity_server_public_jwk } },
    audience: 'https://workload.example.com',
    maxWptLifetime: 3600,
    now: () => verifyAt * 1000,
    compat: { wpt01 },
  });
const workloadKey = () => importJWK(keys.workload_private_jwk as JWK, 'EdDSA');

describe('wpt-01 §2: createWpt in wpt-01 mode reproduces the example WPT', () => {
  it('has the example header and the example ath / wth / aud for the example access token and WIT', async () => {
    const wpt = await createWpt({
      wit: v.wit,
      key: await workloadKey(),
      alg: 'EdDSA',
      aud: v.decoded_wpt_claims.aud,
      version: 'wpt-01',
      accessToken: v.access_token_in_request,
      now: (verifyAt - 10) * 1000,
    });
    expect(decodeProtectedHeader(wpt)).toEqual(v.decoded_wpt_header);
    const claims = decodeJwt(wpt);
    expect({ ath: claims.ath, wth: claims.wth, aud: claims.aud }).toEqual({
      ath: v.decoded_wpt_claims.ath,
      wth: v.decoded_wpt_claims.wth,
      aud: v.decoded_wpt_claims.aud,
    });
    expect(Object.keys(claims).sort()).toEqual(Object.keys(v.decoded_wpt_claims).sort());
  });

  it('in the example request, in place of the example WPT, is accepted by a wpt-01 peer (compat.wpt01)', async () => {
    const wpt = await createWpt({
      wit: v.wit,
      key: await workloadKey(),
      alg: 'EdDSA',
      aud: v.decoded_wpt_claims.aud,
      version: 'wpt-01',
      accessToken: v.access_token_in_request,
      now: (verifyAt - 10) * 1000,
    });
    const headers = { ...request.headers, 'workload-proof-token': [wpt] };
    const p = await exampleVerifier(true).verify({ method: request.method, path: request.path, headers });
    expect(p.context.accessToken).toBe(v.access_token_in_request);
  });

  it('refuses an access token under wpt-02 (ath was removed; the WPT occupies Authorization)', async () => {
    await expect(createWpt({ wit: v.wit, key: await workloadKey(), alg: 'EdDSA', aud: 'https://x/y', accessToken: 'at' })).rejects.toThrow(
      TypeError,
    );
  });

  it('refuses an unknown version', async () => {
    await expect(
      createWpt({ wit: v.wit, key: await workloadKey(), alg: 'EdDSA', aud: 'https://x/y', version: 'wpt-00' as 'wpt-01' }),
    ).rejects.toThrow(/wpt-02 or wpt-01/);
  });
});

describe('wpt-02 §4 / RFC 7515 §4.1.9: typ may be sent in its media-type form', () => {
  it('sends application/wpt+jwt when asked, and our verifier accepts it', async () => {
    const issuer = await createIssuer();
    const w = await createWorkload(issuer, { now: Date.now() });
    const signer = await createWorkloadSigner({ wit: w.wit, privateKey: w.privateKey });
    const headers = await signer.wptHeaders({ url: 'https://api.example.org/orders', typ: 'application/wpt+jwt' });
    expect(decodeProtectedHeader(headers.authorization!.slice(4)).typ).toBe('application/wpt+jwt');
    const verifier = createVerifier({
      trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } },
      audience: 'https://api.example.org',
    });
    await expect(verifier.verify({ method: 'GET', path: '/orders', headers })).resolves.toMatchObject({ method: 'wpt' });
  });

  it('refuses a typ that is not a WPT type', async () => {
    await expect(
      createWpt({ wit: v.wit, key: await workloadKey(), alg: 'EdDSA', aud: 'https://x/y', typ: 'JWT' as 'wpt+jwt' }),
    ).rejects.toThrow(/not a WPT type/);
  });
});

describe('wpt-01 §2: the signer puts the WPT in Workload-Proof-Token', () => {
  it('without an access token: Workload-Proof-Token and no Authorization', async () => {
    const signer = await createWorkloadSigner({ wit: v.wit, privateKey: keys.workload_private_jwk as JWK });
    const headers = await signer.wptHeaders({
      url: 'https://workload.example.com/path?q=1',
      version: 'wpt-01',
      now: (verifyAt - 10) * 1000,
    });
    expect(Object.keys(headers).sort()).toEqual(['workload-identity-token', 'workload-proof-token']);
    expect(decodeJwt(headers['workload-proof-token']!).aud).toBe('https://workload.example.com/path');
    await expect(exampleVerifier(true).verify({ method: 'GET', path: '/path?q=1', headers })).resolves.toMatchObject({ method: 'wpt' });
  });

  it('with an access token: Authorization: Bearer, bound by ath', async () => {
    const signer = await createWorkloadSigner({ wit: v.wit, privateKey: keys.workload_private_jwk as JWK });
    const headers = await signer.wptHeaders({
      url: 'https://workload.example.com/path',
      version: 'wpt-01',
      accessToken: v.access_token_in_request,
      now: (verifyAt - 10) * 1000,
    });
    expect(headers.authorization).toBe(`Bearer ${v.access_token_in_request}`);
    expect(decodeJwt(headers['workload-proof-token']!).ath).toBe(v.decoded_wpt_claims.ath);
  });
});

describe('compat.wpt01 off: a Workload-Proof-Token request is told which option accepts it', () => {
  it('with a WIT: wpt_missing, detail names compat.wpt01', async () => {
    await expect(
      exampleVerifier(false).verify({ method: request.method, path: request.path, headers: request.headers }),
    ).rejects.toMatchObject({
      code: 'wpt_missing',
      status: 401,
      message: expect.stringContaining('compat.wpt01'),
    });
  });
  it('without a WIT: credentials_missing, detail names compat.wpt01', async () => {
    const { 'workload-identity-token': _, ...headers } = request.headers;
    await expect(exampleVerifier(false).verify({ method: request.method, path: request.path, headers })).rejects.toMatchObject({
      code: 'credentials_missing',
      message: expect.stringContaining('compat.wpt01'),
    });
  });
  it('a plain wpt-02 failure does not mention it', async () => {
    await expect(
      exampleVerifier(false).verify({ method: 'GET', path: '/path', headers: { 'workload-identity-token': v.wit } }),
    ).rejects.toMatchObject({
      code: 'wpt_missing',
      message: 'Authorization: WPT is required',
    });
  });
});

describe('createWimseFetch: wpt-01 outbound, per client or per call', () => {
  async function peer(wpt01: boolean) {
    const issuer = await createIssuer();
    const w = await createWorkload(issuer, { now: Date.now() });
    const verifier = createVerifier({
      trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } },
      audience: 'https://peer.example.org',
      compat: { wpt01 },
    });
    const sent: Record<string, string>[] = [];
    const fetchImpl = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => {
        headers[name] = value;
      });
      sent.push(headers);
      const url = new URL(String(input));
      try {
        const p = await verifier.verify({ method: init.method ?? 'GET', path: url.pathname + url.search, headers });
        return Response.json({ workload: p.workload, accessToken: p.context.accessToken ?? null });
      } catch (e) {
        if (!(e instanceof WimseError)) throw e;
        return new Response(JSON.stringify(e.problem), { status: e.status, headers: { 'content-type': PROBLEM_CONTENT_TYPE } });
      }
    }) as typeof fetch;
    const credentials = () => ({ wit: w.wit, privateKey: w.privateKey });
    return { w, sent, fetchImpl, credentials };
  }

  it('client-wide wpt-01 with the media-type typ reaches a wpt-01 peer', async () => {
    const p = await peer(true);
    const f = createWimseFetch({ credentials: p.credentials, fetch: p.fetchImpl, wpt: { version: 'wpt-01', typ: 'application/wpt+jwt' } });
    const res = await f('https://peer.example.org/orders?id=1');
    expect(res.status).toBe(200);
    expect(p.sent[0]!.authorization).toBeUndefined();
    expect(decodeProtectedHeader(p.sent[0]!['workload-proof-token']!).typ).toBe('application/wpt+jwt');
  });

  it('a Bearer Authorization the caller sets is bound by ath', async () => {
    const p = await peer(true);
    const f = createWimseFetch({ credentials: p.credentials, fetch: p.fetchImpl, wpt: { version: 'wpt-01' } });
    const res = await f('https://peer.example.org/orders', { headers: { authorization: 'Bearer user-token-1' } });
    expect(await res.json()).toMatchObject({ accessToken: 'user-token-1' });
  });

  it('per call: wimse.wpt and wimse.accessToken', async () => {
    const p = await peer(true);
    const f = createWimseFetch({ credentials: p.credentials, fetch: p.fetchImpl });
    const res = await f('https://peer.example.org/orders', { wimse: { wpt: { version: 'wpt-01' }, accessToken: 'at-2' } });
    expect(await res.json()).toMatchObject({ accessToken: 'at-2' });
    expect(p.sent[0]!.authorization).toBe('Bearer at-2');
  });

  it('the default stays wpt-02, which a wpt-02 peer accepts', async () => {
    const p = await peer(false);
    const f = createWimseFetch({ credentials: p.credentials, fetch: p.fetchImpl });
    expect((await f('https://peer.example.org/orders')).status).toBe(200);
    expect(p.sent[0]!.authorization).toMatch(/^WPT /);
  });

  it('wpt-01 against a wpt-02-only peer: refused with the option named', async () => {
    const p = await peer(false);
    const f = createWimseFetch({ credentials: p.credentials, fetch: p.fetchImpl, wpt: { version: 'wpt-01' } });
    const res = await f('https://peer.example.org/orders');
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ code: 'wpt_missing', detail: expect.stringContaining('compat.wpt01') });
  });

  it('an access token under wpt-02 or with http-sig is a caller error', async () => {
    const p = await peer(true);
    const f = createWimseFetch({ credentials: p.credentials, fetch: p.fetchImpl });
    await expect(f('https://peer.example.org/orders', { wimse: { accessToken: 'x' } })).rejects.toThrow(TypeError);
    await expect(
      f('https://peer.example.org/orders', { wimse: { proof: 'http-sig', wpt: { version: 'wpt-01' }, accessToken: 'x' } }),
    ).rejects.toThrow(TypeError);
    expect(p.sent).toHaveLength(0);
  });

  it('bad wire options fail at creation', () => {
    const fetchImpl = (async () => new Response()) as typeof fetch;
    const credentials = () => ({ wit: v.wit, privateKey: keys.workload_private_jwk as JWK });
    expect(() => createWimseFetch({ credentials, fetch: fetchImpl, wpt: { version: 'wpt-3' as 'wpt-01' } })).toThrow(TypeError);
    expect(() => createWimseFetch({ credentials, fetch: fetchImpl, wpt: { typ: 'jwt' as 'wpt+jwt' } })).toThrow(TypeError);
  });
});
