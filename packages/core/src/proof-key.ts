/**
 * The proof-of-possession key of a WIT (`cnf.jwk`, RFC 7800 §3.2), imported once and reused for
 * every proof made with it. The algorithm is `cnf.jwk.alg` and nothing else (workload-creds-02 §5.1).
 */
import { importJWK, type CryptoKey, type JWK } from 'jose';
import type { WimseAlgorithm } from './algorithms.js';
import { nodeSignatures, type NodeKeyObject } from './node-crypto.js';

/** A verified WIT's confirmation key. */
export interface ProofKey {
  /** The public JWK from `cnf.jwk`. */
  readonly jwk: Readonly<JWK>;
  /** `cnf.jwk.alg`: the only algorithm a proof may use. */
  readonly alg: WimseAlgorithm;
  /** The imported Web Crypto key. */
  readonly key: CryptoKey;
  /** The same key as a Node `KeyObject`, where `node:crypto` passes the check in node-crypto.ts (see proof-jws.ts). */
  readonly nodeKey?: NodeKeyObject;
}

/** Imports `cnf.jwk` once: the Node `KeyObject` wraps the same key as the Web Crypto one (no second JWK parse). */
export async function importProofKey(jwk: JWK, alg: WimseAlgorithm): Promise<ProofKey> {
  const key = (await importJWK({ ...jwk, ext: true }, alg)) as CryptoKey;
  const frozen = Object.freeze({ ...jwk });
  const node = nodeSignatures();
  if (node === undefined) return { jwk: frozen, alg, key };
  return { jwk: frozen, alg, key, nodeKey: node.KeyObject.from(key as Parameters<typeof node.KeyObject.from>[0]) };
}
