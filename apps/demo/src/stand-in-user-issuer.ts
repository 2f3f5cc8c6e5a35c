/**
 * STAND-IN for the OAuth/OIDC authorization server that signs users' access tokens — for the demo
 * only, never for production: it hands a token to whoever asks, for any user and any scope, which
 * is why it listens on loopback only. Its tokens are JWT access tokens (RFC 9068: `typ: at+jwt`,
 * `iss`, `sub`, `aud`, `scope`, `exp`, `iat`, `jti`, `client_id`); the Txn-Token service trusts it
 * as a subject-token issuer and verifies them against its published keys.
 *
 * - `GET /.well-known/openid-configuration`: issuer and `jwks_uri` (OIDC Discovery 1.0 §3).
 * - `GET /jwks.json`: its public key.
 * - `POST /token` with `{"sub": "alice", "scope": "orders:read"}`: an access token (a real server
 *   would log the user in first).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JSONWebKeySet } from 'jose';

/** The resource the demo's access tokens are for (their `aud`): the orders API behind the edge. */
export const ORDERS_API = 'https://orders.example.org';

export interface StandInUserIssuer {
  /** Its `iss` and base URL. */
  readonly issuer: string;
  readonly jwksUrl: string;
  /** Signs an access token for `sub` with `scope` (audience {@link ORDERS_API}, 5 minutes). */
  accessToken(claims: { sub: string; scope: string }): Promise<string>;
  close(): Promise<void>;
}

const ALG = 'ES256';
const LIFETIME = 300;
const MAX_BODY = 4096;

/** Starts the stand-in issuer on 127.0.0.1:`port` (0: a free one). */
export async function startStandInUserIssuer(port = 0): Promise<StandInUserIssuer> {
  const { privateKey, publicKey } = await generateKeyPair(ALG);
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const jwks: JSONWebKeySet = { keys: [{ ...jwk, kid, alg: ALG, use: 'sig' }] };
  let issuer = '';
  const accessToken = (claims: { sub: string; scope: string }) => sign(privateKey, kid, issuer, claims);

  const server = createServer((req, res) => {
    handle(req, res).catch(() => send(res, 500, { error: 'server_error' }));
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method === 'GET' && path === '/.well-known/openid-configuration')
      return send(res, 200, { issuer, jwks_uri: `${issuer}/jwks.json`, token_endpoint: `${issuer}/token` });
    if (req.method === 'GET' && path === '/jwks.json') return send(res, 200, jwks);
    if (req.method === 'POST' && path === '/token') {
      const body = await readJson(req);
      if (
        typeof body?.sub !== 'string' ||
        !/^[\w.@-]{1,64}$/.test(body.sub) ||
        typeof body.scope !== 'string' ||
        !/^[\x21\x23-\x5b\x5d-\x7e ]{1,256}$/.test(body.scope)
      ) {
        return send(res, 400, { error: 'invalid_request', error_description: 'Send {"sub": "<user>", "scope": "<scopes>"}' });
      }
      return send(res, 200, {
        access_token: await accessToken({ sub: body.sub, scope: body.scope }),
        token_type: 'Bearer',
        expires_in: LIFETIME,
        scope: body.scope,
      });
    }
    send(res, 404, { error: 'not_found' });
  }

  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => resolve()));
  issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    issuer,
    jwksUrl: `${issuer}/jwks.json`,
    accessToken,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function sign(privateKey: CryptoKey, kid: string, issuer: string, claims: { sub: string; scope: string }): Promise<string> {
  return new SignJWT({ scope: claims.scope, client_id: 'demo-spa' })
    .setProtectedHeader({ alg: ALG, typ: 'at+jwt', kid })
    .setIssuer(issuer)
    .setSubject(claims.sub)
    .setAudience(ORDERS_API)
    .setIssuedAt()
    .setExpirationTime(`${LIFETIME}s`)
    .setJti(randomUUID())
    .sign(privateKey);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) return undefined;
    chunks.push(chunk);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
}
