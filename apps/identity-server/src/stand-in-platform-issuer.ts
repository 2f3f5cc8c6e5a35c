/**
 * STAND-IN for a Kubernetes API server's service account token issuer — for tests and the demo
 * only, never for production. It publishes what an API server publishes for its service account
 * issuer (OIDC discovery at `/.well-known/openid-configuration`, keys at `/openid/v1/jwks`) and
 * signs tokens shaped like projected service account tokens (`sub`
 * `system:serviceaccount:<ns>:<sa>`, `kubernetes.io` claims).
 *
 * Where Kubernetes mounts the token into the pod of that service account, this stand-in hands one
 * to whoever asks at `POST /api/v1/namespaces/<ns>/serviceaccounts/<sa>/token` (the TokenRequest
 * path) with `{"spec": {"audiences": [...], "expirationSeconds": n}}`: it attests nothing, which
 * is why it listens on loopback only, and why the identity server mounts it (under
 * `/stand-in-platform`) only when told to (`standInPlatform`, `IDENTITY_STAND_IN_PLATFORM=1`).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JSONWebKeySet } from 'jose';

export interface ServiceAccountTokenRequest {
  namespace: string;
  serviceAccount: string;
  /** The `aud`, e.g. the identity server's URL. */
  audience: string | readonly string[];
  /** Seconds. Default 3600 (Kubernetes' default `expirationSeconds`). */
  lifetime?: number;
  /** Clock in ms. */
  now?: number;
}

export interface StandInPlatform {
  /** The `iss` of its tokens: its base URL, as an API server's is its discovery URL. */
  readonly issuer: string;
  readonly jwks: JSONWebKeySet;
  /** Signs a service account token. */
  token(request: ServiceAccountTokenRequest): Promise<string>;
  /** Serves discovery, JWKS and TokenRequest; `path` is relative to the issuer URL. */
  handle(req: IncomingMessage, res: ServerResponse, path: string): void;
}

export interface StandInPlatformIssuer extends StandInPlatform {
  close(): Promise<void>;
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const TOKEN_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/serviceaccounts\/([^/]+)\/token$/;

/** Starts the stand-in on its own 127.0.0.1 port (`port` 0: a free one). */
export async function startStandInPlatformIssuer(options: { port?: number; alg?: 'RS256' | 'ES256' } = {}): Promise<StandInPlatformIssuer> {
  let platform: StandInPlatform | undefined;
  const server = createServer((req, res) => platform!.handle(req, res, new URL(req.url ?? '/', 'http://localhost').pathname));
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  platform = await createStandInPlatform({
    issuer: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    ...(options.alg === undefined ? {} : { alg: options.alg }),
  });
  return {
    ...platform,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** The stand-in without a listener of its own, e.g. mounted under a path of another server. */
export async function createStandInPlatform(options: { issuer: string; alg?: 'RS256' | 'ES256' }): Promise<StandInPlatform> {
  const alg = options.alg ?? 'RS256';
  const issuer = options.issuer.replace(/\/+$/, '');
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  const jwks: JSONWebKeySet = { keys: [{ ...jwk, kid, alg, use: 'sig' }] };

  function handle(req: IncomingMessage, res: ServerResponse, path: string): void {
    const json = (status: number, body: unknown): void =>
      void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && path === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        jwks_uri: `${issuer}/openid/v1/jwks`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [alg],
      });
    }
    if (req.method === 'GET' && path === '/openid/v1/jwks') return json(200, jwks);
    const m = TOKEN_PATH.exec(path);
    if (req.method === 'POST' && m !== null) {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= 4096) chunks.push(c);
      });
      req.on('end', () => {
        let spec: { audiences?: unknown; expirationSeconds?: unknown } = {};
        try {
          spec = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { spec?: typeof spec }).spec ?? {};
        } catch {
          return json(400, { message: 'body must be a TokenRequest' });
        }
        const audiences = spec.audiences;
        if (size > 4096 || !Array.isArray(audiences) || audiences.length === 0 || !audiences.every((a) => typeof a === 'string'))
          return json(400, { message: 'spec.audiences is required' });
        const lifetime = typeof spec.expirationSeconds === 'number' ? spec.expirationSeconds : 3600;
        token({
          namespace: decodeURIComponent(m[1]!),
          serviceAccount: decodeURIComponent(m[2]!),
          audience: audiences as string[],
          lifetime,
        }).then(
          (t) =>
            json(201, {
              kind: 'TokenRequest',
              apiVersion: 'authentication.k8s.io/v1',
              status: { token: t, expirationTimestamp: new Date(Date.now() + lifetime * 1000).toISOString() },
            }),
          (e: unknown) => json(400, { message: (e as Error).message }),
        );
      });
      return;
    }
    json(404, { message: 'not found' });
  }

  async function token(r: ServiceAccountTokenRequest): Promise<string> {
    if (!NAME.test(r.namespace) || !NAME.test(r.serviceAccount)) throw new Error('namespace and service account must be DNS labels');
    const now = Math.floor((r.now ?? Date.now()) / 1000);
    const lifetime = r.lifetime ?? 3600;
    return new SignJWT({
      'kubernetes.io': {
        namespace: r.namespace,
        serviceaccount: { name: r.serviceAccount, uid: randomUUID() },
        pod: { name: `${r.serviceAccount}-0`, uid: randomUUID() },
      },
    })
      .setProtectedHeader({ alg, kid })
      .setIssuer(issuer)
      .setSubject(`system:serviceaccount:${r.namespace}:${r.serviceAccount}`)
      .setAudience(typeof r.audience === 'string' ? [r.audience] : [...r.audience])
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(privateKey as CryptoKey);
  }

  return { issuer, jwks, token, handle };
}
