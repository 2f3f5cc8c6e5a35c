/**
 * Audiences as deployments use them: WPT `aud` arrays (RFC 7519 §4.1.3), several base URLs and
 * deployment-specific values (wpt-02 §2 step 6 "an acceptable alias or normalization";
 * http-signature-07 §3.3 "a deployment-specific audience value that the recipient can recognize"),
 * and refusals that say what was expected and what arrived.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createWimseHandler } from './adapter.js';
import { WimseError } from './errors.js';
import { tokenHash } from './hash.js';
import { signHttpRequest } from './http-signature/sign.js';
import type { VerifierOptions } from './options.js';
import type { WimseRequest } from './request.js';
import {
  AUDIENCE,
  NOW,
  TRUST_DOMAIN,
  createIssuer,
  createWorkload,
  verifierFor,
  type Issuer,
  type Workload,
} from '@wimse/test-support/factory';
import { signJws } from '@wimse/test-support/tokens';

let issuer: Issuer;
let workload: Workload;
const now = NOW / 1000;
const ALIAS_BASE = 'https://orders.internal.example';
const DEPLOYMENT_VALUE = 'spiffe://example.org/orders-service';

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  workload = await createWorkload(issuer);
});

/** GET /orders?id=7 with the workload's WIT and a WPT whose `aud` is exactly `aud`. */
async function wptWithAud(aud: unknown, path = '/orders?id=7'): Promise<WimseRequest> {
  const claims = { aud, exp: now + 60, jti: `jti-${Math.random()}`, wth: await tokenHash(workload.wit) };
  const wpt = await signJws({ alg: 'ES256', typ: 'wpt+jwt' }, claims, workload.privateKey);
  return { method: 'GET', path, headers: { 'workload-identity-token': workload.wit, authorization: `WPT ${wpt}` } };
}

/** GET /orders?id=7 signed with `wimse-aud` set to `aud`. */
async function signedWithAud(aud: string, path = '/orders?id=7'): Promise<WimseRequest> {
  const headers = await signHttpRequest({
    wit: workload.wit,
    key: workload.privateKey,
    alg: 'ES256',
    method: 'GET',
    url: `${AUDIENCE}${path}`,
    wimseAud: aud,
    now: NOW,
  });
  return { method: 'GET', path, headers };
}

const several: Partial<VerifierOptions> = { audience: [AUDIENCE, ALIAS_BASE, { value: DEPLOYMENT_VALUE }] };

describe('RFC 7519 §4.1.3: a WPT aud may be an array; one member must be the target URI', () => {
  it('accepts a one-element array (what an independent Go client sends)', async () => {
    await expect(verifierFor(issuer).verify(await wptWithAud([`${AUDIENCE}/orders`]))).resolves.toMatchObject({
      workload: workload.sub,
      method: 'wpt',
    });
  });
  it('accepts an array whose second member is the target URI', async () => {
    await expect(verifierFor(issuer).verify(await wptWithAud(['https://other.example/x', `${AUDIENCE}/orders`]))).resolves.toMatchObject({
      method: 'wpt',
    });
  });
  it('refuses an empty array', async () => {
    await expect(verifierFor(issuer).verify(await wptWithAud([]))).rejects.toMatchObject({ code: 'wpt_aud', status: 401 });
  });
  it('refuses an array with a member that is not a string', async () => {
    await expect(verifierFor(issuer).verify(await wptWithAud([`${AUDIENCE}/orders`, 7]))).rejects.toMatchObject({ code: 'wpt_aud' });
  });
  it('refuses an array whose matching member carries the query', async () => {
    await expect(verifierFor(issuer).verify(await wptWithAud([`${AUDIENCE}/orders?id=7`]))).rejects.toMatchObject({ code: 'wpt_aud' });
  });
  it('refuses an aud object', async () => {
    await expect(verifierFor(issuer).verify(await wptWithAud({ 0: `${AUDIENCE}/orders` }))).rejects.toMatchObject({ code: 'wpt_aud' });
  });
});

