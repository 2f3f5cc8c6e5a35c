/**
 * A remote JWKS under outage and rotation, against a real JWKS server on 127.0.0.1 that can
 * fail, hang, answer garbage, stream a huge body and rotate keys. The verifier's clock is
 * injected, so backoff, cooldown, max age and the stale window are stepped, never waited for.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { base64url, decodeProtectedHeader, type JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { JwksEvent } from './remote-jwks.js';
import type { RemoteJwksOptions } from './trust.js';
import { createVerifier, type WimseVerifier } from './verifier.js';
import { AUDIENCE, NOW, createIssuer, createWorkload, type Issuer } from '@wimse/test-support/factory';

type Mode =
  | 'ok'
  | 'error'
  | 'hang'
  | 'stall-body'
  | 'huge'
  | 'huge-declared'
  | 'notfound'
  | 'html'
  | 'garbage'
  | 'no-keys'
  | 'private-key'
  | 'redirect'
  | 'padded'
  | 'held';

const MB = 1024 * 1024;
const HUGE = 50 * MB;

let server: Server;
let url: string;
let mode: Mode = 'ok';
let published: JWK[] = [];
let hits = 0;
/** Each test fetches `${url}?run=N`; a late request of an earlier test is dropped, not counted. */
let run = 0;
let padTo = 0;
/** Bytes the server handed to the socket for the last huge body, and whether the client hung up. */
let huge: { sent: number; closed: Promise<void> } | undefined;
const hanging = new Set<ServerResponse>();
/** In mode `held`: told of each request with a function that sends the keys published when it arrived. */
let onHeld: ((send: () => void) => void) | undefined;

let k1: Issuer;
let k2: Issuer;
let clock = NOW;
let events: JwksEvent[] = [];

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (!req.url?.endsWith(`?run=${run}`)) return void res.destroy(); // late, from an earlier test
  hits++;
  const json = JSON.stringify({ keys: published });
  switch (mode) {
    case 'ok':
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(json);
    case 'padded':
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(json.padEnd(padTo, ' '));
    case 'error':
      return void res.writeHead(500).end('upstream exploded');
    case 'notfound':
      return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    case 'html':
      return void res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Login</title>');
    case 'garbage':
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0xc3, 0x28]));
    case 'no-keys':
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"kids":[]}');
    case 'private-key':
      return void res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ keys: [{ ...published[0], d: 'AAAA' }] }));
    case 'redirect':
      return void res.writeHead(302, { location: `${url}?moved=${run}` }).end();
    case 'hang':
      hanging.add(res);
      return;
    case 'stall-body':
      hanging.add(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      return;
    case 'held':
      hanging.add(res);
      onHeld?.(() => void res.writeHead(200, { 'content-type': 'application/json' }).end(json));
      return;
    case 'huge':
    case 'huge-declared':
      return streamHuge(res, mode === 'huge-declared');
  }
}

// 50 MB of JSON whitespace in 64 KiB chunks, a millisecond apart, respecting back-pressure.
function streamHuge(res: ServerResponse, declare: boolean): void {
  res.writeHead(200, { 'content-type': 'application/json', ...(declare ? { 'content-length': String(HUGE) } : {}) });
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const state = { sent: 0, closed: new Promise<void>((r) => res.once('close', () => r())) };
  huge = state;
  const pump = (): void => {
    if (res.destroyed) return;
    if (state.sent >= HUGE) return void res.end();
    state.sent += chunk.length;
    if (res.write(chunk)) setTimeout(pump, 1);
    else res.once('drain', () => setTimeout(pump, 1));
  };
  pump();
}

