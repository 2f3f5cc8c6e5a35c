import { TokenExchangeError, createTxnTokenClient, createWimseFetch, issueTxnToken, issueWit, verifyTxnToken } from '@wimse/core';
import { createKeyRing } from '@wimse/identity-server/keyring';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GATEWAY, INTERNAL, OAUTH_AUDIENCE, OAUTH_ISSUER, STRANGER, TD, startRig, type Rig } from './support.js';

// Literal identifiers from RFC 8693 §2.1/§3 and txn-tokens-10 §11, not the code's constants.
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TXN_TYPE = 'urn:ietf:params:oauth:token-type:txn_token';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const SELF_SIGNED = 'urn:ietf:params:oauth:token-type:self_signed';
const UNSIGNED = 'urn:ietf:params:oauth:token-type:unsigned_json';
const FORM = 'application/x-www-form-urlencoded';

let rig: Rig;
beforeAll(async () => {
  rig = await startRig();
});
afterAll(() => rig.close());

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function post(
  workload: string,
  params: Record<string, string> | [string, string][] | string,
  init: { contentType?: string; proof?: 'wpt' | 'http-sig' } = {},
): Promise<Answer> {
  const f = await rig.fetchAs(workload);
  const body = typeof params === 'string' ? params : new URLSearchParams(params).toString();
  const res = await f(rig.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': init.contentType ?? FORM },
    body,
    wimse: { proof: init.proof ?? 'wpt' },
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

async function exchange(overrides: Record<string, string> = {}, workload = GATEWAY, claims: Record<string, unknown> = {}): Promise<Answer> {
  const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read orders.write', ...claims });
  return post(workload, {
    grant_type: GRANT,
    requested_token_type: TXN_TYPE,
    audience: TD,
    scope: 'orders.read',
    subject_token: subject,
    subject_token_type: ACCESS,
    ...overrides,
  });
}

function expectOAuthError(a: Answer, status: number, error: string): void {
  expect(a.status).toBe(status);
  expect(a.body.error).toBe(error);
  expect(a.headers.get('cache-control')).toBe('no-store');
}

const verifyOptions = () => ({ trustDomain: TD, keys: `${rig.url}/.well-known/jwks.json` });

describe('txn-tokens §11.4: a Txn-Token issued for an external access token', () => {
  it('answers per RFC 8693 §2.2.1 and §11.4', async () => {
    const a = await exchange({
      request_context: '{"req_ip":"69.151.72.123","authn":"face"}',
      request_details: '{"action":"BUY","ticker":"MSFT"}',
    });
    expect(a.status).toBe(200);
    expect(a.headers.get('cache-control')).toBe('no-store');
    expect(a.headers.get('content-type')).toMatch(/^application\/json/);
    expect(a.body.token_type).toBe('N_A');
    expect(a.body.issued_token_type).toBe(TXN_TYPE);
    expect(a.body.expires_in).toBe(300);
    expect(a.body).not.toHaveProperty('refresh_token');
  });

  it('verifies with core verifyTxnToken against the service JWKS, with the claims §11.3 asks for', async () => {
    const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read orders.write' });
    const a = await post(GATEWAY, {
      grant_type: GRANT,
      requested_token_type: TXN_TYPE,
      audience: TD,
      scope: 'orders.read',
      subject_token: subject,
      subject_token_type: ACCESS,
      request_context: '{"req_ip":"69.151.72.123","authn":"face"}',
      request_details: '{"action":"BUY","ticker":"MSFT"}',
    });
    const token = a.body.access_token as string;
    expect(decodeProtectedHeader(token).typ).toBe('txntoken+jwt');
    expect(decodeProtectedHeader(token).kid).toBe(rig.keys.current().kid);
    const t = await verifyTxnToken(token, verifyOptions());
    expect(t.sub).toBe('user-42');
    expect(t.scope).toEqual(['orders.read']);
    expect(t.reqWl).toBe(GATEWAY);
    expect(t.txn).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(t.tctx).toEqual({ action: 'BUY', ticker: 'MSFT' });
    expect(t.rctx).toEqual({ req_ip: '69.151.72.123', authn: 'face' });
    expect(t.exp - t.iat).toBe(300);
    expect(decodeJwt(token).aud).toBe(TD);
    // §13.4: the Txn-Token never contains the access token presented at the edge.
    expect(JSON.stringify(decodeJwt(token))).not.toContain(subject.split('.')[2]);
    expect(rig.logs.join('\n')).not.toContain(subject);
    expect(rig.logs.join('\n')).not.toContain(token);
  });

  it('records the requester’s address as req_ip when request_context has none', async () => {
    const t = decodeJwt((await exchange()).body.access_token as string);
    expect((t.rctx as { req_ip?: string }).req_ip).toBe('127.0.0.1');
  });

  it('accepts a requester authenticated with an HTTP signature', async () => {
    const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read' });
    const a = await post(
      GATEWAY,
      {
        grant_type: GRANT,
        requested_token_type: TXN_TYPE,
        audience: TD,
        scope: 'orders.read',
        subject_token: subject,
        subject_token_type: ACCESS,
      },
      { proof: 'http-sig' },
    );
    expect(a.status).toBe(200);
  });

  it('gives two concurrent requests distinct txn values', async () => {
    const [a, b] = await Promise.all([exchange(), exchange()]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(decodeJwt(a.body.access_token as string).txn).not.toBe(decodeJwt(b.body.access_token as string).txn);
  });

  it('gives twenty concurrent requests twenty distinct txn values', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => exchange()));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((a) => decodeJwt(a.body.access_token as string).txn)).size).toBe(20);
  });
});

