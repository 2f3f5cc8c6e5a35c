/**
 * Issue 9 §5 on every target: the trust domain's keys come from a real JWKS server on 127.0.0.1
 * that answers, fails (500), hangs and streams a huge body. While it fails, the last good key set
 * keeps serving past its max age (stale-if-error); without a usable key the answer is 503
 * `trust_unavailable` with `Retry-After`; and a flood never makes one fetch per request. The
 * verifier's clock is stepped (each proof is made for that clock), so no test waits for max age.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adapterOptions, CLIENT, craftWit, craftWpt, createFixtures, KID, TRUST_DOMAIN, type Fixtures } from './fixtures.js';
import { send, type RawRequest, type RawResponse } from './http.js';
import type { Running, Target } from './targets/contract.js';
import { express4Target, express5Target } from './targets/express.js';
import { fastifyTarget } from './targets/fastify.js';
import { honoTarget } from './targets/hono.js';
import { nestExpressTarget, nestFastifyTarget } from './targets/nestjs.js';

const targets: Target[] = [express4Target, express5Target, fastifyTarget, honoTarget, nestExpressTarget, nestFastifyTarget];
const MAX_AGE_MS = 600_000; // remote.cacheMaxAgeMs default
const STALE_MS = 3_600_000; // remote.staleIfErrorMs default
const TIMEOUT_MS = 300;
const MAX_BYTES = 64 * 1024;
const MiB = 1024 * 1024;
const HUGE = 32 * MiB;
const FLOOD = 20;
/** The key the issuer rotates to during the outage. */
const NEW_KID = 'issuer-2';

type Mode = 'ok' | 'error' | 'hang' | 'huge';

/** A JWKS endpoint whose behaviour each test sets. */
class JwksServer {
  mode: Mode = 'ok';
  published: JWK[] = [];
  hits = 0;
  /** Body bytes the server handed to the socket for the last huge answer. */
  hugeSent = 0;
  /** Settles once the client hung up on the last huge answer. */
  hugeClosed: Promise<void> = Promise.resolve();
  readonly #server: Server = createServer((req, res) => this.#handle(req, res));
  readonly #open = new Set<ServerResponse>();

  async listen(): Promise<string> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  async close(): Promise<void> {
    for (const res of this.#open) res.destroy();
    this.#server.closeAllConnections();
    await new Promise<void>((r) => this.#server.close(() => r()));
  }

  #handle(_req: IncomingMessage, res: ServerResponse): void {
    this.hits++;
    this.#open.add(res);
    res.once('close', () => this.#open.delete(res));
    switch (this.mode) {
      case 'ok':
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: this.published }));
      case 'error':
        return void res.writeHead(500).end('upstream exploded');
      case 'hang':
        return;
      case 'huge': {
        // JSON whitespace without a Content-Length, as fast as the client reads it.
        res.writeHead(200, { 'content-type': 'application/json' });
        const chunk = Buffer.alloc(64 * 1024, 0x20);
        this.hugeSent = 0;
        this.hugeClosed = new Promise((r) => res.once('close', () => r()));
        const pump = (): void => {
          if (res.destroyed) return;
          if (this.hugeSent >= HUGE) return void res.end();
          this.hugeSent += chunk.length;
          if (res.write(chunk)) setImmediate(pump);
          else res.once('drain', pump);
        };
        return pump();
      }
    }
  }
}

let fixtures: Fixtures;
let rotated: { privateKey: CryptoKey; publicJwk: JWK };
beforeAll(async () => {
  fixtures = await createFixtures();
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  rotated = { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid: NEW_KID, alg: 'ES256' } };
});

const code = (res: RawResponse): unknown => (JSON.parse(res.text) as { code?: unknown }).code;

