/**
 * The route vocabulary's `scope` rule (txn-tokens-10 §9.2 `scope`; 403 `insufficient_scope`, RFC 6750
 * §3.1) and `narrow()`, which applies a route's rules to a request a global mount already authenticated.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { createWimseHandler, type WimseAdapterOptions, type WimseRouteRules } from './adapter.js';
import { createScopeCheck } from './authorization.js';
import type { WimsePrincipal } from './principal.js';
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
import { issueTxnToken } from './txn-token.js';

let issuer: Issuer;
let tts: Issuer;
let client: Workload;
let trade: string;

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  tts = await createIssuer('ES256', 'tts-1');
  client = await createWorkload(issuer);
  trade = await issueTxnToken(
    { aud: TRUST_DOMAIN, sub: 'user-1', scope: 'trade.stocks read', req_wl: 'gw' },
    { privateKey: tts.privateKey, alg: 'ES256', kid: 'tts-1', now: NOW },
  );
});

const handlerWith = (o: Partial<WimseAdapterOptions> = {}) =>
  createWimseHandler({
    trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
    audience: AUDIENCE,
    transactionTokens: { trustDomain: TRUST_DOMAIN, keys: tts.publicJwk },
    now: () => NOW,
    ...o,
  });

async function statusOf(
  rules: WimseRouteRules,
  txnToken?: string,
  o: Partial<WimseAdapterOptions> = {},
): Promise<{ status: number; code?: string }> {
  const h = handlerWith(o);
  const outcome = await h.handle(await wptRequest(client, txnToken === undefined ? {} : { txnToken }), h.route(rules));
  return outcome.ok ? { status: 200 } : { status: outcome.response.status, code: outcome.error.code };
}

describe('scope: every listed scope must be granted by the verified Txn-Token', () => {
  it('lets a Txn-Token with the scope through, with principal.transaction', async () => {
    const h = handlerWith();
    const outcome = await h.handle(await wptRequest(client, { txnToken: trade }), h.route({ scope: 'trade.stocks' }));
    expect(outcome.ok && outcome.principal?.transaction?.scope).toEqual(['trade.stocks', 'read']);
  });
  it('lets a list of granted scopes through', async () =>
    expect(await statusOf({ scope: ['read', 'trade.stocks'] }, trade)).toEqual({ status: 200 }));
  it('refuses a scope the Txn-Token does not grant (403 insufficient_scope)', async () =>
    expect(await statusOf({ scope: 'admin' }, trade)).toEqual({ status: 403, code: 'insufficient_scope' }));
  it('refuses when one of several scopes is missing', async () =>
    expect(await statusOf({ scope: ['read', 'admin'] }, trade)).toEqual({ status: 403, code: 'insufficient_scope' }));
  it('refuses an authenticated request without a Txn-Token (403 insufficient_scope)', async () =>
    expect(await statusOf({ scope: 'read' })).toEqual({ status: 403, code: 'insufficient_scope' }));
  it('is never optional, even under an optional adapter (401 without credentials)', async () => {
    const h = handlerWith({ optional: true });
    const outcome = await h.handle({ method: 'GET', path: '/orders', headers: {} }, h.route({ scope: 'read' }));
    expect(outcome.ok ? 200 : outcome.response.status).toBe(401);
  });
  it('does not match a scope by prefix', async () =>
    expect(await statusOf({ scope: 'trade' }, trade)).toEqual({ status: 403, code: 'insufficient_scope' }));
});

describe('scope rules are validated at start-up', () => {
  it('refuses scope without the transactionTokens option', () => {
    expect(() =>
      createWimseHandler({ trustDomains: { [TRUST_DOMAIN]: { keys: issuer.publicJwk } }, audience: AUDIENCE }).route({ scope: 'read' }),
    ).toThrow(/transactionTokens/);
  });
  it('refuses scope on a public route', () => expect(() => handlerWith().route({ public: true, scope: 'read' })).toThrow(/public route/));
  it('refuses scope on an optional route', () =>
    expect(() => handlerWith().route({ optional: true, scope: 'read' })).toThrow(/cannot be optional/));
  it('refuses an empty list', () => expect(() => handlerWith().route({ scope: [] })).toThrow(/scope tokens/));
  it('refuses a scope with a space (use a list)', () => expect(() => createScopeCheck('a b')).toThrow(/scope tokens/));
  it('refuses a non-string scope', () => expect(() => createScopeCheck([7] as never)).toThrow(/scope tokens/));
});

describe('narrow: route rules after a global mount can only narrow', () => {
  const principal = (scope?: string[]): WimsePrincipal =>
    ({
      workload: `spiffe://${TRUST_DOMAIN}/client`,
      id: { scheme: 'spiffe', trustDomain: TRUST_DOMAIN, path: '/client', value: `spiffe://${TRUST_DOMAIN}/client` },
      ...(scope === undefined ? {} : { transaction: { scope } }),
    }) as never;
  it('keeps a principal on a public route (public cannot undo authentication)', () => {
    const h = handlerWith();
    expect(h.narrow(principal(), h.route({ public: true })).ok).toBe(true);
  });
  it('lets a missing principal through when the adapter is optional and the route says nothing', () => {
    expect(handlerWith({ optional: true }).narrow(undefined, handlerWith().route({})).ok).toBe(true);
  });
  it('refuses a missing principal when the route says optional: false', () => {
    const h = handlerWith({ optional: true });
    const outcome = h.narrow(undefined, h.route({ optional: false }));
    expect(outcome.ok ? 200 : outcome.response.status).toBe(401);
  });
  it('applies allow (403 forbidden)', () => {
    const h = handlerWith();
    const outcome = h.narrow(principal(), h.route({ allow: `spiffe://${TRUST_DOMAIN}/admin` }));
    expect(outcome.ok ? 200 : outcome.error.code).toBe('forbidden');
  });
  it('applies scope (403 insufficient_scope)', () => {
    const h = handlerWith();
    const outcome = h.narrow(principal(['read']), h.route({ scope: 'write' }));
    expect(outcome.ok ? 200 : outcome.error.code).toBe('insufficient_scope');
  });
});
