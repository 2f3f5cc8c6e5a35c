/**
 * The gate of the Node signature fast path (node-crypto.ts): used where `node:crypto` verifies the
 * published RFC 7515 §A.3 and RFC 8037 §A.4 examples as Node does, never where it differs. The
 * workerd stand-in reproduces what workerd 2026-11-17 does (runtimes.test.ts runs the real one).
 */
import * as crypto from 'node:crypto';
import { compactVerify, importJWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { isNode, nodeSignatures, verifiesLikeNode } from './node-crypto.js';

type NodeCrypto = typeof crypto;
const withVerify = (verify: (...args: Parameters<NodeCrypto['verify']>) => boolean): NodeCrypto => ({
  ...crypto,
  verify: verify as NodeCrypto['verify'],
});

describe('signature fast path gate', () => {
  it('is open on Node', () => {
    expect(verifiesLikeNode(crypto)).toBe(true);
    expect(nodeSignatures()?.verify).toBe(crypto.verify);
  });

  it('checks the published examples (jose verifies them too)', async () => {
    const es256 = {
      kty: 'EC',
      crv: 'P-256',
      x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    };
    const es256Jws =
      'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q';
    const ed25519 = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' };
    const ed25519Jws =
      'eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg';
    await expect(compactVerify(es256Jws, await importJWK(es256, 'ES256'))).resolves.toBeDefined();
    await expect(compactVerify(ed25519Jws, await importJWK(ed25519, 'EdDSA'))).resolves.toBeDefined();
    // The gate consults exactly these: a verify that checks nothing else still passes it.
    const seen: string[] = [];
    expect(
      verifiesLikeNode(
        withVerify((alg, data, key, sig) => (seen.push(new TextDecoder().decode(data)), crypto.verify(alg, data, key, sig))),
      ),
    ).toBe(true);
    expect(seen).toContain(es256Jws.split('.').slice(0, 2).join('.'));
    expect(seen).toContain(ed25519Jws.split('.').slice(0, 2).join('.'));
  });

  it('is closed when node:crypto refuses a KeyObject inside the options object (workerd)', () => {
    const workerdLike = withVerify((alg, data, key, sig) => {
      if (typeof key === 'object' && 'key' in key && key.key instanceof crypto.KeyObject) {
        throw new TypeError(
          'The "options.key" property must be of type string or an instance of ArrayBuffer, Buffer, TypedArray, DataView, or Object. Received an instance of PublicKeyObject',
        );
      }
      return crypto.verify(alg, data, key, sig);
    });
    expect(verifiesLikeNode(workerdLike)).toBe(false);
  });

  it('is closed when node:crypto ignores the raw r‖s encoding option', () => {
    const derOnly = withVerify((alg, data, key, sig) => {
      const { dsaEncoding: _ignored, ...rest } = key as crypto.VerifyKeyObjectInput & { dsaEncoding?: string };
      return crypto.verify(alg, data, rest, sig);
    });
    expect(verifiesLikeNode(derOnly)).toBe(false);
  });

  it('is closed when node:crypto accepts a signature over other data', () => {
    expect(verifiesLikeNode(withVerify(() => true))).toBe(false);
  });

  it('is closed when node:crypto refuses a valid signature', () => {
    expect(verifiesLikeNode(withVerify(() => false))).toBe(false);
  });

  it('is closed when node:crypto cannot import a JWK', () => {
    expect(
      verifiesLikeNode({
        ...crypto,
        createPublicKey: (() => {
          throw new TypeError('jwk unsupported');
        }) as NodeCrypto['createPublicKey'],
      }),
    ).toBe(false);
  });

  it('is closed on Bun and Deno, whose process.versions name Node too', () => {
    expect(isNode(process.versions)).toBe(true);
    expect(isNode({ node: '24.3.0', bun: '1.4.5' })).toBe(false);
    expect(isNode({ node: '24.2.0', deno: '2.9.6', v8: '15.0' })).toBe(false);
    expect(isNode(undefined)).toBe(false);
    expect(isNode({})).toBe(false);
  });
});
