/**
 * The `wimse:*` diagnostics channels, heard the way an operator's code hears them: through
 * `node:diagnostics_channel.subscribe` by name. Remote JWKS events come from a real JWKS server
 * on 127.0.0.1 that can answer 404, HTML, or be gone.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  WIMSE_CHANNELS,
  jwksChannel,
  replayChannel,
  verifyChannel,
  type WimseJwksMessage,
  type WimseReplayMessage,
  type WimseVerifyMessage,
} from './diagnostics.js';
import { WimseError } from './errors.js';
import type { ReplayStore } from './replay.js';
import { createWorkloadSigner } from './signer.js';
import {
  AUDIENCE,
  NOW,
  TRUST_DOMAIN,
  createIssuer,
  createWorkload,
  verifierFor,
  wptRequest,
  type Issuer,
  type Workload,
} from '@wimse/test-support/factory';
import { createVerifier } from './verifier.js';

let issuer: Issuer;
let workload: Workload;

/** Everything published on `name` while `fn` runs. */
async function heard<T>(name: string, fn: () => Promise<unknown>): Promise<T[]> {
  const messages: T[] = [];
  const listener = (m: unknown): void => void messages.push(m as T);
  subscribe(name, listener);
  try {
    await fn().catch(() => undefined);
  } finally {
    unsubscribe(name, listener);
  }
  return messages;
}

/** Every string a message holds must be free of the token and each of its segments. */
function expectNoToken(messages: unknown[], tokens: string[]): void {
  const text = JSON.stringify(messages);
  for (const t of tokens) for (const part of [t, ...t.split('.').filter((p) => p.length > 8)]) expect(text).not.toContain(part);
}

beforeAll(async () => {
  issuer = await createIssuer();
  workload = await createWorkload(issuer);
});

describe('channel names', () => {
  it('are wimse:verify, wimse:jwks and wimse:replay', () => {
    expect(WIMSE_CHANNELS).toEqual({ verify: 'wimse:verify', jwks: 'wimse:jwks', replay: 'wimse:replay' });
  });
});