beforeAll(async () => {
  k1 = await createIssuer('ES256', 'k1');
  k2 = await createIssuer('ES256', 'k2');
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(() => {
  run++;
  mode = 'ok';
  published = [k1.publicJwk];
  hits = 0;
  clock = NOW;
  events = [];
  huge = undefined;
  onHeld = undefined;
  for (const res of hanging) res.destroy();
  hanging.clear();
});

/** A verifier of WITs alone (no WIT cache, so every call resolves a key) over the test JWKS. */
function verifier(remote: RemoteJwksOptions = {}): WimseVerifier {
  const sink = events; // a late event of an earlier test stays in that test's list
  return createVerifier({
    trustDomains: { 'example.org': { keys: `${url}?run=${run}`, remote: { onEvent: (e) => sink.push(e), ...remote } } },
    audience: AUDIENCE,
    witCache: { ttlSeconds: 0 },
    now: () => clock,
  });
}

async function witOf(issuer: Issuer): Promise<string> {
  return (await createWorkload(issuer, { now: NOW })).wit;
}

/** The same WIT with another protected header: what an attacker with a trusted `sub` can send. */
function withHeader(wit: string, patch: Record<string, unknown>): string {
  const [, payload, signature] = wit.split('.');
  return [base64url.encode(JSON.stringify({ ...decodeProtectedHeader(wit), ...patch })), payload, signature].join('.');
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    const err = e as { code?: string; status?: number; headers?: Record<string, string> };
    const retry = err.headers?.['retry-after'];
    return `${err.status} ${err.code}${retry === undefined ? '' : ` retry-after=${retry}`}`;
  }
}

const failures = () => events.filter((e) => e.type === 'jwks_refresh_failed');

describe('one fetch in flight per trust domain', () => {
  it('1000 concurrent WITs during an outage (HTTP 500) cause one fetch and all get 503 with Retry-After', async () => {
    mode = 'error';
    const v = verifier();
    const forged = withHeader(await witOf(k1), {}).replace(/.{8}$/, 'AAAAAAAA');
    const results = await Promise.all(Array.from({ length: 1000 }, () => outcome(v.verifyWit(forged))));
    expect(hits).toBe(1);
    expect(new Set(results)).toEqual(new Set(['503 trust_unavailable retry-after=1']));
  });

  it('1000 concurrent WITs against a hanging JWKS cause one fetch, all answered 503 at the timeout', async () => {
    mode = 'hang';
    const v = verifier({ timeoutMs: 1500 }); // the JWKS server shares this event loop: leave it time to see the request
    const wit = await witOf(k1);
    const results = await Promise.all(Array.from({ length: 1000 }, () => outcome(v.verifyWit(wit))));
    expect(hits).toBe(1);
    expect(new Set(results)).toEqual(new Set(['503 trust_unavailable retry-after=1']));
    expect(failures().map((e) => e.reason)).toEqual(['timeout']);
  });
});

describe('backoff while the JWKS fails: a bounded number of fetches, never one per request', () => {
  it('a minute-long flood (6000 requests) makes 6 fetches with backoff 1 s doubling to 30 s', async () => {
    mode = 'error';
    const v = verifier({ backoffMinMs: 1000, backoffMaxMs: 30_000 });
    const wit = await witOf(k1);
    for (let step = 0; step < 600; step++) {
      clock = NOW + step * 100;
      await Promise.all(Array.from({ length: 10 }, () => outcome(v.verifyWit(wit))));
    }
    // Attempts at 0, 1, 3, 7, 15 and 31 s; the next one would be at 61 s.
    expect(hits).toBe(6);
    expect(failures().map((e) => e.retryInMs)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000]);
  });

  it('Retry-After tells how long the backoff still runs', async () => {
    mode = 'error';
    const v = verifier({ backoffMinMs: 1000 });
    const wit = await witOf(k1);
    expect(await outcome(v.verifyWit(wit))).toBe('503 trust_unavailable retry-after=1');
    clock = NOW + 1000; // second attempt fails: next one at 3 s
    expect(await outcome(v.verifyWit(wit))).toBe('503 trust_unavailable retry-after=2');
    clock = NOW + 1100;
    expect(await outcome(v.verifyWit(wit))).toBe('503 trust_unavailable retry-after=2');
    expect(hits).toBe(2);
  });

  it('verifies again at the first attempt after the JWKS recovers', async () => {
    mode = 'error';
    const v = verifier({ backoffMinMs: 1000 });
    const wit = await witOf(k1);
    await outcome(v.verifyWit(wit));
    mode = 'ok';
    clock = NOW + 500;
    expect(await outcome(v.verifyWit(wit))).toBe('503 trust_unavailable retry-after=1');
    clock = NOW + 1000;
    expect(await outcome(v.verifyWit(wit))).toBe('ok');
    expect(hits).toBe(2);
    expect(events.at(-1)).toMatchObject({ type: 'jwks_refreshed', trustDomain: 'example.org', url: `${url}?run=${run}`, keys: 1 });
  });
});

