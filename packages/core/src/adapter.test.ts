/** The adapter glue every framework shares: optional mode, policies, the error response and its hook. */
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  connectionOf,
  createWimseHandler,
  headersFor,
  problemResponse,
  type WimseAdapterOptions,
  type WimseRouteRules,
} from './adapter.js';
import { createAuthorizer, type WorkloadPolicy } from './authorization.js';
import { WimseError } from './errors.js';
import { createWorkloadSigner } from './signer.js';
import type { WimseRequest } from './request.js';
import {
  AUDIENCE,
  NOW,
  TRUST_DOMAIN,
  createIssuer,
  createWorkload,
  wptRequest,
  type Issuer,
  type Workload,
} from '@wimse/test-support/factory';

let issuer: Issuer;
let client: Workload;
let admin: Workload;

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  client = await createWorkload(issuer);
  admin = await createWorkload(issuer, { sub: `spiffe://${TRUST_DOMAIN}/admin` });
});

const handlerWith = (o: Partial<WimseAdapterOptions> = {}) =>
  createWimseHandler({
    trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
    audience: AUDIENCE,
    now: () => NOW,
    ...o,
  });
const anonymous = { method: 'GET', path: '/orders', headers: {} };

describe('handle', () => {
  it('resolves to the principal', async () => {
    const outcome = await handlerWith().handle(await wptRequest(client));
    expect(outcome.ok && outcome.principal?.workload).toBe(client.sub);
  });

  it('renders errors as problem+json with the core status and headers', async () => {
    const outcome = await handlerWith().handle(anonymous);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.response.status).toBe(401);
    expect(outcome.response.headers).toEqual({ 'www-authenticate': 'WPT', 'content-type': 'application/problem+json' });
    expect(JSON.parse(outcome.response.body)).toEqual(outcome.error.problem);
  });
});

describe('signsResponses', () => {
  // An adapter leaves its response hook out when false: no outcome may then carry a signature to make.
  it('false without a responseSigner or with signResponses never: a request asking is refused 501, with nothing to sign', async () => {
    const signer = await createWorkloadSigner({ wit: client.wit, privateKey: client.privateKey });
    const path = '/orders';
    const headers = await signer.httpSigHeaders({ method: 'GET', url: AUDIENCE + path, signResponse: true, now: NOW });
    const cases = [handlerWith(), handlerWith({ responseSigner: signer, signResponses: 'never' })];
    expect([...cases.map((h) => h.signsResponses), handlerWith({ responseSigner: signer }).signsResponses]).toEqual([false, false, true]);
    for (const h of cases) {
      const outcome = await h.handle({ method: 'GET', path, headers });
      expect([outcome.ok ? 'accepted' : outcome.response.status, outcome.responseSignature]).toEqual([501, undefined]);
    }
  });
});

describe('optional mode', () => {
  it('lets a request without credentials through with no principal', async () => {
    expect(await handlerWith({ optional: true }).handle(anonymous)).toEqual({ ok: true, principal: undefined });
  });

  it('still rejects invalid credentials', async () => {
    const outcome = await handlerWith({ optional: true }).handle({ ...anonymous, headers: { 'workload-identity-token': client.wit } });
    expect(outcome.ok ? 'accepted' : outcome.error.code).toBe('wpt_missing');
  });

  it('is set per route, overriding the adapter', async () => {
    const h = handlerWith({ optional: true });
    expect((await h.handle(anonymous, h.route({ optional: false }))).ok).toBe(false);
    expect((await handlerWith().handle(anonymous, h.route({ optional: true }))).ok).toBe(true);
  });
});

describe('policy', () => {
  it('applies the adapter-wide allow list, then the route one (403)', async () => {
    const h = handlerWith({ allow: `spiffe://${TRUST_DOMAIN}` });
    const onlyAdmin = h.route({ allow: `spiffe://${TRUST_DOMAIN}/admin` });
    const denied = await h.handle(await wptRequest(client), onlyAdmin);
    expect(denied.ok ? 'accepted' : [denied.error.code, denied.response.status, denied.response.headers['www-authenticate']]).toEqual([
      'forbidden',
      403,
      undefined,
    ]);
    expect((await h.handle(await wptRequest(admin), onlyAdmin)).ok).toBe(true);
    const outsider = await handlerWith({ allow: 'spiffe://other.org' }).handle(await wptRequest(client));
    expect(outsider.ok ? 'accepted' : outsider.error.code).toBe('forbidden');
  });

  it('authorize: no principal is a 401, a disallowed one a 403', () => {
    const h = handlerWith();
    const check = h.route({ allow: `spiffe://${TRUST_DOMAIN}/admin` }).authorize!;
    const none = h.authorize(undefined, check);
    expect(none.ok ? 'accepted' : none.error.code).toBe('credentials_missing');
  });
});

