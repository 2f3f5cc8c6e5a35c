/**
 * The identity server's HTTP API (plain `node:http`, no framework):
 *
 * - `GET  /health`                  → `{ status: "ok" }`
 * - `GET  /.well-known/jwks.json`   → the trust domain's issuer keys, each with a `kid`
 * - `POST /token`                   → attested issuance: RFC 8693 exchange of a platform token + DPoP proof for a WIT (token-endpoint.ts)
 * - `POST /wit`                     → development mode only: `{ workload, jwk }` in, `{ wit, workload, kid, expiresAt }` out
 * - `POST /admin/keys`              → rotate: a new key signs from now on, the old one stays published
 * - `POST /admin/keys?activate=false` → publish a new key without signing with it yet, then
 * - `POST /admin/keys/<kid>/activate` → sign with it (once verifiers have had time to fetch it)
 * - `DELETE /admin/keys/<kid>`      → retire a key: WITs it signed stop verifying once verifiers reload the JWKS
 *
 * Safe rotation with caching verifiers: publish, wait longer than their JWKS cache age, activate,
 * wait longer than the WIT lifetime, retire.
 *
 * Admin endpoints need `Authorization: Bearer <adminToken>` and are off when no token is configured.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { MemoryReplayStore, TokenExchangeError, issueWit, type ReplayStore } from '@wimse/core';
import { decodeJwt } from 'jose';
import { createKeyRing, KeyRingError, type KeyRing } from './keyring.js';
import { Problem, sendJson, sendProblem } from './problem.js';
import { parseRegistration } from './registration.js';
import { createStandInPlatform } from './stand-in-platform-issuer.js';
import { createTokenEndpoint, type AttestationConfig } from './token-endpoint.js';

export interface IdentityServerConfig {
  /** The trust domain WITs are issued in, e.g. `example.org`. */
  trustDomain: string;
  /** The WIT `iss`, normally this server's public URL. */
  issuer: string;
  /** Workload names allowed to register by name alone with `POST /wit` (only in {@link devMode}). */
  workloads: readonly string[];
  /**
   * Development mode: `POST /wit` issues a WIT to any allow-listed name, proving nothing about the
   * caller. Off unless set; production issuance is the attested token exchange at `POST /token`.
   */
  devMode?: boolean;
  /** Keep issuer keys and rotation state in this directory (see `KeyRingOptions.dataDir`); without it (and without `keyFile`) keys live in memory only. */
  dataDir?: string | undefined;
  /** Sign with an operator-supplied key (PEM, JWK or JWK Set file) instead. */
  keyFile?: string | undefined;
  /** WIT lifetime in seconds. */
  witLifetime: number;
  /** Bearer token for the admin endpoints; without one they are disabled. */
  adminToken?: string | undefined;
  /** Platform issuers and mapping rules for `POST /token`; without them every exchange is refused. */
  attestation?: AttestationConfig | undefined;
  /**
   * Demo only: mount a STAND-IN for a Kubernetes service account issuer at `<issuer>/stand-in-platform`
   * (it hands tokens to anyone who asks) and accept its tokens for `system:serviceaccount:demo:<name>`
   * as `spiffe://<trust domain>/<name>`. Off unless set.
   */
  standInPlatform?: boolean;
  /** Where used DPoP `jti`s are remembered. Default: a per-process {@link MemoryReplayStore}; share one (e.g. Redis) between instances. */
  replayStore?: ReplayStore;
  /** Largest accepted request body in bytes. Default 16 KiB. */
  maxBodyBytes?: number;
  /** Called with one line per event; never given a token. */
  log?: (line: string) => void;
}

export interface IdentityServer {
  readonly server: Server;
  readonly keys: KeyRing;
}

const JWKS_PATH = '/.well-known/jwks.json';
const STAND_IN_PATH = '/stand-in-platform';

