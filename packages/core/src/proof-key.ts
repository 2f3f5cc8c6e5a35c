/**
 * The proof-of-possession key of a WIT (`cnf.jwk`, RFC 7800 §3.2), imported once and reused for
 * every proof made with it. The algorithm is `cnf.jwk.alg` and nothing else (workload-creds-02 §5.1).
 */
import { importJWK, type CryptoKey, type JWK } from 'jose';
import type { WimseAlgorithm } from './algorithms.js';
import { nodeSignatures, type NodeKeyObject } from './node-crypto.js';

/** A verified WIT's confirmation key: `key` (Web Crypto) or `nodeKey` (Node), never neither. */
export interface ProofKey {
  /** The public JWK from `cnf.jwk`. */
  readonly jwk: Readonly<JWK>;
  /** `cnf.jwk.alg`: the only algorithm a proof may use. */
  readonly alg: WimseAlgorithm;
  /** The imported Web Crypto key; absent where the key was imported for `node:crypto` only (`nodeKey`). */
  readonly key?: CryptoKey;
  /** The same key as a Node `KeyObject`, where `node:crypto` passes the check in node-crypto.ts (see proof-jws.ts). */
  readonly nodeKey?: NodeKeyObject;
}

/**
 * Imports `cnf.jwk` once. On Node (node-crypto.ts `nodeSignatures`), `node:crypto` alone (it
 * refuses what Web Crypto refuses here: EC points off the curve, malformed members; kty/crv fit
 * and degenerate keys are checked before, in wit.ts); a JWK with `key_ops` goes through Web
 * Crypto, which judges them, and gets its `KeyObject` from that key. Elsewhere Web Crypto.
 */
export async function importProofKey(jwk: JWK, alg: WimseAlgorithm): Promise<ProofKey> {
  const frozen = Object.freeze({ ...jwk });
  const node = nodeSignatures();
  if (node !== undefined && jwk.key_ops === undefined) {
    // jose drops alg and use before importing too (they are not key material).
    const { alg: _alg, use: _use, ext: _ext, ...material } = jwk;
    return { jwk: frozen, alg, nodeKey: node.createPublicKey({ key: material as import('node:crypto').JsonWebKey, format: 'jwk' }) };
  }
  const key = (await importJWK({ ...jwk, ext: true }, alg)) as CryptoKey;
  if (node === undefined) return { jwk: frozen, alg, key };
  return { jwk: frozen, alg, key, nodeKey: node.KeyObject.from(key as Parameters<typeof node.KeyObject.from>[0]) };
}
