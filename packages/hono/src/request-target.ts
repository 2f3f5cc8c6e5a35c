/**
 * The request target in origin form (path and query) of the absolute URL a fetch `Request` carries:
 * what the WHATWG URL parser makes of it (`pathname + search`), the fragment left out.
 */

// A URL whose path and query the URL parser returns unchanged: an http(s) origin (a host, as a
// Request URL always has), then a path of
// characters it never percent-encodes or rewrites (no "%", so no "%2e" dot segment; no "\", read
// as "/"), then a non-empty query of those plus "?" and "%" (not "'", encoded in a special URL's
// query), and no fragment. Anything else (rare: percent-encoding, dot segments, non-ASCII) is
// handed to the parser. request-target.test.ts checks this against `new URL` over every ASCII
// character in each position.
const PLAIN_TARGET = /^https?:\/\/[^/?#\\]+(\/[\w.~!$&()*+,;=:@/-]*)(\?[\w.~!$&()*+,;=:@/?%-]+)?$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/**
 * `pathname + search` of the absolute URL `url`, without a `URL` object when nothing in it would
 * change (the request hot path: `new URL` costs more than the rest of the glue together).
 *
 * @example
 * originForm('https://svc.example.org/orders?id=7') // '/orders?id=7'
 */
export function originForm(url: string): string {
  const plain = PLAIN_TARGET.exec(url);
  if (plain !== null && !DOT_SEGMENT.test(plain[1]!)) return plain[2] === undefined ? plain[1]! : plain[1]! + plain[2];
  const parsed = new URL(url);
  return parsed.pathname + parsed.search;
}
