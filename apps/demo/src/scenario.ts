/**
 * The scripted client of `pnpm demo`: what a person would try against a trust domain, as table
 * rows of expected versus observed outcomes. Shared by the demo command and its CI test.
 */
import { attestedCredentials, standInPlatformToken } from '@wimse/demo-kit';
import {
  TOKEN_TYPES,
  TokenExchangeError,
  createTxnTokenClient,
  createWimseFetch,
  isWimseError,
  issueTxnToken,
  type WimseFetch,
  type WimseFetchOptions,
} from '@wimse/core';
import { SignJWT, generateKeyPair } from 'jose';
import { openMtlsClient, type MtlsClient, type MtlsResponse } from './mtls-client.js';
import { SERVICES, type MtlsStack, type ServiceName, type Stack } from './stack.js';
import { ORDERS_API } from './stand-in-user-issuer.js';

export interface Row {
  service: string;
  check: string;
  proof: string;
  expected: string;
  got: string;
  ok: boolean;
}

type Body = Record<string, unknown> | null;

/** The checks each service gets (over mTLS too, when the stack has it), then the relay chains across all four. */
export async function runScenario(stack: Stack): Promise<Row[]> {
  const client = workloadFetch(stack, 'client');
  const admin = workloadFetch(stack, 'admin');
  const responseTrust = { trustDomains: { [stack.trustDomain]: { keys: `${stack.identityUrl}/.well-known/jwks.json` } } };
  const verifying = workloadFetch(stack, 'client', { responseTrust });
  // A man in the middle that removes the response signature: the deletion §3.5 protects against.
  const stripping = workloadFetch(stack, 'client', {
    responseTrust,
    fetch: (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await fetch(input, init);
      const headers = new Headers(res.headers);
      for (const name of ['signature', 'signature-input', 'workload-identity-token']) headers.delete(name);
      return new Response(await res.arrayBuffer(), { status: res.status, headers });
    }) as typeof fetch,
  });
  // The user alice may read and write orders; this transaction needs reading only (§13.6).
  const accessToken = await stack.userIssuer.accessToken({ sub: USER, scope: 'orders:read orders:write' });
  const tts = createTxnTokenClient({ fetch: client, tts: `${stack.ttsUrl}/token`, trustDomain: stack.trustDomain });
  const { txnToken } = await tts.fetchTxnToken({
    scope: 'orders:read',
    subjectToken: accessToken,
    subjectTokenType: TOKEN_TYPES.access_token,
  });
  const tls =
    stack.mtls === undefined
      ? undefined
      : { client: await openMtlsClient(stack.mtls.dir('client')), other: await openMtlsClient(stack.mtls.dir('other-client')) };
  const rows: Row[] = [];
  try {
    for (const service of SERVICES) {
      await serviceChecks(stack, service, client, admin, rows);
      await scopeChecks(stack, service, client, txnToken, rows);
      await signedResponseChecks(stack, service, verifying, stripping, rows);
      if (tls !== undefined) await mtlsChecks(stack, stack.mtls!, service, tls, rows);
    }
  } finally {
    tls?.client.close();
    tls?.other.close();
  }

  const chain = SERVICES.map((s) => stack.urls[s]);
  await row(rows, 'express→…→nestjs', 'relay chain', 'WPT', `200 ${chainPath(['client', ...SERVICES])}`, () =>
    relayChain(client, chain, {}),
  );
  await row(rows, 'express→…→nestjs', 'relay chain with a Txn-Token', 'HTTP-Sig', `200 ${chainPath(['client', ...SERVICES])} +txn`, () =>
    relayChain(client, chain, { proof: 'http-sig', txnToken }),
  );
  await transactionChecks(stack, client, accessToken, txnToken, rows);
  await attestationChecks(stack, rows);
  return rows;
}

/** The user of the demo, as the stand-in user issuer names her (the Txn-Tokens' `sub`). */
const USER = 'alice';

