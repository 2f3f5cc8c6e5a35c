import { decodeJwt, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { createWimseFetch, identityServerWitSource, type PublicProofJwk, type WimseFetchOptions } from './client.js';
import { WimseError, PROBLEM_CONTENT_TYPE, isWimseError } from './errors.js';
import { createResponseVerifier, signHttpResponse } from './http-signature/index.js';
import { createWorkloadSigner } from './signer.js';
import type { VerifierOptions } from './options.js';
import type { WimseRequest } from './request.js';
import { createVerifier } from './verifier.js';
import { issueWit } from './wit.js';
import { createIssuer, createWorkload, type Issuer } from '@wimse/test-support/factory';

const SERVICE = 'https://svc.example.org';

/** A WIT source backed by a local issuer, counting what it issued. */
function localSource(issuer: Issuer, o: { lifetime?: number; sub?: string } = {}) {
  const issued: { wit: string; jwk: PublicProofJwk }[] = [];
  const source = async (jwk: PublicProofJwk) => {
    const wit = await issueWit({
      sub: o.sub ?? 'spiffe://example.org/client',
      cnfJwk: { ...jwk },
      issuerKey: issuer.privateKey,
      alg: issuer.alg,
      kid: issuer.kid,
      lifetime: o.lifetime ?? 600,
    });
    issued.push({ wit, jwk });
    return wit;
  };
  return Object.assign(source, { issued });
}

interface Seen {
  request: WimseRequest;
  init: RequestInit;
}

/** A `fetch` that runs the core verifier on what the client sends and answers like an adapter would. */
function verifyingFetch(verifierOptions: Partial<VerifierOptions> & Pick<VerifierOptions, 'trustDomains'>) {
  const verifier = createVerifier({ audience: SERVICE, ...verifierOptions });
  const seen: Seen[] = [];
  const impl = async (input: RequestInfo | URL, init: RequestInit = {}): Promise<Response> => {
    const url = new URL(String(input));
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const body = init.body instanceof Uint8Array ? init.body : undefined;
    const request: WimseRequest = { method: init.method ?? 'GET', path: url.pathname + url.search, headers, body };
    seen.push({ request, init });
    try {
      const p = await verifier.verify(request);
      return Response.json({
        workload: p.workload,
        method: p.method,
        txnToken: p.context.txnToken ?? null,
        body: body ? new TextDecoder().decode(body) : null,
      });
    } catch (e) {
      if (!(e instanceof WimseError)) throw e;
      return new Response(JSON.stringify(e.problem), { status: e.status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...e.headers } });
    }
  };
  return Object.assign(impl as typeof fetch, { seen });
}

/** Answers the listed URLs with a redirect, any other with `next`; records every URL asked for. */
function redirector(next: typeof fetch, redirects: Record<string, [number, string]>) {
  const calls: string[] = [];
  const impl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    calls.push(String(input));
    const hop = redirects[String(input)];
    if (hop === undefined) return next(input, init);
    expect(init?.redirect).toBe('manual');
    return new Response(null, { status: hop[0], headers: { location: hop[1] } });
  }) as typeof fetch;
  return Object.assign(impl, { calls });
}

const wptOf = (seen: Seen): string => String(seen.request.headers.authorization).replace(/^WPT /, '');

async function setup(options: Partial<WimseFetchOptions> = {}, sourceOptions: { lifetime?: number } = {}) {
  const issuer = await createIssuer();
  const source = localSource(issuer, sourceOptions);
  const server = verifyingFetch({ trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } } });
  const wimseFetch = createWimseFetch({ witSource: source, fetch: server, ...options });
  return { issuer, source, server, wimseFetch };
}