describe('wpt-02 §2 step 6: several base URLs and deployment-specific values (WPT aud)', () => {
  it('accepts the target URI under a second base URL', async () => {
    await expect(verifierFor(issuer, several).verify(await wptWithAud(`${ALIAS_BASE}/orders`))).resolves.toMatchObject({ method: 'wpt' });
  });
  it('accepts a configured deployment-specific value whatever the path', async () => {
    await expect(verifierFor(issuer, several).verify(await wptWithAud(DEPLOYMENT_VALUE, '/anything/else'))).resolves.toMatchObject({
      method: 'wpt',
    });
  });
  it('compares a deployment-specific value exactly', async () => {
    await expect(verifierFor(issuer, several).verify(await wptWithAud(`${DEPLOYMENT_VALUE}/`))).rejects.toMatchObject({ code: 'wpt_aud' });
    await expect(verifierFor(issuer, several).verify(await wptWithAud(DEPLOYMENT_VALUE.toUpperCase()))).rejects.toMatchObject({
      code: 'wpt_aud',
    });
  });
  it('does not accept a deployment-specific value that is not configured', async () => {
    await expect(verifierFor(issuer).verify(await wptWithAud(DEPLOYMENT_VALUE))).rejects.toMatchObject({ code: 'wpt_aud' });
  });
  it('does not take a base URL as a value: another path under it is refused', async () => {
    await expect(verifierFor(issuer, several).verify(await wptWithAud(`${ALIAS_BASE}/admin`))).rejects.toMatchObject({ code: 'wpt_aud' });
  });
});

describe('RFC 3986 §6.2.2-6.2.3: scheme/host case and the default port are normalized, nothing else', () => {
  it.each([`HTTPS://API.Example.ORG/orders`, `https://api.example.org:443/orders`])('accepts %s', async (aud) => {
    await expect(verifierFor(issuer).verify(await wptWithAud(aud))).resolves.toMatchObject({ method: 'wpt' });
  });
  it.each([
    'https://api.example.org:8443/orders',
    'http://api.example.org:443/orders',
    'https://api.example.org/Orders',
    'https://api.example.org/orders/',
    'https://api.example.org/%6Frders',
    'https://user@api.example.org/orders',
    'https://api.example.org/orders#frag',
  ])('refuses %s', async (aud) => {
    await expect(verifierFor(issuer).verify(await wptWithAud(aud))).rejects.toMatchObject({ code: 'wpt_aud' });
  });
  it('an empty path is "/" (only for the root target)', async () => {
    await expect(verifierFor(issuer).verify(await wptWithAud('https://api.example.org', '/'))).resolves.toMatchObject({ method: 'wpt' });
    await expect(verifierFor(issuer).verify(await wptWithAud('https://api.example.org', '/orders'))).rejects.toMatchObject({
      code: 'wpt_aud',
    });
  });
});

describe('http-signature-07 §3.3: wimse-aud against the same audiences', () => {
  it('accepts the target URI under a second base URL', async () => {
    await expect(verifierFor(issuer, several).verify(await signedWithAud(`${ALIAS_BASE}/orders`))).resolves.toMatchObject({
      method: 'http-sig',
    });
  });
  it('accepts a configured deployment-specific value', async () => {
    await expect(verifierFor(issuer, several).verify(await signedWithAud(DEPLOYMENT_VALUE))).resolves.toMatchObject({ method: 'http-sig' });
  });
  it('refuses an unconfigured value with sig_aud', async () => {
    await expect(verifierFor(issuer).verify(await signedWithAud(DEPLOYMENT_VALUE))).rejects.toMatchObject({ code: 'sig_aud', status: 400 });
  });
});

