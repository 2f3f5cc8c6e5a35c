/** tokenHash on Node (node:crypto) and on Web Crypto alone must give the same wpt-02 §2 hashes. */
import { describe, expect, it, vi } from 'vitest';
import { tokenHash } from './hash.js';

// RFC 4634 / FIPS 180-2 test vector: SHA-256("abc"), here in base64url without padding.
const ABC = 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0';

describe('tokenHash: base64url(SHA-256(ASCII)) without padding', () => {
  it('matches the FIPS 180-2 "abc" vector', async () => {
    expect(await tokenHash('abc')).toBe(ABC);
  });

  it('agrees with Web Crypto alone on tokens of every length mod 3 and non-ASCII input', async () => {
    vi.resetModules();
    vi.doMock('./node-crypto.js', () => ({ nodeCrypto: () => undefined, nodeSignatures: () => undefined }));
    const web = (await import('./hash.js')).tokenHash;
    vi.doUnmock('./node-crypto.js');
    expect(await web('abc')).toBe(ABC);
    for (const value of ['', 'a', 'ab', 'abc', 'eyJhbGciOiJFUzI1NiJ9.e30.c2ln', 'x'.repeat(1000), 'é→😀']) {
      expect(await tokenHash(value)).toBe(await web(value));
    }
  });
});
