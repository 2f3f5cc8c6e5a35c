/**
 * The trust domain's issuer keys. One key signs new WITs; older keys stay published in the JWKS
 * until they are retired, so verifiers keep accepting WITs issued before a rotation
 * (workload-creds-02 §3: verifiers select the issuer key by `kid`).
 */
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type CryptoKey, type JSONWebKeySet, type JWK } from 'jose';
import type { WimseAlgorithm } from '@wimse/core';

interface IssuerKey {
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
}

export interface KeyRing {
  /** The key that signs new WITs. */
  current(): { kid: string; privateKey: CryptoKey; alg: WimseAlgorithm };
  /** The published JWKS: every key not yet retired, the current (signing) one first. */
  jwks(): JSONWebKeySet;
  /**
   * Creates a new key and publishes it. With `activate` (the default) it signs new WITs from now
   * on; without, it is only published, so verifiers can fetch it before the first WIT uses it.
   */
  rotate(activate?: boolean): Promise<string>;
  /** Makes a published key the one that signs new WITs. */
  activate(kid: string): 'activated' | 'unknown';
  /** Removes a key from the JWKS. The current key cannot be retired (rotate first). */
  retire(kid: string): 'retired' | 'unknown' | 'current';
}

/** Creates a key ring holding one fresh key. Keys live in memory only: a restart is a new trust anchor. */
export async function createKeyRing(alg: WimseAlgorithm = 'ES256'): Promise<KeyRing> {
  const keys: IssuerKey[] = [await newKey(alg)];
  return {
    current() {
      const k = keys[0]!;
      return { kid: k.kid, privateKey: k.privateKey, alg };
    },
    jwks() {
      return { keys: keys.map((k) => ({ ...k.publicJwk })) };
    },
    async rotate(activate = true) {
      const k = await newKey(alg);
      if (activate) keys.unshift(k);
      else keys.push(k);
      return k.kid;
    },
    activate(kid) {
      const i = keys.findIndex((k) => k.kid === kid);
      if (i === -1) return 'unknown';
      keys.unshift(...keys.splice(i, 1));
      return 'activated';
    },
    retire(kid) {
      const i = keys.findIndex((k) => k.kid === kid);
      if (i === -1) return 'unknown';
      if (i === 0) return 'current';
      keys.splice(i, 1);
      return 'retired';
    },
  };
}

// kid = RFC 7638 thumbprint: stable, unique per key, and reveals nothing.
async function newKey(alg: WimseAlgorithm): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, privateKey, publicJwk: { ...jwk, kid, alg, use: 'sig' } };
}