describe('fetch timeout', () => {
  it('a JWKS that never answers is abandoned after timeoutMs', async () => {
    mode = 'hang';
    expect(await outcome(verifier({ timeoutMs: 100 }).verifyWit(await witOf(k1)))).toBe('503 trust_unavailable retry-after=1');
    expect(failures()).toMatchObject([{ reason: 'timeout', failures: 1, servingStale: false }]);
  });

  it('a JWKS that sends headers and then stalls the body is abandoned after timeoutMs', async () => {
    mode = 'stall-body';
    expect(await outcome(verifier({ timeoutMs: 100 }).verifyWit(await witOf(k1)))).toBe('503 trust_unavailable retry-after=1');
    expect(failures()).toMatchObject([{ reason: 'timeout' }]);
  });
});

describe('bounded JWKS size', () => {
  it('a 50 MB body streamed without Content-Length is abandoned after maxBytes; the rest is never sent', async () => {
    mode = 'huge';
    const result = await outcome(verifier().verifyWit(await witOf(k1)));
    await huge!.closed; // the client hung up
    expect(result).toBe('503 trust_unavailable retry-after=1');
    expect(failures()).toMatchObject([{ reason: 'too_large' }]);
    // What we could ever have buffered: under 10 MB of the 50 MB (default cap 512 KiB + socket buffers).
    expect(huge!.sent).toBeLessThan(10 * MB);
  });

  it('a body whose Content-Length exceeds maxBytes is refused before it is read', async () => {
    mode = 'huge-declared';
    const result = await outcome(verifier({ maxBytes: 64 * 1024 }).verifyWit(await witOf(k1)));
    await huge!.closed;
    expect(result).toBe('503 trust_unavailable retry-after=1');
    expect(failures()).toMatchObject([{ reason: 'too_large', message: `body of ${HUGE} bytes exceeds ${64 * 1024}` }]);
    expect(huge!.sent).toBeLessThan(10 * MB);
  });

  it('a JWKS of exactly maxBytes is accepted', async () => {
    mode = 'padded';
    padTo = 4096;
    expect(await outcome(verifier({ maxBytes: 4096 }).verifyWit(await witOf(k1)))).toBe('ok');
  });

  it('one byte more than maxBytes is refused', async () => {
    mode = 'padded';
    padTo = 4097;
    expect(await outcome(verifier({ maxBytes: 4096 }).verifyWit(await witOf(k1)))).toBe('503 trust_unavailable retry-after=1');
    expect(failures()).toMatchObject([{ reason: 'too_large' }]);
  });
});