describe('RFC 8693 §2.1 / txn-tokens §11.1: malformed requests', () => {
  it('wrong grant_type → 400 unsupported_grant_type', async () => {
    expectOAuthError(await exchange({ grant_type: 'client_credentials' }), 400, 'unsupported_grant_type');
  });
  it('missing subject_token → 400 invalid_request', async () => {
    expectOAuthError(
      await post(GATEWAY, {
        grant_type: GRANT,
        requested_token_type: TXN_TYPE,
        audience: TD,
        scope: 'orders.read',
        subject_token_type: ACCESS,
      }),
      400,
      'invalid_request',
    );
  });
  it('refresh_token subject → 400 invalid_request (§13.3)', async () => {
    expectOAuthError(await exchange({ subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }), 400, 'invalid_request');
  });
  it('requested_token_type access_token → 400 invalid_request', async () => {
    expectOAuthError(await exchange({ requested_token_type: ACCESS }), 400, 'invalid_request');
  });
  it('audience not the trust domain → 400 invalid_target', async () => {
    expectOAuthError(await exchange({ audience: 'other.example' }), 400, 'invalid_target');
  });
  it('duplicate scope parameter → 400 invalid_request', async () => {
    const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read' });
    const params: [string, string][] = [
      ['grant_type', GRANT],
      ['requested_token_type', TXN_TYPE],
      ['audience', TD],
      ['scope', 'orders.read'],
      ['scope', 'orders.write'],
      ['subject_token', subject],
      ['subject_token_type', ACCESS],
    ];
    expectOAuthError(await post(GATEWAY, params), 400, 'invalid_request');
  });
  it('a JSON body → 400 invalid_request', async () => {
    expectOAuthError(
      await post(GATEWAY, JSON.stringify({ grant_type: GRANT }), { contentType: 'application/json' }),
      400,
      'invalid_request',
    );
  });
  it('oversized body → 413, without reading it all', async () => {
    const a = await exchange({ padding: 'x'.repeat(40 * 1024) });
    expect(a.status).toBe(413);
    expect(a.body.error).toBe('invalid_request');
  });
  it('oversized subject_token → 400 invalid_request', async () => {
    expectOAuthError(await exchange({ subject_token: 'a'.repeat(20_000) }), 400, 'invalid_request');
  });
  it('request_details over 2 KiB → 400 invalid_request', async () => {
    expectOAuthError(await exchange({ request_details: JSON.stringify({ note: 'x'.repeat(2100) }) }), 400, 'invalid_request');
  });
  it('context and details that would make a token over 8192 characters → 400 invalid_request, nothing issued', async () => {
    const wide = JSON.stringify({ note: 'é'.repeat(1900) });
    const before = rig.logs.length;
    expectOAuthError(await exchange({ request_context: wide, request_details: wide }), 400, 'invalid_request');
    expect(rig.logs.slice(before).join('\n')).not.toMatch(/issued/);
  });
  it('GET /token → 405 with Allow: POST', async () => {
    const res = await fetch(rig.tokenUrl);
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });
});

