/**
 * Content-Digest (RFC 9530 §2), as http-signature-07 §3 requires for every message with content:
 * the sender adds it and covers it, the receiver recomputes it over the raw content bytes.
 * Parsed and serialized with `structured-headers` (RFC 9651 Dictionary of Byte Sequences).
 */
import { parseDictionary, serializeDictionary, type Dictionary } from 'structured-headers';
import { WimseError } from './errors.js';
import { nodeCrypto } from './node-crypto.js';

/** Digest algorithms we compute and accept (RFC 9530 §5: both "Active"). */
export type DigestAlgorithm = 'sha-256' | 'sha-512';

const WEBCRYPTO_HASH: Record<DigestAlgorithm, string> = { 'sha-256': 'SHA-256', 'sha-512': 'SHA-512' };
const NODE_HASH: Record<DigestAlgorithm, string> = { 'sha-256': 'sha256', 'sha-512': 'sha512' };
const utf8 = new TextEncoder();

/** The bytes of a body given as bytes or text (UTF-8). */
export function bodyBytes(body: Uint8Array | string): Uint8Array {
  return typeof body === 'string' ? utf8.encode(body) : body;
}

/**
 * The `Content-Digest` field value for `body`.
 *
 * @example
 * headers['content-digest'] = await contentDigest('{"a":1}') // 'sha-256=:…:'
 */
export async function contentDigest(body: Uint8Array | string, algorithm: DigestAlgorithm = 'sha-256'): Promise<string> {
  const hash = await digest(bodyBytes(body), algorithm);
  return serializeDictionary(new Map([[algorithm, [hash, new Map()]]]));
}

/**
 * Checks a received `Content-Digest` against the raw body bytes. Every member with an algorithm
 * we know must match; members with other algorithms are ignored (RFC 9530 §2), but at least one
 * known algorithm must be present. Throws `digest_malformed` or `digest_mismatch`.
 *
 * @example
 * await verifyContentDigest(req.headers['content-digest'], rawBody)
 */
export async function verifyContentDigest(fieldValue: string | readonly string[], body: Uint8Array | string): Promise<void> {
  let dict: Dictionary;
  try {
    // RFC 9110 §5.3: several field lines are one list-based value, joined with commas.
    dict = parseDictionary(typeof fieldValue === 'string' ? fieldValue : fieldValue.join(', '));
  } catch (cause) {
    throw new WimseError('digest_malformed', 'Content-Digest is not a structured-field dictionary', { cause });
  }
  const bytes = bodyBytes(body);
  let checked = 0;
  for (const [algorithm, member] of dict) {
    if (!isDigestAlgorithm(algorithm)) continue;
    const value = member[0];
    if (!(value instanceof ArrayBuffer)) throw new WimseError('digest_malformed', `Content-Digest ${algorithm} must be a byte sequence`);
    if (!equalBytes(new Uint8Array(value), await digest(bytes, algorithm))) {
      throw new WimseError('digest_mismatch', `Content-Digest ${algorithm} does not match the body`);
    }
    checked++;
  }
  if (checked === 0) throw new WimseError('digest_malformed', 'Content-Digest has no sha-256 or sha-512 member');
}

function isDigestAlgorithm(name: string): name is DigestAlgorithm {
  return Object.hasOwn(WEBCRYPTO_HASH, name);
}

// Synchronous node:crypto on Node (no thread-pool hop per request), Web Crypto elsewhere.
async function digest(bytes: Uint8Array, algorithm: DigestAlgorithm): Promise<Uint8Array<ArrayBuffer>> {
  const node = nodeCrypto();
  if (node !== undefined) return new Uint8Array(node.createHash(NODE_HASH[algorithm]).update(bytes).digest());
  return new Uint8Array(await crypto.subtle.digest(WEBCRYPTO_HASH[algorithm], bytes as Uint8Array<ArrayBuffer>));
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
