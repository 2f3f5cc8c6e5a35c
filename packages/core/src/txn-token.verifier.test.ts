/**
 * Txn-Token verification inside request verification (txn-tokens-10 §12, §12.2): the proof binds
 * the token (wpt-02 §2 `tth`, http-signature-07 §3 `txn-token`), then the token is verified.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { JWTVerifyGetKey } from 'jose';
import { WimseError, type WimseErrorCode } from './errors.js';
import type { VerifierOptions } from './options.js';
import { createWorkloadSigner } from './signer.js';
import {
  AUDIENCE,
  NOW,
  TRUST_DOMAIN,
  createIssuer,
  createWorkload,
  verifierFor,
  wptRequest,
  type Issuer,
  type Workload,
} from '@wimse/test-support/factory';
import { signJws } from '@wimse/test-support/tokens';
import { bundle, createCa, issueCert } from '@wimse/test-support/certs';
import { issueTxnToken } from './txn-token.js';
import type { WimseRequest } from './request.js';

let issuer: Issuer;
let tts: Issuer;
let workload: Workload;
let token: string;

const CLAIMS = {
  aud: TRUST_DOMAIN,
  sub: 'user-42',
  scope: 'orders.read orders.write',
  req_wl: 'spiffe://example.org/gateway',
  txn: 'txn-1',
  tctx: { order: 7 },
  rctx: { req_ip: '192.0.2.1' },
};

beforeAll(async () => {
  issuer = await createIssuer('ES256', 'k1');
  tts = await createIssuer('ES256', 'tts-1');
  workload = await createWorkload(issuer);
  token = await issueTxnToken(CLAIMS, { privateKey: tts.privateKey, alg: 'ES256', kid: 'tts-1', now: NOW, lifetime: 300 });
});

/** A verifier with Txn-Tokens on; `asked` counts key look-ups. */
function verifier(extra: Partial<VerifierOptions> = {}) {
  const counter = { asked: 0 };
  const keys: JWTVerifyGetKey = async (header) => {
    counter.asked++;
    if (header.kid !== 'tts-1') throw Object.assign(new Error('no key'), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    const { importJWK } = await import('jose');
    return importJWK(tts.publicJwk, 'ES256') as Promise<CryptoKey>;
  };
  return { v: verifierFor(issuer, { transactionTokens: { trustDomain: TRUST_DOMAIN, keys }, ...extra }), counter };
}

async function refusedWith(p: Promise<unknown>, code: WimseErrorCode, status: number): Promise<void> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(WimseError);
  expect({ code: (e as WimseError).code, status: (e as WimseError).status }).toEqual({ code, status });
}

const EXPECTED = {
  txn: 'txn-1',
  sub: 'user-42',
  scope: ['orders.read', 'orders.write'],
  reqWl: 'spiffe://example.org/gateway',
  iat: NOW / 1000,
  exp: NOW / 1000 + 300,
  tctx: { order: 7 },
  rctx: { req_ip: '192.0.2.1' },
};

describe('§12.2 a bound, valid Txn-Token becomes principal.transaction', () => {
  it('with a WPT binding it by tth', async () => {
    const p = await verifier().v.verify(await wptRequest(workload, { txnToken: token }));
    expect(p.transaction).toEqual(EXPECTED);
    expect(p.workload).toBe(workload.sub);
    expect(Object.isFrozen(p)).toBe(true);
  });

  it('with an HTTP signature covering txn-token', async () => {
    const signer = await createWorkloadSigner({ wit: workload.wit, privateKey: workload.privateKey });
    const headers = { 'txn-token': token };
    const added = await signer.httpSigHeaders({ method: 'GET', url: `${AUDIENCE}/orders`, now: NOW, headers });
    const p = await verifier().v.verify({ method: 'GET', path: '/orders', headers: { ...headers, ...added } });
    expect(p.method).toBe('http-sig');
    expect(p.transaction).toEqual(EXPECTED);
  });

  it('leaves transaction absent without a Txn-Token', async () => {
    const p = await verifier().v.verify(await wptRequest(workload));
    expect(p.transaction).toBeUndefined();
  });

  it('leaves the Txn-Token unverified when transactionTokens is not configured', async () => {
    const p = await verifierFor(issuer).verify(await wptRequest(workload, { txnToken: 'not-even-a-jwt' }));
    expect(p.transaction).toBeUndefined();
    expect(p.context.txnToken).toBe('not-even-a-jwt');
  });

  it('verifies a repeated Txn-Token once (cache)', async () => {
    const { v, counter } = verifier();
    await v.verify(await wptRequest(workload, { txnToken: token }));
    await v.verify(await wptRequest(workload, { txnToken: token }));
    expect(counter.asked).toBe(1);
  });
});

