/**
 * The raw body for a Content-Digest check, read without taking it from the app's own body parser.
 */
import type { IncomingMessage } from 'node:http';
import { readAndRestoreBody } from '@wimse/core/adapter';

/**
 * Returns the body bytes: those a parser kept (`req.rawBody`, `express.raw()`), or else the stream's,
 * read by the core (at most `limit` bytes) and put back so `express.json()` and friends still parse
 * them afterwards. `undefined` when a parser already consumed the stream without keeping the bytes.
 */
export function rawBody(req: IncomingMessage & { body?: unknown; rawBody?: unknown }, limit: number): Promise<Uint8Array | undefined> {
  if (req.rawBody instanceof Uint8Array) return Promise.resolve(req.rawBody);
  if (Buffer.isBuffer(req.body)) return Promise.resolve(req.body);
  return readAndRestoreBody(req, limit);
}
