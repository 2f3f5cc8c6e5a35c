/**
 * The `logger` option: configuration and upstream failures reach the operator's log with the facts
 * needed to fix them (JWKS URL, status, content type; audience expected vs received; the failing
 * replay store), rate-limited, and never with a token. A real JWKS server runs on 127.0.0.1; the
 * clock is injected, so a minute of flood is stepped, never waited for.
 */
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createWimseHandler, type WimseAdapterOptions } from './adapter.js';
import { WimseError } from './errors.js';
import { LOG_INTERVAL_MS, redact, type WimseLogFields, type WimseLogger } from './logger.js';
import type { ReplayStore } from './replay.js';
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

interface Line {
  level: 'error' | 'warn' | 'info' | 'debug';
  fields: WimseLogFields;
  message: string;
}

/** A pino-shaped logger (fields first) that keeps every line. */
function spyLogger(): WimseLogger & { lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: Line['level']) => (fields: WimseLogFields, message: string) => void lines.push({ level, fields, message });
  return { lines, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') };
}

let issuer: Issuer;
let workload: Workload;
let server: Server;
let base: string;
let answer: (res: ServerResponse) => void = (res) => res.writeHead(500).end();
let clock = NOW;

beforeAll(async () => {
  issuer = await createIssuer();
  workload = await createWorkload(issuer);
  server = createServer((_req, res) => answer(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
afterEach(() => {
  clock = NOW;
  vi.restoreAllMocks();
});

const good = (res: ServerResponse) =>
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [issuer.publicJwk] }));

function remoteVerifier(logger: WimseLogger | false | undefined, remote = {}) {
  return createVerifier({
    trustDomains: { [TRUST_DOMAIN]: { keys: `${base}/.well-known/jwks.json`, remote } },
    audience: AUDIENCE,
    witCache: { ttlSeconds: 0 },
    now: () => clock,
    ...(logger === undefined ? {} : { logger }),
  });
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e instanceof WimseError ? `${e.status} ${e.code}` : `bug ${String(e)}`;
  }
}

