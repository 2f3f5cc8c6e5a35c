/**
 * The conformance table: every target must answer each case exactly as written here.
 * One row = one request (or a pair, for replays) and the expected status, WWW-Authenticate,
 * media type and problem `code`.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { base64url, type JWK } from 'jose';
import { createWorkloadSigner, tokenHash } from '@wimse/core';
import { IDENTITY_JWK, IDENTITY_SIGNATURE, jwsWithSignature, rs256WithExponentOne, rsaExponentOneJwk } from '@wimse/test-support/forged';
import { ADMIN, AUDIENCE, CLIENT, TXN, craftTxnToken, craftWit, craftWpt, nowSeconds, wptHeaders, type Fixtures } from './fixtures.js';
import type { Fields, RawRequest } from './http.js';

export interface Expected {
  status: number;
  /** Exact `WWW-Authenticate`, or `undefined` when there must be none. */
  www?: string;
  /**
   * Media type of the response (parameters ignored). `null`: not compared, for the one case the HTTP
   * server answers before any adapter runs (Fastify writes JSON there, Node's own server nothing).
   */
  type: 'application/problem+json' | 'application/json' | null;
  /** `code` of the JSON body (problem or hooked). */
  code?: string;
  /** Exact `Connection` field, when it matters. */
  connection?: string;
  /** Further checks on a JSON success body. */
  body?: Record<string, unknown>;
}

export interface Case {
  name: string;
  /** Builds the request; called once per target, so tokens are fresh. */
  request: (f: Fixtures) => Promise<RawRequest>;
  /** Send the identical request this many times first (replay cases). */
  repeat?: number;
  expect: Expected;
}

const problem = (status: number, code: string): Expected => ({
  status,
  code,
  type: 'application/problem+json',
  ...(status === 401 ? { www: 'WPT' } : {}),
});
const ok = (body: Record<string, unknown>): Expected => ({ status: 200, type: 'application/json', body });
const asClient = { workload: CLIENT, trustDomain: 'example.org' };
const JSON_BODY = '{"order":42,"items":["a","b"]}';
const TEXT_BODY = 'order 42: a, b';
const BYTES_BODY = 'bytes\u0000\u00ff\u20ac';
/** One byte over every target's `maxBodyBytes` (the default, 1 MiB). */
const OVER_LIMIT_BODY = 'x'.repeat(1024 * 1024 + 1);
const OCTETS = { 'content-type': 'application/octet-stream' };
// RFC 9112 §9.6: the rest of the body is not read, so the connection is not kept for a next request.
const tooLarge: Expected = { ...problem(413, 'body_too_large'), connection: 'close' };
/** A compact JWS whose header segment is not JSON. */
const NOT_JSON_HEADER = `${base64url.encode('not json')}.${base64url.encode('{}')}.AAAA`;

const get = (path: string, headers: Fields = {}): RawRequest => ({ method: 'GET', path, headers });
/** GET `path` by the client with a WPT binding `txnToken` (tth). */
const txnGet = async (f: Fixtures, path: string, txnToken: string) => get(path, await wptHeaders(f.client, path, { txnToken }));
/** What principal.transaction shows for {@link craftTxnToken}'s token with scope `trade.stocks read`. */
const transaction = { txn: TXN.txn, sub: TXN.sub, reqWl: TXN.req_wl, scope: ['trade.stocks', 'read'], tctx: { action: 'BUY' } };
/** GET /whoami with the client's valid WIT and a WPT overridden by `o`. */
const withWpt = async (f: Fixtures, o: Parameters<typeof craftWpt>[2] = {}, extra: Fields = {}) =>
  get('/whoami', {
    'workload-identity-token': o.wit ?? f.client.wit,
    authorization: `WPT ${await craftWpt(f.client, '/whoami', o)}`,
    ...extra,
  });
/** GET /whoami with a WIT built by `craftWit` and a WPT that matches it. */
const withWit = async (f: Fixtures, o: Parameters<typeof craftWit>[2]) => withWpt(f, { wit: await craftWit(f, f.client, o) });
/** Signed with an HTTP message signature (http-signature-07). */
const signed = async (
  f: Fixtures,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
  now?: number,
): Promise<RawRequest> => {
  const all = body === undefined ? headers : { 'content-type': 'application/json', ...headers };
  const added = await f.client.signer.httpSigHeaders({
    method,
    url: AUDIENCE + path,
    headers: all,
    ...(body === undefined ? {} : { body }),
    ...(now === undefined ? {} : { now }),
  });
  return { method, path, headers: { ...all, ...added }, ...(body === undefined ? {} : { body }) };
};