/** txn-tokens-10 §12.2 at every service: a route's scope is checked against the verified Txn-Token. */
async function scopeChecks(stack: Stack, service: ServiceName, client: WimseFetch, txnToken: string, rows: Row[]): Promise<void> {
  const url = `${stack.urls[service]}/orders`;
  const at = (check: string, proof: string, expected: string, got: () => Promise<string>) =>
    row(rows, service, check, proof, expected, got);
  await at('GET /orders, Txn-Token with orders:read', 'WPT', `200 ${USER}, orders:read`, async () => {
    const { status, body } = await call(client(url, { wimse: { txnToken } }));
    return status === 200 ? `200 ${transactionOf(body)}` : problemOf(status, body);
  });
  await at('GET /orders without a Txn-Token', 'WPT', '403 insufficient_scope', async () => {
    const { status, body } = await call(client(url));
    return problemOf(status, body);
  });
  await at('POST /orders (needs orders:write)', 'HTTP-Sig', '403 insufficient_scope', async () => {
    const { status, body } = await call(
      client(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"item":"demo widget"}',
        wimse: { proof: 'http-sig', txnToken },
      }),
    );
    return problemOf(status, body);
  });
}

/**
 * The call chain of txn-tokens-10 §2 (Figure 1): a user's request with an access token enters at
 * the edge (express), which gets a Txn-Token from the Txn-Token service; the Txn-Token goes with
 * every call down the chain. And what the receivers and the service refuse.
 */
async function transactionChecks(stack: Stack, client: WimseFetch, accessToken: string, txnToken: string, rows: Row[]): Promise<void> {
  const edge = stack.urls.express;
  const rest = SERVICES.filter((s) => s !== 'express').map((s) => stack.urls[s]);
  const edgeUrl = `${edge}/edge/orders?${rest.map((r) => `to=${encodeURIComponent(r)}`).join('&')}`;
  const user = 'user→express→…→nestjs';
  await row(
    rows,
    user,
    'user request with an access token',
    'Bearer',
    `200 ${chainPath(['user', ...SERVICES])}: ${USER}, orders:read`,
    async () => {
      const { status, body } = await call(fetch(edgeUrl, { headers: { authorization: `Bearer ${accessToken}` } }));
      return status === 200 ? walkChain(body, 'bearer') : problemOf(status, body);
    },
  );
  await row(rows, user, 'access token from an unknown issuer', 'Bearer', '401 access_token_invalid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ scope: 'orders:read' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
      .setIssuer('http://127.0.0.1:9/unknown-idp')
      .setSubject(USER)
      .setAudience(ORDERS_API)
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(privateKey);
    const { status, body } = await call(fetch(edgeUrl, { headers: { authorization: `Bearer ${forged}` } }));
    return problemOf(status, body);
  });

  const whoami = `${stack.urls.express}/whoami`;
  const receiver = 'express (Txn-Token receiver)';
  await row(rows, receiver, 'Txn-Token with its scope changed', 'WPT', '400 txn_token_signature', async () => {
    // Same header and signature, a payload that grants more: the Txn-Token service never signed it.
    const [header, payload, signature] = txnToken.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'orders:read orders:write' })).toString('base64url');
    const { status, body } = await call(client(whoami, { wimse: { txnToken: `${header}.${widened}.${signature}` } }));
    return problemOf(status, body);
  });
  await row(rows, receiver, 'Txn-Token from the other.example service', 'WPT', '400 txn_token_key_unknown', async () => {
    // Well formed, signed by another trust domain's Txn-Token service, whose keys nobody here trusts.
    const { privateKey } = await generateKeyPair('ES256');
    const foreign = await issueTxnToken(
      { aud: 'other.example', sub: USER, scope: 'orders:read', req_wl: 'spiffe://other.example/gateway' },
      { privateKey, alg: 'ES256', kid: 'other-tts' },
    );
    const { status, body } = await call(client(whoami, { wimse: { txnToken: foreign } }));
    return problemOf(status, body);
  });
  await row(rows, 'Txn-Token service', 'replacement asking for orders:write too', 'WPT', 'refused: invalid_scope', async () => {
    // §13.15: a replacement may narrow the scope, never widen it.
    const tts = createTxnTokenClient({ fetch: client, tts: `${stack.ttsUrl}/token`, trustDomain: stack.trustDomain });
    return refusal(() => tts.replaceTxnToken(txnToken, { scope: 'orders:read orders:write' }));
  });
}

