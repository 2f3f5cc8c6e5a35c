import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isWimseError } from './errors.js';
import { createResponseVerifier } from './http-signature/index.js';
import type { WimsePrincipal } from './principal.js';
import { createResponseSigning, type ResponseSigningOptions } from './response-signing.js';
import { createWorkloadSigner, type WorkloadSigner } from './signer.js';
import { AUDIENCE, TRUST_DOMAIN, createIssuer, createWorkload, verifierFor, type Issuer } from '@wimse/test-support/factory';

// Real clock: the response verifier checks `created`/`expires` against it.
async function setup(options: (server: WorkloadSigner) => ResponseSigningOptions = (server) => ({ responseSigner: server })) {
  const issuer = await createIssuer();
  const now = Date.now();
  const clientW = await createWorkload(issuer, { now });
  const serverW = await createWorkload(issuer, { now, sub: `spiffe://${TRUST_DOMAIN}/orders` });
  const client = await createWorkloadSigner({ wit: clientW.wit, privateKey: clientW.privateKey });
  const server = await createWorkloadSigner({ wit: serverW.wit, privateKey: serverW.privateKey });
  return { issuer, client, server, signing: createResponseSigning(options(server)) };
}

/** A signed request verified by the real verifier: its principal and what the client sent. */
async function signedRequest(issuer: Issuer, client: WorkloadSigner, o: { method?: string; path?: string; ask?: boolean } = {}) {
  const method = o.method ?? 'GET';
  const path = o.path ?? '/orders?id=7';
  const headers = await client.httpSigHeaders({ method, url: AUDIENCE + path, signResponse: o.ask ?? true });
  const view = { method, path, headers };
  const principal = await verifierFor(issuer, { now: Date.now }).verify(view);
  return { view, principal, sent: { method, url: AUDIENCE + path, headers } };
}

const trust = (issuer: Issuer) => ({ trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } } });
const JSON_BODY = new TextEncoder().encode('{"order":7}');

describe('options are checked at start-up', () => {
  it.each([
    ['an unknown mode', { signResponses: 'sometimes' }],
    ["'always' without a signer", { signResponses: 'always' }],
    ['a signer that is not one', { responseSigner: 'wit' }],
    ['a negative body limit', { maxResponseBodyBytes: -1 }],
    ['a zero lifetime', { responseSignatureLifetime: 0 }],
  ])('%s', (_name, options) => {
    expect(() => createResponseSigning(options as ResponseSigningOptions)).toThrow(TypeError);
  });
});

describe('which responses are signed (http-signature-07 §3.5)', () => {
  it('none without a verified request signature (no principal, or a WPT), even when always', async () => {
    const { issuer, client, server } = await setup();
    const always = createResponseSigning({ responseSigner: server, signResponses: 'always' });
    const { view } = await signedRequest(issuer, client);
    expect(await always.prepare(view, undefined)).toBeUndefined();
    const wpt = { ...(await signedRequest(issuer, client)).principal, method: 'wpt', signature: undefined } as WimsePrincipal;
    expect(await always.prepare(view, wpt)).toBeUndefined();
  });

  it('not asked and when-asked: unsigned', async () => {
    const { issuer, client, signing } = await setup();
    const { view, principal } = await signedRequest(issuer, client, { ask: false });
    // Answered at once, not as a promise: the common case adds no microtask to a request.
    expect(signing.prepare(view, principal)).toBeUndefined();
  });

  it("not asked and 'always': signed", async () => {
    const { issuer, client, server } = await setup();
    const { view, principal } = await signedRequest(issuer, client, { ask: false });
    const pending = await createResponseSigning({ responseSigner: server, signResponses: 'always' }).prepare(view, principal);
    expect(pending?.asked).toBe(false);
  });

  // An adapter leaves its response hook out when `enabled` is false: a request that asks must then be refused, never served unsigned.
  it('enabled only with a signer and a mode other than never; when not, a request that asks is refused', async () => {
    const { issuer, client, server } = await setup();
    const { view, principal } = await signedRequest(issuer, client);
    const never = createResponseSigning({ responseSigner: server, signResponses: 'never' });
    const none = createResponseSigning({});
    expect([createResponseSigning({ responseSigner: server }).enabled, never.enabled, none.enabled]).toEqual([true, false, false]);
    for (const disabled of [never, none]) await expect(disabled.prepare(view, principal)).rejects.toMatchObject({ status: 501 });
  });

  it('asked without a signer: 501 response_signing_unsupported', async () => {
    const { issuer, client } = await setup();
    const { view, principal } = await signedRequest(issuer, client);
    await expect(createResponseSigning({}).prepare(view, principal)).rejects.toMatchObject({
      code: 'response_signing_unsupported',
      status: 501,
    });
  });

  it("asked and 'never': 501 response_signing_unsupported", async () => {
    const { issuer, client, server } = await setup();
    const { view, principal } = await signedRequest(issuer, client);
    await expect(createResponseSigning({ responseSigner: server, signResponses: 'never' }).prepare(view, principal)).rejects.toMatchObject({
      status: 501,
    });
  });

  it('asked and the credential source fails: 503 response_signer_unavailable with Retry-After', async () => {
    const { issuer, client } = await setup();
    const { view, principal } = await signedRequest(issuer, client);
    const failing = createResponseSigning({ responseSigner: () => Promise.reject(new Error('identity server down')) });
    const e = await Promise.resolve(failing.prepare(view, principal)).catch((x: unknown) => x);
    expect(isWimseError(e, 'response_signer_unavailable')).toBe(true);
    expect((e as { status: number; headers: Record<string, string> }).status).toBe(503);
    expect((e as { headers: Record<string, string> }).headers['retry-after']).toBe('5');
  });
});

