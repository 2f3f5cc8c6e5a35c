/**
 * The proof-of-possession key of a WIT (`cnf.jwk`, RFC 7800 §3.2), imported once and reused for
 * every proof made with it. The algorithm is `cnf.jwk.alg` and nothing else (workload-creds-02 §5.1).
 */
import { base64url, importJWK, type CryptoKey, type JWK } from 'jose';
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
 * Imports `cnf.jwk` once. On Node (node-crypto.ts `nodeSignatures`), `node:crypto` alone (an EC
 * key through its raw point, see below; it refuses what Web Crypto refuses here: EC points off
 * the curve, malformed members; kty/crv fit
 * and degenerate keys are checked before, in wit.ts); a JWK with `key_ops` goes through Web
 * Crypto, which judges them, and gets its `KeyObject` from that key. Elsewhere Web Crypto.
 */
export async function importProofKey(jwk: JWK, alg: WimseAlgorithm): Promise<ProofKey> {
  const frozen = Object.freeze({ ...jwk });
  const node = nodeSignatures();
  if (node !== undefined && jwk.key_ops === undefined) {
    const point = ecPoint(jwk);
    if (point !== undefined) {
      // The cold path imports a new cnf.jwk per WIT. Node's raw import checks the point is on the
      // curve (SEC 1 §3.2.2.1, coordinates below p) as its JWK import does, and costs less with the
      // first verification included (`pnpm bench`); `x`/`y` sizes were checked in public-key.ts.
      const key = await crypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: jwk.crv! }, true, ['verify']);
      return { jwk: frozen, alg, nodeKey: node.KeyObject.from(key as Parameters<typeof node.KeyObject.from>[0]) };
    }
    // jose drops alg and use before importing too (they are not key material).
    const { alg: _alg, use: _use, ext: _ext, ...material } = jwk;
    return { jwk: frozen, alg, nodeKey: node.createPublicKey({ key: material as import('node:crypto').JsonWebKey, format: 'jwk' }) };
  }
  const key = (await importJWK({ ...jwk, ext: true }, alg)) as CryptoKey;
  if (node === undefined) return { jwk: frozen, alg, key };
  return { jwk: frozen, alg, key, nodeKey: node.KeyObject.from(key as Parameters<typeof node.KeyObject.from>[0]) };
}

// SEC 1 §2.3.3: an uncompressed point is 0x04 ‖ x ‖ y, each coordinate at the curve's size.
const EC_COORDINATE_BYTES: Readonly<Record<string, number>> = { 'P-256': 32, 'P-384': 48, 'P-521': 66 };

function ecPoint(jwk: JWK): Uint8Array<ArrayBuffer> | undefined {
  const size =
    jwk.kty === 'EC' && typeof jwk.x === 'string' && typeof jwk.y === 'string' ? EC_COORDINATE_BYTES[String(jwk.crv)] : undefined;
  if (size === undefined) return undefined;
  let x: Uint8Array;
  let y: Uint8Array;
  try {
    x = base64url.decode(jwk.x!);
    y = base64url.decode(jwk.y!);
  } catch {
    return undefined;
  }
  if (x.length !== size || y.length !== size) return undefined;
  const point = new Uint8Array(1 + 2 * size);
  point[0] = 0x04;
  point.set(x, 1);
  point.set(y, 1 + size);
  return point;
}
