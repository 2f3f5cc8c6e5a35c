import { describe, expect, it } from 'vitest';
import { WimseError } from './errors.js';
import {
  TokenExchangeError,
  parseScope,
  parseTokenExchangeRequest,
  readTokenExchangeResponse,
  tokenErrorFromWimse,
  tokenExchangeResponse,
  type TokenEndpointRequest,
} from './token-exchange.js';

// Literal values from RFC 8693 §2.1 / §3 and txn-tokens-10 §11.1, not from the module's constants.
const GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ACCESS = 'urn:ietf:params:oauth:token-type:access_token';
const TXN = 'urn:ietf:params:oauth:token-type:txn_token';
const FORM = 'application/x-www-form-urlencoded';

const base = { grant_type: GRANT, subject_token: 'eyJhbGciOiJFUzI1NiJ9.e30.sig', subject_token_type: ACCESS };

function http(
  params: string | Record<string, string> | [string, string][],
  extra: Partial<TokenEndpointRequest> = {},
): TokenEndpointRequest {
  const text = typeof params === 'string' ? params : new URLSearchParams(params).toString();
  return { method: 'POST', contentType: FORM, body: new TextEncoder().encode(text), ...extra };
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

describe('RFC 8693 §2.1: a valid request', () => {
  it('parses the txn-tokens-10 §11.1 example request', () => {
    const r = parseTokenExchangeRequest(
      http({
        grant_type: GRANT,
        requested_token_type: TXN,
        audience: 'trust-domain.example',
        scope: 'trade.stocks',
        subject_token: 'eyJhbGciOiJFUzI1NiIsImtpZC...kdXjwhw',
        subject_token_type: ACCESS,
        request_context: '{"req_ip": "69.151.72.123", "authn": "face"}',
        request_details: '{"action": "BUY", "ticker": "MSFT", "quantity": "100"}',
      }),
    );
    expect(r.grantType).toBe(GRANT);
    expect(r.requestedTokenType).toBe(TXN);
    expect(r.audience).toEqual(['trust-domain.example']);
    expect(r.scope).toEqual(['trade.stocks']);
    expect(r.subjectTokenType).toBe(ACCESS);
    expect(r.extensions.request_context).toBe('{"req_ip": "69.151.72.123", "authn": "face"}');
    expect(r.extensions.request_details).toBe('{"action": "BUY", "ticker": "MSFT", "quantity": "100"}');
  });

  it('accepts several audience and resource values (RFC 8693 §2.1)', () => {
    const r = parseTokenExchangeRequest(
      http([
        ...Object.entries(base),
        ['audience', 'a'],
        ['audience', 'b'],
        ['resource', 'https://r.example/x'],
        ['resource', 'https://s.example/'],
      ]),
    );
    expect(r.audience).toEqual(['a', 'b']);
    expect(r.resource).toEqual(['https://r.example/x', 'https://s.example/']);
  });

  it('treats a parameter without a value as omitted (RFC 6749 §3.1)', () => {
    const r = parseTokenExchangeRequest(http({ ...base, scope: '', requested_token_type: '' }));
    expect(r.scope).toBeUndefined();
    expect(r.requestedTokenType).toBeUndefined();
  });

  it('decodes + as a space and percent-escapes (form encoding, RFC 6749 Appendix B)', () => {
    const r = parseTokenExchangeRequest(
      http(`grant_type=${encodeURIComponent(GRANT)}&subject_token=t&subject_token_type=${encodeURIComponent(ACCESS)}&scope=a+b%20c`),
    );
    expect(r.scope).toEqual(['a', 'b', 'c']);
  });

  it('accepts charset=UTF-8 on the media type', () => {
    expect(parseTokenExchangeRequest(http(base, { contentType: 'application/x-www-form-urlencoded; charset=UTF-8' })).subjectToken).toBe(
      base.subject_token,
    );
  });

  it('gives the actor token and its type', () => {
    const r = parseTokenExchangeRequest(http({ ...base, actor_token: 'a.b.c', actor_token_type: 'urn:ietf:params:oauth:token-type:jwt' }));
    expect(r.actorToken).toBe('a.b.c');
    expect(r.actorTokenType).toBe('urn:ietf:params:oauth:token-type:jwt');
  });
});

describe('RFC 6749 §3.2: a POST with a form body', () => {
  it('refuses GET with 405', () => {
    const e = refusal(() => parseTokenExchangeRequest(http(base, { method: 'GET' })));
    expect([e.status, e.error, e.headers.allow]).toEqual([405, 'invalid_request', 'POST']);
  });
  it('refuses a JSON body', () => {
    const e = refusal(() => parseTokenExchangeRequest(http(JSON.stringify(base), { contentType: 'application/json' })));
    expect([e.status, e.error]).toEqual([400, 'invalid_request']);
  });
  it('refuses a missing Content-Type', () => {
    expect(refusal(() => parseTokenExchangeRequest(http(base, { contentType: undefined }))).error).toBe('invalid_request');
  });
  it('refuses a charset other than UTF-8', () => {
    expect(
      refusal(() => parseTokenExchangeRequest(http(base, { contentType: 'application/x-www-form-urlencoded; charset=iso-8859-1' }))).error,
    ).toBe('invalid_request');
  });
  it('refuses bytes that are not UTF-8', () => {
    const body = new Uint8Array([...new TextEncoder().encode(`${new URLSearchParams(base).toString()}&x=`), 0xff, 0xfe]);
    expect(refusal(() => parseTokenExchangeRequest({ method: 'POST', contentType: FORM, body })).error).toBe('invalid_request');
  });
});

describe('RFC 6749 §3.2: no parameter twice', () => {
  it('refuses two grant_type', () => {
    const e = refusal(() => parseTokenExchangeRequest(http([...Object.entries(base), ['grant_type', GRANT]])));
    expect([e.status, e.error]).toEqual([400, 'invalid_request']);
  });
  it('refuses two subject_token', () => {
    expect(refusal(() => parseTokenExchangeRequest(http([...Object.entries(base), ['subject_token', 'other']]))).error).toBe(
      'invalid_request',
    );
  });
  it('refuses two scope', () => {
    expect(refusal(() => parseTokenExchangeRequest(http([...Object.entries(base), ['scope', 'a'], ['scope', 'b']]))).error).toBe(
      'invalid_request',
    );
  });
  it('refuses two extension parameters of one name (request_details)', () => {
    expect(
      refusal(() => parseTokenExchangeRequest(http([...Object.entries(base), ['request_details', '{}'], ['request_details', '{"a":1}']])))
        .error,
    ).toBe('invalid_request');
  });
});

describe('RFC 8693 §2.1: required parameters', () => {
  it('refuses a missing grant_type', () => {
    const { grant_type: _, ...rest } = base;
    expect(refusal(() => parseTokenExchangeRequest(http(rest))).error).toBe('invalid_request');
  });
  it('refuses another grant_type with unsupported_grant_type', () => {
    const e = refusal(() => parseTokenExchangeRequest(http({ ...base, grant_type: 'client_credentials' })));
    expect([e.status, e.error]).toEqual([400, 'unsupported_grant_type']);
  });
  it('refuses the refresh_token grant with unsupported_grant_type', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, grant_type: 'refresh_token' }))).error).toBe('unsupported_grant_type');
  });
  it('refuses a missing subject_token', () => {
    const { subject_token: _, ...rest } = base;
    const e = refusal(() => parseTokenExchangeRequest(http(rest)));
    expect([e.status, e.error]).toEqual([400, 'invalid_request']);
  });
  it('refuses an empty subject_token (counts as omitted)', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, subject_token: '' }))).error).toBe('invalid_request');
  });
  it('refuses a missing subject_token_type', () => {
    const { subject_token_type: _, ...rest } = base;
    expect(refusal(() => parseTokenExchangeRequest(http(rest))).error).toBe('invalid_request');
  });
  it('refuses a subject_token_type that is not a URI', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, subject_token_type: 'access token' }))).error).toBe('invalid_request');
  });
  it('refuses a requested_token_type that is not a URI', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, requested_token_type: 'txn_token' }))).error).toBe('invalid_request');
  });
  it('refuses actor_token without actor_token_type', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, actor_token: 'a.b.c' }))).error).toBe('invalid_request');
  });
  it('refuses actor_token_type without actor_token', () => {
    expect(
      refusal(() => parseTokenExchangeRequest(http({ ...base, actor_token_type: 'urn:ietf:params:oauth:token-type:jwt' }))).error,
    ).toBe('invalid_request');
  });
});