/** Attested WIT issuance refuses platform tokens it must not trust. */
async function attestationChecks(stack: Stack, rows: Row[]): Promise<void> {
  const exchange = (platformToken: () => Promise<string>) =>
    refusal(() => attestedCredentials({ identityUrl: stack.identityUrl, platformToken })());
  await row(rows, 'identity server', 'platform token for another audience', '-', 'refused: invalid_request', () =>
    exchange(
      standInPlatformToken({
        platformUrl: stack.platformUrl,
        namespace: 'demo',
        serviceAccount: 'client',
        audience: 'https://other-service.example.org',
      }),
    ),
  );
  await row(rows, 'identity server', 'platform token from an unknown issuer', '-', 'refused: invalid_request', () =>
    exchange(async () => {
      const { privateKey } = await generateKeyPair('RS256');
      return new SignJWT({ kubernetes: { namespace: 'demo', serviceaccount: { name: 'client' } } })
        .setProtectedHeader({ alg: 'RS256', kid: 'unknown' })
        .setIssuer('http://127.0.0.1:9/unknown-platform')
        .setSubject('system:serviceaccount:demo:client')
        .setAudience(stack.identityUrl)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
    }),
  );
}

// A token endpoint's refusal as `refused: <RFC 6749 error>`, or what happened instead.
async function refusal(attempt: () => Promise<unknown>): Promise<string> {
  try {
    await attempt();
    return 'accepted';
  } catch (e) {
    return e instanceof TokenExchangeError ? `refused: ${e.error}` : `error: ${e instanceof Error ? e.message : String(e)}`;
  }
}

// `alice, orders:read` from an /orders answer's verified transaction.
function transactionOf(body: Body): string {
  const t = body?.transaction as { sub?: unknown; scope?: unknown } | null | undefined;
  return t == null ? 'no transaction' : `${String(t.sub)}, ${Array.isArray(t.scope) ? t.scope.join(' ') : String(t.scope)}`;
}

async function serviceChecks(stack: Stack, service: ServiceName, client: WimseFetch, admin: WimseFetch, rows: Row[]): Promise<void> {
  const base = stack.urls[service];
  const at = (check: string, proof: string, expected: string, got: () => Promise<string>) =>
    row(rows, service, check, proof, expected, got);

  await at('GET /whoami', 'WPT', '200 client (wpt)', async () => {
    const { status, body } = await call(client(`${base}/whoami`));
    return status === 200 ? `200 ${short(body?.workload)} (${String(body?.method)})` : problemOf(status, body);
  });

  await at('POST /echo with a JSON body', 'HTTP-Sig', '200 body echoed', async () => {
    const sent = { from: 'pnpm demo', service, n: 42 };
    const { status, body } = await call(
      client(`${base}/echo`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(sent),
        wimse: { proof: 'http-sig' },
      }),
    );
    return status === 200
      ? `200 ${JSON.stringify(body) === JSON.stringify(sent) ? 'body echoed' : 'different body'}`
      : problemOf(status, body);
  });

  await at('same request sent twice', 'WPT', '200, then 401 wpt_replay', async () => {
    const headers = await (await client.signer()).wptHeaders({ url: `${base}/whoami` });
    const first = await call(fetch(`${base}/whoami`, { headers }));
    const second = await call(fetch(`${base}/whoami`, { headers }));
    return `${first.status}, then ${problemOf(second.status, second.body)}`;
  });

  await at('GET /admin as client', 'WPT', '403 forbidden', async () => {
    const { status, body } = await call(client(`${base}/admin`));
    return problemOf(status, body);
  });

  await at('GET /admin as admin', 'WPT', '200 admin', async () => {
    const { status, body } = await call(admin(`${base}/admin`));
    return status === 200 && body?.admin === true ? `200 ${short(body.workload)}` : problemOf(status, body);
  });

  await at('body changed after signing', 'HTTP-Sig', '400 digest_mismatch', async () => {
    const url = `${base}/echo`;
    const signed = JSON.stringify({ amount: 10 });
    const headers = { 'content-type': 'application/json' };
    const added = await (await client.signer()).httpSigHeaders({ method: 'POST', url, headers, body: signed });
    const { status, body } = await call(
      fetch(url, { method: 'POST', headers: { ...headers, ...added }, body: JSON.stringify({ amount: 10_000 }) }),
    );
    return problemOf(status, body);
  });
}