describe('error hook', () => {
  it('replaces the response, and sees the error and the request', async () => {
    const seen: string[] = [];
    const h = handlerWith({
      onError: (error, response, request) => {
        seen.push(`${error.code} ${request?.path} ${response.status}`);
        return request?.path === '/orders' ? { status: 404, headers: {}, body: '' } : undefined;
      },
    });
    const replaced = await h.handle(anonymous);
    expect(replaced.ok ? undefined : replaced.response).toEqual({ status: 404, headers: {}, body: '' });
    const kept = await h.handle({ ...anonymous, path: '/other' });
    expect(kept.ok ? undefined : kept.response.status).toBe(401);
    expect(seen).toEqual(['credentials_missing /orders 401', 'credentials_missing /other 401']);
  });
});

describe('needsBody', () => {
  const signedPost = { 'signature-input': 'wimse=()', 'content-length': '12' };
  it('only for a signature over a request with content, when signatures are accepted', () => {
    expect(handlerWith().needsBody(signedPost)).toBe(true);
    expect(handlerWith().needsBody({ 'signature-input': 'wimse=()', 'transfer-encoding': 'chunked' })).toBe(true);
    expect(handlerWith().needsBody({ ...signedPost, 'content-length': '0' })).toBe(false);
    expect(handlerWith().needsBody({ 'content-length': '12', authorization: 'WPT x' })).toBe(false);
    expect(handlerWith({ proofs: ['wpt'] }).needsBody(signedPost)).toBe(false);
  });

  it('readsBodies: false only when signatures are not accepted (needsBody is then always false)', () => {
    expect([
      handlerWith().readsBodies,
      handlerWith({ proofs: ['wpt'] }).readsBodies,
      handlerWith({ proofs: ['http-sig'] }).readsBodies,
    ]).toEqual([true, false, true]);
  });

  it('without any length, only when a Content-Digest announces a body (HTTP/2 frames bodies itself, RFC 9113 §8.1)', () => {
    expect(handlerWith().needsBody({ 'signature-input': 'wimse=()', 'content-digest': 'sha-256=:AAAA:' })).toBe(true);
    expect(handlerWith().needsBody({ 'signature-input': 'wimse=()' })).toBe(false);
  });
});

describe('maxBodyBytes', () => {
  it('refuses a body over the limit that a framework already read: 413, connection kept (nothing left unread)', async () => {
    const outcome = await handlerWith({ maxBodyBytes: 4 }).handle({ ...anonymous, method: 'POST', body: new Uint8Array(5) });
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect([outcome.response.status, outcome.error.code, outcome.response.headers.connection]).toEqual([413, 'body_too_large', undefined]);
  });

  it('checks a body of exactly the limit as usual (here: no credentials)', async () => {
    const outcome = await handlerWith({ maxBodyBytes: 4 }).handle({ ...anonymous, method: 'POST', body: new Uint8Array(4) });
    expect(!outcome.ok && outcome.error.code).toBe('credentials_missing');
  });
});

describe('headersFor', () => {
  const unread = problemResponse(new WimseError('body_too_large', 'x', { closeConnection: true }));
  it('keeps Connection: close on HTTP/1.x', () => {
    expect(headersFor(unread, 1).connection).toBe('close');
    expect(headersFor(unread, undefined).connection).toBe('close');
  });

  it('drops it on HTTP/2, where connection-specific fields are malformed (RFC 9113 §8.2.2)', () => {
    expect(headersFor(unread, 2)).toEqual({ 'content-type': 'application/problem+json' });
  });
});

describe('options', () => {
  it.each([
    ['optional', { optional: 'yes' as unknown as boolean }, /optional/],
    ['onError', { onError: 'log' as unknown as undefined }, /onError/],
    ['maxBodyBytes', { maxBodyBytes: -1 }, /maxBodyBytes/],
    ['allow', { allow: 'https://example.org/x' }, /Invalid workload pattern/],
    ['audience (verifier options)', { audience: [] }, /audience/],
  ])('rejects a bad %s at start-up', (_name, bad, message) => {
    expect(() => handlerWith(bad)).toThrow(message);
  });

  it('rejects a bad route pattern when the route is compiled', () => {
    expect(() => handlerWith().route({ allow: ['spiffe://example.org/a', 'x'] })).toThrow(TypeError);
  });
});