describe('createWimseFetch', () => {
  it('obtains a WIT lazily, once, and signs each request with a fresh WPT', async () => {
    const { source, server, wimseFetch } = await setup();
    expect(source.issued).toHaveLength(0);
    const responses = await Promise.all([1, 2, 3].map((i) => wimseFetch(`${SERVICE}/whoami?i=${i}`)));
    for (const res of responses) expect(await res.json()).toMatchObject({ workload: 'spiffe://example.org/client', method: 'wpt' });
    expect(source.issued).toHaveLength(1);
    const wpts = server.seen.map((s) => s.request.headers.authorization);
    expect(new Set(wpts).size).toBe(3);
    expect(server.seen.every((s) => s.request.headers['workload-identity-token'] === source.issued[0]!.wit)).toBe(true);
  });

  it('sends a fresh public key with alg, and never the private key', async () => {
    const { source, wimseFetch } = await setup({ alg: 'EdDSA' });
    await wimseFetch(`${SERVICE}/whoami`);
    const jwk = source.issued[0]!.jwk as JWK;
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(jwk).not.toHaveProperty('d');
  });

  it('sends the body and method unchanged', async () => {
    const { server, wimseFetch } = await setup();
    const res = await wimseFetch(`${SERVICE}/echo`, {
      method: 'POST',
      body: JSON.stringify({ a: 1 }),
      headers: { 'content-type': 'application/json', 'x-extra': 'kept' },
    });
    expect(await res.json()).toMatchObject({ body: '{"a":1}' });
    expect(server.seen[0]!.request).toMatchObject({ method: 'POST', headers: { 'content-type': 'application/json', 'x-extra': 'kept' } });
  });

  it('accepts a Request object as input', async () => {
    const { server, wimseFetch } = await setup();
    const res = await wimseFetch(new Request(`${SERVICE}/echo`, { method: 'PUT', body: 'x' }));
    expect(res.status).toBe(200);
    expect(server.seen[0]!.request.method).toBe('PUT');
  });

  it('binds a Txn-Token with tth', async () => {
    const { server, wimseFetch } = await setup();
    const res = await wimseFetch(`${SERVICE}/whoami`, { wimse: { txnToken: 'txn.token.value' } });
    expect(await res.json()).toMatchObject({ txnToken: 'txn.token.value' });
    const wpt = String(server.seen[0]!.request.headers.authorization).slice(4);
    expect(decodeJwt(wpt).tth).toEqual(expect.any(String));
  });

  it('signs with an HTTP signature per call, covering the body with Content-Digest', async () => {
    const { server, wimseFetch } = await setup();
    const res = await wimseFetch(`${SERVICE}/echo?x=1`, {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
      wimse: { proof: 'http-sig' },
    });
    expect(await res.json()).toMatchObject({ method: 'http-sig', body: '{"a":1}' });
    const headers = server.seen[0]!.request.headers;
    expect(headers).toHaveProperty('content-digest');
    expect(headers).toHaveProperty('signature-input');
    expect(headers).not.toHaveProperty('authorization');
  });

  it('uses the default proof for calls that do not choose one, and covers a Txn-Token in a signature', async () => {
    const { server, wimseFetch } = await setup({ proof: 'http-sig' });
    const res = await wimseFetch(`${SERVICE}/whoami`, { wimse: { txnToken: 'txn.token.value' } });
    expect(await res.json()).toMatchObject({ method: 'http-sig', txnToken: 'txn.token.value' });
    expect(String(server.seen[0]!.request.headers['signature-input'])).toContain('"txn-token"');
    expect((await wimseFetch(`${SERVICE}/whoami`, { wimse: { proof: 'wpt' } })).status).toBe(200);
    expect(server.seen[1]!.request.headers.authorization).toMatch(/^WPT /);
  });

  it('a signed body cannot be swapped after signing', async () => {
    const issuer = await createIssuer();
    const source = localSource(issuer);
    const verify = verifyingFetch({ trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } } });
    // A man in the middle replaces the body but keeps every header.
    const tamper = (async (url: RequestInfo | URL, init: RequestInit = {}) =>
      verify(url, { ...init, body: new TextEncoder().encode('{"a":2}') })) as typeof fetch;
    const res = await createWimseFetch({ witSource: source, fetch: tamper })(`${SERVICE}/echo`, {
      method: 'POST',
      body: '{"a":1}',
      wimse: { proof: 'http-sig' },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('digest_mismatch');
  });

  it('does not follow redirects unless asked', async () => {
    const { server, wimseFetch } = await setup();
    const redirecting = redirector(server, { [`${SERVICE}/a`]: [302, `${SERVICE}/b`] });
    const res = await createWimseFetch({ witSource: localSource(await createIssuer()), fetch: redirecting })(`${SERVICE}/a`);
    expect([res.status, res.headers.get('location'), redirecting.calls]).toEqual([302, `${SERVICE}/b`, [`${SERVICE}/a`]]);
    // The underlying fetch never follows: a proof it sent would go to a target it was not made for.
    await wimseFetch(`${SERVICE}/c`, { redirect: 'follow' });
    expect(server.seen.map((s) => s.init.redirect)).toEqual(['manual']);
  });

  describe("redirect: 'follow' — every hop is a request of its own (Fetch §4.4)", () => {
    it('a hop to plain http on another host is refused before anything is sent there (TLS only)', async () => {
      const { server, issuer } = await setup();
      const redirecting = redirector(server, { [`${SERVICE}/a`]: [302, 'http://svc.example.net/b'] });
      const wimseFetch = createWimseFetch({ witSource: localSource(issuer), fetch: redirecting });
      await expect(wimseFetch(`${SERVICE}/a`, { redirect: 'follow' })).rejects.toThrow(/Refusing to send workload credentials over http:/);
      expect(redirecting.calls).toEqual([`${SERVICE}/a`]);
    });

    it('each hop carries a proof for its own target, which the target accepts', async () => {
      const { server, issuer } = await setup();
      const redirecting = redirector(server, { [`${SERVICE}/a`]: [307, '/b?x=1'] });
      const wimseFetch = createWimseFetch({ witSource: localSource(issuer), fetch: redirecting });
      const res = await wimseFetch(`${SERVICE}/a`, {
        method: 'POST',
        body: 'hi',
        headers: { 'content-type': 'text/plain' },
        redirect: 'follow',
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ workload: 'spiffe://example.org/client', body: 'hi' });
      expect(redirecting.calls).toEqual([`${SERVICE}/a`, `${SERVICE}/b?x=1`]);
      expect(decodeJwt(wptOf(server.seen.at(-1)!)).aud).toBe(`${SERVICE}/b`);
    });

    it('303 turns a POST into a GET without its body; a hop to another origin drops a bearer Authorization', async () => {
      const { server, issuer } = await setup();
      const redirecting = redirector(server, { [`${SERVICE}/a`]: [303, 'https://other.example.org/b'] });
      const wimseFetch = createWimseFetch({
        witSource: localSource(issuer),
        fetch: redirecting,
        wpt: { version: 'wpt-01' },
      });
      await wimseFetch(`${SERVICE}/a`, { method: 'POST', body: 'hi', headers: { authorization: 'Bearer at-1' }, redirect: 'follow' });
      const last = server.seen.at(-1)!;
      expect([last.request.method, last.request.body, last.request.headers.authorization]).toEqual(['GET', undefined, undefined]);
      expect(decodeJwt(String(last.request.headers['workload-proof-token'])).ath).toBeUndefined();
    });

    it('stops after 20 redirects', async () => {
      const { server, issuer } = await setup();
      const redirecting = redirector(server, { [`${SERVICE}/a`]: [302, `${SERVICE}/a`] });
      const wimseFetch = createWimseFetch({ witSource: localSource(issuer), fetch: redirecting });
      await expect(wimseFetch(`${SERVICE}/a`, { redirect: 'follow' })).rejects.toThrow(/More than 20 redirects/);
      expect(redirecting.calls).toHaveLength(21);
    });
  });

  it('renews the WIT and key before expiry, not before', async () => {
    let t = Date.now();
    const { source, server, wimseFetch } = await setup({ now: () => t }, { lifetime: 100 });
    await wimseFetch(`${SERVICE}/one`);
    t += 79_000; // default renewal: a fifth of the lifetime (20 s) before exp
    await wimseFetch(`${SERVICE}/two`);
    expect(source.issued).toHaveLength(1);
    t += 2_000;
    const res = await wimseFetch(`${SERVICE}/three`);
    expect(res.status).toBe(200);
    expect(source.issued).toHaveLength(2);
    expect(source.issued[1]!.jwk.x).not.toBe(source.issued[0]!.jwk.x);
    expect(server.seen[2]!.request.headers['workload-identity-token']).toBe(source.issued[1]!.wit);
  });

  it('honours renewBefore', async () => {
    let t = Date.now();
    const { source, wimseFetch } = await setup({ now: () => t, renewBefore: 50 }, { lifetime: 100 });
    await wimseFetch(`${SERVICE}/one`);
    t += 51_000;
    await wimseFetch(`${SERVICE}/two`);
    expect(source.issued).toHaveLength(2);
  });

  it('keeps the current WIT when a renewal fails before it expires, and fails once it has expired', async () => {
    let t = Date.now();
    const issuer = await createIssuer();
    const good = localSource(issuer, { lifetime: 100 });
    let down = false;
    const server = verifyingFetch({ trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } } });
    const wimseFetch = createWimseFetch({
      witSource: (jwk) => (down ? Promise.reject(new Error('identity server down')) : good(jwk)),
      fetch: server,
      now: () => t,
    });
    await wimseFetch(`${SERVICE}/one`);
    down = true;
    t += 90_000;
    expect((await wimseFetch(`${SERVICE}/two`)).status).toBe(200);
    t += 20_000;
    await expect(wimseFetch(`${SERVICE}/three`)).rejects.toThrow('identity server down');
  });

  it('rejects a WIT that is not bound to the key it sent', async () => {
    const issuer = await createIssuer();
    const other = localSource(issuer);
    const foreign = await other({
      kty: 'EC',
      crv: 'P-256',
      alg: 'ES256',
      x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    });
    const wimseFetch = createWimseFetch({
      witSource: async () => foreign,
      fetch: verifyingFetch({ trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } } }),
    });
    await expect(wimseFetch(`${SERVICE}/x`)).rejects.toThrow('not bound to the key');
    const garbage = createWimseFetch({ witSource: async () => 'not-a-jwt' });
    await expect(garbage(`${SERVICE}/x`)).rejects.toThrow('did not return a JWT');
  });

  it('takes WIT and key from a credentials function instead, asking again when renewal is due', async () => {
    let t = Date.now();
    const issuer = await createIssuer();
    const source = localSource(issuer, { lifetime: 100 });
    const held: { wit: string; privateKey: CryptoKey }[] = [];
    const credentials = async () => {
      const { generateKeyPair, exportJWK } = await import('jose');
      const pair = await generateKeyPair('ES256', { extractable: true });
      held.push({ wit: await source({ ...(await exportJWK(pair.publicKey)), alg: 'ES256' }), privateKey: pair.privateKey });
      return held.at(-1)!;
    };
    const server = verifyingFetch({ trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } } });
    const wimseFetch = createWimseFetch({ credentials, fetch: server, now: () => t });
    expect((await wimseFetch(`${SERVICE}/a`)).status).toBe(200);
    t += 81_000;
    expect((await wimseFetch(`${SERVICE}/b`, { wimse: { proof: 'http-sig' } })).status).toBe(200);
    expect(held).toHaveLength(2);
    expect(server.seen[1]!.request.headers['workload-identity-token']).toBe(held[1]!.wit);
  });

  it('needs exactly one credential source', () => {
    expect(() => createWimseFetch({} as WimseFetchOptions)).toThrow(TypeError);
    expect(() => createWimseFetch({ witSource: async () => '', credentials: () => ({ wit: '', privateKey: {} as JWK }) })).toThrow(
      TypeError,
    );
  });

  it('after an issuer key rotation, renews once when the callee rejects the WIT and succeeds', async () => {
    const oldIssuer = await createIssuer('ES256', 'old');
    const newIssuer = await createIssuer('ES256', 'new');
    let issuer = oldIssuer;
    const issued: string[] = [];
    const witSource = async (jwk: PublicProofJwk) => {
      const wit = await issueWit({
        sub: 'spiffe://example.org/client',
        cnfJwk: { ...jwk },
        issuerKey: issuer.privateKey,
        alg: 'ES256',
        kid: issuer.kid,
      });
      issued.push(wit);
      return wit;
    };
    // The callee trusts only the new key: the old one has been retired.
    const server = verifyingFetch({ trustDomains: { 'example.org': { keys: { keys: [newIssuer.publicJwk] } } } });
    const wimseFetch = createWimseFetch({ witSource, fetch: server });
    await wimseFetch.signer(); // holds a WIT from the old key
    issuer = newIssuer;
    const res = await wimseFetch(`${SERVICE}/echo`, { method: 'POST', body: 'payload' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ body: 'payload' });
    expect(issued).toHaveLength(2);
    expect(server.seen).toHaveLength(2);
  });

  it('renews once when concurrent calls are refused for the same WIT, even if refusals arrive after the renewal', async () => {
    const oldIssuer = await createIssuer('ES256', 'old');
    const newIssuer = await createIssuer('ES256', 'new');
    let issuer = oldIssuer;
    let issued = 0;
    const witSource = async (jwk: PublicProofJwk) => {
      issued += 1;
      return issueWit({
        sub: 'spiffe://example.org/client',
        cnfJwk: { ...jwk },
        issuerKey: issuer.privateKey,
        alg: 'ES256',
        kid: issuer.kid,
      });
    };
    const server = verifyingFetch({ trustDomains: { 'example.org': { keys: { keys: [newIssuer.publicJwk] } } } });
    // The refusal of /b arrives only after /a has been refused, renewed and resent.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const gated = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const res = await server(input, init);
      if (String(input).endsWith('/b') && res.status !== 200) await gate;
      return res;
    }) as typeof fetch;
    const wimseFetch = createWimseFetch({ witSource, fetch: gated });
    await wimseFetch.signer();
    issuer = newIssuer;
    const a = wimseFetch(`${SERVICE}/a`);
    const b = wimseFetch(`${SERVICE}/b`);
    expect((await a).status).toBe(200);
    openGate();
    expect((await b).status).toBe(200);
    expect(issued).toBe(2);
  });

  it('retries at most once, and not at all when disabled or for non-WIT problems', async () => {
    const trusted = await createIssuer('ES256', 'trusted');
    const untrusted = await createIssuer('ES256', 'untrusted');
    const source = localSource(untrusted);
    const server = verifyingFetch({ trustDomains: { 'example.org': { keys: { keys: [trusted.publicJwk] } } } });
    const res = await createWimseFetch({ witSource: source, fetch: server })(`${SERVICE}/x`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('wit_key_unknown');
    expect(server.seen).toHaveLength(2);

    const noRetry = verifyingFetch({ trustDomains: { 'example.org': { keys: { keys: [trusted.publicJwk] } } } });
    expect((await createWimseFetch({ witSource: source, fetch: noRetry, retryOnWitRejection: false })(`${SERVICE}/x`)).status).toBe(400);
    expect(noRetry.seen).toHaveLength(1);

    const { server: s2, wimseFetch } = await setup();
    const foreign = createWimseFetch({ witSource: async (jwk) => (await setup()).source(jwk), fetch: s2 });
    expect((await foreign(`${SERVICE}/x`)).status).toBe(400); // another issuer's WIT: wit_key_unknown…
    const wptProblem = await wimseFetch(`${SERVICE}/x`, { headers: { 'txn-token': 'sent-but-not-bound' } });
    expect(wptProblem.status).toBe(401); // …but a WPT problem is the request's fault: no retry
    expect(s2.seen.filter((s) => s.request.path === '/x')).toHaveLength(3);
  });
});