describe('wimse:verify: one message per verification', () => {
  it('a WPT request that verifies: ok, workload, trust domain, method, duration', async () => {
    const request = await wptRequest(workload);
    const [m, ...more] = await heard<WimseVerifyMessage>(WIMSE_CHANNELS.verify, () => verifierFor(issuer).verify(request));
    expect(more).toEqual([]);
    expect(m).toEqual({
      outcome: 'ok',
      workload: 'spiffe://example.org/client',
      trustDomain: 'example.org',
      method: 'wpt',
      durationMs: expect.any(Number),
    });
    expect(m!.durationMs).toBeGreaterThanOrEqual(0);
    expectNoToken([m], [workload.wit, String(request.headers.authorization).slice(4)]);
  });

  it('an HTTP-signed request that verifies: method http-sig', async () => {
    const signer = await createWorkloadSigner({ wit: workload.wit, privateKey: workload.privateKey });
    const headers = await signer.httpSigHeaders({ method: 'GET', url: `${AUDIENCE}/orders`, now: NOW });
    const messages = await heard<WimseVerifyMessage>(WIMSE_CHANNELS.verify, () =>
      verifierFor(issuer).verify({ method: 'GET', path: '/orders', headers }),
    );
    expect(messages).toEqual([expect.objectContaining({ outcome: 'ok', method: 'http-sig', workload: 'spiffe://example.org/client' })]);
    expectNoToken(messages, [workload.wit, headers.signature!]);
  });

  it('no credentials: error credentials_missing 401, no method, no workload', async () => {
    const messages = await heard<WimseVerifyMessage>(WIMSE_CHANNELS.verify, () =>
      verifierFor(issuer).verify({ method: 'GET', path: '/', headers: {} }),
    );
    expect(messages).toEqual([{ outcome: 'error', code: 'credentials_missing', status: 401, durationMs: expect.any(Number) }]);
  });

  it('a WIT from an untrusted issuer: error wit_signature 400, method wpt, no workload (nothing was authenticated)', async () => {
    const other = await createIssuer('ES256', issuer.kid);
    const forged = await createWorkload(other);
    const request = await wptRequest(forged);
    const messages = await heard<WimseVerifyMessage>(WIMSE_CHANNELS.verify, () => verifierFor(issuer).verify(request));
    expect(messages).toEqual([{ outcome: 'error', code: 'wit_signature', status: 400, method: 'wpt', durationMs: expect.any(Number) }]);
    expectNoToken(messages, [forged.wit]);
  });

  it('a WPT for another audience: error wpt_aud 401, method wpt', async () => {
    const request = await wptRequest(workload, { aud: 'https://elsewhere.example.org/orders' });
    const messages = await heard<WimseVerifyMessage>(WIMSE_CHANNELS.verify, () => verifierFor(issuer).verify(request));
    expect(messages).toEqual([{ outcome: 'error', code: 'wpt_aud', status: 401, method: 'wpt', durationMs: expect.any(Number) }]);
  });

  it('a replayed WPT: ok, then error wpt_replay', async () => {
    const request = await wptRequest(workload);
    const verifier = verifierFor(issuer);
    const messages = await heard<WimseVerifyMessage>(WIMSE_CHANNELS.verify, async () => {
      await verifier.verify(request);
      await verifier.verify(request);
    });
    expect(messages.map((m) => [m.outcome, m.code])).toEqual([
      ['ok', undefined],
      ['error', 'wpt_replay'],
    ]);
  });

  it('a signature field without the WIMSE tag: error sig_missing, method http-sig', async () => {
    const headers = { 'signature-input': 'other=("@method");created=1', signature: 'other=:AAAA:' };
    const messages = await heard<WimseVerifyMessage>(WIMSE_CHANNELS.verify, () =>
      verifierFor(issuer).verify({ method: 'GET', path: '/', headers }),
    );
    expect(messages).toEqual([expect.objectContaining({ outcome: 'error', code: 'sig_missing', method: 'http-sig' })]);
  });

  it('a bug (a clock that throws): error internal_error 500', async () => {
    const request = await wptRequest(workload);
    let broken = false;
    const verifier = verifierFor(issuer, {
      now: () => {
        if (broken) throw new Error('clock broke');
        return NOW;
      },
    });
    broken = true;
    const messages = await heard<WimseVerifyMessage>(WIMSE_CHANNELS.verify, () => verifier.verify(request));
    expect(messages).toEqual([expect.objectContaining({ outcome: 'error', code: 'internal_error', status: 500, method: 'wpt' })]);
  });

  it('the caller still gets the principal or the error, unchanged', async () => {
    const verifier = verifierFor(issuer);
    const ok = await heard(WIMSE_CHANNELS.verify, async () => {
      await expect(verifier.verify(await wptRequest(workload))).resolves.toMatchObject({ workload: 'spiffe://example.org/client' });
      await expect(verifier.verify({ method: 'GET', path: '/', headers: {} })).rejects.toMatchObject({ code: 'credentials_missing' });
    });
    expect(ok).toHaveLength(2);
  });
});

describe('nothing is built or published when nobody listens', () => {
  afterEach(() => vi.restoreAllMocks());

  it('no publish call, no clock read, on success and on failure', async () => {
    expect([verifyChannel.hasSubscribers, jwksChannel.hasSubscribers, replayChannel.hasSubscribers]).toEqual([false, false, false]);
    const request = await wptRequest(workload);
    const verifier = verifierFor(issuer);
    const publish = vi.spyOn(verifyChannel, 'publish');
    const clock = vi.spyOn(performance, 'now');
    await verifier.verify(request);
    await verifier.verify(request).catch(() => undefined); // replay
    await verifier.verify({ method: 'GET', path: '/', headers: {} }).catch(() => undefined);
    expect(publish).not.toHaveBeenCalled();
    expect(clock).not.toHaveBeenCalled();
  });

  it('a failing replay store publishes nothing on wimse:replay', async () => {
    const publish = vi.spyOn(replayChannel, 'publish');
    const verifier = verifierFor(issuer, { replayStore: new BrokenStore(new Error('down')), logger: false });
    await verifier.verify(await wptRequest(workload)).catch(() => undefined);
    expect(publish).not.toHaveBeenCalled();
  });
});

class BrokenStore implements ReplayStore {
  constructor(private readonly error: unknown) {}
  checkAndStore(): boolean {
    throw this.error;
  }
}