describe('RFC 8693 §2.1: resource is an absolute URI without fragment', () => {
  it('refuses a relative resource with invalid_target', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, resource: '/orders' }))).error).toBe('invalid_target');
  });
  it('refuses a resource with a fragment with invalid_target', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, resource: 'https://r.example/#x' }))).error).toBe('invalid_target');
  });
});

describe('RFC 6749 §3.3: scope syntax', () => {
  it('splits on spaces and drops duplicates', () => {
    expect(parseScope('a b  a c')).toEqual(['a', 'b', 'c']);
  });
  it('refuses a double quote in a scope token with invalid_scope', () => {
    expect(refusal(() => parseScope('a "b"')).error).toBe('invalid_scope');
  });
  it('refuses a backslash in a scope token with invalid_scope', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, scope: 'a\\b' }))).error).toBe('invalid_scope');
  });
  it('refuses a control character in scope with invalid_scope', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, scope: 'a\tb' }))).error).toBe('invalid_scope');
  });
  it('refuses non-ASCII scope with invalid_scope', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, scope: 'lecture.écriture' }))).error).toBe('invalid_scope');
  });
});

describe('bounds: oversized and degenerate requests', () => {
  it('refuses a body over maxBodyBytes with 413', () => {
    const e = refusal(() => parseTokenExchangeRequest(http({ ...base, pad: 'x'.repeat(2000) }), { maxBodyBytes: 1024 }));
    expect([e.status, e.error]).toEqual([413, 'invalid_request']);
  });
  it('refuses a subject_token over maxTokenLength', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, subject_token: 'x'.repeat(101) }), { maxTokenLength: 100 })).error).toBe(
      'invalid_request',
    );
  });
  it('refuses another value over maxValueLength', () => {
    expect(
      refusal(() => parseTokenExchangeRequest(http({ ...base, request_context: `{"a":"${'x'.repeat(100)}"}` }), { maxValueLength: 100 }))
        .error,
    ).toBe('invalid_request');
  });
  it('refuses a flood of parameters', () => {
    const many: [string, string][] = [...Object.entries(base)];
    for (let i = 0; i < 40; i++) many.push(['audience', `a${i}`]);
    expect(refusal(() => parseTokenExchangeRequest(http(many))).error).toBe('invalid_request');
  });
  it('refuses a flood of empty parameters too', () => {
    expect(refusal(() => parseTokenExchangeRequest(http(new URLSearchParams(base).toString() + '&x='.repeat(40)))).error).toBe(
      'invalid_request',
    );
  });
  it('refuses an overlong parameter name', () => {
    expect(refusal(() => parseTokenExchangeRequest(http({ ...base, ['n'.repeat(65)]: '1' }))).error).toBe('invalid_request');
  });
  it('refuses an empty body as missing grant_type', () => {
    expect(refusal(() => parseTokenExchangeRequest(http(''))).error).toBe('invalid_request');
  });
  it('keeps an extension named like an Object.prototype member as data', () => {
    const r = parseTokenExchangeRequest(http({ ...base, __proto__x: '1', constructor: 'c' }));
    expect(r.extensions.constructor).toBe('c');
    expect(Object.getPrototypeOf(r.extensions)).toBeNull();
  });
});

