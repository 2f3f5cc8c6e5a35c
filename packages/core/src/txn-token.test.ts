/**
 * Txn-Token issuing and verification (draft-ietf-oauth-transaction-tokens-10 §9, §12.2). The base
 * token is the draft's §9.2.4 example body under its §9.1 example header; expected values are the
 * draft's.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { WimseError, type WimseErrorCode } from './errors.js';
import { keyPair } from '@wimse/test-support/factory';
import { signJws, unsigned, withPayload } from '@wimse/test-support/tokens';
import { TXN_TOKEN_TYP, createTxnTokenVerifier, issueTxnToken, verifyTxnToken, type TxnTokenVerifierOptions } from './txn-token.js';

// §9.1 example header and §9.2.4 example body (comments removed).
const HEADER = { typ: 'txntoken+jwt', alg: 'RS256', kid: 'identifier-to-key' };
const BODY = {
  iat: 1686536226,
  aud: 'trust-domain.example',
  exp: 1686536586,
  txn: '97053963-771d-49cc-a4e3-20aad399c312',
  sub: 'd084sdrt234fsaw34tr23t',
  req_wl: 'apigateway.trust-domain.example',
  rctx: { req_ip: '69.151.72.123', authn: 'face' },
  scope: 'trade.stocks',
  tctx: { action: 'BUY', ticker: 'MSFT', quantity: '100', customer_type: { geo: 'US', level: 'VIP' } },
};
const TRUST_DOMAIN = 'trust-domain.example';
// Ten seconds after the example's iat.
const NOW = (BODY.iat + 10) * 1000;

type Keys = Awaited<ReturnType<typeof keyPair>>;
let tts: Keys;
let attacker: Keys;
let edKey: Keys;

beforeAll(async () => {
  [tts, attacker, edKey] = await Promise.all([keyPair('RS256'), keyPair('RS256'), keyPair('EdDSA')]);
});

function options(extra: Partial<TxnTokenVerifierOptions> = {}): TxnTokenVerifierOptions {
  return { trustDomain: TRUST_DOMAIN, keys: { ...tts.publicJwk, kid: HEADER.kid }, now: () => NOW, ...extra };
}

const sign = (claims: Record<string, unknown> = BODY, header: Record<string, unknown> = HEADER, key = tts.privateKey) =>
  signJws(header, claims, key);

function without(name: string): Record<string, unknown> {
  const { [name]: _, ...rest } = BODY as Record<string, unknown>;
  return rest;
}

async function refused(token: string | Promise<string>, code: WimseErrorCode, o: TxnTokenVerifierOptions = options()): Promise<void> {
  const error = await Promise.resolve()
    .then(async () => createTxnTokenVerifier(o).verify(await token))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(error).toBeInstanceOf(WimseError);
  expect((error as WimseError).code).toBe(code);
  expect((error as WimseError).status).toBe(400);
}

describe('§12.2 a valid Txn-Token is accepted', () => {
  it('verifies the §9.2.4 example and returns its claims', async () => {
    const t = await createTxnTokenVerifier(options()).verify(await sign());
    expect(t).toEqual({
      txn: '97053963-771d-49cc-a4e3-20aad399c312',
      sub: 'd084sdrt234fsaw34tr23t',
      scope: ['trade.stocks'],
      reqWl: 'apigateway.trust-domain.example',
      iat: 1686536226,
      exp: 1686536586,
      rctx: { req_ip: '69.151.72.123', authn: 'face' },
      tctx: { action: 'BUY', ticker: 'MSFT', quantity: '100', customer_type: { geo: 'US', level: 'VIP' } },
    });
    expect(Object.isFrozen(t) && Object.isFrozen(t.scope) && Object.isFrozen(t.tctx) && Object.isFrozen(t.tctx!.customer_type)).toBe(true);
  });

  it('splits scope on spaces (RFC 6749 §3.3)', async () => {
    const t = await verifyTxnToken(await sign({ ...BODY, scope: 'trade.stocks read:quotes' }), options());
    expect(t.scope).toEqual(['trade.stocks', 'read:quotes']);
  });

  it('ignores claims it does not understand (§9.2)', async () => {
    const t = await verifyTxnToken(await sign({ ...BODY, purp: 'x', azd: { a: 1 }, jti: 'j' }), options());
    expect(t).not.toHaveProperty('purp');
    expect(t.txn).toBe(BODY.txn);
  });

  it('accepts an aud array that contains the trust domain', async () => {
    await expect(verifyTxnToken(await sign({ ...BODY, aud: ['other.example', TRUST_DOMAIN] }), options())).resolves.toMatchObject({
      sub: BODY.sub,
    });
  });

  it('accepts typ application/txntoken+jwt (RFC 7515 §4.1.9)', async () => {
    await expect(verifyTxnToken(await sign(BODY, { ...HEADER, typ: 'application/txntoken+jwt' }), options())).resolves.toMatchObject({
      sub: BODY.sub,
    });
  });

  it('keeps iss when present and checks it against the allow-list', async () => {
    const t = await verifyTxnToken(
      await sign({ ...BODY, iss: 'https://tts.trust-domain.example' }),
      options({ issuer: 'https://tts.trust-domain.example' }),
    );
    expect(t.iss).toBe('https://tts.trust-domain.example');
  });

  it('fetches the keys from a JWKS URL', async () => {
    const server = createServer((_, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [{ ...tts.publicJwk, kid: HEADER.kid }] })),
    );
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
      await expect(createTxnTokenVerifier(options({ keys: url })).verify(await sign())).resolves.toMatchObject({ txn: BODY.txn });
    } finally {
      server.close();
    }
  });
});

describe('a failing Txn-Token Service JWKS', () => {
  it('answers 503 trust_unavailable with Retry-After, not a 400 for the token', async () => {
    let fetches = 0;
    const server = createServer((_, res) => void (fetches++, res.writeHead(500).end()));
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
      const v = createTxnTokenVerifier(options({ keys: url }));
      const token = await sign();
      for (let i = 0; i < 3; i++) {
        const error = await Promise.resolve()
          .then(() => v.verify(token))
          .then(
            () => undefined,
            (e: unknown) => e,
          );
        expect(error).toMatchObject({ code: 'trust_unavailable', status: 503 });
        expect((error as WimseError).headers['retry-after']).toMatch(/^[1-9]\d*$/);
      }
      // Backoff: one fetch for the three requests, not one each.
      expect(fetches).toBe(1);
    } finally {
      server.close();
    }
  });
});

describe('verified Txn-Tokens are cached, never past exp', () => {
  it('answers a repeat synchronously with the same frozen transaction', async () => {
    const v = createTxnTokenVerifier(options());
    const token = await sign();
    const first = await v.verify(token);
    const second = v.verify(token);
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toBe(first);
  });

  it('refuses a cached token once it has expired', async () => {
    let now = NOW;
    const v = createTxnTokenVerifier(options({ now: () => now, clockTolerance: 0 }));
    const token = await sign();
    await v.verify(token);
    now = BODY.exp * 1000 + 1;
    const error = await Promise.resolve()
      .then(() => v.verify(token))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((error as WimseError).code).toBe('txn_token_expired');
  });
});

describe('§9.1 typ must be txntoken+jwt', () => {
  it('refuses a token without typ', () => refused(sign(BODY, { alg: 'RS256', kid: HEADER.kid }), 'txn_token_typ'));
  it('refuses typ JWT', () => refused(sign(BODY, { ...HEADER, typ: 'JWT' }), 'txn_token_typ'));
  it('refuses typ wit+jwt', () => refused(sign(BODY, { ...HEADER, typ: 'wit+jwt' }), 'txn_token_typ'));
  it('refuses the early-draft typ txn_token', () => refused(sign(BODY, { ...HEADER, typ: 'txn_token' }), 'txn_token_typ'));
});

describe('§12.2 algorithm comes from configuration, never from the token', () => {
  it('refuses alg none', () => refused(unsigned(HEADER, BODY), 'txn_token_alg'));
  it('refuses HS256 signed with the public key as a secret', () =>
    refused(sign(BODY, { ...HEADER, alg: 'HS256' }, new TextEncoder().encode(JSON.stringify(tts.publicJwk)) as never), 'txn_token_alg'));
  it('refuses an asymmetric algorithm outside the allow-list', async () => {
    const o = options({
      keys: {
        keys: [
          { ...tts.publicJwk, kid: HEADER.kid },
          { ...edKey.publicJwk, kid: 'ed' },
        ],
      },
      algorithms: ['RS256'],
    });
    await refused(sign(BODY, { typ: TXN_TOKEN_TYP, alg: 'EdDSA', kid: 'ed' }, edKey.privateKey), 'txn_token_alg', o);
  });
});

describe('§12.2 signature with the configured Txn-Token Service keys', () => {
  it('refuses a token signed by another key under the configured kid', () =>
    refused(sign(BODY, HEADER, attacker.privateKey), 'txn_token_signature'));
  it('refuses a kid that is not configured', () => refused(sign(BODY, { ...HEADER, kid: 'elsewhere' }), 'txn_token_key_unknown'));
  it('never takes the key from iss, jku or an embedded jwk', () =>
    refused(
      sign(
        { ...BODY, iss: 'https://attacker.example' },
        { typ: TXN_TOKEN_TYP, alg: 'RS256', jku: 'https://attacker.example/jwks', jwk: attacker.publicJwk },
        attacker.privateKey,
      ),
      'txn_token_signature',
    ));
  it('refuses a tampered payload', async () =>
    refused(withPayload(await sign(), { ...BODY, scope: 'trade.stocks admin' }), 'txn_token_signature'));
  it('refuses a tampered signature', async () => {
    const token = await sign();
    const last = token.at(-2) === 'A' ? 'B' : 'A';
    await refused(`${token.slice(0, -2)}${last}${token.at(-1)}`, 'txn_token_signature');
  });
});

describe('§9.2 aud must identify this trust domain', () => {
  it('refuses another trust domain', () => refused(sign({ ...BODY, aud: 'other.example' }), 'txn_token_audience'));
  it('refuses a missing aud', () => refused(sign(without('aud')), 'txn_token_audience'));
  it('refuses an aud array without this trust domain', () =>
    refused(sign({ ...BODY, aud: ['a.example', 'b.example'] }), 'txn_token_audience'));
  it('refuses an aud array with a non-string member', () => refused(sign({ ...BODY, aud: [TRUST_DOMAIN, 7] }), 'txn_token_audience'));
  it('refuses an aud that differs only in case', () => refused(sign({ ...BODY, aud: 'Trust-Domain.example' }), 'txn_token_audience'));
});

describe('§6, §12.2 lifetime: not expired, not issued in the future, short-lived', () => {
  it('refuses an expired token', () => refused(sign(BODY), 'txn_token_expired', options({ now: () => (BODY.exp + 31) * 1000 })));
  it('refuses iat in the future beyond the tolerance', () => refused(sign({ ...BODY, iat: BODY.iat + 60 }), 'txn_token_not_yet_valid'));
  it('refuses a lifetime longer than maxLifetime', () => refused(sign(BODY), 'txn_token_lifetime', options({ maxLifetime: 359 })));
  it('refuses a day-long token under the default bound', () => refused(sign({ ...BODY, exp: BODY.iat + 86_400 }), 'txn_token_lifetime'));
  it('refuses nbf in the future', () => refused(sign({ ...BODY, nbf: BODY.iat + 120 }), 'txn_token_not_yet_valid'));
});

describe('§9.2 required claims are present and typed', () => {
  for (const claim of ['txn', 'sub', 'scope', 'req_wl', 'iat', 'exp']) {
    it(`refuses a token without ${claim}`, () => refused(sign(without(claim)), 'txn_token_claims'));
  }
  it('refuses exp as a string', () => refused(sign({ ...BODY, exp: String(BODY.exp) }), 'txn_token_claims'));
  it('refuses iat as a string', () => refused(sign({ ...BODY, iat: String(BODY.iat) }), 'txn_token_claims'));
  it('refuses txn as a number', () => refused(sign({ ...BODY, txn: 97053963 }), 'txn_token_claims'));
  it('refuses an empty sub', () => refused(sign({ ...BODY, sub: '' }), 'txn_token_claims'));
  it('refuses req_wl as an array (≤ -06 shape)', () =>
    refused(sign({ ...BODY, req_wl: ['apigateway.trust-domain.example'] }), 'txn_token_claims'));
  it('refuses scope as an array', () => refused(sign({ ...BODY, scope: ['trade.stocks'] }), 'txn_token_claims'));
  it('refuses an empty scope', () => refused(sign({ ...BODY, scope: '' }), 'txn_token_claims'));
  it('refuses scope with doubled spaces', () => refused(sign({ ...BODY, scope: 'a  b' }), 'txn_token_claims'));
  it('refuses scope with a quote (not NQCHAR)', () => refused(sign({ ...BODY, scope: 'a"b' }), 'txn_token_claims'));
  it('refuses tctx as an array', () => refused(sign({ ...BODY, tctx: ['BUY'] }), 'txn_token_claims'));
  it('refuses tctx as null', () => refused(sign({ ...BODY, tctx: null }), 'txn_token_claims'));
  it('refuses rctx as a string', () => refused(sign({ ...BODY, rctx: 'face' }), 'txn_token_claims'));
  it('refuses iss as a number', () => refused(sign({ ...BODY, iss: 1 }), 'txn_token_claims'));
  it('refuses an iss outside the allow-list', () =>
    refused(sign({ ...BODY, iss: 'https://other' }), 'txn_token_iss', options({ issuer: 'https://tts.trust-domain.example' })));
  it('refuses a missing iss when an allow-list is set', () =>
    refused(sign(BODY), 'txn_token_iss', options({ issuer: 'https://tts.trust-domain.example' })));
});

describe('§9 a Txn-Token is one bounded compact JWS', () => {
  it('refuses a token longer than maxLength without verifying it', async () => {
    let asked = 0;
    const o = options({ maxLength: 100, keys: () => (asked++, Promise.reject(new Error('must not be asked'))) });
    await refused(sign(), 'txn_token_too_large', o);
    expect(asked).toBe(0);
  });
  it('refuses a value that is not a compact JWS', () => refused('not-a-token', 'txn_token_malformed'));
  it('refuses claims that are not JSON', async () => {
    const [h, , s] = (await sign()).split('.');
    await refused(`${h}.bm90LWpzb24.${s}`, 'txn_token_malformed');
  });
});

describe('configuration is validated at start-up', () => {
  it('refuses an unknown option', () =>
    expect(() => createTxnTokenVerifier({ ...options(), audience: 'x' } as never)).toThrow(/unknown option "audience"/));
  it('refuses a missing trustDomain', () => expect(() => createTxnTokenVerifier({ ...options(), trustDomain: '' })).toThrow(/trustDomain/));
  it('refuses a private key as a verification key', () =>
    expect(() => createTxnTokenVerifier(options({ keys: tts.privateJwk }))).toThrow(/public keys/));
  it('refuses a symmetric algorithm in the allow-list', () =>
    expect(() => createTxnTokenVerifier(options({ algorithms: ['HS256' as never] }))).toThrow(/asymmetric/));
  it('refuses a degenerate RSA key (public-key.ts rules)', () =>
    expect(() => createTxnTokenVerifier(options({ keys: { ...tts.publicJwk, e: 'AQ' } as JWK }))).toThrow(/exponent/));
});

describe('issueTxnToken makes what §9 describes', () => {
  it('signs typ txntoken+jwt with kid and the required claims', async () => {
    const token = await issueTxnToken(
      {
        aud: TRUST_DOMAIN,
        sub: BODY.sub,
        scope: ['trade.stocks', 'read'],
        req_wl: BODY.req_wl,
        tctx: BODY.tctx,
        rctx: BODY.rctx,
        iss: 'https://tts',
      },
      { privateKey: tts.privateKey, alg: 'RS256', kid: HEADER.kid, now: NOW, lifetime: 120 },
    );
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'RS256', typ: 'txntoken+jwt', kid: HEADER.kid });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({
      iat: NOW / 1000,
      exp: NOW / 1000 + 120,
      aud: TRUST_DOMAIN,
      sub: BODY.sub,
      scope: 'trade.stocks read',
      req_wl: BODY.req_wl,
      tctx: BODY.tctx,
      rctx: BODY.rctx,
      iss: 'https://tts',
    });
    expect(claims.txn).toMatch(/^[0-9a-f-]{36}$/);
    await expect(verifyTxnToken(token, options())).resolves.toMatchObject({ scope: ['trade.stocks', 'read'] });
  });

  it('keeps a given txn and exp (replacement, §13.15)', async () => {
    const token = await issueTxnToken(
      { aud: TRUST_DOMAIN, sub: 's', scope: 'a', req_wl: 'w', txn: BODY.txn, exp: NOW / 1000 + 30 },
      { privateKey: tts.privateKey, alg: 'RS256', now: NOW },
    );
    expect(decodeJwt(token)).toMatchObject({ txn: BODY.txn, exp: NOW / 1000 + 30 });
  });

  it('refuses claims a receiver would refuse', async () => {
    const base = { aud: TRUST_DOMAIN, sub: 's', scope: 'a', req_wl: 'w' };
    const key = { privateKey: tts.privateKey, alg: 'RS256' as const };
    await expect(issueTxnToken({ ...base, scope: '' }, key)).rejects.toThrow(TypeError);
    await expect(issueTxnToken({ ...base, sub: '' }, key)).rejects.toThrow(TypeError);
    await expect(issueTxnToken({ ...base, tctx: [] as never }, key)).rejects.toThrow(TypeError);
    await expect(issueTxnToken(base, { ...key, alg: 'HS256' as never })).rejects.toThrow(TypeError);
  });
});