describe('txn-tokens §11.3, §13.6, §13.14: the subject token', () => {
  it('scope wider than the subject’s → 400 invalid_scope', async () => {
    expectOAuthError(await exchange({ scope: 'orders.read trade.stocks' }), 400, 'invalid_scope');
  });
  it('subject without any scope → 400 invalid_scope (unknown is not unconstrained)', async () => {
    const subject = await rig.accessToken({ sub: 'user-42' });
    expectOAuthError(await exchange({ subject_token: subject }), 400, 'invalid_scope');
  });
  it('scope beyond what the requester may request → 400 invalid_scope', async () => {
    expectOAuthError(await exchange({ scope: 'admin' }, GATEWAY, { scope: 'admin orders.read' }), 400, 'invalid_scope');
  });
  it('expired subject → 400 invalid_request (RFC 8693 §2.2.2)', async () => {
    const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read' }, { exp: Math.floor(Date.now() / 1000) - 120 });
    expectOAuthError(await exchange({ subject_token: subject }), 400, 'invalid_request');
  });
  it('subject signed by another key → 400 invalid_request', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read' }, { key: privateKey });
    expectOAuthError(await exchange({ subject_token: subject }), 400, 'invalid_request');
  });
  it('subject from an issuer not configured → 400 invalid_request', async () => {
    const subject = await rig.accessToken({ iss: 'https://evil.example', sub: 'user-42', scope: 'orders.read' });
    expectOAuthError(await exchange({ subject_token: subject }), 400, 'invalid_request');
  });
  it('subject for another audience → 400 invalid_request', async () => {
    const subject = await rig.accessToken({ aud: 'https://other.example', sub: 'user-42', scope: 'orders.read' });
    expectOAuthError(await exchange({ subject_token: subject }), 400, 'invalid_request');
  });
  it('subject without sub → 400 invalid_request', async () => {
    const subject = await rig.accessToken({ scope: 'orders.read' });
    expectOAuthError(await exchange({ subject_token: subject }), 400, 'invalid_request');
  });
  it('a subject that is not a JWT → 400 invalid_request', async () => {
    expectOAuthError(await exchange({ subject_token: 'opaque-token-value' }), 400, 'invalid_request');
  });
  it('SAML subject type → 400 invalid_request (not supported here)', async () => {
    expectOAuthError(await exchange({ subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 400, 'invalid_request');
  });
});

describe('txn-tokens §11.5, RFC 6749 §5.2: requester authentication', () => {
  it('no WIMSE credentials → 401 invalid_client with the WPT challenge', async () => {
    const res = await fetch(rig.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: `grant_type=${encodeURIComponent(GRANT)}`,
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('WPT');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.error).toBe('invalid_client');
    expect(body.code).toBe('credentials_missing');
  });
  it('a WPT for another service → 401 invalid_client, code wpt_aud', async () => {
    const f = await rig.fetchAs(GATEWAY);
    const signer = await f.signer();
    const headers = await signer.wptHeaders({ url: 'http://elsewhere.test/token' });
    const res = await fetch(rig.tokenUrl, { method: 'POST', headers: { ...headers, 'content-type': FORM }, body: 'grant_type=x' });
    const body = (await res.json()) as Record<string, unknown>;
    expect([res.status, body.error, body.code]).toEqual([401, 'invalid_client', 'wpt_aud']);
  });
  it('a workload of another trust domain → invalid_client', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const foreignIssuer = await generateKeyPair('ES256');
    const wit = await issueWit({
      sub: 'spiffe://evil.example/gateway',
      cnfJwk: { ...(await exportJWK(publicKey)), alg: 'ES256' },
      issuerKey: foreignIssuer.privateKey,
      alg: 'ES256',
    });
    const f = createWimseFetch({ credentials: () => ({ wit, privateKey }) });
    const res = await f(rig.tokenUrl, { method: 'POST', headers: { 'content-type': FORM }, body: 'grant_type=x' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as Record<string, unknown>).error).toBe('invalid_client');
  });
  it('an authenticated workload without a requester policy → 400 unauthorized_client', async () => {
    expectOAuthError(await exchange({}, STRANGER), 400, 'unauthorized_client');
  });
  it('a workload not allowed external subjects → 400 unauthorized_client', async () => {
    expectOAuthError(await exchange({ scope: 'orders.read' }, INTERNAL), 400, 'unauthorized_client');
  });
});

