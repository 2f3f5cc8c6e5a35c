/**
 * Differential test: the Node fast path and Web Crypto sign and verify signature bases
 * identically for every supported algorithm — each verifies the other's signatures and both reject
 * the same broken ones.
 */
import { generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { SUPPORTED_ALGORITHMS } from './algorithms.js';
import { signBase, signingKey, verifyBase, type DualKey } from './jws-algorithm.js';

const BASE = '"@method": GET\n"@path": /a\n"@query": ?\n"@signature-params": ("@method" "@path" "@query");created=1';

describe.each(SUPPORTED_ALGORITHMS)('%s', (alg) => {
  it('Node and Web Crypto agree on valid and invalid signatures', async () => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const signing = await signingKey(privateKey, alg);
    expect(signing.nodeKey).toBeDefined();
    const webOnly: DualKey = { key: privateKey };
    const { KeyObject } = await import('node:crypto');
    const verifyNode: DualKey = { key: publicKey, nodeKey: KeyObject.from(publicKey) };
    const verifyWeb: DualKey = { key: publicKey };
    for (const sig of [await signBase(BASE, signing, alg), await signBase(BASE, webOnly, alg)]) {
      expect(await verifyBase(BASE, sig, verifyNode, alg)).toBe(true);
      expect(await verifyBase(BASE, sig, verifyWeb, alg)).toBe(true);
      for (const broken of [sig.slice(1), new Uint8Array(sig.length), new Uint8Array(0)]) {
        expect(await verifyBase(BASE, broken, verifyNode, alg)).toBe(false);
        expect(await verifyBase(BASE, broken, verifyWeb, alg)).toBe(false);
      }
      expect(await verifyBase(`${BASE} `, sig, verifyNode, alg)).toBe(false);
      expect(await verifyBase(`${BASE} `, sig, verifyWeb, alg)).toBe(false);
    }
  });
});

it('a secret key is refused for HTTP signatures', async () => {
  await expect(signingKey(new Uint8Array(32), 'ES256')).rejects.toThrow(TypeError);
});

it('a key of another type verifies nothing on either path', async () => {
  const es = await generateKeyPair('ES256', { extractable: true });
  const ed = await generateKeyPair('EdDSA', { extractable: true });
  const sig = await signBase(BASE, await signingKey(es.privateKey, 'ES256'), 'ES256');
  const { KeyObject } = await import('node:crypto');
  expect(await verifyBase(BASE, sig, { key: ed.publicKey, nodeKey: KeyObject.from(ed.publicKey) }, 'ES256')).toBe(false);
  expect(await verifyBase(BASE, sig, { key: ed.publicKey }, 'ES256')).toBe(false);
});

// RFC 8017 §8.1.2 step 1: a signature of k - 1 octets is invalid, even when it is the valid one with
// its leading zero octet dropped (the same integer). OpenSSL accepts it, behind both paths on Node.
describe.each(['RS256', 'PS256'] as const)('%s signature length', (alg) => {
  it('a valid signature without its leading zero octet is refused on both paths', async () => {
    const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
    const signing = await signingKey(privateKey, alg);
    const { KeyObject } = await import('node:crypto');
    let sig: Uint8Array | undefined;
    let base = BASE;
    // About one signature in 256 starts with a zero octet.
    for (let i = 0; sig === undefined; i++) {
      base = `${BASE}\n${i}`;
      const s = await signBase(base, signing, alg);
      if (s[0] === 0) sig = s;
    }
    expect(await verifyBase(base, sig, { key: publicKey, nodeKey: KeyObject.from(publicKey) }, alg)).toBe(true);
    for (const key of [{ key: publicKey, nodeKey: KeyObject.from(publicKey) }, { key: publicKey }]) {
      expect(await verifyBase(base, sig.slice(1), key, alg)).toBe(false);
    }
  });
});

// The Node path encodes each base into one reused buffer (grown for longer bases, bypassed for very
// long ones): every length and any prior call must give what node:crypto says over the base's own UTF-8.
describe('the bytes verified are exactly the base, whatever came before', () => {
  it('short, growing, oversized and non-ASCII bases verify, and a shorter base after a longer one does not inherit its bytes', async () => {
    const { sign, generateKeyPairSync } = await import('node:crypto');
    const { publicKey, privateKey: priv } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const key: DualKey = { nodeKey: publicKey };
    // node:crypto's own signature over the UTF-8 bytes, the independent reference.
    const sigOf = (base: string) => new Uint8Array(sign('sha256', Buffer.from(base, 'utf8'), { key: priv, dsaEncoding: 'ieee-p1363' }));
    const bases = [BASE, 'x'.repeat(5000), 'y'.repeat(30_000), `${BASE}\nnon-ascii: é ü €`, BASE.slice(0, 10), ''];
    for (const base of bases) {
      expect(verifyBase(base, sigOf(base), key, 'ES256')).toBe(true);
      expect(verifyBase(`${base}!`, sigOf(base), key, 'ES256')).toBe(false);
    }
    // After a long base, a prefix of it must not verify under the long base's signature.
    const long = 'z'.repeat(3000);
    expect(verifyBase(long, sigOf(long), key, 'ES256')).toBe(true);
    expect(verifyBase(long.slice(0, 2000), sigOf(long), key, 'ES256')).toBe(false);
  });
});