describe('wimse:replay: one message per store failure, never the proof id', () => {
  it('a store that throws: replay_unavailable with the store name, kind, workload and error', async () => {
    const request = await wptRequest(workload);
    const verifier = verifierFor(issuer, { replayStore: new BrokenStore(new Error('connection refused')), logger: false });
    const messages = await heard<WimseReplayMessage>(WIMSE_CHANNELS.replay, () => verifier.verify(request));
    expect(messages).toEqual([
      {
        store: 'BrokenStore',
        code: 'replay_unavailable',
        kind: 'wpt',
        workload: 'spiffe://example.org/client',
        error: 'connection refused',
      },
    ]);
    expectNoToken(messages, [workload.wit, String(request.headers.authorization).slice(4)]);
  });

  it('a store that rejects asynchronously: the same message', async () => {
    const store: ReplayStore = { checkAndStore: () => Promise.reject(new Error('timeout')) };
    const verifier = verifierFor(issuer, { replayStore: store, logger: false });
    const messages = await heard<WimseReplayMessage>(WIMSE_CHANNELS.replay, async () => verifier.verify(await wptRequest(workload)));
    expect(messages).toEqual([expect.objectContaining({ store: 'ReplayStore', code: 'replay_unavailable', error: 'timeout' })]);
  });

  it('a store over quota: replay_quota_exceeded', async () => {
    const verifier = verifierFor(issuer, {
      replayStore: new BrokenStore(new WimseError('replay_quota_exceeded', 'quota', { retryAfter: 1 })),
      logger: false,
    });
    const messages = await heard<WimseReplayMessage>(WIMSE_CHANNELS.replay, async () => verifier.verify(await wptRequest(workload)));
    expect(messages).toEqual([expect.objectContaining({ code: 'replay_quota_exceeded', kind: 'wpt' })]);
  });

  it('an HTTP signature nonce: kind sig, and the nonce is not in the message', async () => {
    const signer = await createWorkloadSigner({ wit: workload.wit, privateKey: workload.privateKey });
    const headers = await signer.httpSigHeaders({ method: 'GET', url: `${AUDIENCE}/orders`, now: NOW });
    const nonce = /nonce="([^"]+)"/.exec(headers['signature-input']!)![1]!;
    const verifier = verifierFor(issuer, { replayStore: new BrokenStore(new Error('down')), logger: false });
    const messages = await heard<WimseReplayMessage>(WIMSE_CHANNELS.replay, () =>
      verifier.verify({ method: 'GET', path: '/orders', headers }),
    );
    expect(messages).toEqual([expect.objectContaining({ kind: 'sig', code: 'replay_unavailable' })]);
    expect(JSON.stringify(messages)).not.toContain(nonce);
  });

  it('a replay (the store answered "seen") is not a store failure: nothing published', async () => {
    const request = await wptRequest(workload);
    const verifier = verifierFor(issuer);
    const messages = await heard<WimseReplayMessage>(WIMSE_CHANNELS.replay, async () => {
      await verifier.verify(request);
      await verifier.verify(request);
    });
    expect(messages).toEqual([]);
  });
});