async function selfSigned(
  claims: Record<string, unknown> = {},
  workload = INTERNAL,
  header: Record<string, unknown> = {},
): Promise<string> {
  // The requester signs with its own proof key: the private half of its WIT's cnf.jwk.
  await rig.fetchAs(workload);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: workload, sub: 'batch-job-7', aud: rig.url, iat: now, exp: now + 60, ...claims })
    .setProtectedHeader({ alg: 'ES256', ...header })
    .sign(rig.proofKey(workload));
}

function internalRequest(subject: string, type: string, scope = 'batch.run'): Record<string, string> {
  return { grant_type: GRANT, requested_token_type: TXN_TYPE, audience: TD, scope, subject_token: subject, subject_token_type: type };
}

describe('txn-tokens §11.2.1: self-signed subject tokens', () => {
  it('issues a Txn-Token for a self-signed subject of an allowed workload', async () => {
    const a = await post(INTERNAL, internalRequest(await selfSigned(), SELF_SIGNED));
    expect(a.status).toBe(200);
    const t = await verifyTxnToken(a.body.access_token as string, verifyOptions());
    expect([t.sub, t.reqWl, t.scope]).toEqual(['batch-job-7', INTERNAL, ['batch.run']]);
  });
  it('a workload not configured for self_signed → 400 unauthorized_client', async () => {
    expectOAuthError(
      await post(GATEWAY, internalRequest(await selfSigned({ iss: GATEWAY }, GATEWAY), SELF_SIGNED, 'orders.read')),
      400,
      'unauthorized_client',
    );
  });
  it('iss other than the requester → 400 invalid_request', async () => {
    expectOAuthError(await post(INTERNAL, internalRequest(await selfSigned({ iss: GATEWAY }), SELF_SIGNED)), 400, 'invalid_request');
  });
  it('aud other than this service → 400 invalid_request', async () => {
    expectOAuthError(
      await post(INTERNAL, internalRequest(await selfSigned({ aud: 'http://other.test' }), SELF_SIGNED)),
      400,
      'invalid_request',
    );
  });
  it('iat an hour old → 400 invalid_request', async () => {
    const old = Math.floor(Date.now() / 1000) - 3600;
    expectOAuthError(
      await post(INTERNAL, internalRequest(await selfSigned({ iat: old, exp: old + 7200 }), SELF_SIGNED)),
      400,
      'invalid_request',
    );
  });
  it('iat in the future → 400 invalid_request', async () => {
    const later = Math.floor(Date.now() / 1000) + 600;
    expectOAuthError(
      await post(INTERNAL, internalRequest(await selfSigned({ iat: later, exp: later + 60 }), SELF_SIGNED)),
      400,
      'invalid_request',
    );
  });
  it('without exp → 400 invalid_request', async () => {
    expectOAuthError(await post(INTERNAL, internalRequest(await selfSigned({ exp: undefined }), SELF_SIGNED)), 400, 'invalid_request');
  });
  it('signed with another key than the requester’s WIT key → 400 invalid_request', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ iss: INTERNAL, sub: 'x', aud: rig.url, iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: 'ES256' })
      .sign(privateKey);
    expectOAuthError(await post(INTERNAL, internalRequest(forged, SELF_SIGNED)), 400, 'invalid_request');
  });
  it('a JWT typed as a WPT → 400 invalid_request', async () => {
    expectOAuthError(
      await post(INTERNAL, internalRequest(await selfSigned({}, INTERNAL, { typ: 'wpt+jwt' }), SELF_SIGNED)),
      400,
      'invalid_request',
    );
  });
  it('scope beyond the workload’s → 400 invalid_scope', async () => {
    expectOAuthError(await post(INTERNAL, internalRequest(await selfSigned(), SELF_SIGNED, 'orders.write')), 400, 'invalid_scope');
  });
});

