/**
 * A service can require more covered components than http-signature-07 §3 lists (e.g.
 * `content-type` always, a tenant header): `requiredSignatureComponents`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createWimseFetch } from '../client.js';
import { PROBLEM_CONTENT_TYPE, WimseError } from '../errors.js';
import type { WimseRequest } from '../request.js';
import { createWorkloadSigner, type WorkloadSigner } from '../signer.js';
import { AUDIENCE, NOW, createIssuer, createWorkload, verifierFor, type Issuer, type Workload } from '@wimse/test-support/factory';

let issuer: Issuer;
let workload: Workload;
let signer: WorkloadSigner;
const required = { requiredSignatureComponents: ['Content-Type', 'x-tenant'] };

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  workload = await createWorkload(issuer);
  signer = await createWorkloadSigner({ wit: workload.wit, privateKey: workload.privateKey });
});

async function signedRequest(headers: Record<string, string>, coverHeaders?: string[]): Promise<WimseRequest> {
  const added = await signer.httpSigHeaders({
    method: 'POST',
    url: `${AUDIENCE}/orders`,
    headers,
    body: '{}',
    now: NOW,
    ...(coverHeaders ? { coverHeaders } : {}),
  });
  return { method: 'POST', path: '/orders', headers: { ...headers, ...added }, body: new TextEncoder().encode('{}') };
}

describe('requiredSignatureComponents: every listed field must be covered', () => {
  it('accepts a signature covering content-type and x-tenant', async () => {
    const request = await signedRequest({ 'content-type': 'application/json', 'x-tenant': 't1' }, ['x-tenant']);
    await expect(verifierFor(issuer, required).verify(request)).resolves.toMatchObject({ method: 'http-sig' });
  });
  it('refuses a signature that leaves a present x-tenant uncovered', async () => {
    const request = await signedRequest({ 'content-type': 'application/json', 'x-tenant': 't1' });
    await expect(verifierFor(issuer, required).verify(request)).rejects.toMatchObject({
      code: 'sig_components',
      status: 400,
      message: 'This service requires the signature to cover x-tenant',
    });
  });
  it('refuses a request that does not carry a required field at all', async () => {
    const request = await signedRequest({ 'x-tenant': 't1' }, ['x-tenant']);
    await expect(verifierFor(issuer, required).verify(request)).rejects.toMatchObject({
      code: 'sig_components',
      message: expect.stringContaining('content-type, which the request does not carry'),
    });
  });
  it('applies to signatures only: a WPT request is not affected', async () => {
    const headers = await signer.wptHeaders({ url: `${AUDIENCE}/orders`, now: NOW });
    await expect(verifierFor(issuer, required).verify({ method: 'GET', path: '/orders', headers })).resolves.toMatchObject({
      method: 'wpt',
    });
  });
  it('without the option, an uncovered custom header is allowed (it carries no token)', async () => {
    const request = await signedRequest({ 'content-type': 'application/json', 'x-tenant': 't1' });
    await expect(verifierFor(issuer).verify(request)).resolves.toMatchObject({ method: 'http-sig' });
  });
  it.each([
    ['a derived component', '@authority'],
    ['not a field name', 'x tenant'],
    ['not a string', 7],
  ])('refuses %s at start-up', (_n, name) => {
    expect(() => verifierFor(issuer, { requiredSignatureComponents: [name as string] })).toThrow(TypeError);
  });
});

describe('createWimseFetch covers the fields a service requires (coverHeaders)', () => {
  function server() {
    const verifier = verifierFor(issuer, { ...required, now: Date.now });
    return (async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((v, k) => {
        headers[k] = v;
      });
      const url = new URL(String(input));
      try {
        await verifier.verify({ method: init.method ?? 'GET', path: url.pathname, headers, body: init.body as Uint8Array });
        return new Response('ok');
      } catch (e) {
        if (!(e instanceof WimseError)) throw e;
        return new Response(JSON.stringify(e.problem), { status: e.status, headers: { 'content-type': PROBLEM_CONTENT_TYPE } });
      }
    }) as typeof fetch;
  }
  it('client-wide coverHeaders satisfies the service; without it the service refuses', async () => {
    const fresh = await createWorkload(issuer, { now: Date.now() });
    const credentials = () => ({ wit: fresh.wit, privateKey: fresh.privateKey });
    const init = {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json', 'x-tenant': 't1' },
      wimse: { proof: 'http-sig' as const },
    };
    expect((await createWimseFetch({ credentials, fetch: server(), coverHeaders: ['x-tenant'] })(`${AUDIENCE}/orders`, init)).status).toBe(
      200,
    );
    const refused = await createWimseFetch({ credentials, fetch: server() })(`${AUDIENCE}/orders`, init);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toMatchObject({ code: 'sig_components' });
    expect(
      (
        await createWimseFetch({ credentials, fetch: server() })(`${AUDIENCE}/orders`, {
          ...init,
          wimse: { ...init.wimse, coverHeaders: ['x-tenant'] },
        })
      ).status,
    ).toBe(200);
  });
});