describe('RFC 6749 §5.2: error response', () => {
  it('renders error and error_description as JSON with no-store', () => {
    const r = new TokenExchangeError('invalid_scope', 'scope wider than the subject token').response();
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(r.body)).toEqual({ error: 'invalid_scope', error_description: 'scope wider than the subject token' });
  });
  it('replaces characters §5.2 does not allow in error_description', () => {
    expect(JSON.parse(new TokenExchangeError('invalid_request', 'a "quoted"\nline\\é').response().body).error_description).toBe(
      'a ?quoted??line??',
    );
  });
  it('answers invalid_client with 401', () => {
    expect(new TokenExchangeError('invalid_client').status).toBe(401);
  });
  it.each([
    'invalid_request',
    'invalid_grant',
    'unauthorized_client',
    'unsupported_grant_type',
    'invalid_scope',
    'invalid_target',
  ] as const)('answers %s with 400', (code) => {
    expect(new TokenExchangeError(code).status).toBe(400);
  });
});

describe('RFC 6749 §5.2: WIMSE client authentication failures', () => {
  it('a WPT failure is 401 invalid_client with the WPT challenge and the WIMSE code', () => {
    const e = tokenErrorFromWimse(new WimseError('wpt_expired'), true)!;
    expect([e.status, e.error, e.headers['www-authenticate'], e.code]).toEqual([401, 'invalid_client', 'WPT', 'wpt_expired']);
  });
  it('a WIT failure with a WPT in Authorization is 401 (the client used Authorization)', () => {
    const e = tokenErrorFromWimse(new WimseError('wit_signature'), true)!;
    expect([e.status, e.error, e.code]).toEqual([401, 'invalid_client', 'wit_signature']);
  });
  it('an HTTP signature failure without Authorization keeps 400 invalid_client', () => {
    const e = tokenErrorFromWimse(new WimseError('sig_invalid'), false)!;
    expect([e.status, e.error, e.code]).toEqual([400, 'invalid_client', 'sig_invalid']);
  });
  it('no credentials at all is 401 invalid_client', () => {
    expect(tokenErrorFromWimse(new WimseError('credentials_missing'), false)!.status).toBe(401);
  });
  it('an authenticated workload that is not allowed is 400 unauthorized_client', () => {
    const e = tokenErrorFromWimse(new WimseError('forbidden'), true)!;
    expect([e.status, e.error]).toEqual([400, 'unauthorized_client']);
  });
  it('a replay store outage is not the client’s fault: no OAuth error', () => {
    expect(tokenErrorFromWimse(new WimseError('replay_unavailable'), true)).toBeUndefined();
    expect(tokenErrorFromWimse(new WimseError('replay_quota_exceeded'), true)).toBeUndefined();
  });
});