describe('txn-tokens §11.2.2: unsigned JSON subjects', () => {
  it('issues a Txn-Token whose sub is the JSON sub', async () => {
    const a = await post(INTERNAL, internalRequest('{"sub":"cron-nightly"}', UNSIGNED));
    expect(a.status).toBe(200);
    expect((await verifyTxnToken(a.body.access_token as string, verifyOptions())).sub).toBe('cron-nightly');
  });
  it('without sub → 400 invalid_request', async () => {
    expectOAuthError(await post(INTERNAL, internalRequest('{"user":"x"}', UNSIGNED)), 400, 'invalid_request');
  });
  it('not JSON → 400 invalid_request', async () => {
    expectOAuthError(await post(INTERNAL, internalRequest('sub=x', UNSIGNED)), 400, 'invalid_request');
  });
  it('a workload not configured for unsigned_json → 400 unauthorized_client', async () => {
    expectOAuthError(await post(GATEWAY, internalRequest('{"sub":"x"}', UNSIGNED, 'orders.read')), 400, 'unauthorized_client');
  });
});

describe('client: createTxnTokenClient', () => {
  it('fetches a Txn-Token with the workload’s own WIT and proof', async () => {
    const tts = createTxnTokenClient({ fetch: await rig.fetchAs(GATEWAY), tts: rig.tokenUrl, trustDomain: TD });
    const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read' });
    const { txnToken, expiresIn } = await tts.fetchTxnToken({
      scope: ['orders.read'],
      subjectToken: subject,
      subjectTokenType: ACCESS,
      requestDetails: { order: 7 },
    });
    expect(expiresIn).toBe(300);
    const t = await verifyTxnToken(txnToken, verifyOptions());
    expect([t.sub, t.tctx]).toEqual(['user-42', { order: 7 }]);
  });
  it('surfaces a refusal as TokenExchangeError with the RFC 6749 error', async () => {
    const tts = createTxnTokenClient({ fetch: await rig.fetchAs(GATEWAY), tts: rig.tokenUrl, trustDomain: TD });
    const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read' });
    const e = await tts.fetchTxnToken({ scope: 'orders.write', subjectToken: subject, subjectTokenType: ACCESS }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TokenExchangeError);
    expect((e as TokenExchangeError).error).toBe('invalid_scope');
  });
});

