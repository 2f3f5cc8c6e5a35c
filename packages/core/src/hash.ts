/**
 * Token hashes for WPT bindings (wpt-02 §2): base64url without padding of SHA-256 over the ASCII
 * bytes of the token exactly as sent. Web Crypto everywhere; on Node `node:crypto`'s synchronous
 * hash (no thread-pool round trip), which hash.test.ts checks against Web Crypto.
 */
import { base64url } from 'jose';
import type { MaybePromise } from './maybe-async.js';
import { nodeCrypto } from './node-crypto.js';

const ascii = new TextEncoder();

/** `base64url(SHA-256(value))`, as used by `wth`, `tth`, `oth` and wpt-01 `ath`. */
export async function tokenHash(value: string): Promise<string> {
  return tokenHashNow(value);
}

/** {@link tokenHash}, synchronous where `node:crypto` is (the request path), a promise elsewhere. */
export function tokenHashNow(value: string): MaybePromise<string> {
  const node = nodeCrypto();
  // Node's `base64url` encoding omits padding (RFC 7515 §2), like jose's encoder.
  if (node !== undefined) return node.createHash('sha256').update(ascii.encode(value)).digest('base64url');
  return crypto.subtle.digest('SHA-256', ascii.encode(value)).then((digest) => base64url.encode(new Uint8Array(digest)));
}