describe('RFC 8693 §2.2.1: success response', () => {
  it('carries the four fields, no refresh_token, and no-store', () => {
    const r = tokenExchangeResponse({ access_token: 'a.b.c', issued_token_type: TXN, token_type: 'N_A', expires_in: 300 });
    expect(r.status).toBe(200);
    expect(r.headers['cache-control']).toBe('no-store');
    expect(r.headers.pragma).toBe('no-cache');
    expect(JSON.parse(r.body)).toEqual({ access_token: 'a.b.c', issued_token_type: TXN, token_type: 'N_A', expires_in: 300 });
  });
});

describe('client: reading a token endpoint response', () => {
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  it('returns the success fields', async () => {
    expect(
      await readTokenExchangeResponse(json(200, { access_token: 't', issued_token_type: TXN, token_type: 'N_A', expires_in: 60 }), TXN),
    ).toEqual({
      access_token: 't',
      issued_token_type: TXN,
      token_type: 'N_A',
      expires_in: 60,
    });
  });
  it('throws the typed error with the server’s error and WIMSE code', async () => {
    const e = await readTokenExchangeResponse(
      json(401, { error: 'invalid_client', error_description: 'WPT expired', code: 'wpt_expired' }),
    ).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TokenExchangeError);
    expect([(e as TokenExchangeError).error, (e as TokenExchangeError).status, (e as TokenExchangeError).code]).toEqual([
      'invalid_client',
      401,
      'wpt_expired',
    ]);
  });
  it('refuses a success of another token type', async () => {
    await expect(
      readTokenExchangeResponse(json(200, { access_token: 't', issued_token_type: ACCESS, token_type: 'Bearer' }), TXN),
    ).rejects.toThrow(/issued/);
  });
  it('refuses a success without access_token', async () => {
    await expect(readTokenExchangeResponse(json(200, { issued_token_type: TXN, token_type: 'N_A' }))).rejects.toThrow(/access_token/);
  });
  it('a 503 problem is a plain Error, not an OAuth refusal', async () => {
    const e = await readTokenExchangeResponse(json(503, { code: 'replay_unavailable' })).catch((x: unknown) => x);
    expect(e).not.toBeInstanceOf(TokenExchangeError);
    expect(String(e)).toMatch(/503 \(replay_unavailable\)/);
  });
  it('a non-JSON answer is a plain Error naming the status', async () => {
    await expect(readTokenExchangeResponse(new Response('<html>', { status: 502 }))).rejects.toThrow(/502/);
  });
});