export const cases: Case[] = [
  // Routes without authentication
  { name: 'public route, no credentials', request: async () => get('/health'), expect: ok({ status: 'ok' }) },
  { name: 'optional route, no credentials → no principal', request: async () => get('/optional'), expect: ok({ workload: null }) },
  {
    name: 'optional route, valid WPT → principal',
    request: async (f) => get('/optional', await wptHeaders(f.client, '/optional')),
    expect: ok({ ...asClient, method: 'wpt' }),
  },
  {
    name: 'optional route, invalid WPT → still rejected',
    request: async (f) => get('/optional', { 'workload-identity-token': f.client.wit, authorization: 'WPT not-a-jws' }),
    expect: problem(401, 'wpt_malformed'),
  },

  // Valid proofs
  {
    name: 'valid WPT',
    request: async (f) => get('/whoami', await wptHeaders(f.client, '/whoami')),
    expect: ok({ ...asClient, method: 'wpt' }),
  },
  {
    name: 'valid WPT, auth scheme in lower case',
    request: async (f) =>
      get('/whoami', { 'workload-identity-token': f.client.wit, authorization: `wpt ${await craftWpt(f.client, '/whoami')}` }),
    expect: ok({ ...asClient, method: 'wpt' }),
  },
  {
    name: 'valid WPT, query ignored by aud',
    request: async (f) => get('/whoami?page=2&x=%20y', await wptHeaders(f.client, '/whoami')),
    expect: ok({ ...asClient, method: 'wpt' }),
  },
  {
    name: 'valid WPT bound to a Txn-Token',
    request: async (f) => get('/whoami', await wptHeaders(f.client, '/whoami', { txnToken: await craftTxnToken(f, 'read') })),
    expect: ok({ ...asClient, transaction: { ...transaction, scope: ['read'] } }),
  },
  {
    name: 'valid WPT bound to a context token (oth)',
    request: async (f) => get('/whoami', await wptHeaders(f.client, '/whoami', { contextTokens: { 'x-user-context': 'u-1' } })),
    expect: ok({ ...asClient, method: 'wpt' }),
  },
  {
    name: 'valid WPT on POST: the app still parses the JSON body',
    request: async (f) => ({
      method: 'POST',
      path: '/echo',
      headers: { 'content-type': 'application/json', ...(await wptHeaders(f.client, '/echo')) },
      body: JSON_BODY,
    }),
    expect: ok({ ...asClient, body: JSON.parse(JSON_BODY) as unknown }),
  },
  {
    name: 'valid HTTP signature without a body',
    request: async (f) => signed(f, 'GET', '/whoami?page=2'),
    expect: ok({ ...asClient, method: 'http-sig' }),
  },
  {
    name: 'valid HTTP signature over a body: the app still parses it',
    request: async (f) => signed(f, 'POST', '/echo', JSON_BODY),
    expect: ok({ ...asClient, method: 'http-sig', body: JSON.parse(JSON_BODY) as unknown }),
  },
  {
    name: 'valid HTTP signature over a chunked JSON body',
    request: async (f) => ({ ...(await signed(f, 'POST', '/echo', JSON_BODY)), chunked: true }),
    expect: ok({ ...asClient, method: 'http-sig', body: JSON.parse(JSON_BODY) as unknown }),
  },
  {
    name: 'valid HTTP signature over a text/plain body',
    request: async (f) => signed(f, 'POST', '/echo', TEXT_BODY, { 'content-type': 'text/plain' }),
    expect: ok({ ...asClient, method: 'http-sig', body: TEXT_BODY }),
  },
  {
    name: 'valid HTTP signature over an application/octet-stream body',
    request: async (f) => signed(f, 'POST', '/echo', BYTES_BODY, OCTETS),
    expect: ok({ ...asClient, method: 'http-sig', body: BYTES_BODY }),
  },

  // No or conflicting credentials
  { name: 'no credentials', request: async () => get('/whoami'), expect: problem(401, 'credentials_missing') },
  {
    name: 'a Bearer token only',
    request: async () => get('/whoami', { authorization: 'Bearer abc.def.ghi' }),
    expect: problem(401, 'credentials_missing'),
  },
  {
    name: 'WIT without a proof',
    request: async (f) => get('/whoami', { 'workload-identity-token': f.client.wit }),
    expect: problem(401, 'wpt_missing'),
  },
  {
    name: 'WPT without a WIT',
    request: async (f) => get('/whoami', { authorization: `WPT ${await craftWpt(f.client, '/whoami')}` }),
    expect: problem(400, 'wit_missing'),
  },
  {
    name: 'WPT and HTTP signature together',
    request: async (f) => {
      const r = await signed(f, 'GET', '/whoami');
      return { ...r, headers: { ...r.headers, authorization: `WPT ${await craftWpt(f.client, '/whoami')}` } };
    },
    expect: problem(400, 'credentials_ambiguous'),
  },

  // WIT (workload-creds-02 §5.1.4) → 400
  {
    name: 'WIT sent twice',
    request: async (f) => withWpt(f, {}, { 'workload-identity-token': [f.client.wit, f.client.wit] }),
    expect: problem(400, 'wit_duplicate'),
  },
  { name: 'WIT not a JWS', request: async (f) => withWpt(f, { wit: 'not-a-token' }), expect: problem(400, 'wit_malformed') },
  {
    name: 'WIT longer than maxTokenLength (oversized field)',
    request: async (f) => withWpt(f, { wit: 'a'.repeat(9000) }),
    expect: problem(400, 'wit_too_large'),
  },
  { name: 'WIT header not JSON', request: async (f) => withWpt(f, { wit: NOT_JSON_HEADER }), expect: problem(400, 'wit_malformed') },
  { name: 'WIT with typ JWT', request: async (f) => withWit(f, { header: { typ: 'JWT' } }), expect: problem(400, 'wit_typ') },
  {
    name: 'WIT sub not a workload identifier',
    request: async (f) => withWit(f, { claims: { sub: 'https://example.org/client' } }),
    expect: problem(400, 'wit_sub_invalid'),
  },
  {
    name: 'WIT from an untrusted trust domain',
    request: async (f) => withWit(f, { claims: { sub: 'spiffe://evil.example/client' } }),
    expect: problem(400, 'wit_untrusted_domain'),
  },
  {
    name: 'WIT signed by an unknown kid',
    request: async (f) => withWit(f, { header: { kid: 'nope' } }),
    expect: problem(400, 'wit_key_unknown'),
  },
  {
    name: 'WIT signed by another key under the trusted kid',
    request: async (f) => withWit(f, { key: f.rogueKey }),
    expect: problem(400, 'wit_signature'),
  },
  {
    name: 'WIT signed with HS256',
    request: async (f) => withWit(f, { header: { alg: 'HS256' }, key: new Uint8Array(32).fill(7) }),
    expect: problem(400, 'wit_alg'),
  },
  { name: 'WIT expired', request: async (f) => withWit(f, { claims: { exp: nowSeconds() - 600 } }), expect: problem(400, 'wit_expired') },
  {
    name: 'WIT not yet valid',
    request: async (f) => withWit(f, { claims: { nbf: nowSeconds() + 600 } }),
    expect: problem(400, 'wit_not_yet_valid'),
  },
  {
    name: 'WIT lifetime too long',
    request: async (f) => withWit(f, { claims: { exp: nowSeconds() + 10 * 86_400 } }),
    expect: problem(400, 'wit_lifetime'),
  },
  { name: 'WIT without cnf', request: async (f) => withWit(f, { claims: { cnf: undefined } }), expect: problem(400, 'wit_cnf_invalid') },
  {
    name: 'WIT cnf.jwk with a private key',
    request: async (f) => withWit(f, { claims: { cnf: { jwk: { ...f.client.publicJwk, d: 'AAAA' } } } }),
    expect: problem(400, 'wit_cnf_invalid'),
  },
  {
    name: 'WIT issued in the future (iat)',
    request: async (f) => withWit(f, { claims: { iat: nowSeconds() + 600 } }),
    expect: problem(400, 'wit_not_yet_valid'),
  },
  // Degenerate confirmation keys: raw crypto accepts these proofs, made without any private key.
  {
    name: 'WPT forged for an Ed25519 identity-point cnf.jwk (R = identity, S = 0)',
    request: async (f) => forgedWpt(f, IDENTITY_JWK, () => IDENTITY_SIGNATURE),
    expect: problem(400, 'wit_cnf_invalid'),
  },
  {
    name: 'WPT forged for an RSA cnf.jwk with e = 1 (signature = PKCS#1 v1.5 encoding)',
    request: async (f) => forgedWpt(f, exponentOneJwk(), (i) => rs256WithExponentOne(i)),
    expect: problem(400, 'wit_cnf_invalid'),
  },
  {
    name: 'WPT signed by a 512-bit RSA cnf.jwk',
    request: async (f) => {
      const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 512 });
      return forgedWpt(f, { ...(publicKey.export({ format: 'jwk' }) as JWK), alg: 'RS256' }, (i) =>
        sign('sha256', Buffer.from(i), privateKey),
      );
    },
    expect: problem(400, 'wit_cnf_invalid'),
  },
  {
    name: 'HTTP signature forged for an Ed25519 identity-point cnf.jwk',
    request: async (f) => {
      const wit = await craftWit(f, f.client, { claims: { cnf: { jwk: IDENTITY_JWK } } });
      const signer = await createWorkloadSigner({ wit, privateKey: generateKeyPairSync('ed25519').privateKey });
      const headers = await signer.httpSigHeaders({ method: 'GET', url: `${AUDIENCE}/whoami` });
      return get('/whoami', {
        ...headers,
        signature: headers.signature!.replace(/:[^:]+:/, `:${Buffer.from(IDENTITY_SIGNATURE).toString('base64')}:`),
      });
    },
    expect: problem(400, 'wit_cnf_invalid'),
  },

  // WPT (wpt-02 §2) → 401 + WWW-Authenticate: WPT
  {
    name: 'Authorization sent twice',
    request: async (f) =>
      withWpt(f, {}, { authorization: [`WPT ${await craftWpt(f.client, '/whoami')}`, `WPT ${await craftWpt(f.client, '/whoami')}`] }),
    expect: problem(401, 'wpt_duplicate'),
  },
  {
    name: 'WPT not a JWS',
    request: async (f) => get('/whoami', { 'workload-identity-token': f.client.wit, authorization: 'WPT not-a-jws' }),
    expect: problem(401, 'wpt_malformed'),
  },
  {
    name: 'WPT header not JSON',
    request: async (f) => get('/whoami', { 'workload-identity-token': f.client.wit, authorization: `WPT ${NOT_JSON_HEADER}` }),
    expect: problem(401, 'wpt_malformed'),
  },
  {
    name: 'wpt-01 Workload-Proof-Token without the compatibility mode',
    request: async (f) =>
      get('/whoami', { 'workload-identity-token': f.client.wit, 'workload-proof-token': await craftWpt(f.client, '/whoami') }),
    expect: problem(401, 'wpt_missing'),
  },
  {
    name: 'WPT longer than maxTokenLength (oversized field)',
    request: async (f) => get('/whoami', { 'workload-identity-token': f.client.wit, authorization: `WPT ${'a'.repeat(9000)}` }),
    expect: problem(401, 'wpt_too_large'),
  },
  {
    name: 'WPT signed by another key',
    request: async (f) => withWpt(f, { key: f.admin.privateKey }),
    expect: problem(401, 'wpt_signature'),
  },
  {
    name: 'WPT alg differs from cnf.jwk.alg',
    request: async (f) => withWpt(f, { header: { alg: 'EdDSA' }, key: f.edKey }),
    expect: problem(401, 'wpt_alg_mismatch'),
  },
  { name: 'WPT with typ JWT', request: async (f) => withWpt(f, { header: { typ: 'JWT' } }), expect: problem(401, 'wpt_typ') },
  {
    name: 'WPT for another path',
    request: async (f) => withWpt(f, { claims: { aud: `${AUDIENCE}/admin` } }),
    expect: problem(401, 'wpt_aud'),
  },
  {
    name: 'WPT for another service',
    request: async (f) => withWpt(f, { claims: { aud: 'https://other.example.org/whoami' } }),
    expect: problem(401, 'wpt_aud'),
  },
  { name: 'WPT expired', request: async (f) => withWpt(f, { claims: { exp: nowSeconds() - 600 } }), expect: problem(401, 'wpt_expired') },
  {
    name: 'WPT expiring too far ahead',
    request: async (f) => withWpt(f, { claims: { exp: nowSeconds() + 3600 } }),
    expect: problem(401, 'wpt_exp_too_far'),
  },
  {
    name: 'WPT issued in the future (iat)',
    request: async (f) => withWpt(f, { claims: { iat: nowSeconds() + 600 } }),
    expect: problem(401, 'wpt_not_yet_valid'),
  },
  {
    name: 'WPT not yet valid (nbf)',
    request: async (f) => withWpt(f, { claims: { nbf: nowSeconds() + 600 } }),
    expect: problem(401, 'wpt_not_yet_valid'),
  },
  {
    name: 'WPT bound to another WIT (wth)',
    request: async (f) => withWpt(f, { claims: { wth: await tokenHash(f.admin.wit) } }),
    expect: problem(401, 'wpt_wth'),
  },
  { name: 'WPT without jti', request: async (f) => withWpt(f, { claims: { jti: undefined } }), expect: problem(401, 'wpt_claims') },
  {
    name: 'Txn-Token sent but not bound (tth)',
    request: async (f) => withWpt(f, {}, { 'txn-token': 'txn.token.value' }),
    expect: problem(401, 'wpt_tth'),
  },
  // txn-tokens-10 §12: "exactly one Txn-Token", checked before the proof.
  {
    name: 'Txn-Token sent twice',
    request: async (f) => withWpt(f, {}, { 'txn-token': ['txn.a', 'txn.b'] }),
    expect: problem(400, 'txn_token_duplicate'),
  },
  {
    name: 'oth member the service does not understand',
    request: async (f) => withWpt(f, { claims: { oth: { 'x-unknown': 'abc' } } }),
    expect: problem(401, 'wpt_oth'),
  },
  {
    name: 'WPT replayed',
    repeat: 1,
    request: async (f) => get('/whoami', await wptHeaders(f.client, '/whoami')),
    expect: problem(401, 'wpt_replay'),
  },

  // HTTP Message Signatures (http-signature-07 §3) and Content-Digest (RFC 9530) → 400
  {
    name: 'signature fields without the WIMSE tag',
    request: async (f) =>
      withHeaders(signed(f, 'GET', '/whoami'), (h) => ({
        'signature-input': String(h['signature-input']).replace('wimse-workload-to-workload', 'other'),
      })),
    expect: problem(400, 'sig_missing'),
  },
  {
    name: 'Signature-Input not a dictionary',
    request: async (f) =>
      withHeaders(signed(f, 'GET', '/whoami'), () => ({ 'signature-input': '("@method");tag="wimse-workload-to-workload"' })),
    expect: problem(400, 'sig_malformed'),
  },
  {
    name: 'signature for another path',
    request: async (f) => ({ ...(await signed(f, 'GET', '/admin')), path: '/whoami' }),
    expect: problem(400, 'sig_aud'),
  },
  {
    name: 'signature bytes tampered',
    request: async (f) =>
      withHeaders(signed(f, 'GET', '/whoami'), (h) => ({
        signature: String(h.signature).replace(/:(.)/, (_m, c: string) => `:${c === 'A' ? 'B' : 'A'}`),
      })),
    expect: problem(400, 'sig_invalid'),
  },
  {
    name: 'signature expired',
    request: async (f) => signed(f, 'GET', '/whoami', undefined, {}, Date.now() - 600_000),
    expect: problem(400, 'sig_expired'),
  },
  {
    name: 'signature created in the future',
    request: async (f) => signed(f, 'GET', '/whoami', undefined, {}, Date.now() + 600_000),
    expect: problem(400, 'sig_not_yet_valid'),
  },
  {
    name: 'Content-Type sent but not covered',
    request: async (f) => withHeaders(signed(f, 'GET', '/whoami'), () => ({ 'content-type': 'text/plain' })),
    expect: problem(400, 'sig_components'),
  },
  { name: 'signature nonce replayed', repeat: 1, request: async (f) => signed(f, 'GET', '/whoami'), expect: problem(400, 'sig_replay') },
  {
    name: 'body changed after signing',
    request: async (f) => ({ ...(await signed(f, 'POST', '/echo', JSON_BODY)), body: JSON_BODY.replace('42', '43') }),
    expect: problem(400, 'digest_mismatch'),
  },
  {
    name: 'malformed Content-Digest',
    request: async (f) => withHeaders(signed(f, 'POST', '/echo', JSON_BODY), () => ({ 'content-digest': 'sha-256="abc"' })),
    expect: problem(400, 'digest_malformed'),
  },
  {
    name: 'signed body without Content-Digest',
    request: async (f) => ({ ...(await signed(f, 'POST', '/echo', undefined, { 'content-type': 'application/json' })), body: JSON_BODY }),
    expect: problem(400, 'digest_missing'),
  },

  // Body bound (maxBodyBytes, default 1 MiB): 413 after reading at most the limit, however the body is framed.
  // Bytes, not JSON: Nest on Express parses JSON itself before any middleware (100 kB by default).
  {
    name: 'signed chunked body over maxBodyBytes',
    request: async (f) => ({ ...(await signed(f, 'POST', '/echo', OVER_LIMIT_BODY, OCTETS)), chunked: true }),
    expect: tooLarge,
  },
  {
    name: 'signed body with a Content-Length over maxBodyBytes',
    request: async (f) => signed(f, 'POST', '/echo', OVER_LIMIT_BODY, OCTETS),
    expect: tooLarge,
  },
  {
    name: 'unauthenticated chunked body under a bare Signature-Input, over maxBodyBytes',
    request: async () => ({
      method: 'POST',
      path: '/echo',
      headers: { ...OCTETS, 'signature-input': 'x=()' },
      body: OVER_LIMIT_BODY,
      chunked: true,
    }),
    expect: tooLarge,
  },

  // Route policy
  {
    name: 'admin route, allowed workload',
    request: async (f) => get('/admin', await wptHeaders(f.admin, '/admin')),
    expect: ok({ workload: ADMIN, method: 'wpt' }),
  },
  {
    name: 'admin route, other workload → 403',
    request: async (f) => get('/admin', await wptHeaders(f.client, '/admin')),
    expect: problem(403, 'forbidden'),
  },
  { name: 'admin route, no credentials → 401', request: async () => get('/admin'), expect: problem(401, 'credentials_missing') },

  // Error hook
  {
    name: 'error hook reshapes the response',
    request: async () => get('/hooked/whoami'),
    expect: { status: 401, www: 'WPT', type: 'application/json', code: 'credentials_missing' },
  },
  {
    name: 'error hook route, valid WPT',
    request: async (f) => get('/hooked/whoami', await wptHeaders(f.client, '/hooked/whoami')),
    expect: ok({ ...asClient, method: 'wpt' }),
  },

  // Bad input the server itself refuses: a 4xx, never a 5xx.
  {
    name: 'header block beyond the server limit',
    request: async (f) => get('/whoami', { 'workload-identity-token': f.client.wit, 'x-padding': 'p'.repeat(20_000) }),
    expect: { status: 431, type: null },
  },

  // Txn-Tokens (txn-tokens-10 §12.2) and the route vocabulary's scope (403 insufficient_scope, RFC 6750 §3.1)
  {
    name: 'scope route, Txn-Token granting the scope → 200 with principal.transaction',
    request: async (f) => txnGet(f, '/trade', await craftTxnToken(f, 'trade.stocks read')),
    expect: ok({ ...asClient, transaction }),
  },
  {
    name: 'scope route, Txn-Token covered by an HTTP signature → 200',
    request: async (f) => signed(f, 'GET', '/trade', undefined, { 'txn-token': await craftTxnToken(f, 'trade.stocks') }),
    expect: ok({ ...asClient, method: 'http-sig', transaction: { ...transaction, scope: ['trade.stocks'] } }),
  },
  {
    name: 'scope route, Txn-Token without the scope → 403 insufficient_scope',
    request: async (f) => txnGet(f, '/trade', await craftTxnToken(f, 'read')),
    expect: problem(403, 'insufficient_scope'),
  },
  {
    name: 'scope route, scope only as a prefix → 403 insufficient_scope',
    request: async (f) => txnGet(f, '/trade', await craftTxnToken(f, 'trade')),
    expect: problem(403, 'insufficient_scope'),
  },
  {
    name: 'scope route, no Txn-Token → 403 insufficient_scope',
    request: async (f) => get('/trade', await wptHeaders(f.client, '/trade')),
    expect: problem(403, 'insufficient_scope'),
  },
  { name: 'scope route, no credentials → 401', request: async () => get('/trade'), expect: problem(401, 'credentials_missing') },
  {
    name: 'scope and allow route, admin with the scope → 200',
    request: async (f) =>
      get('/trade/admin', await wptHeaders(f.admin, '/trade/admin', { txnToken: await craftTxnToken(f, 'trade.stocks') })),
    expect: ok({ workload: ADMIN }),
  },
  {
    name: 'scope and allow route, admin without the scope → 403 insufficient_scope',
    request: async (f) => get('/trade/admin', await wptHeaders(f.admin, '/trade/admin', { txnToken: await craftTxnToken(f, 'read') })),
    expect: problem(403, 'insufficient_scope'),
  },
  {
    name: 'scope and allow route, other workload with the scope → 403 forbidden',
    request: async (f) => txnGet(f, '/trade/admin', await craftTxnToken(f, 'trade.stocks')),
    expect: problem(403, 'forbidden'),
  },
  {
    name: 'Txn-Token expired → 400',
    request: async (f) =>
      txnGet(f, '/trade', await craftTxnToken(f, 'trade.stocks', { claims: { iat: nowSeconds() - 300, exp: nowSeconds() - 120 } })),
    expect: problem(400, 'txn_token_expired'),
  },
  {
    name: 'Txn-Token for another trust domain → 400',
    request: async (f) => txnGet(f, '/trade', await craftTxnToken(f, 'trade.stocks', { claims: { aud: 'other.example' } })),
    expect: problem(400, 'txn_token_audience'),
  },
  {
    name: 'Txn-Token with typ JWT → 400',
    request: async (f) => txnGet(f, '/trade', await craftTxnToken(f, 'trade.stocks', { header: { typ: 'JWT' } })),
    expect: problem(400, 'txn_token_typ'),
  },
  {
    name: 'Txn-Token signed by another key → 400',
    request: async (f) => txnGet(f, '/trade', await craftTxnToken(f, 'trade.stocks', { key: f.rogueKey })),
    expect: problem(400, 'txn_token_signature'),
  },
  {
    name: 'Txn-Token without req_wl → 400',
    request: async (f) => txnGet(f, '/trade', await craftTxnToken(f, 'trade.stocks', { claims: { req_wl: undefined } })),
    expect: problem(400, 'txn_token_claims'),
  },
  {
    name: 'Txn-Token not a JWS → 400',
    request: async (f) => txnGet(f, '/whoami', 'txn.token.value'),
    expect: problem(400, 'txn_token_malformed'),
  },
  {
    name: 'Txn-Token invalid on an optional route → still 400',
    request: async (f) => txnGet(f, '/optional', 'txn.token.value'),
    expect: problem(400, 'txn_token_malformed'),
  },
  {
    name: 'Txn-Token beyond maxTokenLength → 400 before any verification',
    request: async (f) => withWpt(f, {}, { 'txn-token': `${'a'.repeat(4100)}.${'b'.repeat(4100)}.c` }),
    expect: problem(400, 'txn_token_too_large'),
  },
];

/** GET /whoami with a WIT binding `cnf` (signed by the trusted issuer) and a WPT whose signature bytes come from `signature`. */
async function forgedWpt(f: Fixtures, cnf: JWK, signature: (signingInput: string) => Uint8Array): Promise<RawRequest> {
  const wit = await craftWit(f, f.client, { claims: { cnf: { jwk: cnf } } });
  const claims = {
    aud: `${AUDIENCE}/whoami`,
    exp: nowSeconds() + 60,
    jti: base64url.encode(crypto.getRandomValues(new Uint8Array(16))),
    wth: await tokenHash(wit),
  };
  return get('/whoami', {
    'workload-identity-token': wit,
    authorization: `WPT ${jwsWithSignature({ alg: cnf.alg, typ: 'wpt+jwt' }, claims, signature)}`,
  });
}

// One e = 1 key for every target (generating a 2048-bit modulus is slow).
let exponentOne: JWK | undefined;
const exponentOneJwk = () => (exponentOne ??= rsaExponentOneJwk());

async function withHeaders(request: Promise<RawRequest>, change: (h: Fields) => Fields): Promise<RawRequest> {
  const r = await request;
  const headers = r.headers ?? {};
  return { ...r, headers: { ...headers, ...change(headers) } };
}
