/**
 * Token hashes for WPT bindings (wpt-02 §2): base64url without padding of SHA-256 over the ASCII
 * bytes of the token exactly as sent. Web Crypto, so it runs on every runtime.
 */
import { base64url } from 'jose';

const ascii = new TextEncoder();

/** `base64url(SHA-256(value))`, as used by `wth`, `tth`, `oth` and wpt-01 `ath`. */
export async function tokenHash(value: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', ascii.encode(value));
  return base64url.encode(new Uint8Array(digest));
}