describe('the signature', () => {
  it('covers what the draft lists, with wimse-req-nonce, and verifies as the answer to that request', async () => {
    const { issuer, client, server, signing } = await setup();
    const { view, principal, sent } = await signedRequest(issuer, client);
    const pending = (await signing.prepare(view, principal))!;
    const headers = { 'content-type': 'application/json' };
    const added = await pending.sign({ status: 404, headers, body: JSON_BODY });
    expect(added['signature-input']).toMatch(
      new RegExp(
        `^wimse=\\("@status" "workload-identity-token" "content-type" "content-digest" "@method";req "@path";req "@query";req\\);created=\\d+;expires=\\d+;nonce="[^"]+";tag="wimse-workload-to-workload";wimse-req-nonce="${principal.signature!.nonce}"$`,
      ),
    );
    expect(added['content-digest']).toBe(`sha-256=:${createHash('sha256').update(JSON_BODY).digest('base64')}:`);
    expect(added['workload-identity-token']).toBe(server.wit);
    const verified = await createResponseVerifier(trust(issuer)).verify(sent, {
      status: 404,
      headers: { ...headers, ...added },
      body: JSON_BODY,
    });
    expect(verified?.workload).toBe(`spiffe://${TRUST_DOMAIN}/orders`);
  });

  it('has no Content-Digest for HEAD, 204 and an empty body', async () => {
    const { issuer, client, signing } = await setup();
    const head = await signedRequest(issuer, client, { method: 'HEAD' });
    expect(
      (await (await signing.prepare(head.view, head.principal))!.sign({ status: 200, headers: {}, body: JSON_BODY }))['content-digest'],
    ).toBeUndefined();
    const get = await signedRequest(issuer, client);
    const pending = (await signing.prepare(get.view, get.principal))!;
    expect((await pending.sign({ status: 204, headers: {}, body: JSON_BODY }))['content-digest']).toBeUndefined();
    expect((await pending.sign({ status: 200, headers: {}, body: new Uint8Array(0) }))['content-digest']).toBeUndefined();
  });

  it('refuses a body beyond the limit with 501 response_too_large_to_sign', async () => {
    const { issuer, client, server } = await setup();
    const { view, principal } = await signedRequest(issuer, client);
    const pending = (await createResponseSigning({ responseSigner: server, maxResponseBodyBytes: 4 }).prepare(view, principal))!;
    await expect(pending.sign({ status: 200, headers: {}, body: JSON_BODY })).rejects.toMatchObject({
      code: 'response_too_large_to_sign',
      status: 501,
    });
  });

  it('gets the current signer from a function each request (rotation)', async () => {
    const { issuer, client, server } = await setup();
    let calls = 0;
    const signing = createResponseSigning({ responseSigner: () => (calls++, server) });
    for (let i = 0; i < 2; i++) {
      const { view, principal } = await signedRequest(issuer, client);
      await signing.prepare(view, principal);
    }
    expect(calls).toBe(2);
  });
});
