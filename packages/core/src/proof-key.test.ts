/**
 * cnf.jwk import on Node (proof-key.ts): an EC key goes in through its raw point (SEC 1 §2.3.3).
 * It must accept and refuse exactly what Node's JWK import (`createPublicKey`) does, the reference.
 */
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { base64url, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import type { WimseAlgorithm } from './algorithms.js';
import { verifyBase } from './jws-algorithm.js';
import { importProofKey } from './proof-key.js';

const CURVES = [
  { crv: 'P-256', alg: 'ES256', hash: 'sha256', p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n, size: 32 },
  { crv: 'P-384', alg: 'ES384', hash: 'sha384', p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n, size: 48 },
  { crv: 'P-521', alg: 'ES512', hash: 'sha512', p: 2n ** 521n - 1n, size: 66 },
] as const;

const b64 = (n: bigint, size: number) => base64url.encode(Uint8Array.from(Buffer.from(n.toString(16).padStart(size * 2, '0'), 'hex')));
const nodeRefuses = (jwk: JWK) => {
  expect(() => createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' })).toThrow();
};

describe.each(CURVES)('importProofKey: $crv cnf.jwk through its raw point (SEC 1 §2.3.3)', ({ crv, alg, hash, p, size }) => {
  const pair = generateKeyPairSync('ec', { namedCurve: crv });
  const jwk = { ...(pair.publicKey.export({ format: 'jwk' }) as JWK), alg };

  it('imports the same key Node imports from the JWK, and verifies its signatures', async () => {
    const key = await importProofKey(jwk, alg as WimseAlgorithm);
    expect(key.nodeKey!.export({ format: 'jwk' })).toEqual(pair.publicKey.export({ format: 'jwk' }));
    const data = 'header.payload';
    const signature = sign(hash, Buffer.from(data), { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
    expect(verifyBase(data, signature, key, alg as WimseAlgorithm)).toBe(true);
    expect(verifyBase(`${data}x`, signature, key, alg as WimseAlgorithm)).toBe(false);
  });

  it('refuses a point off the curve', async () => {
    const y = base64url.decode(jwk.y!);
    y[y.length - 1]! ^= 1;
    const bad = { ...jwk, y: base64url.encode(y) };
    nodeRefuses(bad);
    await expect(importProofKey(bad, alg as WimseAlgorithm)).rejects.toThrow();
  });

  it('refuses a coordinate equal to p (not reduced)', async () => {
    const bad = { ...jwk, x: b64(p, size) };
    nodeRefuses(bad);
    await expect(importProofKey(bad, alg as WimseAlgorithm)).rejects.toThrow();
  });

  it('refuses (0, 0)', async () => {
    const bad = { ...jwk, x: b64(0n, size), y: b64(0n, size) };
    nodeRefuses(bad);
    await expect(importProofKey(bad, alg as WimseAlgorithm)).rejects.toThrow();
  });
});
