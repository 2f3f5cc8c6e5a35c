/**
 * The Transaction Token Service (draft-ietf-oauth-transaction-tokens-10): "Each Trust Domain that
 * uses Txn-Tokens MUST have exactly one logical TTS" (§10). It is its own service, with its own
 * signing keys and authority, separate from identity (WIT) issuance: a WIT says who a workload
 * is, a Txn-Token says which transaction a call belongs to, and the two are trusted by different
 * receivers for different decisions.
 *
 * - `POST /token`               RFC 8693 token exchange, the §11 profile: subject token in, Txn-Token out
 * - `GET  /.well-known/jwks.json` the keys receivers verify Txn-Tokens with (§12.2)
 * - `GET  /health`
 *
 * Requesters authenticate with WIMSE (WIT + WPT, or WIT + HTTP signature; §11.5 names both) through
 * the Hono adapter: Web-standard Request/Response, so the raw form body is at hand for the RFC 8693
 * parser and the HTTP signature's Content-Digest alike, and its `onError` hook turns WIMSE refusals
 * into RFC 6749 `invalid_client` answers without a second authentication path.
 */
import {
  TOKEN_TYPES,
  TokenExchangeError,
  WimseError,
  checkScopeWithin,
  createTxnTokenVerifier,
  issueTxnToken,
  parseTokenExchangeRequest,
  parseTxnTokenRequest,
  replacementClaims,
  tokenErrorFromWimse,
  tokenExchangeResponse,
  type TokenEndpointResponse,
  type TokenExchangeLimits,
  type WimseAdapterOptions,
  type WimseAlgorithm,
  type WimsePrincipal,
} from '@wimse/core';
import { readBody } from '@wimse/core/adapter';
import { wimse, type WimseEnv } from '@wimse/hono';
import { Hono, type Context } from 'hono';
import { createLocalJWKSet, type CryptoKey, type JSONWebKeySet, type KeyObject } from 'jose';
import { compilePolicies, type RequesterPolicies } from './policy.js';
import { createSubjectVerifier, subjectKind, type SubjectIssuer, type VerifiedSubject } from './subject-token.js';

/** The signing keys: the current one signs, all published ones verify. A KeyRing of the identity server fits. */
export interface SigningKeys {
  current(): { kid: string; privateKey: KeyObject | CryptoKey; alg: WimseAlgorithm };
  jwks(): JSONWebKeySet;
}

export interface TxnTokenServiceConfig {
  /** The trust domain Txn-Tokens are issued for: their `aud` and the request's required `audience`. */
  trustDomain: string;
  /**
   * This service's identifier: the `aud` self-signed subject tokens must carry (§11.2.1). Default:
   * the first base URL of `wimse.audience`.
   */
  serviceId?: string;
  /** The Txn-Token `iss` (OPTIONAL, §9.2); default none. */
  issuer?: string;
  /** How requesters are authenticated: the Hono adapter's options (trust domains, this service's URL as audience, …). */
  wimse: Omit<WimseAdapterOptions, 'onError' | 'optional' | 'allow'>;
  /** Who may request what (§13.10). */
  requesters: RequesterPolicies;
  /** External issuers whose JWTs are accepted as subject tokens. */
  subjectIssuers?: readonly SubjectIssuer[];
  /** Signing keys. */
  keys: SigningKeys;
  /** Txn-Token lifetime in seconds. Default 300 (§6: "on the order of minutes or less"). */
  lifetime?: number;
  /** Oldest accepted self-signed subject token (`iat`), in seconds. Default 300. */
  maxSelfSignedAge?: number;
  /** Request bounds; `maxBodyBytes` also caps what is read (413). Default 32 KiB body, 2 KiB per parameter but tokens. */
  limits?: TokenExchangeLimits;
  /** One line per event; never given a token. */
  log?: (line: string) => void;
  /** Clock in ms, for tests. */
  now?: () => number;
}

const JWKS_PATH = '/.well-known/jwks.json';
const CLOCK_TOLERANCE = 30;
const MAX_TXN_TOKEN_LENGTH = 8192;

