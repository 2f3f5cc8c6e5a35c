import { describe, expect, it } from 'vitest';
import { TokenExchangeError, parseTokenExchangeRequest } from './token-exchange.js';
import { checkScopeWithin, parseTxnTokenRequest, replacementClaims, type ReplacedTxnToken } from './txn-token-request.js';

// Values from txn-tokens-10 §11.1 (request) and §9.2.4 (token body).
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const TXN = 'urn:ietf:params:oauth:token-type:txn_token';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const example = {
  grant_type: GRANT,
  requested_token_type: TXN,
  audience: 'trust-domain.example',
  scope: 'trade.stocks',
  subject_token: 'eyJhbGciOiJFUzI1NiIsImtpZC...kdXjwhw',
  subject_token_type: ACCESS,
  request_context: '{\n      "req_ip": "69.151.72.123",\n      "authn": "face"\n    }',
  request_details: '{\n      "action": "BUY",\n      "ticker": "MSFT",\n      "quantity": "100"\n    }',
};

function txnRequest(params: Record<string, string> | [string, string][]) {
  const body = new TextEncoder().encode(new URLSearchParams(params).toString());
  return parseTxnTokenRequest(parseTokenExchangeRequest({ method: 'POST', contentType: 'application/x-www-form-urlencoded', body }), {
    trustDomain: 'trust-domain.example',
  });
}

function refusal(fn: () => unknown): TokenExchangeError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TokenExchangeError) return e;
    throw e;
  }
  throw new Error('expected a TokenExchangeError');
}