describe.each(targets)('$name: remote JWKS outage', (target) => {
  const jwks = new JwksServer();
  let server: Running;
  let clock = Date.now();
  const seconds = () => Math.floor(clock / 1000);

  /** GET /whoami as the client, with a WIT and WPT made for the stepped clock; the WIT signed under `kid`. */
  async function whoami(kid: string = KID): Promise<RawRequest> {
    const key = kid === KID ? fixtures.issuerKey : rotated.privateKey;
    const wit = await craftWit(fixtures, fixtures.client, { header: { kid }, key, claims: { iat: seconds(), exp: seconds() + 3600 } });
    const wpt = await craftWpt(fixtures.client, '/whoami', { wit, claims: { exp: seconds() + 60 } });
    return { method: 'GET', path: '/whoami', headers: { 'workload-identity-token': wit, authorization: `WPT ${wpt}` } };
  }

  /** `n` requests at once; each answer as `status code retry-after`. */
  async function flood(n: number, kid?: string): Promise<Record<string, number>> {
    const requests = await Promise.all(Array.from({ length: n }, () => whoami(kid)));
    const answers = await Promise.all(requests.map((r) => send(server.url, r)));
    const counts: Record<string, number> = {};
    for (const res of answers) {
      const key = res.status === 200 ? '200' : `${res.status} ${String(code(res))} retry-after=${String(res.headers['retry-after'])}`;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }

  beforeAll(async () => {
    jwks.published = [fixtures.issuerJwk];
    const url = await jwks.listen();
    const options = adapterOptions(fixtures);
    server = await target.start({
      ...options,
      trustDomains: { [TRUST_DOMAIN]: { keys: url, remote: { timeoutMs: TIMEOUT_MS, maxBytes: MAX_BYTES } } },
      // Every request resolves its key (no verified-WIT cache in front of the JWKS).
      witCache: { ttlSeconds: 0 },
      now: () => clock,
    });
  });
  afterAll(async () => {
    await server.close();
    await jwks.close();
  });

  it('verifies with the key set it fetched', async () => {
    const res = await send(server.url, await whoami());
    expect([res.status, (JSON.parse(res.text) as { workload: string }).workload]).toEqual([200, CLIENT]);
    expect(jwks.hits).toBe(1);
  });

  it('past max age while the JWKS answers 500: the last good keys still serve, one fetch for the whole flood', async () => {
    jwks.mode = 'error';
    clock += MAX_AGE_MS + 1000;
    expect(await flood(FLOOD)).toEqual({ 200: FLOOD });
    expect(jwks.hits).toBe(2);
  });

  it('a WIT under a kid the stale set lacks: 503 trust_unavailable with Retry-After as problem+json, no fetch per request', async () => {
    expect(await flood(FLOOD, NEW_KID)).toEqual({ '503 trust_unavailable retry-after=1': FLOOD });
    const res = await send(server.url, await whoami(NEW_KID));
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(jwks.hits).toBe(2);
  });

  it('once the JWKS answers again, the key it rotated to meanwhile verifies at the first request after the backoff', async () => {
    jwks.mode = 'ok';
    jwks.published = [fixtures.issuerJwk, rotated.publicJwk];
    clock += 1000; // the first backoff step
    const res = await send(server.url, await whoami(NEW_KID));
    expect([res.status, (JSON.parse(res.text) as { workload: string }).workload]).toEqual([200, CLIENT]);
    expect(jwks.hits).toBe(3);
  });

  it('past the stale window while the JWKS hangs: 503 trust_unavailable after the fetch timeout, one fetch for the flood', async () => {
    jwks.mode = 'hang';
    clock += MAX_AGE_MS + STALE_MS + 1000;
    const answers = await flood(FLOOD);
    expect(Object.keys(answers)).toEqual([expect.stringMatching(/^503 trust_unavailable retry-after=\d+$/)]);
    expect(jwks.hits).toBe(4);
  });

  it('a huge JWKS body is abandoned at maxBytes (503 trust_unavailable), long before the server could send it all', async () => {
    jwks.mode = 'huge';
    clock += 60_000; // past any backoff
    const answers = await flood(FLOOD);
    expect(Object.keys(answers)).toEqual([expect.stringMatching(/^503 trust_unavailable retry-after=\d+$/)]);
    expect(jwks.hits).toBe(5);
    await jwks.hugeClosed;
    // What could ever have been buffered: the 64 KiB cap plus socket buffers, far below the 32 MiB.
    expect(jwks.hugeSent).toBeLessThan(8 * MiB);
  });
});