describe('txn-tokens §13.15: replacement', () => {
  async function original(scope = 'orders.read orders.write', details = '{"action":"BUY","qty":"100"}'): Promise<string> {
    const a = await exchange({ scope, request_details: details }, GATEWAY, { scope: 'orders.read orders.write' });
    expect(a.status).toBe(200);
    return a.body.access_token as string;
  }

  it('narrows the scope and keeps txn, sub, aud and tctx', async () => {
    const old = await original();
    const tts = createTxnTokenClient({ fetch: await rig.fetchAs(`spiffe://${TD}/replacer`), tts: rig.tokenUrl, trustDomain: TD });
    const { txnToken } = await tts.replaceTxnToken(old, { scope: 'orders.read' });
    const before = await verifyTxnToken(old, verifyOptions());
    const after = await verifyTxnToken(txnToken, verifyOptions());
    expect(after.txn).toBe(before.txn);
    expect(after.sub).toBe(before.sub);
    expect(decodeJwt(txnToken).aud).toBe(TD);
    expect(after.scope).toEqual(['orders.read']);
    expect(after.tctx).toEqual({ action: 'BUY', qty: '100' });
    expect(after.reqWl).toBe(`spiffe://${TD}/replacer`);
    expect(after.exp).toBeLessThanOrEqual(before.exp);
  });
  it('keeps the scope by default', async () => {
    const old = await original();
    const tts = createTxnTokenClient({ fetch: await rig.fetchAs(`spiffe://${TD}/replacer`), tts: rig.tokenUrl, trustDomain: TD });
    const after = await verifyTxnToken((await tts.replaceTxnToken(old)).txnToken, verifyOptions());
    expect(after.scope).toEqual(['orders.read', 'orders.write']);
  });
  it('widening the scope → invalid_scope', async () => {
    const old = await original('orders.read');
    const tts = createTxnTokenClient({ fetch: await rig.fetchAs(`spiffe://${TD}/replacer`), tts: rig.tokenUrl, trustDomain: TD });
    const e = await tts.replaceTxnToken(old, { scope: 'orders.read orders.write' }).catch((x: unknown) => x);
    expect((e as TokenExchangeError).error).toBe('invalid_scope');
  });
  it('changing a tctx value → invalid_request', async () => {
    const old = await original();
    const tts = createTxnTokenClient({ fetch: await rig.fetchAs(`spiffe://${TD}/replacer`), tts: rig.tokenUrl, trustDomain: TD });
    const e = await tts.replaceTxnToken(old, { requestDetails: { qty: '1000' } }).catch((x: unknown) => x);
    expect((e as TokenExchangeError).error).toBe('invalid_request');
  });
  it('an expired Txn-Token → invalid_request', async () => {
    const { kid, privateKey, alg } = rig.keys.current();
    const iat = Math.floor(Date.now() / 1000) - 400;
    const old = await issueTxnToken(
      { aud: TD, sub: 'user-42', scope: 'orders.read', req_wl: GATEWAY, exp: iat + 300 },
      { privateKey, alg, kid, now: iat * 1000 },
    );
    const tts = createTxnTokenClient({ fetch: await rig.fetchAs(`spiffe://${TD}/replacer`), tts: rig.tokenUrl, trustDomain: TD });
    const e = await tts.replaceTxnToken(old).catch((x: unknown) => x);
    expect((e as TokenExchangeError).error).toBe('invalid_request');
  });
  it('a Txn-Token signed by another service → invalid_request', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await issueTxnToken(
      { aud: TD, sub: 'user-42', scope: 'orders.read', req_wl: GATEWAY },
      { privateKey, alg: 'ES256', kid: rig.keys.current().kid },
    );
    const tts = createTxnTokenClient({ fetch: await rig.fetchAs(`spiffe://${TD}/replacer`), tts: rig.tokenUrl, trustDomain: TD });
    const e = await tts.replaceTxnToken(forged).catch((x: unknown) => x);
    expect((e as TokenExchangeError).error).toBe('invalid_request');
  });
  it('a Txn-Token for another trust domain → invalid_request', async () => {
    const { kid, privateKey, alg } = rig.keys.current();
    const other = await issueTxnToken(
      { aud: 'other.example', sub: 'user-42', scope: 'orders.read', req_wl: GATEWAY },
      { privateKey, alg, kid },
    );
    const tts = createTxnTokenClient({ fetch: await rig.fetchAs(`spiffe://${TD}/replacer`), tts: rig.tokenUrl, trustDomain: TD });
    const e = await tts.replaceTxnToken(other).catch((x: unknown) => x);
    expect((e as TokenExchangeError).error).toBe('invalid_request');
  });
});