/**
 * http-signature-07 §3.5: a request asking for a signed response (`wimse-sign-response`) gets one,
 * signed with the service's own WIT, success and error alike; the client verifies it, checks who
 * signed, and refuses the response once its signature has been stripped in flight.
 */
async function signedResponseChecks(
  stack: Stack,
  service: ServiceName,
  verifying: WimseFetch,
  stripping: WimseFetch,
  rows: Row[],
): Promise<void> {
  const base = stack.urls[service];
  const expectResponder = serviceWorkload(stack, service);
  const at = (check: string, expected: string, got: () => Promise<string>) => row(rows, service, check, 'HTTP-Sig', expected, got);
  const signedBy = async (path: string) => {
    const res = await verifying(`${base}${path}`, { wimse: { proof: 'http-sig', signResponse: true, expectResponder } });
    const { status, body } = await call(Promise.resolve(res));
    return `${problemOf(status, body)} signed by ${short(verifying.responder(res)?.workload)}`;
  };

  await at('signed response verified by the client', `200 signed by ${service}`, () => signedBy('/whoami'));
  await at('signed 403 verified by the client', `403 forbidden signed by ${service}`, () => signedBy('/admin'));
  await at('signature stripped in flight', 'refused: sig_response', async () => {
    try {
      const res = await stripping(`${base}/whoami`, { wimse: { proof: 'http-sig', signResponse: true } });
      return `accepted ${res.status}`;
    } catch (e) {
      return isWimseError(e) ? `refused: ${e.code}` : `error: ${e instanceof Error ? e.message : String(e)}`;
    }
  });
}

/**
 * mutual-tls-02 §3.2 on a service's HTTPS port: the client certificate alone authenticates the
 * caller (method `mtls`), route policies apply to it as to any proof, and a certificate of a trust
 * domain the service has no CA bundle for is refused. The services validate client certificate
 * paths at the handshake (`rejectUnauthorized: true`), so that refusal is a TLS alert; with
 * WIMSE_MTLS_REJECT_UNAUTHORIZED=false it would be a 400 problem with a stable code.
 */
async function mtlsChecks(
  stack: Stack,
  mtls: MtlsStack,
  service: ServiceName,
  tls: { client: MtlsClient; other: MtlsClient },
  rows: Row[],
): Promise<void> {
  const base = mtls.urls[service];
  const server = serviceWorkload(stack, service);
  const at = (check: string, expected: string, got: () => Promise<string>) => row(rows, service, check, 'mTLS', expected, got);

  await at('GET /whoami over mTLS', '200 client (mtls)', async () => {
    const { status, body } = await tls.client.get(`${base}/whoami`, server);
    return status === 200 ? `200 ${short(body?.workload)} (${String(body?.method)})` : problemOf(status, body);
  });
  await at('GET /admin over mTLS as client', '403 forbidden', async () => {
    const { status, body } = await tls.client.get(`${base}/admin`, server);
    return problemOf(status, body);
  });
  await at('certificate from the other.example CA', TLS_ALERT, () => refusedOr(tls.other.get(`${base}/whoami`, server)));
}

/**
 * mTLS across all four services: an impostor certificate, then credential rotation on disk while
 * everything runs — the client's files (its agents follow) and each service's files (its HTTPS
 * server swaps its secure context) — with calls succeeding throughout.
 */