describe('txn-tokens §11.1: the Txn-Token Request profile', () => {
  it('accepts the draft example with its JSON parameters decoded', () => {
    const r = txnRequest(example);
    expect(r.audience).toBe('trust-domain.example');
    expect(r.scope).toEqual(['trade.stocks']);
    expect(r.requestContext).toEqual({ req_ip: '69.151.72.123', authn: 'face' });
    expect(r.requestDetails).toEqual({ action: 'BUY', ticker: 'MSFT', quantity: '100' });
  });
  it('refuses a missing requested_token_type', () => {
    const { requested_token_type: _, ...rest } = example;
    expect(refusal(() => txnRequest(rest)).error).toBe('invalid_request');
  });
  it('refuses requested_token_type access_token', () => {
    expect(refusal(() => txnRequest({ ...example, requested_token_type: ACCESS })).error).toBe('invalid_request');
  });
  it('refuses a missing audience', () => {
    const { audience: _, ...rest } = example;
    expect(refusal(() => txnRequest(rest)).error).toBe('invalid_request');
  });
  it('refuses an audience that is not the trust domain with invalid_target', () => {
    const e = refusal(() => txnRequest({ ...example, audience: 'other.example' }));
    expect([e.status, e.error]).toEqual([400, 'invalid_target']);
  });
  it('refuses the trust domain plus another audience with invalid_target', () => {
    expect(refusal(() => txnRequest([...Object.entries(example), ['audience', 'other.example']])).error).toBe('invalid_target');
  });
  it('refuses a resource parameter with invalid_target', () => {
    expect(refusal(() => txnRequest({ ...example, resource: 'https://api.example/' })).error).toBe('invalid_target');
  });
  it('refuses a missing scope', () => {
    const { scope: _, ...rest } = example;
    expect(refusal(() => txnRequest(rest)).error).toBe('invalid_request');
  });
  it('refuses a refresh token subject (§13.3)', () => {
    expect(refusal(() => txnRequest({ ...example, subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' })).error).toBe(
      'invalid_request',
    );
  });
  it('refuses an actor token', () => {
    expect(
      refusal(() => txnRequest({ ...example, actor_token: 'a.b.c', actor_token_type: 'urn:ietf:params:oauth:token-type:jwt' })).error,
    ).toBe('invalid_request');
  });
  it('refuses request_context that is not JSON', () => {
    expect(refusal(() => txnRequest({ ...example, request_context: '{req_ip:1}' })).error).toBe('invalid_request');
  });
  it('refuses request_details that is a JSON array', () => {
    expect(refusal(() => txnRequest({ ...example, request_details: '["BUY"]' })).error).toBe('invalid_request');
  });
  it('refuses base64url-encoded request_details (dropped in -07)', () => {
    expect(refusal(() => txnRequest({ ...example, request_details: 'eyJhY3Rpb24iOiJCVVkifQ' })).error).toBe('invalid_request');
  });
  it('refuses request_details nested deeper than the bound', () => {
    expect(refusal(() => txnRequest({ ...example, request_details: `${'{"a":'.repeat(20)}1${'}'.repeat(20)}` })).error).toBe(
      'invalid_request',
    );
  });
});

describe('txn-tokens §13.6, §13.14: scope bounded by the subject', () => {
  it('allows equal scope', () => {
    expect(() => checkScopeWithin(['a', 'b'], ['b', 'a'], 'subject token')).not.toThrow();
  });
  it('allows narrower scope', () => {
    expect(() => checkScopeWithin(['a'], ['a', 'b'], 'subject token')).not.toThrow();
  });
  it('refuses a wider scope with invalid_scope', () => {
    const e = refusal(() => checkScopeWithin(['a', 'c'], ['a', 'b'], 'subject token'));
    expect([e.status, e.error]).toEqual([400, 'invalid_scope']);
  });
  it('refuses any scope when the subject’s is unknown', () => {
    expect(refusal(() => checkScopeWithin(['a'], undefined, 'subject token')).error).toBe('invalid_scope');
  });
  it('compares case-sensitively (RFC 6749 §3.3)', () => {
    expect(refusal(() => checkScopeWithin(['Trade.Stocks'], ['trade.stocks'], 'subject token')).error).toBe('invalid_scope');
  });
});

describe('txn-tokens §13.15: replacement', () => {
  // The §9.2.4 example body as the verified previous token.
  const previous: ReplacedTxnToken = {
    txn: '97053963-771d-49cc-a4e3-20aad399c312',
    sub: 'd084sdrt234fsaw34tr23t',
    scope: ['trade.stocks', 'trade.bonds'],
    reqWl: 'apigateway.trust-domain.example',
    exp: 1686536586,
    rctx: { req_ip: '69.151.72.123', authn: 'face' },
    tctx: { action: 'BUY', ticker: 'MSFT', quantity: '100', customer_type: { geo: 'US', level: 'VIP' } },
  };
  const now = 1686536300;
  const request = (scope: string, details?: string) =>
    txnRequest({
      ...example,
      subject_token_type: TXN,
      scope,
      ...(details === undefined ? { request_details: '' } : { request_details: details }),
    });

  it('keeps txn, sub, tctx and exp and records the call chain', () => {
    const c = replacementClaims(previous, request('trade.stocks'), now);
    expect(c).toEqual({
      txn: '97053963-771d-49cc-a4e3-20aad399c312',
      sub: 'd084sdrt234fsaw34tr23t',
      scope: ['trade.stocks'],
      exp: 1686536586,
      tctx: { action: 'BUY', ticker: 'MSFT', quantity: '100', customer_type: { geo: 'US', level: 'VIP' } },
      rctx: { req_ip: '69.151.72.123', authn: 'face', req_wl_chain: ['apigateway.trust-domain.example'] },
    });
  });
  it('extends an existing call chain', () => {
    const c = replacementClaims({ ...previous, reqWl: 'b', rctx: { req_wl_chain: ['a'] } }, request('trade.stocks'), now);
    expect(c.rctx.req_wl_chain).toEqual(['a', 'b']);
  });
  it('allows request_details that repeat tctx values', () => {
    expect(() =>
      replacementClaims(previous, request('trade.stocks', '{"ticker":"MSFT","customer_type":{"level":"VIP","geo":"US"}}'), now),
    ).not.toThrow();
  });
  it('refuses a wider scope with invalid_scope', () => {
    expect(refusal(() => replacementClaims(previous, request('trade.stocks trade.options'), now)).error).toBe('invalid_scope');
  });
  it('refuses an expired token', () => {
    expect(refusal(() => replacementClaims(previous, request('trade.stocks'), previous.exp)).error).toBe('invalid_request');
  });
  it('refuses a changed tctx value', () => {
    expect(refusal(() => replacementClaims(previous, request('trade.stocks', '{"quantity":"1000"}'), now)).error).toBe('invalid_request');
  });
  it('refuses an added tctx value', () => {
    expect(refusal(() => replacementClaims(previous, request('trade.stocks', '{"override":true}'), now)).error).toBe('invalid_request');
  });
  it('refuses a changed nested tctx value', () => {
    expect(
      refusal(() => replacementClaims(previous, request('trade.stocks', '{"customer_type":{"geo":"US","level":"VVIP"}}'), now)).error,
    ).toBe('invalid_request');
  });
  it('does not share objects with the previous token', () => {
    const c = replacementClaims(previous, request('trade.stocks'), now);
    expect(c.tctx).not.toBe(previous.tctx);
    expect(c.tctx!.customer_type).not.toBe(previous.tctx!.customer_type);
  });
});
