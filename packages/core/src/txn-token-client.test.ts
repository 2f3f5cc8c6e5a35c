import { describe, expect, it } from 'vitest';
import type { WimseFetch, WimseRequestInit } from './client.js';
import { TokenExchangeError } from './token-exchange.js';
import { createTxnTokenClient } from './txn-token-client.js';

// The request a TTS receives, per txn-tokens-10 §11.1 (values written out, not the module's constants).
function recorder(answer: () => Response) {
  const seen: { url: string; init: WimseRequestInit }[] = [];
  const f = (async (input: RequestInfo | URL, init?: WimseRequestInit) => {
    seen.push({ url: String(input), init: init ?? {} });
    return answer();
  }) as WimseFetch;
  return { f, seen };
}

const ok = () =>
  new Response(
    JSON.stringify({
      access_token: 'h.p.s',
      issued_token_type: 'urn:ietf:params:oauth:token-type:txn_token',
      token_type: 'N_A',
      expires_in: 300,
    }),
    { status: 200 },
  );

// An unsigned JWT-shaped value whose payload carries a scope: the client only reads it.
const tokenWithScope = (scope: string) => `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(JSON.stringify({ scope })).toString('base64url')}.c2ln`;

describe('txn-tokens §11.1: the request the client sends', () => {
  it('posts the form of the §11.1 example', async () => {
    const { f, seen } = recorder(ok);
    const tts = createTxnTokenClient({
      fetch: f,
      tts: 'https://tts.example/token',
      trustDomain: 'trust-domain.example',
      proof: 'http-sig',
    });
    const issued = await tts.fetchTxnToken({
      scope: 'trade.stocks',
      subjectToken: 'eyJhbGciOiJFUzI1NiIsImtpZC...kdXjwhw',
      subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token',
      requestContext: { req_ip: '69.151.72.123', authn: 'face' },
      requestDetails: { action: 'BUY', ticker: 'MSFT', quantity: '100' },
    });
    expect(issued).toEqual({ txnToken: 'h.p.s', expiresIn: 300 });
    expect(seen[0]!.url).toBe('https://tts.example/token');
    expect(seen[0]!.init.method).toBe('POST');
    expect(new Headers(seen[0]!.init.headers).get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(seen[0]!.init.wimse).toEqual({ proof: 'http-sig' });
    const form = new URLSearchParams(String(seen[0]!.init.body));
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      requested_token_type: 'urn:ietf:params:oauth:token-type:txn_token',
      audience: 'trust-domain.example',
      scope: 'trade.stocks',
      subject_token: 'eyJhbGciOiJFUzI1NiIsImtpZC...kdXjwhw',
      subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      request_context: '{"req_ip":"69.151.72.123","authn":"face"}',
      request_details: '{"action":"BUY","ticker":"MSFT","quantity":"100"}',
    });
  });
  it('joins a scope list with spaces', async () => {
    const { f, seen } = recorder(ok);
    await createTxnTokenClient({ fetch: f, tts: 'https://tts.example/token', trustDomain: 'td' }).fetchTxnToken({
      scope: ['a', 'b'],
      subjectToken: 't',
      subjectTokenType: 'urn:x',
    });
    expect(new URLSearchParams(String(seen[0]!.init.body)).get('scope')).toBe('a b');
  });
});

describe('txn-tokens §13.15: the replacement request', () => {
  it('sends the Txn-Token as subject with its own scope by default', async () => {
    const { f, seen } = recorder(ok);
    const token = tokenWithScope('orders.read orders.write');
    await createTxnTokenClient({ fetch: f, tts: 'https://tts.example/token', trustDomain: 'td' }).replaceTxnToken(token);
    const form = new URLSearchParams(String(seen[0]!.init.body));
    expect(form.get('subject_token')).toBe(token);
    expect(form.get('subject_token_type')).toBe('urn:ietf:params:oauth:token-type:txn_token');
    expect(form.get('scope')).toBe('orders.read orders.write');
  });
  it('sends a narrower scope when asked', async () => {
    const { f, seen } = recorder(ok);
    await createTxnTokenClient({ fetch: f, tts: 'https://tts.example/token', trustDomain: 'td' }).replaceTxnToken(tokenWithScope('a b'), {
      scope: 'a',
    });
    expect(new URLSearchParams(String(seen[0]!.init.body)).get('scope')).toBe('a');
  });
});

describe('client: refusals', () => {
  it('rejects with TokenExchangeError carrying the error code', async () => {
    const { f } = recorder(() => new Response(JSON.stringify({ error: 'invalid_target' }), { status: 400 }));
    const e = await createTxnTokenClient({ fetch: f, tts: 'https://tts.example/token', trustDomain: 'td' })
      .fetchTxnToken({ scope: 'a', subjectToken: 't', subjectTokenType: 'urn:x' })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TokenExchangeError);
    expect((e as TokenExchangeError).error).toBe('invalid_target');
  });
  it('refuses a success of another token type', async () => {
    const { f } = recorder(
      () =>
        new Response(
          JSON.stringify({ access_token: 'x', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer' }),
          { status: 200 },
        ),
    );
    await expect(
      createTxnTokenClient({ fetch: f, tts: 'https://tts.example/token', trustDomain: 'td' }).fetchTxnToken({
        scope: 'a',
        subjectToken: 't',
        subjectTokenType: 'urn:x',
      }),
    ).rejects.toThrow(/issued/);
  });
});
