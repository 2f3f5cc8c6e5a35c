/** Test factory: a trust domain with an issuer key, workloads with WITs, and signed request views. */
import { exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import {
  createVerifier,
  createWorkloadSigner,
  issueWit,
  type VerifierOptions,
  type WimseAlgorithm,
  type WimseRequest,
  type WorkloadSigner,
} from '@wimse/core';

/** A fixed clock (ms) for generated tokens: 2027-01-15T08:00:00Z. */
export const NOW = 1_800_000_000_000;
export const AUDIENCE = 'https://api.example.org';
export const TRUST_DOMAIN = 'example.org';

export async function keyPair(alg: WimseAlgorithm): Promise<{ privateKey: CryptoKey; publicJwk: JWK; privateJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  return { privateKey, publicJwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey) };
}

export interface Issuer {
  alg: WimseAlgorithm;
  kid: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function createIssuer(alg: WimseAlgorithm = 'ES256', kid = 'issuer-1'): Promise<Issuer> {
  const k = await keyPair(alg);
  return { alg, kid, privateKey: k.privateKey, publicJwk: { ...k.publicJwk, kid } };
}

export interface Workload {
  sub: string;
  alg: WimseAlgorithm;
  wit: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function createWorkload(
  issuer: Issuer,
  options: { sub?: string; alg?: WimseAlgorithm; lifetime?: number; claims?: Record<string, unknown>; iss?: string; now?: number } = {},
): Promise<Workload> {
  const alg = options.alg ?? 'ES256';
  const sub = options.sub ?? `spiffe://${TRUST_DOMAIN}/client`;
  const k = await keyPair(alg);
  const wit = await issueWit({
    sub,
    cnfJwk: { ...k.publicJwk, alg },
    issuerKey: issuer.privateKey,
    alg: issuer.alg,
    kid: issuer.kid,
    now: options.now ?? NOW,
    ...(options.lifetime === undefined ? {} : { lifetime: options.lifetime }),
    ...(options.iss === undefined ? {} : { iss: options.iss }),
    ...(options.claims === undefined ? {} : { claims: options.claims }),
  });
  return { sub, alg, wit, privateKey: k.privateKey, publicJwk: k.publicJwk };
}

export function verifierFor(issuer: Issuer, options: Partial<VerifierOptions> = {}) {
  return createVerifier({
    trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } },
    audience: AUDIENCE,
    now: () => NOW,
    ...options,
  });
}

/** A request view carrying `workload`'s WIT and a fresh WPT for `path`. */
export async function wptRequest(
  workload: Workload,
  options: {
    method?: string;
    path?: string;
    aud?: string;
    txnToken?: string;
    contextTokens?: Record<string, string>;
    extra?: Record<string, string | string[]>;
  } = {},
): Promise<WimseRequest & { headers: Record<string, string | string[]> }> {
  const path = options.path ?? '/orders?id=7';
  const signer = await createWorkloadSigner({ wit: workload.wit, privateKey: workload.privateKey });
  const headers: Record<string, string | string[]> = await signer.wptHeaders({
    url: options.aud ?? `${AUDIENCE}${path}`,
    now: NOW,
    ...(options.txnToken === undefined ? {} : { txnToken: options.txnToken }),
    ...(options.contextTokens === undefined ? {} : { contextTokens: options.contextTokens }),
  });
  return { method: options.method ?? 'GET', path, headers: { ...headers, ...options.extra } };
}

/** Adapter tests: options trusting a fresh issuer for `audience`, and a signer for spiffe://example.org/client. */
export async function adapterFixture(audience: string): Promise<{ options: VerifierOptions; client: WorkloadSigner }> {
  const issuer = await createIssuer('ES256', 'k1');
  const workload = await createWorkload(issuer, { now: Date.now() });
  const client = await createWorkloadSigner({ wit: workload.wit, privateKey: workload.privateKey });
  return { options: { trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } }, audience }, client };
}