/** Creates the server (not yet listening) with its issuer keys (in memory, from `dataDir`, or from `keyFile`). */
export async function createIdentityServer(config: IdentityServerConfig): Promise<IdentityServer> {
  const keys = await createKeyRing({ dataDir: config.dataDir, keyFile: config.keyFile });
  const allowed = new Set(config.workloads);
  const maxBody = config.maxBodyBytes ?? 16 * 1024;
  const log = config.log ?? (() => {});
  if (keys.mode === 'memory') log('issuer keys are in memory only: a restart makes a new trust anchor (set WIMSE_DATA_DIR to keep them)');
  else if (keys.mode === 'persistent') log(`issuer keys and rotation state in ${config.dataDir}`);
  else log(`issuer key(s) from ${config.keyFile} (rotation by replacing the file)`);
  let attestation = config.attestation ?? { platformIssuers: [], rules: [] };
  const standIn =
    config.standInPlatform === true
      ? await createStandInPlatform({ issuer: `${config.issuer.replace(/\/+$/, '')}${STAND_IN_PATH}` })
      : undefined;
  if (standIn !== undefined) {
    attestation = {
      ...attestation,
      platformIssuers: [...attestation.platformIssuers, { issuer: standIn.issuer, jwks: standIn.jwks }],
      rules: [
        ...attestation.rules,
        {
          issuer: standIn.issuer,
          match: { sub: 'system:serviceaccount:demo:(?<name>[a-z0-9-]{1,63})' },
          workload: `spiffe://${config.trustDomain}/{name}`,
        },
      ],
    };
    log(
      `DEMO ONLY: stand-in for a Kubernetes service account issuer at ${standIn.issuer}; it gives any caller a token, so it attests nothing`,
    );
  }
  const exchange = createTokenEndpoint({
    attestation,
    trustDomain: config.trustDomain,
    issuer: config.issuer,
    keys,
    witLifetime: config.witLifetime,
    replayStore: config.replayStore ?? new MemoryReplayStore(),
    log,
  });
  log(
    `token exchange at POST /token: ${attestation.platformIssuers.length} platform issuer(s), ${attestation.rules.length} mapping rule(s)`,
  );
  if (config.devMode === true)
    log(`DEVELOPMENT MODE: POST /wit issues WITs by name alone to ${allowed.size} allow-listed workloads, without attestation`);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/health') return only(req, 'GET', () => sendJson(res, 200, { status: 'ok' }));
    if (path === JWKS_PATH) {
      return only(req, 'GET', () =>
        sendJson(res, 200, keys.jwks(), { 'content-type': 'application/jwk-set+json', 'cache-control': 'max-age=60' }),
      );
    }
    if (standIn !== undefined && path.startsWith(`${STAND_IN_PATH}/`)) return standIn.handle(req, res, path.slice(STAND_IN_PATH.length));
    if (path === '/token') {
      let body: Buffer;
      try {
        body = await readBody(req, res, maxBody);
      } catch (e) {
        if (!(e instanceof Problem)) throw e;
        // RFC 6749 §5.2 shape at the token endpoint, whatever went wrong.
        const refusal = new TokenExchangeError('invalid_request', e.message, { status: e.status });
        return send(res, refusal.response());
      }
      return send(res, await exchange({ method: req.method ?? 'GET', rawHeaders: req.rawHeaders, body }));
    }
    if (path === '/wit') {
      if (config.devMode !== true) throw new Problem('dev_registration_disabled');
      only(req, 'POST');
      const { workload, cnfJwk } = parseRegistration(await readJson(req, res, maxBody), allowed);
      const { kid, privateKey, alg } = keys.current();
      const sub = `spiffe://${config.trustDomain}/${workload}`;
      const wit = await issueWit({ sub, cnfJwk, issuerKey: privateKey, alg, kid, iss: config.issuer, lifetime: config.witLifetime });
      log(`issued WIT for ${sub} (issuer key ${kid}, ${config.witLifetime}s)`);
      const expiresAt = new Date(decodeJwt(wit).exp! * 1000).toISOString();
      return sendJson(res, 201, { wit, workload: sub, kid, expiresAt });
    }
    if (path === '/admin/keys' || path.startsWith('/admin/keys/')) {
      admin(req);
      const published = () => keys.jwks().keys.map((k) => k.kid);
      if (path === '/admin/keys') {
        only(req, 'POST');
        const activate = new URL(req.url ?? '/', 'http://localhost').searchParams.get('activate') !== 'false';
        const kid = await keys.rotate(activate).catch(staticKeys);
        log(activate ? `rotated: new issuer key ${kid}` : `published issuer key ${kid} (not yet signing)`);
        return sendJson(res, 201, { created: kid, current: keys.current().kid, published: published() });
      }
      if (path.endsWith('/activate')) {
        only(req, 'POST');
        const kid = kidOf(path.slice('/admin/keys/'.length, -'/activate'.length));
        if ((await keys.activate(kid).catch(staticKeys)) === 'unknown')
          throw new Problem('key_unknown', 'No published issuer key has this kid');
        log(`activated issuer key ${kid}`);
        return sendJson(res, 200, { current: kid, published: published() });
      }
      only(req, 'DELETE');
      const kid = kidOf(path.slice('/admin/keys/'.length));
      const outcome = await keys.retire(kid).catch(staticKeys);
      if (outcome === 'unknown') throw new Problem('key_unknown', 'No published issuer key has this kid');
      if (outcome === 'current') throw new Problem('key_current', 'Rotate to a new key before retiring the current one');
      log(`retired issuer key ${kid}`);
      return sendJson(res, 200, { retired: kid, published: published() });
    }
    throw new Problem('not_found', `No endpoint at ${path}`);
  }

  function admin(req: IncomingMessage): void {
    if (config.adminToken === undefined || config.adminToken === '')
      throw new Problem('admin_disabled', 'Set IDENTITY_ADMIN_TOKEN to enable key administration');
    const given = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
    if (!sameSecret(given, config.adminToken)) throw new Problem('admin_unauthorized');
  }

  const server = createServer((req, res) => {
    route(req, res).catch((e: unknown) => {
      if (e instanceof Problem) return sendProblem(res, e);
      log(`internal error: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent)
        res.writeHead(500, { 'content-type': 'application/problem+json' }).end('{"status":500,"title":"Internal error"}');
    });
  });
  return { server, keys };
}

function staticKeys(e: unknown): never {
  if (e instanceof KeyRingError && e.code === 'static_keys') throw new Problem('keys_static', e.message);
  throw e;
}

function kidOf(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new Problem('key_unknown', 'Not a kid');
  }
}

function only(req: IncomingMessage, method: string, then?: () => void): void {
  if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) throw new Problem('method_not_allowed', `Use ${method}`);
  then?.();
}

function send(res: ServerResponse, r: { status: number; headers: Record<string, string>; body: string }): void {
  res.writeHead(r.status, r.headers).end(r.body);
}

async function readJson(req: IncomingMessage, res: ServerResponse, limit: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new Problem('unsupported_media_type', 'Content-Type must be application/json');
  const body = await readBody(req, res, limit);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new Problem('json_invalid', 'Body is not valid JSON');
  }
}

/**
 * Reads a body of at most `limit` bytes. An oversized body is not read further; the 413 is
 * sent with `connection: close` (the stream is left alone so the answer still reaches the client).
 */
async function readBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<Buffer> {
  const tooLarge = () => {
    res.setHeader('connection', 'close');
    return new Problem('body_too_large', `Body larger than ${limit} bytes`);
  };
  if (Number(req.headers['content-length'] ?? 0) > limit) throw tooLarge();
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData).off('end', onEnd);
      req.resume();
      reject(tooLarge());
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req
      .on('data', onData)
      .on('end', onEnd)
      .on('error', () => reject(new Problem('json_invalid', 'The body could not be read')));
  });
}

// Constant-time comparison of equal-length digests, so the token's length does not leak either.
function sameSecret(given: string, expected: string): boolean {
  const h = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(h(given), h(expected));
}
