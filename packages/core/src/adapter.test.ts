/** The adapter glue every framework shares: optional mode, policies, the error response and its hook. */
import { beforeAll, describe, expect, it } from 'vitest';
import { connectionOf, createWimseHandler, headersFor, problemResponse, type WimseAdapterOptions } from './adapter.js';
import { WimseError } from './errors.js';
import { AUDIENCE, NOW, TRUST_DOMAIN, createIssuer, createWorkload, wptRequest, type Issuer, type Workload } from './test-support/factory.js';

let issuer: Issuer;
let client: Workload;
let admin: Workload;

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  client = await createWorkload(issuer);
  admin = await createWorkload(issuer, { sub: `spiffe://${TRUST_DOMAIN}/admin` });
});

const handlerWith = (o: Partial<WimseAdapterOptions> = {}) =>
  createWimseHandler({ trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } }, audience: AUDIENCE, now: () => NOW, ...o });
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
    expect(denied.ok ? 'accepted' : [denied.error.code, denied.response.status, denied.response.headers['www-authenticate']]).toEqual(['forbidden', 403, undefined]);
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
    expect(r).toEqual({ status: 403, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify(new WimseError('forbidden', 'nope').problem) });
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