describe('problemResponse', () => {
  it('serializes the problem', () => {
    const r = problemResponse(new WimseError('forbidden', 'nope'));
    expect(r).toEqual({
      status: 403,
      headers: { 'content-type': 'application/problem+json' },
      body: JSON.stringify(new WimseError('forbidden', 'nope').problem),
    });
  });
});

describe('connectionOf', () => {
  const der = (n: number) => new Uint8Array([n]);
  it('returns the chain leaf first, stopping at a self-signed root, and the peer address', () => {
    const root: { raw: Uint8Array; issuerCertificate?: unknown } = { raw: der(3) };
    root.issuerCertificate = root;
    const leaf = { raw: der(1), issuerCertificate: { raw: der(2), issuerCertificate: root } };
    expect(connectionOf({ encrypted: true, remoteAddress: '10.0.0.7', getPeerCertificate: () => leaf })).toEqual({
      peerCertificates: [der(1), der(2), der(3)],
      remoteAddress: '10.0.0.7',
    });
  });

  it('has no certificates without TLS or without a client certificate', () => {
    expect(connectionOf({ remoteAddress: '127.0.0.1' })).toEqual({ peerCertificates: undefined, remoteAddress: '127.0.0.1' });
    expect(connectionOf(undefined)).toEqual({ peerCertificates: undefined, remoteAddress: undefined });
    expect(connectionOf({ encrypted: true, getPeerCertificate: () => ({}) }).peerCertificates).toBeUndefined();
  });
});