/** Builds the service's Hono app (Web-standard `fetch`; serve it with @hono/node-server). */
export function createTxnTokenService(config: TxnTokenServiceConfig): Hono<WimseEnv> {
  const now = config.now ?? Date.now;
  const lifetime = config.lifetime ?? 300;
  if (!Number.isInteger(lifetime) || lifetime <= 0 || lifetime > 3600)
    throw new TypeError('lifetime must be a whole number of seconds in 1..3600 (§6: short-lived)');
  const maxBody = config.limits?.maxBodyBytes ?? 32 * 1024;
  // 2 KiB per JSON parameter keeps an issued token well under receivers' default 8192-character bound.
  const limits: TokenExchangeLimits = { maxValueLength: 2048, ...config.limits, maxBodyBytes: maxBody };
  const policyOf = compilePolicies(config.requesters);
  const serviceId = config.serviceId ?? firstBaseUrl(config.wimse.audience);
  const log = config.log ?? (() => {});
  // Replacement subjects are this service's own Txn-Tokens: verified with its currently published
  // keys (a retired key stops verifying), as any receiver would (§12.2).
  const ownTokens = createTxnTokenVerifier(
    {
      trustDomain: config.trustDomain,
      keys: (header, token) => createLocalJWKSet(config.keys.jwks())(header, token),
      maxLifetime: Math.max(lifetime, 600),
      now,
    },
    'txn-token-service',
  );
  const subjects = createSubjectVerifier(config.subjectIssuers ?? [], ownTokens);

  const app = new Hono<WimseEnv>();
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get(JWKS_PATH, (c) => c.json(config.keys.jwks(), 200, { 'content-type': 'application/jwk-set+json', 'cache-control': 'max-age=60' }));

  // RFC 6749 §3.2: POST only; said before authentication, which a GET could not pass anyway.
  app.use('/token', async (c, next) => {
    if (c.req.method !== 'POST')
      return send(new TokenExchangeError('invalid_request', 'Use POST', { status: 405, headers: { allow: 'POST' } }).response());
    await next();
  });
  app.use(
    '/token',
    wimse({
      ...config.wimse,
      maxBodyBytes: maxBody,
      // RFC 6749 §5.2: a failed client authentication is invalid_client (401 when the WPT came in Authorization).
      onError: (error, _response, request) => tokenErrorFromWimse(error, request?.headers.authorization !== undefined)?.response(),
    }),
  );
  app.post('/token', async (c) => {
    try {
      return send(await token(c, c.get('wimse')!));
    } catch (e) {
      if (e instanceof TokenExchangeError) return send(e.response());
      if (e instanceof WimseError) return send(fromWimse(e));
      log(`internal error: ${e instanceof Error ? e.message : String(e)}`);
      return send(internalError());
    }
  });
  app.notFound((c) => c.json({ error: 'not_found' }, 404));
  app.onError((e) => {
    log(`internal error: ${e instanceof Error ? e.message : String(e)}`);
    return send(internalError());
  });

  async function token(c: Context<WimseEnv>, principal: WimsePrincipal): Promise<TokenEndpointResponse> {
    // §13.10: the requester must be authorised for the requested values.
    const policy = policyOf(principal);
    if (policy === undefined)
      throw new TokenExchangeError('unauthorized_client', `Workload ${principal.workload} may not request Txn-Tokens`);
    const raw = c.req.raw;
    const body = raw.body === null ? new Uint8Array(0) : await readBody(raw.body, maxBody, raw.headers.get('content-length'));
    const request = parseTxnTokenRequest(
      parseTokenExchangeRequest({ method: raw.method, contentType: raw.headers.get('content-type'), body }, limits),
      { trustDomain: config.trustDomain },
    );
    const kind = subjectKind(request.subjectTokenType);
    if (!policy.kinds.has(kind))
      throw new TokenExchangeError('unauthorized_client', `Workload ${principal.workload} may not present ${kind} subject tokens`);
    checkScopeWithin(request.scope, policy.scopes, 'scopes this workload may request');
    const at = now();
    const subject: VerifiedSubject = await subjects.verify(kind, request.subjectToken, {
      principal,
      serviceId,
      nowMs: at,
      clockTolerance: CLOCK_TOLERANCE,
      maxSelfSignedAge: config.maxSelfSignedAge ?? 300,
    });
    const { kid, privateKey, alg } = config.keys.current();
    const sign = { privateKey, alg, kid, now: at, lifetime };
    let issued: string;
    let exp: number;
    let event: string;
    if (subject.replaced !== undefined) {
      // §13.15: txn, sub, aud kept; scope only narrower; tctx immutable; not past the old expiry.
      const claims = replacementClaims(subject.replaced, request, at / 1000);
      exp = Math.min(claims.exp, Math.floor(at / 1000) + lifetime);
      issued = await issueTxnToken(
        {
          ...claims,
          aud: config.trustDomain,
          req_wl: principal.workload,
          exp,
          ...(config.issuer === undefined ? {} : { iss: config.issuer }),
        },
        sign,
      );
      event = `replaced Txn-Token for transaction ${claims.txn}, requested by ${principal.workload}`;
    } else {
      // §13.6, §13.14: no wider than the subject's scope; an unknown one grants nothing.
      if (subject.scope !== 'requester') checkScopeWithin(request.scope, subject.scope, 'subject token');
      exp = Math.floor(at / 1000) + lifetime;
      const rctx = { ...request.requestContext };
      // req_ip: where the transaction entered. The edge says so in request_context; without it the
      // requester itself started the transaction, and this service saw its address.
      const peer = peerAddress(c);
      if (rctx.req_ip === undefined && peer !== undefined) rctx.req_ip = peer;
      const txn = crypto.randomUUID();
      issued = await issueTxnToken(
        {
          aud: config.trustDomain,
          sub: subject.sub,
          scope: request.scope,
          req_wl: principal.workload,
          txn,
          exp,
          rctx,
          // §9.2.3: tctx is the TTS's assertion; here the requester's details, validated as JSON.
          ...(request.requestDetails === undefined ? {} : { tctx: { ...request.requestDetails } }),
          ...(config.issuer === undefined ? {} : { iss: config.issuer }),
        },
        sign,
      );
      // §15: never the token, and not the subject (possibly personal data): the transaction id.
      event = `issued Txn-Token for transaction ${txn} (${kind} subject), requested by ${principal.workload}`;
    }
    // A token receivers would refuse as too large is not issued (core's default bound, 8192 characters).
    if (issued.length > MAX_TXN_TOKEN_LENGTH)
      throw new TokenExchangeError('invalid_request', 'request_context and request_details make the Txn-Token too large');
    log(event);
    // §11.4: token_type N_A, the Txn-Token type, no refresh token; expires_in as RFC 8693 recommends.
    return tokenExchangeResponse({
      access_token: issued,
      issued_token_type: TOKEN_TYPES.txn_token,
      token_type: 'N_A',
      expires_in: exp - Math.floor(at / 1000),
    });
  }

  return app;
}