describe('§12 exactly one Txn-Token field', () => {
  it('refuses two Txn-Token fields with 400 before the proof', async () => {
    const { v, counter } = verifier();
    const r = await wptRequest(workload, { txnToken: token });
    await refusedWith(v.verify({ ...r, headers: { ...r.headers, 'txn-token': [token, token] } }), 'txn_token_duplicate', 400);
    expect(counter.asked).toBe(0);
  });
});

describe('mutual-tls-02: with mTLS alone, the authenticated connection carries the Txn-Token', () => {
  it('verifies the Txn-Token field and sets principal.transaction', async () => {
    const root = await createCa('example.org root', { at: NOW });
    const leaf = await issueCert(root, { at: NOW, uris: ['spiffe://example.org/client'] });
    const v = verifier({ proofs: ['mtls'], mtls: { trustBundles: { 'example.org': bundle(root) } } }).v;
    const p = await v.verify({ method: 'GET', path: '/orders', headers: { 'txn-token': token }, peerCertificates: leaf.chain });
    expect(p.method).toBe('mtls');
    expect(p.transaction).toEqual(EXPECTED);
    await refusedWith(
      v.verify({ method: 'GET', path: '/orders', headers: { 'txn-token': 'x.y.z' }, peerCertificates: leaf.chain }),
      'txn_token_malformed',
      400,
    );
  });
});

describe('the Txn-Token must be bound by the proof', () => {
  it('refuses a Txn-Token the WPT does not bind (no tth), without verifying it', async () => {
    const { v, counter } = verifier();
    const r = await wptRequest(workload);
    await refusedWith(v.verify({ ...r, headers: { ...r.headers, 'txn-token': token } }), 'wpt_tth', 401);
    expect(counter.asked).toBe(0);
  });

  it('refuses a Txn-Token swapped after signing', async () => {
    const other = await issueTxnToken({ ...CLAIMS, scope: 'admin' }, { privateKey: tts.privateKey, alg: 'ES256', kid: 'tts-1', now: NOW });
    const r = await wptRequest(workload, { txnToken: token });
    await refusedWith(verifier().v.verify({ ...r, headers: { ...r.headers, 'txn-token': other } }), 'wpt_tth', 401);
  });

  it('refuses a Txn-Token an HTTP signature does not cover', async () => {
    const signer = await createWorkloadSigner({ wit: workload.wit, privateKey: workload.privateKey });
    const added = await signer.httpSigHeaders({ method: 'GET', url: `${AUDIENCE}/orders`, now: NOW });
    await refusedWith(
      verifier().v.verify({ method: 'GET', path: '/orders', headers: { ...added, 'txn-token': token } }),
      'sig_components',
      400,
    );
  });
});

describe('a bound but invalid Txn-Token is refused with its code', () => {
  it('refuses another trust domain (400 txn_token_audience)', async () => {
    const t = await issueTxnToken(
      { ...CLAIMS, aud: 'other.example' },
      { privateKey: tts.privateKey, alg: 'ES256', kid: 'tts-1', now: NOW },
    );
    await refusedWith(verifier().v.verify(await wptRequest(workload, { txnToken: t })), 'txn_token_audience', 400);
  });

  it('refuses a Txn-Token signed by the WIT issuer instead of the Txn-Token Service', async () => {
    const t = await signJws(
      { alg: 'ES256', typ: 'txntoken+jwt', kid: 'tts-1' },
      { ...CLAIMS, iat: NOW / 1000, exp: NOW / 1000 + 60 },
      issuer.privateKey,
    );
    await refusedWith(verifier().v.verify(await wptRequest(workload, { txnToken: t })), 'txn_token_signature', 400);
  });

  it('refuses a Txn-Token longer than maxTokenLength before any proof or key work', async () => {
    const { v, counter } = verifier({ maxTokenLength: 4096 });
    const huge = `${'a'.repeat(3000)}.${'b'.repeat(3000)}.c`;
    const r: WimseRequest = await wptRequest(workload, { txnToken: huge });
    await refusedWith(v.verify(r), 'txn_token_too_large', 400);
    expect(counter.asked).toBe(0);
  });
});

describe('transactionTokens is validated at start-up', () => {
  it('refuses an unknown key', () => {
    expect(() =>
      verifierFor(issuer, { transactionTokens: { trustDomain: TRUST_DOMAIN, keys: tts.publicJwk, audience: 'x' } as never }),
    ).toThrow(/transactionTokens: unknown option "audience"/);
  });
  it('refuses clockTolerance inside transactionTokens (the verifier one applies)', () => {
    expect(() =>
      verifierFor(issuer, { transactionTokens: { trustDomain: TRUST_DOMAIN, keys: tts.publicJwk, clockTolerance: 5 } as never }),
    ).toThrow(/unknown option "clockTolerance"/);
  });
  it('refuses a missing keys', () => {
    expect(() => verifierFor(issuer, { transactionTokens: { trustDomain: TRUST_DOMAIN } as never })).toThrow(
      /transactionTokens.keys is required/,
    );
  });
});