describe('a JWKS that cannot be fetched is logged with its URL, status and content type', () => {
  it('HTTP 404: one error line (no key set serves, WITs are refused)', async () => {
    answer = (res) => res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    const log = spyLogger();
    expect(await code(remoteVerifier(log).verifyWit(workload.wit))).toBe('503 trust_unavailable');
    expect(log.lines).toEqual([
      {
        level: 'error',
        fields: {
          event: 'wimse.jwks.failed',
          trustDomain: 'example.org',
          url: `${base}/.well-known/jwks.json`,
          reason: 'status',
          status: 404,
          contentType: 'text/plain',
          error: 'HTTP 404',
          failures: 1,
          retryInMs: 1000,
          servingStale: false,
        },
        message: expect.stringContaining(`${base}/.well-known/jwks.json: HTTP 404`),
      },
    ]);
  });

  it('an HTML page answered 200: status 200 and content type text/html, reason invalid', async () => {
    answer = (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Sign in</title>');
    const log = spyLogger();
    await code(remoteVerifier(log).verifyWit(workload.wit));
    expect(log.lines).toEqual([
      expect.objectContaining({
        level: 'error',
        fields: expect.objectContaining({ status: 200, contentType: 'text/html', reason: 'invalid' }),
      }),
    ]);
    expect(log.lines[0]!.fields.error).toMatch(/^not JSON/);
  });

  it('an unreachable JWKS: reason network, no status', async () => {
    const gone = createServer();
    await new Promise<void>((r) => gone.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(gone.address() as AddressInfo).port}/jwks`;
    await new Promise<void>((r) => gone.close(() => r()));
    const log = spyLogger();
    const v = createVerifier({ trustDomains: { [TRUST_DOMAIN]: { keys: url } }, audience: AUDIENCE, now: () => clock, logger: log });
    expect(await code(v.verifyWit(workload.wit))).toBe('503 trust_unavailable');
    expect(log.lines).toEqual([expect.objectContaining({ level: 'error', fields: expect.objectContaining({ url, reason: 'network' }) })]);
    expect(log.lines[0]!.fields).not.toHaveProperty('status');
  });

  it('while a stale key set still serves: a warning, then an info line when the JWKS is back', async () => {
    const log = spyLogger();
    const v = remoteVerifier(log, { cacheMaxAgeMs: 60_000 });
    answer = good;
    expect(await code(v.verifyWit(workload.wit))).toBe('ok');
    answer = (res) => res.writeHead(502).end();
    clock += 61_000;
    expect(await code(v.verifyWit(workload.wit))).toBe('ok'); // waits for the refresh, which fails: stale set serves
    answer = good;
    clock += 2_000; // past the first backoff
    await code(v.verifyWit(workload.wit)); // serves stale, refreshes in the background
    await vi.waitFor(() => expect(log.lines).toHaveLength(2));
    expect(log.lines.map((l) => [l.level, l.fields.event, l.fields.servingStale])).toEqual([
      ['warn', 'wimse.jwks.failed', true],
      ['info', 'wimse.jwks.recovered', undefined],
    ]);
  });
});

describe('a flood cannot fill the log', () => {
  it('a ten-minute JWKS outage, a request every second: the first line, then one a minute', async () => {
    answer = (res) => res.writeHead(503).end();
    const log = spyLogger();
    const v = remoteVerifier(log);
    for (let s = 0; s < 600; s++) {
      clock = NOW + s * 1000;
      await code(v.verifyWit(workload.wit));
    }
    expect(log.lines.length).toBeGreaterThanOrEqual(2);
    expect(log.lines.length).toBeLessThanOrEqual(1 + 600_000 / LOG_INTERVAL_MS);
    expect(log.lines.slice(1).every((l) => typeof l.fields.suppressed === 'number' && l.fields.suppressed > 0)).toBe(true);
  });

  it('1000 WPTs for another audience within a minute: one line; the next minute tells how many were held back', async () => {
    const log = spyLogger();
    const handler = createWimseHandler({
      trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
      audience: AUDIENCE,
      now: () => clock,
      logger: log,
    });
    const requests = await Promise.all(
      Array.from({ length: 1001 }, () => wptRequest(workload, { aud: 'https://old-name.example.org/orders' })),
    );
    for (const r of requests.slice(0, 1000)) expect((await handler.handle(r)).ok).toBe(false);
    expect(log.lines).toHaveLength(1);
    clock += LOG_INTERVAL_MS;
    await handler.handle(requests[1000]!);
    expect(log.lines).toHaveLength(2);
    expect(log.lines[1]!.fields.suppressed).toBe(999);
  });
});

describe('audience and issuer mismatches are logged by the adapters, expected vs received', () => {
  const handlerOptions = (logger: WimseLogger, extra: Partial<WimseAdapterOptions> = {}): WimseAdapterOptions => ({
    trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
    audience: AUDIENCE,
    now: () => NOW,
    logger,
    ...extra,
  });

  it('wpt_aud: a warning naming this service (target URI without query, wpt-02 §3.1.7) and the aud received', async () => {
    const log = spyLogger();
    const outcome = await createWimseHandler(handlerOptions(log)).handle(
      await wptRequest(workload, { aud: 'https://old-name.example.org/orders' }),
    );
    expect(outcome.ok ? 200 : outcome.response.status).toBe(401);
    expect(log.lines).toEqual([
      {
        level: 'warn',
        fields: {
          event: 'wimse.mismatch',
          code: 'wpt_aud',
          expected: [`${AUDIENCE}/orders`],
          received: ['https://old-name.example.org/orders'],
        },
        message: expect.stringContaining('expected https://api.example.org/orders'),
      },
    ]);
  });

  it('wit_iss: a warning with the configured and the received issuer', async () => {
    const log = spyLogger();
    const other = await createWorkload(issuer, { iss: 'https://rogue.example.org' });
    const handler = createWimseHandler(
      handlerOptions(log, { trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] }, issuer: 'https://id.example.org' } } }),
    );
    await handler.handle(await wptRequest(other));
    expect(log.lines).toEqual([
      expect.objectContaining({
        level: 'warn',
        fields: { event: 'wimse.mismatch', code: 'wit_iss', expected: ['https://id.example.org'], received: ['https://rogue.example.org'] },
      }),
    ]);
  });

  it('a refusal without a mismatch (an expired WPT, no credentials) is not logged', async () => {
    const log = spyLogger();
    const handler = createWimseHandler(handlerOptions(log));
    await handler.handle({ method: 'GET', path: '/', headers: {} });
    await handler.handle({ method: 'GET', path: '/', headers: { 'workload-identity-token': workload.wit, authorization: 'WPT x.y.z' } });
    expect(log.lines).toEqual([]);
  });
});

class BrokenStore implements ReplayStore {
  constructor(private readonly error: unknown) {}
  checkAndStore(): boolean {
    throw this.error;
  }
}

describe('replay store failures are logged', () => {
  it('a store that fails: an error line with the store, kind, workload and its error', async () => {
    const log = spyLogger();
    const v = verifierFor(issuer, { replayStore: new BrokenStore(new Error('ECONNREFUSED 127.0.0.1:6379')), logger: log });
    expect(await code(v.verify(await wptRequest(workload)))).toBe('503 replay_unavailable');
    expect(log.lines).toEqual([
      {
        level: 'error',
        fields: {
          event: 'wimse.replay.failed',
          store: 'BrokenStore',
          code: 'replay_unavailable',
          kind: 'wpt',
          workload: 'spiffe://example.org/client',
          error: 'ECONNREFUSED 127.0.0.1:6379',
        },
        message: expect.stringContaining('BrokenStore failed'),
      },
    ]);
  });

  it('a store over quota: a warning (the workload floods, the store is fine)', async () => {
    const log = spyLogger();
    const v = verifierFor(issuer, {
      replayStore: new BrokenStore(new WimseError('replay_quota_exceeded', 'quota', { retryAfter: 1 })),
      logger: log,
    });
    expect(await code(v.verify(await wptRequest(workload)))).toBe('429 replay_quota_exceeded');
    expect(log.lines).toEqual([
      expect.objectContaining({ level: 'warn', fields: expect.objectContaining({ code: 'replay_quota_exceeded' }) }),
    ]);
  });
});

describe('no log line ever holds a token', () => {
  it('JWKS, mismatch, replay and internal-error lines, each fed a token, show none of it', async () => {
    const log = spyLogger();
    const request = await wptRequest(workload, { aud: 'https://old-name.example.org/orders' });
    const wpt = String(request.headers.authorization).slice(4);
    const tokens = [workload.wit, wpt];
    // A JWKS error page that echoes the token; an aud that is a token; a store error quoting the proof; a bug quoting the WIT.
    answer = (res) => res.writeHead(200, { 'content-type': 'text/html' }).end(`<p>${workload.wit}</p>`);
    await code(remoteVerifier(log).verifyWit(workload.wit));
    const handler = createWimseHandler({
      trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
      audience: AUDIENCE,
      now: () => NOW,
      logger: log,
    });
    await handler.handle(await wptRequest(workload, { aud: `https://api.example.org/${workload.wit}` }));
    await handler.handle(request);
    const v = verifierFor(issuer, { replayStore: new BrokenStore(new Error(`cannot store ${wpt}`)), logger: log });
    await code(v.verify(await wptRequest(workload)));
    let broken = false;
    const buggy = createWimseHandler({
      trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
      audience: AUDIENCE,
      logger: log,
      now: () => {
        if (broken) throw new Error(`bug near ${workload.wit}`);
        return NOW;
      },
    });
    broken = true;
    await buggy.handle({ ...(await wptRequest(workload)), path: `/orders?t=${wpt}` });
    expect(log.lines.map((l) => l.fields.event)).toEqual([
      'wimse.jwks.failed',
      'wimse.mismatch',
      'wimse.replay.failed',
      'wimse.internal_error',
    ]);
    const text = JSON.stringify(log.lines);
    for (const t of tokens) for (const part of [t, ...t.split('.')]) expect(text).not.toContain(part);
  });
});

describe('the logger option', () => {
  it('default: the console, one line each, prefixed @wimse:', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    answer = (res) => res.writeHead(404).end();
    await code(remoteVerifier(undefined).verifyWit(workload.wit));
    expect(error).toHaveBeenCalledTimes(1);
    expect(String(error.mock.calls[0]![0])).toMatch(
      /^@wimse: JWKS of example\.org could not be fetched from .*: HTTP 404; .*\{"event":"wimse\.jwks\.failed",/,
    );
    expect(String(error.mock.calls[0]![0])).not.toContain('\n');
  });

  it('false: nothing is logged, and the answer is the same', async () => {
    const spies = (['error', 'warn', 'info', 'debug', 'log'] as const).map((m) => vi.spyOn(console, m).mockImplementation(() => undefined));
    answer = (res) => res.writeHead(404).end();
    expect(await code(remoteVerifier(false).verifyWit(workload.wit))).toBe('503 trust_unavailable');
    const handler = createWimseHandler({
      trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
      audience: AUDIENCE,
      now: () => NOW,
      logger: false,
    });
    await handler.handle(await wptRequest(workload, { aud: 'https://old-name.example.org/orders' }));
    for (const s of spies) expect(s).not.toHaveBeenCalled();
  });

  it('a logger that throws changes no answer', async () => {
    const thrower: WimseLogger = {
      error: () => {
        throw new Error('log sink down');
      },
      warn: () => {
        throw new Error('log sink down');
      },
    };
    answer = (res) => res.writeHead(404).end();
    expect(await code(remoteVerifier(thrower).verifyWit(workload.wit))).toBe('503 trust_unavailable');
    const handler = createWimseHandler({
      trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
      audience: AUDIENCE,
      now: () => NOW,
      logger: thrower,
    });
    const outcome = await handler.handle(await wptRequest(workload, { aud: 'https://old-name.example.org/orders' }));
    expect(outcome.ok ? 200 : [outcome.response.status, outcome.error.code]).toEqual([401, 'wpt_aud']);
  });

  it('a logger without warn() is refused at start-up, by the verifier and by the adapters', () => {
    const bad = { error: () => undefined } as unknown as WimseLogger;
    const options = { trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } }, audience: AUDIENCE, logger: bad };
    expect(() => createVerifier(options)).toThrow(TypeError);
    expect(() => createWimseHandler(options)).toThrow(/logger must have error\(fields, message\) and warn\(fields, message\)/);
  });

  it('bugs go to logger.error when a logger is set, unless onInternalError is', async () => {
    const log = spyLogger();
    const reported: unknown[] = [];
    let broken = false;
    const now = () => {
      if (broken) throw new Error('clock broke');
      return NOW;
    };
    const base = { trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } }, audience: AUDIENCE, now, logger: log };
    const viaLogger = createWimseHandler(base);
    const viaHook = createWimseHandler({ ...base, onInternalError: (e) => void reported.push(e) });
    broken = true;
    await viaLogger.handle({ ...(await wptRequest(workload)), path: '/orders?secret=1' });
    await viaHook.handle(await wptRequest(workload));
    expect(log.lines).toEqual([
      expect.objectContaining({
        level: 'error',
        fields: expect.objectContaining({ event: 'wimse.internal_error', method: 'GET', path: '/orders' }),
      }),
    ]);
    expect(String(log.lines[0]!.fields.error)).toMatch(/^Error: clock broke/);
    expect(JSON.stringify(log.lines)).not.toContain('secret');
    expect(reported).toHaveLength(1);
  });
});

describe('redact: token-shaped text goes, the rest stays', () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64url');

  it('a whole WIT, a clipped one, and one whose header starts with a line break are replaced', () => {
    const spaced = `${b64('{\n"alg":"ES256"}')}.${b64('{\n"sub":"spiffe://example.org/x"}')}.c2lnbmF0dXJlc2lnbmF0dXJl`;
    for (const token of [workload.wit, workload.wit.slice(0, 120), spaced]) {
      expect(redact(`seen ${token} here`)).toBe('seen [token] here');
    }
  });

  it('host names, URLs, workload identifiers and error codes stay readable', () => {
    const text = 'https://old-name.example.org/orders spiffe://example.org/eyewear wpt_aud keyvault-production.vault.azure.net';
    expect(redact(text)).toBe(text);
  });

  it('long text is bounded', () => {
    expect(redact('x'.repeat(10_000)).length).toBeLessThanOrEqual(257);
  });
});