function send(r: TokenEndpointResponse): Response {
  return new Response(r.body, { status: r.status, headers: r.headers });
}

// A WIMSE refusal after authentication: the body too large (413), or a dependency down (503).
function fromWimse(e: WimseError): TokenEndpointResponse {
  if (e.code === 'body_too_large')
    return new TokenExchangeError('invalid_request', e.message, { status: 413, headers: { ...e.headers } }).response();
  if (e.status < 500 && e.status !== 429) return new TokenExchangeError('invalid_request', e.message).response();
  return {
    status: e.status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...e.headers },
    body: JSON.stringify(e.problem),
  };
}

// A bug: the core's 500 problem, never a 4xx in disguise.
function internalError(): TokenEndpointResponse {
  return {
    status: 500,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
    body: JSON.stringify(new WimseError('internal_error').problem),
  };
}

interface NodeBindings {
  incoming?: { socket?: { remoteAddress?: string } };
}

function peerAddress(c: Context): string | undefined {
  return (c.env as NodeBindings | undefined)?.incoming?.socket?.remoteAddress;
}

function firstBaseUrl(audience: WimseAdapterOptions['audience']): string {
  const first = Array.isArray(audience) ? audience[0] : audience;
  if (typeof first === 'string') return first;
  if (first !== undefined && typeof first === 'object' && 'value' in first && typeof first.value === 'string') return first.value;
  throw new TypeError('serviceId is required when wimse.audience has no base URL');
}
