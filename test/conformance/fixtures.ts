/** Keys, WITs and hand-built tokens for the conformance cases. Real clock: the targets are real servers. */
import { CompactSign, base64url, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { createWorkloadSigner, issueTxnToken, issueWit, tokenHash, type WimseAdapterOptions, type WorkloadSigner } from '@wimse/core';

/** The public base URL every target is configured with; the verifier never looks at Host. */
export const AUDIENCE = 'https://conformance.example.org';
export const TRUST_DOMAIN = 'example.org';
export const CLIENT = 'spiffe://example.org/client';
export const ADMIN = 'spiffe://example.org/admin';
export const KID = 'issuer-1';

export interface Workload {
  sub: string;
  wit: string;
  privateKey: CryptoKey;
  publicJwk: JWK & { alg: string };
  signer: WorkloadSigner;
}

export interface Fixtures {
  issuerKey: CryptoKey;
  issuerJwk: JWK;
  /** Another issuer key under the same kid: signatures by it never verify. */
  rogueKey: CryptoKey;
  client: Workload;
  admin: Workload;
  /** An Ed25519 key, for proofs whose alg differs from the WIT's cnf (ES256). */
  edKey: CryptoKey;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

export async function createFixtures(): Promise<Fixtures> {
  const issuer = await generateKeyPair('ES256', { extractable: true });
  const rogue = await generateKeyPair('ES256');
  const ed = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const issuerKey = issuer.privateKey;
  const workload = async (sub: string): Promise<Workload> => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const publicJwk = { ...(await exportJWK(publicKey)), alg: 'ES256' };
    const wit = await issueWit({ sub, cnfJwk: publicJwk, issuerKey, alg: 'ES256', kid: KID });
    return { sub, wit, privateKey, publicJwk, signer: await createWorkloadSigner({ wit, privateKey }) };
  };
  return {
    issuerKey,
    issuerJwk: { ...(await exportJWK(issuer.publicKey)), kid: KID, alg: 'ES256' },
    rogueKey: rogue.privateKey,
    client: await workload(CLIENT),
    admin: await workload(ADMIN),
    edKey: ed.privateKey,
  };
}

/**
 * The options every target gets: one trust domain, the fixed audience, and an error hook that
 * reshapes errors on `/hooked/*` only.
 */
export function adapterOptions(f: Fixtures): WimseAdapterOptions {
  return adapterOptionsFor(f.issuerJwk);
}

/** {@link adapterOptions} from the issuer's public JWK alone (what the Web-runtime bundles receive). */
export function adapterOptionsFor(issuerJwk: JWK): WimseAdapterOptions {
  return {
    trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuerJwk] } } },
    audience: AUDIENCE,
    contextTokenHeaders: ['x-user-context'],
    // The Txn-Token Service signs with the issuer's key here, so the Web-runtime bundles need no second key.
    transactionTokens: { trustDomain: TRUST_DOMAIN, keys: { keys: [issuerJwk] } },
    onError: (error, response, request) =>
      request?.path.startsWith('/hooked/') === true
        ? {
            status: response.status,
            headers: { ...response.headers, 'content-type': 'application/json' },
            body: JSON.stringify({ hooked: true, code: error.code }),
          }
        : undefined,
  };
}

/** A compact JWS with any header and claims (the header must name the real alg of `key`). */
export async function signJws(
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: CryptoKey | Uint8Array,
): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader(header as { alg: string }).sign(key);
}

/** A WIT for `w` built from defaults overridden by `header`/`claims`, signed by `key` (the issuer by default). */
export async function craftWit(
  f: Fixtures,
  w: Workload,
  o: { header?: Record<string, unknown>; claims?: Record<string, unknown>; key?: CryptoKey | Uint8Array } = {},
): Promise<string> {
  const now = nowSeconds();
  const claims = { sub: w.sub, iat: now, exp: now + 3600, jti: crypto.randomUUID(), cnf: { jwk: w.publicJwk }, ...o.claims };
  return signJws({ alg: 'ES256', typ: 'wit+jwt', kid: KID, ...o.header }, claims, o.key ?? f.issuerKey);
}

/** A WPT by `w` for `path` (aud from the configured audience), overridable like {@link craftWit}. */
export async function craftWpt(
  w: Workload,
  path: string,
  o: { wit?: string; header?: Record<string, unknown>; claims?: Record<string, unknown>; key?: CryptoKey } = {},
): Promise<string> {
  const claims = {
    aud: AUDIENCE + path.split('?')[0],
    exp: nowSeconds() + 60,
    jti: base64url.encode(crypto.getRandomValues(new Uint8Array(16))),
    wth: await tokenHash(o.wit ?? w.wit),
    ...o.claims,
  };
  return signJws({ alg: 'ES256', typ: 'wpt+jwt', ...o.header }, claims, o.key ?? w.privateKey);
}

/** Headers for `w` proving with a WPT (via the core signer). */
export function wptHeaders(w: Workload, path: string, extra: { txnToken?: string; contextTokens?: Record<string, string> } = {}) {
  return w.signer.wptHeaders({ url: AUDIENCE + path, ...extra });
}

/** The Txn-Token every scope case starts from (txn-tokens-10 §9.2). */
export const TXN = { txn: 'txn-conformance-1', sub: 'user-42', req_wl: 'spiffe://example.org/gateway' };

/** A Txn-Token signed by the fixtures' Txn-Token Service key with `scope`; `claims`/`header`/`key` override (then hand-built). */
export async function craftTxnToken(
  f: Fixtures,
  scope: string,
  o: { header?: Record<string, unknown>; claims?: Record<string, unknown>; key?: CryptoKey } = {},
): Promise<string> {
  if (o.header === undefined && o.claims === undefined && o.key === undefined) {
    return issueTxnToken(
      { ...TXN, aud: TRUST_DOMAIN, scope, tctx: { action: 'BUY' } },
      { privateKey: f.issuerKey, alg: 'ES256', kid: KID, lifetime: 120 },
    );
  }
  const now = nowSeconds();
  const claims = { ...TXN, aud: TRUST_DOMAIN, scope, iat: now, exp: now + 120, ...o.claims };
  return signJws({ alg: 'ES256', typ: 'txntoken+jwt', kid: KID, ...o.header }, claims, o.key ?? f.issuerKey);
}