export async function runMtlsRotation(stack: Stack): Promise<Row[]> {
  const mtls = stack.mtls;
  if (mtls === undefined) return [];
  const rows: Row[] = [];
  const all = 'all four';
  const client = await openMtlsClient(mtls.dir('client'));
  const impostor = await openMtlsClient(mtls.dir('impostor'));
  const each = (check: (service: ServiceName) => Promise<string>) => async () => {
    const got = await Promise.all(SERVICES.map(check));
    return new Set(got).size === 1 ? `${got[0]} ×${got.length}` : got.join(', ');
  };
  const whoami = (c: MtlsClient, service: ServiceName) => c.get(`${mtls.urls[service]}/whoami`, serviceWorkload(stack, service));
  try {
    // Chains to other.example's CA, yet names an example.org workload: a CA of one trust domain cannot vouch for another's.
    await row(
      rows,
      all,
      'example.org identity from the other.example CA',
      'mTLS',
      `${TLS_ALERT} ×4`,
      each((s) => refusedOr(whoami(impostor, s))),
    );

    await row(rows, all, 'client certificate rotated on disk', 'mTLS', '200 client, new certificate ×4', async () => {
      const reloaded = client.nextReload();
      const fresh = await mtls.reissue('client');
      await reloaded;
      return each(async (s) => {
        const { status, body } = await whoami(client, s);
        if (status !== 200) return problemOf(status, body);
        return `200 ${short(body?.workload)}, ${String(body?.certificateSerial).toLowerCase() === fresh.serialNumber ? 'new' : 'old'} certificate`;
      })();
    });

    await row(
      rows,
      all,
      'service certificates rotated on disk',
      'mTLS',
      '200 from the new certificate ×4',
      each(async (s) => {
        const fresh = await mtls.reissue(`${s}-demo`);
        // The service notices the files by itself; new handshakes then get the new certificate.
        const res = await until(
          () => whoami(client, s),
          (r) => r.serverSerial === fresh.serialNumber,
        );
        return res.status === 200
          ? `200 from the ${res.serverSerial === fresh.serialNumber ? 'new' : 'old'} certificate`
          : problemOf(res.status, res.body);
      }),
    );
  } finally {
    client.close();
    impostor.close();
  }
  return rows;
}

/** What a client sees when the server refuses its certificate at the handshake. */
const TLS_ALERT = 'TLS handshake refused';

// The problem code of an answer, or TLS_ALERT when there was no answer because the handshake failed.
async function refusedOr(response: Promise<MtlsResponse>): Promise<string> {
  try {
    const { status, body } = await response;
    return problemOf(status, body);
  } catch (e) {
    if (/^(ERR_SSL_|ECONNRESET$)/.test(String((e as { code?: unknown }).code))) return TLS_ALERT;
    throw e;
  }
}

// Calls until `done` holds (or 10 s have passed); returns the last response.
async function until(call: () => Promise<MtlsResponse>, done: (r: MtlsResponse) => boolean): Promise<MtlsResponse> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await call();
    if (done(r) || Date.now() > deadline) return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function serviceWorkload(stack: Stack, service: ServiceName): string {
  return `spiffe://${stack.trustDomain}/${service}-demo`;
}

/**
 * Key rotation while the services run: a new issuer key is published and used, WITs of the old
 * key keep working until it is retired, then they are rejected, and clients that renew carry on.
 * Needs services whose JWKS and WIT caches are off (or short): see `ROTATION_ENV`.
 */