describe('signed responses', () => {
  /** A callee that signs its responses with `responder`'s credentials when asked. */
  async function signingServer(issuer: Issuer, responder: { wit: string; privateKey: CryptoKey } | 'none') {
    const verify = verifyingFetch({ trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } } });
    return (async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const res = await verify(input, init);
      const seen = verify.seen.at(-1)!.request;
      const body = await res.text();
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (responder !== 'none' && res.status === 200 && seen.headers['signature-input'] !== undefined) {
        const nonce = /nonce="([^"]+)"/.exec(String(seen.headers['signature-input']))![1]!;
        const credentials = await createWorkloadSigner({ wit: responder.wit, privateKey: responder.privateKey });
        Object.assign(headers, await signHttpResponse({ credentials, request: seen, requestNonce: nonce, status: 200, headers, body }));
      }
      return new Response(body, { status: res.status, headers: res.status === 200 ? headers : res.headers });
    }) as typeof fetch;
  }

  async function serverIdentity(issuer: Issuer, sub: string) {
    const { generateKeyPair, exportJWK } = await import('jose');
    const pair = await generateKeyPair('ES256', { extractable: true });
    const wit = await issueWit({
      sub,
      cnfJwk: { ...(await exportJWK(pair.publicKey)), alg: 'ES256' },
      issuerKey: issuer.privateKey,
      alg: 'ES256',
      kid: issuer.kid,
    });
    return { wit, privateKey: pair.privateKey };
  }

  it('verifies a signed response and tells who signed it', async () => {
    const issuer = await createIssuer();
    const server = await signingServer(issuer, await serverIdentity(issuer, 'spiffe://example.org/orders'));
    const wimseFetch = createWimseFetch({
      witSource: localSource(issuer),
      fetch: server,
      responseTrust: { trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } } },
    });
    const res = await wimseFetch(`${SERVICE}/echo`, { method: 'POST', body: '{"a":1}', wimse: { proof: 'http-sig', signResponse: true } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ body: '{"a":1}' });
    expect(wimseFetch.responder(res)?.workload).toBe('spiffe://example.org/orders');
    expect(wimseFetch.responder(await wimseFetch(`${SERVICE}/x`))).toBeUndefined();
  });

  it("rejects an unsigned response, and one signed with the requester's own key", async () => {
    const issuer = await createIssuer();
    const trust = { trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } } };
    const unsigned = createWimseFetch({ witSource: localSource(issuer), fetch: await signingServer(issuer, 'none'), responseTrust: trust });
    const e1 = await unsigned(`${SERVICE}/x`, { wimse: { proof: 'http-sig', signResponse: true } }).catch((e: unknown) => e);
    expect(isWimseError(e1, 'sig_response')).toBe(true);

    // The "server" signs with the very credentials the client holds.
    const held: { wit: string; privateKey: CryptoKey }[] = [];
    const mirror = createWimseFetch({
      credentials: async () => held[0] ?? (held.push(await serverIdentity(issuer, 'spiffe://example.org/client')), held[0]!),
      fetch: (async (input: RequestInfo | URL, init?: RequestInit) => (await signingServer(issuer, held[0]!))(input, init)) as typeof fetch,
      responseTrust: trust,
    });
    const e2 = await mirror(`${SERVICE}/x`, { wimse: { proof: 'http-sig', signResponse: true } }).catch((e: unknown) => e);
    expect(isWimseError(e2, 'sig_response')).toBe(true);
  });

  it('needs an HTTP signature and responseTrust to ask for a signed response', async () => {
    const { wimseFetch } = await setup();
    await expect(wimseFetch(`${SERVICE}/x`, { wimse: { proof: 'http-sig', signResponse: true } })).rejects.toThrow(TypeError);
    await expect(wimseFetch(`${SERVICE}/x`, { wimse: { signResponse: true } })).rejects.toThrow('http-sig proof');
  });
});

