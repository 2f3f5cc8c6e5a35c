/**
 * The proof-of-possession key of a WIT (`cnf.jwk`, RFC 7800 §3.2), imported once and reused for
 * every proof made with it. The algorithm is `cnf.jwk.alg` and nothing else (workload-creds-02 §5.1).
 */
import { importJWK, type CryptoKey, type JWK } from 'jose';
import type { WimseAlgorithm } from './algorithms.js';

/** A verified WIT's confirmation key. */
export interface ProofKey {
  /** The public JWK from `cnf.jwk`. */
  readonly jwk: Readonly<JWK>;
  /** `cnf.jwk.alg`: the only algorithm a proof may use. */
  readonly alg: WimseAlgorithm;
  /** The imported Web Crypto key. */
  readonly key: CryptoKey;
}

export async function importProofKey(jwk: JWK, alg: WimseAlgorithm): Promise<ProofKey> {
  const key = (await importJWK({ ...jwk, ext: true }, alg)) as CryptoKey;
  return { jwk: Object.freeze({ ...jwk }), alg, key };
}