describe('answers that are not a JWKS are reported and refused', () => {
  it.each([
    ['404', 'notfound', 'status', 'HTTP 404'],
    ['500', 'error', 'status', 'HTTP 500'],
    ['a redirect (not followed)', 'redirect', 'status', 'HTTP 302'],
    ['an HTML page', 'html', 'invalid', 'not JSON'],
    ['bytes that are not UTF-8', 'garbage', 'invalid', 'not UTF-8'],
    ['JSON without "keys"', 'no-keys', 'invalid', 'not a JWKS'],
    ['a JWKS holding a private key', 'private-key', 'invalid', 'must be public keys'],
  ] as const)('%s', async (_, m, reason, message) => {
    mode = m;
    expect(await outcome(verifier().verifyWit(await witOf(k1)))).toBe('503 trust_unavailable retry-after=1');
    expect(failures()).toHaveLength(1);
    expect(failures()[0]).toMatchObject({ trustDomain: 'example.org', url: `${url}?run=${run}`, reason });
    expect((failures()[0] as { message: string }).message).toContain(message);
  });

  it('an onEvent that throws changes nothing', async () => {
    const v = verifier({
      onEvent: () => {
        throw new Error('logger down');
      },
    });
    expect(await outcome(v.verifyWit(await witOf(k1)))).toBe('ok');
  });

  it('events never carry the token', async () => {
    mode = 'html';
    const wit = await witOf(k1);
    await outcome(verifier().verifyWit(wit));
    expect(JSON.stringify(events)).not.toContain(wit.split('.')[1]);
  });
});

describe('stale-if-error: the last good key set outlives its max age while the JWKS is unreachable', () => {
  const remote = { cacheMaxAgeMs: 60_000, staleIfErrorMs: 120_000 };

  it('keeps verifying past max age during an outage, up to staleIfErrorMs, and not beyond', async () => {
    const v = verifier(remote);
    const wit = await witOf(k1);
    expect(await outcome(v.verifyWit(wit))).toBe('ok');
    mode = 'error';
    clock = NOW + 60_001;
    expect(await outcome(v.verifyWit(wit))).toBe('ok');
    expect(failures()).toMatchObject([{ servingStale: true }]);
    clock = NOW + 180_000;
    expect(await outcome(v.verifyWit(wit))).toBe('ok');
    clock = NOW + 180_001;
    expect(await outcome(v.verifyWit(wit))).toMatch(/^503 trust_unavailable retry-after=\d+$/);
  });

  it('while serving stale, a flood makes no more fetches than the backoff allows', async () => {
    const v = verifier({ ...remote, backoffMinMs: 1000, backoffMaxMs: 30_000 });
    const wit = await witOf(k1);
    await v.verifyWit(wit);
    mode = 'error';
    hits = 0;
    for (let step = 0; step < 120; step++) {
      clock = NOW + 60_001 + step * 500;
      const results = await Promise.all(Array.from({ length: 10 }, () => outcome(v.verifyWit(wit))));
      expect(new Set(results)).toEqual(new Set(['ok']));
      // Requests arrive through I/O, so the event loop turns between them (verification itself may
      // not yield: on Node it is synchronous), and the background retry's fetch can complete.
      await new Promise((r) => setImmediate(r));
    }
    // Backoff 1, 2, 4, 8, 16 s from 60 s on: at most 6 attempts (retries run in the background here,
    // so a slow one can only delay the next).
    expect(hits).toBeGreaterThanOrEqual(2);
    expect(hits).toBeLessThanOrEqual(6);
  });

  it('while failing, a request is answered from the stale set without waiting for the retry', async () => {
    const v = verifier({ ...remote, timeoutMs: 60_000 });
    const wit = await witOf(k1);
    await v.verifyWit(wit);
    mode = 'error';
    clock = NOW + 60_001;
    await v.verifyWit(wit); // fails once: now failing
    mode = 'hang';
    clock = NOW + 62_000; // backoff over: a retry starts, and hangs
    // Answered from the stale set: had it waited for the retry (60 s timeout), the test would time out.
    expect(await outcome(v.verifyWit(wit))).toBe('ok');
    while (hanging.size === 0) await new Promise((r) => setTimeout(r, 5));
    expect(failures()).toHaveLength(1); // the retry is still open
  });

  it('staleIfErrorMs: 0 refuses right after max age when the JWKS fails', async () => {
    const v = verifier({ cacheMaxAgeMs: 60_000, staleIfErrorMs: 0 });
    const wit = await witOf(k1);
    await v.verifyWit(wit);
    mode = 'error';
    clock = NOW + 60_001;
    expect(await outcome(v.verifyWit(wit))).toBe('503 trust_unavailable retry-after=1');
  });

  it('a healthy JWKS past max age is refetched before use: a removed key is refused at once', async () => {
    const v = verifier(remote);
    const wit = await witOf(k1);
    await v.verifyWit(wit);
    published = [k2.publicJwk];
    clock = NOW + 60_001;
    expect(await outcome(v.verifyWit(wit))).toBe('400 wit_key_unknown');
    expect(hits).toBe(2);
  });

  it('within max age, no refetch', async () => {
    const v = verifier(remote);
    const wit = await witOf(k1);
    await v.verifyWit(wit);
    clock = NOW + 60_000;
    await v.verifyWit(wit);
    expect(hits).toBe(1);
  });
});