describe('wimse:jwks: one message per fetch of a remote JWKS', () => {
  let server: Server;
  let base: string;
  let answer: (res: import('node:http').ServerResponse) => void;

  beforeAll(async () => {
    server = createServer((_req, res) => answer(res));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const verifierAt = (keys: string) =>
    createVerifier({
      trustDomains: { [TRUST_DOMAIN]: { keys } },
      audience: AUDIENCE,
      now: () => NOW,
      witCache: { ttlSeconds: 0 },
      logger: false,
    });

  it('a good JWKS: ok, status 200, content type, key count, duration', async () => {
    answer = (res) => res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify({ keys: [issuer.publicJwk] }));
    const messages = await heard<WimseJwksMessage>(WIMSE_CHANNELS.jwks, () => verifierAt(`${base}/jwks`).verifyWit(workload.wit));
    expect(messages).toEqual([
      {
        outcome: 'ok',
        trustDomain: 'example.org',
        url: `${base}/jwks`,
        status: 200,
        contentType: 'application/jwk-set+json',
        keys: 1,
        durationMs: expect.any(Number),
      },
    ]);
    expectNoToken(messages, [workload.wit]);
  });

  it('HTTP 404: error, reason status, status 404', async () => {
    answer = (res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('no such file');
    const messages = await heard<WimseJwksMessage>(WIMSE_CHANNELS.jwks, () => verifierAt(`${base}/jwks`).verifyWit(workload.wit));
    expect(messages).toEqual([
      {
        outcome: 'error',
        trustDomain: 'example.org',
        url: `${base}/jwks`,
        status: 404,
        contentType: 'text/plain',
        reason: 'status',
        error: 'HTTP 404',
        durationMs: expect.any(Number),
      },
    ]);
  });

  it('an HTML page with 200 (a login page): error, reason invalid, status 200, content type text/html', async () => {
    answer = (res) => res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Sign in</title>');
    const [m, ...more] = await heard<WimseJwksMessage>(WIMSE_CHANNELS.jwks, () => verifierAt(`${base}/jwks`).verifyWit(workload.wit));
    expect(more).toEqual([]);
    expect(m).toMatchObject({ outcome: 'error', status: 200, contentType: 'text/html; charset=utf-8', reason: 'invalid' });
    expect(m!.error).toMatch(/^not JSON/);
  });

  it('an unreachable JWKS (connection refused): error, reason network, no status', async () => {
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise<void>((r) => gone.close(() => r()));
    const [m, ...more] = await heard<WimseJwksMessage>(WIMSE_CHANNELS.jwks, () =>
      verifierAt(`http://127.0.0.1:${port}/jwks`).verifyWit(workload.wit),
    );
    expect(more).toEqual([]);
    expect(m).toMatchObject({ outcome: 'error', reason: 'network', url: `http://127.0.0.1:${port}/jwks` });
    expect(m).not.toHaveProperty('status');
  });

  it('the query of a JWKS URL (it may be signed) never appears', async () => {
    answer = (res) => res.writeHead(500).end();
    const messages = await heard<WimseJwksMessage>(WIMSE_CHANNELS.jwks, () =>
      verifierAt(`${base}/jwks?signature=abcdef`).verifyWit(workload.wit),
    );
    expect(messages).toEqual([expect.objectContaining({ outcome: 'error', status: 500, url: `${base}/jwks?…` })]);
    expect(JSON.stringify(messages)).not.toContain('abcdef');
  });

  it('a JWKS URL with credentials is refused at start-up (fetch would refuse it on every request)', () => {
    expect(() => verifierAt(`${base.replace('//', '//ops:s3cret@')}/jwks`)).toThrow(/must not carry credentials/);
  });
});

describe('off Node the channels are silent and cost nothing', () => {
  it('without process.getBuiltinModule (workerd without nodejs_compat): nothing is published, verify answers as before', async () => {
    const proc = process as { getBuiltinModule?: unknown };
    const original = proc.getBuiltinModule;
    proc.getBuiltinModule = undefined;
    vi.resetModules();
    try {
      const web = await import('./diagnostics.js');
      expect([web.verifyChannel.hasSubscribers, web.jwksChannel.hasSubscribers, web.replayChannel.hasSubscribers]).toEqual([
        false,
        false,
        false,
      ]);
      const principal = { workload: 'spiffe://example.org/a', trustDomain: 'example.org', method: 'wpt' } as never;
      const messages = await heard(WIMSE_CHANNELS.verify, async () => {
        await expect(web.observeVerify(async () => principal)({ method: 'GET', path: '/', headers: {} })).resolves.toBe(principal);
        await expect(
          web.observeVerify(async () => Promise.reject(new WimseError('forbidden')))({ method: 'GET', path: '/', headers: {} }),
        ).rejects.toMatchObject({ code: 'forbidden' });
      });
      expect(messages).toEqual([]);
      expect(web.subscribe(WIMSE_CHANNELS.verify, () => undefined)).toBeTypeOf('function');
    } finally {
      proc.getBuiltinModule = original;
      vi.resetModules();
    }
  });

  it('the main entry never loads @opentelemetry/api (only @wimse/core/otel does)', async () => {
    const { readFileSync } = await import('node:fs');
    const { dirname, resolve } = await import('node:path');
    const seen = new Set<string>();
    const external: string[] = [];
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of readFileSync(file, 'utf8').matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+'([^']+)'/gms)) {
        const spec = m[1]!;
        if (spec.startsWith('.')) walk(resolve(dirname(file), spec.replace(/\.js$/, '.ts')));
        else external.push(spec);
      }
    };
    walk(new URL('./index.ts', import.meta.url).pathname);
    expect(seen.has(new URL('./diagnostics.ts', import.meta.url).pathname)).toBe(true);
    expect(external.filter((s) => s.startsWith('@opentelemetry/'))).toEqual([]);
  });
});