export async function runRotation(stack: Stack): Promise<Row[]> {
  const rows: Row[] = [];
  const all = 'all four';
  const bases = SERVICES.map((s) => stack.urls[s]);
  const chain = bases;
  // Credentials obtained before the rotation, signed by the first key.
  const pinned = workloadFetch(stack, 'client', { retryOnWitRejection: false });
  const renewing = workloadFetch(stack, 'client');
  await pinned.signer();
  await renewing.signer();
  await relayChain(renewing, chain, {}); // the services now hold WITs of the first key too
  const [oldKid] = await kids(stack);

  await row(rows, 'identity server', 'rotate: publish and sign with a new key', '-', '201, 2 keys published', async () => {
    const res = await fetch(`${stack.identityUrl}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    return `${res.status}, ${(await kids(stack)).length} keys published`;
  });
  await row(rows, all, 'WIT of the old key, during rotation', 'WPT', '200 ×4', () => statuses(pinned, bases));
  const fresh = workloadFetch(stack, 'client');
  await row(rows, all, 'WIT of the new key', 'WPT', '200 ×4', () => statuses(fresh, bases));
  await row(rows, 'identity server', 'retire the old key', '-', '200, 1 key published', async () => {
    const res = await fetch(`${stack.identityUrl}/admin/keys/${encodeURIComponent(oldKid ?? '')}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    return `${res.status}, ${(await kids(stack)).length} key${(await kids(stack)).length === 1 ? '' : 's'} published`;
  });
  await row(rows, all, 'WIT of the retired key', 'WPT', '400 wit_key_unknown ×4', () => statuses(pinned, bases));
  await row(rows, all, 'client that renews when its WIT is refused', 'WPT', '200 ×4', () => statuses(renewing, bases));
  await row(rows, 'express→…→nestjs', 'relay chain (services renew too)', 'HTTP-Sig', `200 ${chainPath(['client', ...SERVICES])}`, () =>
    relayChain(fresh, chain, { proof: 'http-sig' }),
  );
  return rows;
}

/** Service settings that make a retired key visible at once (no JWKS or WIT caching). */
export const ROTATION_ENV = { WIMSE_JWKS_MAX_AGE_MS: '0', WIMSE_WIT_CACHE_SECONDS: '0' };

/** A client as `workload`: its WIT by token exchange of a stand-in service account token (namespace `demo`). */
export function workloadFetch(stack: Stack, workload: string, extra: Partial<WimseFetchOptions> = {}): WimseFetch {
  const platformToken = standInPlatformToken({
    platformUrl: stack.platformUrl,
    namespace: 'demo',
    serviceAccount: workload,
    audience: stack.identityUrl,
  });
  return createWimseFetch({ credentials: attestedCredentials({ identityUrl: stack.identityUrl, platformToken }), ...extra });
}

export async function row(
  rows: Row[],
  service: string,
  check: string,
  proof: string,
  expected: string,
  got: () => Promise<string>,
): Promise<void> {
  let observed: string;
  try {
    observed = await got();
  } catch (e) {
    observed = `error: ${e instanceof Error ? e.message : String(e)}`;
  }
  rows.push({ service, check, proof, expected, got: observed, ok: observed === expected });
}

export async function call(response: Promise<Response>): Promise<{ status: number; body: Body }> {
  const res = await response;
  const body = (await res.json().catch(() => null)) as Body;
  return { status: res.status, body };
}

export function problemOf(status: number, body: Body): string {
  return typeof body?.code === 'string' ? `${status} ${body.code}` : String(status);
}

// spiffe://example.org/express-demo → express
function short(id: unknown): string {
  return String(id)
    .replace(/^spiffe:\/\/[^/]+\//, '')
    .replace(/-demo$/, '');
}

function chainPath(names: readonly string[]): string {
  return names.join('→');
}

async function relayChain(f: WimseFetch, chain: string[], wimse: { proof?: 'wpt' | 'http-sig'; txnToken?: string }): Promise<string> {
  const [first, ...rest] = chain;
  const { status, body } = await call(f(`${first}/relay?${rest.map((r) => `to=${encodeURIComponent(r)}`).join('&')}`, { wimse }));
  if (status !== 200) return problemOf(status, body);
  return walkChain(body, wimse.proof ?? 'wpt');
}

// Walks the nested answers of a chain: `200 a→b→…` (+txn when the last hop saw a Txn-Token, or
// `: sub, scope` when it was /orders), or what broke.
function walkChain(body: Body, proof: 'wpt' | 'http-sig' | 'bearer'): string {
  // Each hop names its caller, and the last one is a /whoami or /orders.
  const path = [short(body?.caller)];
  let hop: Body = body;
  while (hop !== null && hop.upstream !== undefined) {
    if (short(hop.caller) !== path.at(-1)) return `200 but hop ${short(hop.service)} saw caller ${short(hop.caller)}`;
    path.push(short(hop.service));
    hop = hop.upstream as Body;
  }
  if (short(hop?.workload) !== path.at(-1)) return `200 but the last hop saw ${short(hop?.workload)}`;
  path.push(short(hop?.service));
  // The edge calls on with WPTs; a relay with the proof it was called with.
  const methods = new Set([proof === 'bearer' ? 'wpt' : proof, String(hop?.method)]);
  if (methods.size !== 1) return `200 but the last hop was called with ${String(hop?.method)}`;
  if (hop?.transaction !== undefined) return `200 ${chainPath(path)}: ${transactionOf(hop)}`;
  return `200 ${chainPath(path)}${hop?.txnToken === true ? ' +txn' : ''}`;
}

async function kids(stack: Stack): Promise<string[]> {
  const { keys } = (await (await fetch(`${stack.identityUrl}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
  return keys.map((k) => k.kid);
}

async function statuses(f: WimseFetch, bases: string[]): Promise<string> {
  const got = await Promise.all(
    bases.map(async (b) => {
      const { status, body } = await call(f(`${b}/whoami`));
      return status === 200 ? '200' : problemOf(status, body);
    }),
  );
  return new Set(got).size === 1 ? `${got[0]} ×${got.length}` : got.join(', ');
}

export type { ServiceName };