describe('unknown kid: refetch at once, 503 while pending or failing, 400 once a fresh set lacks it', () => {
  it('a key published just after a fetch verifies at once, without waiting for a cooldown', async () => {
    const v = verifier({ cooldownMs: 30_000 });
    await v.verifyWit(await witOf(k1));
    published = [k1.publicJwk, k2.publicJwk];
    clock = NOW + 1;
    expect(await outcome(v.verifyWit(await witOf(k2)))).toBe('ok');
    expect(hits).toBe(2);
  });

  it('an unknown kid while the refresh fails answers 503 trust_unavailable with Retry-After', async () => {
    const v = verifier();
    await v.verifyWit(await witOf(k1));
    mode = 'error';
    clock = NOW + 1;
    expect(await outcome(v.verifyWit(await witOf(k2)))).toBe('503 trust_unavailable retry-after=1');
    clock = NOW + 2; // failing: no new fetch, same answer
    expect(await outcome(v.verifyWit(await witOf(k2)))).toBe('503 trust_unavailable retry-after=1');
    expect(hits).toBe(2);
  });

  it('an unknown kid that a fresh set lacks answers 400 wit_key_unknown, and keeps doing so without fetching', async () => {
    const v = verifier({ cooldownMs: 10_000 });
    await v.verifyWit(await witOf(k1));
    const unknown = await witOf(k2);
    clock = NOW + 1;
    expect(await outcome(v.verifyWit(unknown))).toBe('400 wit_key_unknown');
    clock = NOW + 2;
    expect(await outcome(v.verifyWit(unknown))).toBe('400 wit_key_unknown');
    expect(hits).toBe(2);
  });

  it('an unknown kid first asked for during the cooldown is pending (503) until a set fetched after it lacks or has it', async () => {
    const v = verifier({ cooldownMs: 10_000 });
    await v.verifyWit(await witOf(k1));
    clock = NOW + 1;
    await outcome(v.verifyWit(withHeader(await witOf(k1), { kid: 'probe' }))); // spends the cooldown
    published = [k1.publicJwk, k2.publicJwk];
    clock = NOW + 2;
    const fresh = await witOf(k2);
    // The cooldown ends at NOW + 10 001: 9.999 s, so Retry-After 10.
    expect(await outcome(v.verifyWit(fresh))).toBe('503 trust_unavailable retry-after=10');
    clock = NOW + 10_001;
    expect(await outcome(v.verifyWit(fresh))).toBe('ok');
    expect(hits).toBe(3);
  });

  it('a key published after a refetch in flight began is pending (503), not unknown, until a set fetched after it', async () => {
    const v = verifier({ cooldownMs: 10_000 });
    await v.verifyWit(await witOf(k1));
    mode = 'held';
    const held = new Promise<() => void>((resolve) => (onHeld = resolve));
    clock = NOW + 1000;
    // Another caller's unknown kid starts a refetch; the server has the request, with k1 alone published.
    const probe = outcome(v.verifyWit(withHeader(await witOf(k1), { kid: 'probe' })));
    const send = await held;
    published = [k1.publicJwk, k2.publicJwk];
    clock = NOW + 1010;
    const rotated = await witOf(k2);
    const joined = outcome(v.verifyWit(rotated));
    await new Promise((r) => setTimeout(r, 50)); // lets it reach the refetch in flight and join it
    send();
    expect(await probe).toBe('400 wit_key_unknown');
    // That set was asked for before k2 was: it cannot tell k2 is unknown. The cooldown ends at NOW + 11 000.
    expect(await joined).toBe('503 trust_unavailable retry-after=10');
    mode = 'ok';
    clock = NOW + 6010;
    expect(await outcome(v.verifyWit(rotated))).toBe('503 trust_unavailable retry-after=5');
    clock = NOW + 11_000;
    expect(await outcome(v.verifyWit(rotated))).toBe('ok');
    expect(hits).toBe(3);
  });

  it('bursts of 1000 random kids every 5 s for a minute make one fetch per cooldown at most', async () => {
    const v = verifier({ cooldownMs: 10_000 });
    const wit = await witOf(k1);
    await v.verifyWit(wit);
    hits = 0;
    const answers = new Set<string>();
    for (let second = 0; second < 60; second += 5) {
      clock = NOW + 1 + second * 1000;
      const results = await Promise.all(
        Array.from({ length: 1000 }, (_, i) => outcome(v.verifyWit(withHeader(wit, { kid: `x${second}-${i}` })))),
      );
      for (const r of results) answers.add(r.replace(/retry-after=\d+/, 'retry-after=n'));
    }
    // Refetches at 0, 10, 20, 30, 40 and 50 s of the minute.
    expect(hits).toBe(6);
    expect(answers).toEqual(new Set(['400 wit_key_unknown', '503 trust_unavailable retry-after=n']));
    expect(await outcome(v.verifyWit(wit))).toBe('ok'); // the real key still verifies
  });

  it('a kid that is too long to remember is still never accepted', async () => {
    const v = verifier();
    const wit = await witOf(k1);
    await v.verifyWit(wit);
    clock = NOW + 1;
    expect(await outcome(v.verifyWit(withHeader(wit, { kid: 'k'.repeat(1000) })))).toBe('400 wit_key_unknown');
    clock = NOW + 2;
    expect(await outcome(v.verifyWit(withHeader(wit, { kid: 'k'.repeat(1000) })))).toBe('503 trust_unavailable retry-after=10');
  });
});