describe('a refusal says what was expected and what arrived (values, never tokens)', () => {
  it('WPT: in detail and in error.mismatch', async () => {
    const request = await wptWithAud(['https://other.example/x']);
    const e = await verifierFor(issuer, several)
      .verify(request)
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(WimseError);
    const error = e as WimseError;
    expect(error.code).toBe('wpt_aud');
    expect(error.mismatch).toEqual({
      expected: [`${AUDIENCE}/orders`, `${ALIAS_BASE}/orders`, DEPLOYMENT_VALUE],
      received: ['https://other.example/x'],
    });
    expect(error.message).toContain('"https://other.example/x"');
    expect(error.message).toContain(`"${AUDIENCE}/orders"`);
    expect(error.message).toContain(`"${DEPLOYMENT_VALUE}"`);
    const wpt = String(request.headers.authorization).slice(4);
    expect(error.message).not.toContain(wpt);
    expect(error.message).not.toContain(workload.wit);
  });
  it('signature: in detail and in error.mismatch', async () => {
    const e = (await verifierFor(issuer)
      .verify(await signedWithAud('https://other.example/orders'))
      .catch((x: unknown) => x)) as WimseError;
    expect(e.code).toBe('sig_aud');
    expect(e.mismatch).toEqual({ expected: [`${AUDIENCE}/orders`], received: ['https://other.example/orders'] });
  });
  it('an oversized aud is clipped in the detail (the token length limit bounds the rest)', async () => {
    const long = `https://other.example/${'a'.repeat(5000)}`;
    const e = (await verifierFor(issuer)
      .verify(await wptWithAud(long))
      .catch((x: unknown) => x)) as WimseError;
    expect(e.code).toBe('wpt_aud');
    expect(e.message.length).toBeLessThan(700);
    expect(e.mismatch?.received[0]?.length).toBeLessThanOrEqual(201);
  });
  it('reaches the error hook with the problem detail', async () => {
    let seen: { detail?: string; mismatch?: unknown } = {};
    const handler = createWimseHandler({
      trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
      audience: AUDIENCE,
      now: () => NOW,
      onError: (error, response) => {
        seen = { detail: (JSON.parse(response.body) as { detail: string }).detail, mismatch: error.mismatch };
      },
    });
    const outcome = await handler.handle(await wptWithAud('https://other.example/orders'));
    expect(outcome.ok).toBe(false);
    expect(seen.mismatch).toEqual({ expected: [`${AUDIENCE}/orders`], received: ['https://other.example/orders'] });
    expect(seen.detail).toContain('"https://other.example/orders"');
    expect(seen.detail).toContain(`"${AUDIENCE}/orders"`);
  });
});

describe('audience option: checked at start-up', () => {
  const base = { trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [] } } } };
  it.each([
    ['a bare name', 'orders', /\{ value/],
    ['a non-http URI as base URL', 'spiffe://example.org/orders', /\{ value/],
    ['an empty value', { value: '' }, /non-empty/],
    ['a value with a space', { value: 'a b' }, /spaces/],
    ['nothing', [], /at least one/],
    ['a base URL with a query', 'https://api.example.org/?x=1', /query/],
  ])('refuses %s', (_name, audience, message) => {
    expect(() => verifierFor(issuer, { ...base, audience: audience as VerifierOptions['audience'] })).toThrow(message);
  });
});

describe('degenerate and flooded audiences', () => {
  it('an aud array of 400 non-matching members is refused; the detail lists a few and counts the rest', async () => {
    const members = Array.from({ length: 400 }, (_, i) => `https://x${i}.example/`);
    const e = (await verifierFor(issuer, { maxTokenLength: 65_536 })
      .verify(await wptWithAud(members))
      .catch((x: unknown) => x)) as WimseError;
    expect(e.code).toBe('wpt_aud');
    expect(e.message).toContain('(and 396 more)');
    expect(e.message.length).toBeLessThan(1000);
  });
  it('the default token length limit refuses an oversized aud array before it is read', async () => {
    const members = Array.from({ length: 400 }, (_, i) => `https://x${i}.example/`);
    await expect(verifierFor(issuer).verify(await wptWithAud(members))).rejects.toMatchObject({ code: 'wpt_too_large' });
  });
  it('an empty-string aud is refused', async () => {
    await expect(verifierFor(issuer).verify(await wptWithAud(''))).rejects.toMatchObject({ code: 'wpt_aud' });
  });
  it('a deployment value never matches by prefix or case', async () => {
    const v = verifierFor(issuer, several);
    await expect(v.verify(await wptWithAud(DEPLOYMENT_VALUE.slice(0, -1)))).rejects.toMatchObject({ code: 'wpt_aud' });
    await expect(v.verify(await wptWithAud(`${DEPLOYMENT_VALUE}x`))).rejects.toMatchObject({ code: 'wpt_aud' });
  });
});