describe('external issuer keys by URL', () => {
  let jwksServer: Server;
  let jwksUrl: string;
  let failing = false;
  let remote: Rig;
  beforeAll(async () => {
    jwksServer = createServer((_req, res) => {
      if (failing) return void res.writeHead(500).end();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(rig.oauthJwks));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
    remote = await startRig({ subjectIssuers: [{ issuer: OAUTH_ISSUER, audience: OAUTH_AUDIENCE, keys: jwksUrl }] });
  });
  afterAll(async () => {
    await remote.close();
    await new Promise<void>((resolve) => jwksServer.close(() => resolve()));
  });

  async function remoteExchange(): Promise<Answer> {
    // Signed by the first rig's issuer key, which the JWKS server publishes.
    const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read' });
    const f = await remote.fetchAs(GATEWAY);
    const res = await f(remote.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: new URLSearchParams({
        grant_type: GRANT,
        requested_token_type: TXN_TYPE,
        audience: TD,
        scope: 'orders.read',
        subject_token: subject,
        subject_token_type: ACCESS,
      }).toString(),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  }

  it('verifies a subject against a fetched JWKS', async () => {
    expect((await remoteExchange()).status).toBe(200);
  });
  it('a JWKS endpoint that fails → 503 with Retry-After, not a client error', async () => {
    failing = true;
    try {
      const a = await (async () => {
        // A fresh service: nothing cached yet.
        const cold = await startRig({ subjectIssuers: [{ issuer: OAUTH_ISSUER, audience: OAUTH_AUDIENCE, keys: jwksUrl }] });
        try {
          const subject = await rig.accessToken({ sub: 'user-42', scope: 'orders.read' });
          const f = await cold.fetchAs(GATEWAY);
          const res = await f(cold.tokenUrl, {
            method: 'POST',
            headers: { 'content-type': FORM },
            body: new URLSearchParams({
              grant_type: GRANT,
              requested_token_type: TXN_TYPE,
              audience: TD,
              scope: 'orders.read',
              subject_token: subject,
              subject_token_type: ACCESS,
            }).toString(),
          });
          return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
        } finally {
          await cold.close();
        }
      })();
      expect(a.status).toBe(503);
      expect(a.headers.get('retry-after')).not.toBeNull();
      expect(a.body.code).toBe('trust_unavailable');
    } finally {
      failing = false;
    }
  });
});

describe('two instances on one data directory', () => {
  it('a Txn-Token issued by one instance is replaced by the other', async () => {
    const second = await startRig({}, rig.dataDir);
    try {
      const token = (await exchange({ scope: 'orders.read orders.write' })).body.access_token as string;
      const tts = createTxnTokenClient({ fetch: await second.fetchAs(`spiffe://${TD}/replacer`), tts: second.tokenUrl, trustDomain: TD });
      const { txnToken } = await tts.replaceTxnToken(token, { scope: 'orders.read' });
      expect(decodeJwt(txnToken).txn).toBe(decodeJwt(token).txn);
    } finally {
      await second.close();
    }
  });
});

describe('keys: persistent across a restart', () => {
  it('a second service on the same data directory publishes the key that signed earlier tokens', async () => {
    const token = (await exchange()).body.access_token as string;
    const restarted = await createKeyRing({ dataDir: rig.dataDir });
    const t = await verifyTxnToken(token, { trustDomain: TD, keys: restarted.jwks() });
    expect(t.sub).toBe('user-42');
  });
});