// Issue #9 item 6: a misspelt or malformed policy must throw at start-up, never be ignored (fail open).
describe('unknown keys and malformed policies throw at start-up', () => {
  it('an unknown adapter option, naming it and the allowed ones', () => {
    expect(() => handlerWith({ alow: `spiffe://${TRUST_DOMAIN}/admin` } as Partial<WimseAdapterOptions>)).toThrow(
      /WIMSE options: unknown option "alow" \(allowed: .*\ballow\b.*onInternalError/,
    );
  });

  it('an unknown route rule, naming it and the allowed ones', () => {
    expect(() => handlerWith().route({ alow: `spiffe://${TRUST_DOMAIN}/admin` } as WimseRouteRules)).toThrow(
      /route rules: unknown option "alow" \(allowed: public, optional, allow, scope\)/,
    );
  });

  it('route rules that are not an object', () => {
    expect(() => handlerWith().route(`spiffe://${TRUST_DOMAIN}/admin` as WimseRouteRules)).toThrow(
      /route rules: expected an options object/,
    );
  });

  it('a non-boolean public', () => {
    expect(() => handlerWith().route({ public: 'yes' } as unknown as WimseRouteRules)).toThrow(/public must be a boolean/);
  });

  it('a public route that also names allow or optional', () => {
    expect(() => handlerWith().route({ public: true, allow: `spiffe://${TRUST_DOMAIN}/admin` })).toThrow(/public route/);
  });

  it.each<[string, unknown]>([
    ['an options object instead of a policy', { allow: `spiffe://example.org/admin` }],
    ['an empty list', []],
    ['a list with a number', ['spiffe://example.org/admin', 7]],
    ['null', null],
  ])('a workload policy that is %s', (_name, policy) => {
    expect(() => createAuthorizer(policy as WorkloadPolicy)).toThrow(
      /Workload policy: expected a workload pattern, a non-empty list of patterns or a predicate/,
    );
    expect(() => handlerWith({ allow: policy as WorkloadPolicy })).toThrow(TypeError);
    expect(() => handlerWith().route({ allow: policy as WorkloadPolicy })).toThrow(TypeError);
  });

  it('a public route skips authentication', async () => {
    const h = handlerWith();
    expect(await h.handle(anonymous, h.route({ public: true }))).toEqual({ ok: true, principal: undefined });
  });
});

// Issue #9 item 7: bad input is a 4xx WimseError; anything else is a bug, answered 500 and reported.
describe('a bug is a 500 internal_error that is reported', () => {
  // A clock that breaks once the handler is built (it is also read while building).
  const breakingClock = (bug: unknown) => {
    let broken = false;
    return {
      now: () => {
        if (broken) throw bug;
        return NOW;
      },
      breakNow: () => void (broken = true),
    };
  };
  const collect = () => {
    const reports: { error: unknown; request: WimseRequest | undefined }[] = [];
    return { reports, onInternalError: (error: unknown, request: WimseRequest | undefined) => void reports.push({ error, request }) };
  };

  it('an exception inside the verifier: 500 problem, generic detail, reported with the request, through the error hook', async () => {
    const bug = new RangeError('clock broke near eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl');
    const { reports, onInternalError } = collect();
    const hooked: string[] = [];
    const clock = breakingClock(bug);
    const h = handlerWith({
      now: clock.now,
      onInternalError,
      onError: (error, response) => void hooked.push(`${error.code} ${response.status}`),
    });
    clock.breakNow();
    const request = await wptRequest(client);
    const outcome = await h.handle(request);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect([outcome.response.status, outcome.response.headers['content-type']]).toEqual([500, 'application/problem+json']);
    expect(JSON.parse(outcome.response.body)).toEqual({
      type: 'https://github.com/wimse-js/wimse-js/blob/main/docs/errors.md#internal_error',
      title: 'Internal error',
      status: 500,
      detail: 'The request could not be processed; the error was reported',
      code: 'internal_error',
    });
    expect(reports).toEqual([{ error: bug, request }]);
    expect(hooked).toEqual(['internal_error 500']);
    expect(outcome.error.cause).toBe(bug);
  });

  it('a predicate that throws', async () => {
    const { reports, onInternalError } = collect();
    const outcome = await handlerWith({
      onInternalError,
      allow: () => {
        throw new TypeError('policy bug');
      },
    }).handle(await wptRequest(client));
    expect(outcome.ok ? 'accepted' : [outcome.response.status, outcome.error.code]).toEqual([500, 'internal_error']);
    expect(String(reports[0]?.error)).toBe('TypeError: policy bug');
  });

  it('a predicate that answers a Promise is never taken as a yes', async () => {
    const { reports, onInternalError } = collect();
    const h = handlerWith({ onInternalError });
    const asyncPredicate = h.route({ allow: (async () => true) as unknown as WorkloadPolicy });
    const outcome = await h.handle(await wptRequest(client), asyncPredicate);
    expect(outcome.ok ? 'accepted' : [outcome.response.status, outcome.error.code]).toEqual([500, 'internal_error']);
    expect(String(reports[0]?.error)).toMatch(/must return a boolean, not object/);
  });

  it('an error hook that throws: the plain 500 problem, reported', async () => {
    const { reports, onInternalError } = collect();
    const outcome = await handlerWith({
      onInternalError,
      onError: () => {
        throw new Error('hook bug');
      },
    }).handle(anonymous);
    expect(outcome.ok ? 'accepted' : [outcome.response.status, JSON.parse(outcome.response.body).code]).toEqual([500, 'internal_error']);
    expect(String(reports[0]?.error)).toBe('Error: hook bug');
  });

  it('a reporter that throws does not take the answer down', async () => {
    const clock = breakingClock(new Error('bug'));
    const h = handlerWith({
      now: clock.now,
      onInternalError: () => {
        throw new Error('reporter down');
      },
    });
    clock.breakNow();
    const outcome = await h.handle(await wptRequest(client));
    expect(outcome.ok ? 'accepted' : outcome.response.status).toBe(500);
  });

  it('fail(): a WimseError stays itself, anything else is internal_error', () => {
    const { reports, onInternalError } = collect();
    const h = handlerWith({ onInternalError });
    expect(h.fail(new WimseError('body_too_large')).response.status).toBe(413);
    expect(h.fail(new Error('x')).error.code).toBe('internal_error');
    expect(reports).toHaveLength(1);
  });

  it('by default goes to console.error, with tokens redacted and the query left out', async () => {
    const spy = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const token = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
      const clock = breakingClock(new Error(`bad ${token}`));
      const h = handlerWith({ now: clock.now });
      clock.breakNow();
      await h.handle({ ...(await wptRequest(client)), path: '/orders?secret=1' });
      expect(spy).toHaveBeenCalledTimes(1);
      const line = String(spy.mock.calls[0]?.[0]);
      expect(line).toMatch(/^@wimse: internal error on GET \/orders, answered 500 internal_error:\nError: bad \[token\]/);
      expect(line).not.toContain(token);
      expect(line).not.toContain('secret');
    } finally {
      spy.mockRestore();
    }
  });
});