describe('two instances and a restart', () => {
  it('two verifiers keep their own key sets: one fetch each', async () => {
    const wit = await witOf(k1);
    await Promise.all([verifier().verifyWit(wit), verifier().verifyWit(wit)]);
    expect(hits).toBe(2);
  });

  it('a verifier started during an outage has no keys to serve: 503 until the JWKS answers', async () => {
    const wit = await witOf(k1);
    await verifier().verifyWit(wit);
    mode = 'error';
    const restarted = verifier();
    expect(await outcome(restarted.verifyWit(wit))).toBe('503 trust_unavailable retry-after=1');
    mode = 'ok';
    clock = NOW + 1000;
    expect(await outcome(restarted.verifyWit(wit))).toBe('ok');
  });
});

describe('remote options are validated at start-up', () => {
  it.each([
    ['timeoutMs', { timeoutMs: 0 }],
    ['maxBytes', { maxBytes: -1 }],
    ['cacheMaxAgeMs', { cacheMaxAgeMs: Number.NaN }],
    ['staleIfErrorMs', { staleIfErrorMs: -5 }],
    ['backoffMaxMs', { backoffMinMs: 2000, backoffMaxMs: 1000 }],
  ] as const)('%s', (name, remote) => {
    expect(() => verifier(remote)).toThrow(new RegExp(`remote\\.${name}`));
  });
});