describe('identityServerWitSource', () => {
  const jwk: PublicProofJwk = { kty: 'EC', crv: 'P-256', alg: 'ES256', x: 'x', y: 'y' };

  it('posts the workload name and public key to <url>/wit', async () => {
    const calls: { url: string; body: unknown }[] = [];
    const source = identityServerWitSource({
      url: 'http://id.test:3000/',
      workload: 'client',
      fetch: (async (url: string | URL, init?: RequestInit) => {
        calls.push({ url: String(url), body: JSON.parse(String(init?.body)) });
        return Response.json({ wit: 'a.b.c' }, { status: 201 });
      }) as typeof fetch,
    });
    expect(await source(jwk)).toBe('a.b.c');
    expect(calls).toEqual([{ url: 'http://id.test:3000/wit', body: { workload: 'client', jwk } }]);
  });

  it('reports the identity server problem code', async () => {
    const source = identityServerWitSource({
      url: 'http://id.test',
      workload: 'mallory',
      fetch: (async () => Response.json({ code: 'workload_unknown', detail: 'not allowed' }, { status: 403 })) as typeof fetch,
    });
    await expect(source(jwk)).rejects.toThrow('Identity server refused a WIT for mallory (workload_unknown: not allowed)');
  });
});

describe('the client verifies what it must (http-signature-07 §3.5)', () => {
  const trustOf = (issuer: Issuer) => ({ trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } } });

  /** A server answering `status` to every verified request, signing when `sign` says so. */
  async function server(
    issuer: Issuer,
    o: { status?: number; sign: (asked: boolean) => boolean; sub?: string; tamper?: (h: Record<string, string>) => void },
  ) {
    const { generateKeyPair, exportJWK } = await import('jose');
    const pair = await generateKeyPair('ES256', { extractable: true });
    const wit = await issueWit({
      sub: o.sub ?? 'spiffe://example.org/orders',
      cnfJwk: { ...(await exportJWK(pair.publicKey)), alg: 'ES256' },
      issuerKey: issuer.privateKey,
      alg: 'ES256',
      kid: issuer.kid,
    });
    const credentials = await createWorkloadSigner({ wit, privateKey: pair.privateKey });
    const verify = verifyingFetch({ trustDomains: trustOf(issuer).trustDomains });
    const sent: RequestInit[] = [];
    const impl = (async (input: RequestInfo | URL, init: RequestInit = {}) => {
      sent.push(init);
      await verify(input, init);
      const seen = verify.seen.at(-1)!.request;
      const status = o.status ?? 200;
      const body = JSON.stringify({ code: status === 200 ? undefined : 'not_found' });
      const headers: Record<string, string> = { 'content-type': status === 200 ? 'application/json' : PROBLEM_CONTENT_TYPE };
      const input_ = String(seen.headers['signature-input'] ?? '');
      if (o.sign(input_.includes('wimse-sign-response'))) {
        const nonce = /nonce="([^"]+)"/.exec(input_)![1]!;
        Object.assign(headers, await signHttpResponse({ credentials, request: seen, requestNonce: nonce, status, headers, body }));
        o.tamper?.(headers);
      }
      return new Response(body, { status, headers });
    }) as typeof fetch;
    return Object.assign(impl, { sent });
  }

  it('refuses an unsigned 404 when it asked, saying what the 404 claimed', async () => {
    const issuer = await createIssuer();
    const wimseFetch = createWimseFetch({
      witSource: localSource(issuer),
      fetch: await server(issuer, { status: 404, sign: () => false }),
      responseTrust: trustOf(issuer),
    });
    const e = await wimseFetch(`${SERVICE}/x`, { wimse: { proof: 'http-sig', signResponse: true } }).catch((x: unknown) => x);
    expect(isWimseError(e, 'sig_response')).toBe(true);
    expect((e as Error).message).toContain('404 answer is unsigned (unverified problem code: not_found)');
  });

  it('verifies a signed 404 and names its signer', async () => {
    const issuer = await createIssuer();
    const wimseFetch = createWimseFetch({
      witSource: localSource(issuer),
      fetch: await server(issuer, { status: 404, sign: () => true }),
      responseTrust: trustOf(issuer),
    });
    const res = await wimseFetch(`${SERVICE}/x`, { wimse: { proof: 'http-sig', signResponse: true } });
    expect([res.status, wimseFetch.responder(res)?.workload]).toEqual([404, 'spiffe://example.org/orders']);
  });

  it('verifies a signature it did not ask for, and refuses a broken one', async () => {
    const issuer = await createIssuer();
    const ok = createWimseFetch({
      witSource: localSource(issuer),
      fetch: await server(issuer, { sign: () => true }),
      responseTrust: trustOf(issuer),
    });
    expect(ok.responder(await ok(`${SERVICE}/x`, { wimse: { proof: 'http-sig' } }))?.workload).toBe('spiffe://example.org/orders');
    const broken = await server(issuer, {
      status: 409,
      sign: () => true,
      tamper: (h) => void (h.signature = `wimse=:${Buffer.alloc(64).toString('base64')}:`),
    });
    const e = await createWimseFetch({ witSource: localSource(issuer), fetch: broken, responseTrust: trustOf(issuer) })(`${SERVICE}/x`, {
      wimse: { proof: 'http-sig' },
    }).catch((x: unknown) => x);
    expect(isWimseError(e, 'sig_invalid')).toBe(true);
  });

  it('refuses a signed response it has no responseTrust to verify', async () => {
    const issuer = await createIssuer();
    const e = await createWimseFetch({ witSource: localSource(issuer), fetch: await server(issuer, { sign: () => true }) })(
      `${SERVICE}/x`,
      { wimse: { proof: 'http-sig' } },
    ).catch((x: unknown) => x);
    expect(isWimseError(e, 'sig_response')).toBe(true);
  });

  it('accepts an unsigned response it did not ask for', async () => {
    const issuer = await createIssuer();
    const wimseFetch = createWimseFetch({
      witSource: localSource(issuer),
      fetch: await server(issuer, { sign: () => false }),
      responseTrust: trustOf(issuer),
    });
    const res = await wimseFetch(`${SERVICE}/x`, { wimse: { proof: 'http-sig' } });
    expect([res.status, wimseFetch.responder(res)]).toEqual([200, undefined]);
  });

  describe('expected responder', () => {
    it.each([
      ['an exact workload', 'spiffe://example.org/orders', true],
      ['a trust domain', 'spiffe://example.org', true],
      ['a path prefix', 'spiffe://example.org/ns/*', false],
      ['another workload', 'spiffe://example.org/billing', false],
      ['another trust domain', 'spiffe://other.org', false],
    ])('%s', async (_name, pattern, accepted) => {
      const issuer = await createIssuer();
      const wimseFetch = createWimseFetch({
        witSource: localSource(issuer),
        fetch: await server(issuer, { sign: () => true }),
        responseTrust: trustOf(issuer),
        expectResponder: pattern,
      });
      const r = await wimseFetch(`${SERVICE}/x`, { wimse: { proof: 'http-sig', signResponse: true } }).then(
        () => true,
        (e: unknown) => (isWimseError(e, 'sig_response_workload') ? false : e),
      );
      expect(r).toBe(accepted);
    });

    it('per call overrides the client default', async () => {
      const issuer = await createIssuer();
      const wimseFetch = createWimseFetch({
        witSource: localSource(issuer),
        fetch: await server(issuer, { sign: () => true }),
        responseTrust: trustOf(issuer),
        expectResponder: 'spiffe://example.org/billing',
      });
      expect(
        (
          await wimseFetch(`${SERVICE}/x`, {
            wimse: { proof: 'http-sig', signResponse: true, expectResponder: 'spiffe://example.org/orders' },
          })
        ).status,
      ).toBe(200);
    });
  });

  describe('response nonces go through a replay check', () => {
    it('the same signed response verified twice is refused the second time', async () => {
      const issuer = await createIssuer();
      const w = await createWorkload(issuer, { now: Date.now() });
      const client = await createWorkloadSigner({ wit: w.wit, privateKey: w.privateKey });
      const url = `${SERVICE}/x`;
      const sentHeaders = await client.httpSigHeaders({ method: 'GET', url, signResponse: true });
      const nonce = /nonce="([^"]+)"/.exec(sentHeaders['signature-input']!)![1]!;
      const responder = await (await server(issuer, { sign: () => true }))(url, { headers: sentHeaders });
      expect(responder.status).toBe(200);
      const keys: unknown[] = [];
      const store = {
        seen: new Set<string>(),
        checkAndStore(key: { kind: string; workload: string; id: string }) {
          keys.push(key);
          const k = `${key.kind}|${key.workload}|${key.id}`;
          return this.seen.has(k) ? false : (this.seen.add(k), true);
        },
      };
      const verifier = createResponseVerifier({ ...trustOf(issuer), replayStore: store });
      const body = new Uint8Array(await responder.arrayBuffer());
      const received = { status: 200, headers: responder.headers, body };
      expect((await verifier.verify({ method: 'GET', url, headers: sentHeaders }, received))?.nonce).toBeTypeOf('string');
      const again = await verifier.verify({ method: 'GET', url, headers: sentHeaders }, received).catch((e: unknown) => e);
      expect(isWimseError(again, 'sig_response_replay')).toBe(true);
      expect(keys[0]).toMatchObject({ kind: 'response', workload: 'spiffe://example.org/orders' });
      expect(nonce).not.toBe((keys[0] as { id: string }).id);
    });

    it('a failing store refuses (503 replay_unavailable), never accepts', async () => {
      const issuer = await createIssuer();
      const failing = {
        checkAndStore: () => {
          throw new Error('down');
        },
      };
      const wimseFetch = createWimseFetch({
        witSource: localSource(issuer),
        fetch: await server(issuer, { sign: () => true }),
        responseTrust: { ...trustOf(issuer), replayStore: failing },
      });
      const e = await wimseFetch(`${SERVICE}/x`, { wimse: { proof: 'http-sig', signResponse: true } }).catch((x: unknown) => x);
      expect(isWimseError(e, 'replay_unavailable')).toBe(true);
    });
  });

  describe('tokens and proofs only over TLS, unless loopback or opted out', () => {
    it.each(['http://svc.example.org/x', 'http://10.0.0.1/x', 'http://127.example.org/x', 'http://[::2]/x'])(
      'refuses %s before sending anything',
      async (url) => {
        const { wimseFetch, server } = await setup();
        await expect(wimseFetch(url)).rejects.toThrow(/Refusing to send workload credentials over http:/);
        expect(server.seen).toHaveLength(0);
      },
    );

    it.each([
      'http://127.0.0.1:8080/x',
      'http://127.1.2.3/x',
      'http://localhost:3000/x',
      'http://api.localhost/x',
      'http://[::1]:3000/x',
      'https://svc.example.org/x',
    ])('sends to %s', async (url) => {
      const { wimseFetch, server } = await setup();
      await wimseFetch(url);
      expect(server.seen).toHaveLength(1);
    });

    it('sends over plain http when the caller opts out explicitly', async () => {
      const { wimseFetch, server } = await setup({ allowInsecureTransport: true });
      await wimseFetch('http://svc.example.org/x');
      expect(server.seen).toHaveLength(1);
      expect(() => createWimseFetch({ witSource: async () => '', allowInsecureTransport: 'yes' as unknown as boolean })).toThrow(TypeError);
    });
  });
});
