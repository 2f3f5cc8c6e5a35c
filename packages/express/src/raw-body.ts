/**
 * The raw body for a Content-Digest check, read without taking it from the app's own body parser.
 */
import type { IncomingMessage } from 'node:http';
import { WimseError } from '@wimse/core';

/**
 * Returns the body bytes: those a parser kept (`req.rawBody`, `express.raw()`), or else the stream's,
 * read and then put back with `unshift` so `express.json()` and friends still parse it afterwards.
 * `undefined` when a parser already consumed the stream without keeping the bytes.
 */
export function rawBody(req: IncomingMessage & { body?: unknown; rawBody?: unknown }, limit: number): Promise<Uint8Array | undefined> {
  if (req.rawBody instanceof Uint8Array) return Promise.resolve(req.rawBody);
  if (Buffer.isBuffer(req.body)) return Promise.resolve(req.body);
  if (req.readableEnded || !req.readable) return Promise.resolve(undefined);
  const tooLarge = () => new WimseError('body_too_large', `Body larger than ${limit} bytes`);
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error?: WimseError) => {
      req.off('readable', onReadable).off('end', onEnd).off('error', onError).off('close', onError);
      if (error !== undefined) return reject(error);
      const body = Buffer.concat(chunks);
      // Node allows one last unshift before 'end' is emitted (stream.unshift docs), so the app still sees it all.
      if (!req.readableEnded && body.length > 0) req.unshift(body);
      resolve(body);
    };
    const onReadable = () => {
      for (let chunk: Buffer | null; (chunk = req.read() as Buffer | null) !== null; ) {
        chunks.push(chunk);
        size += chunk.length;
        if (size > limit) return finish(tooLarge());
      }
      if (req.complete) finish();
    };
    const onEnd = () => finish();
    const onError = () => finish(new WimseError('request_invalid', 'Request body could not be read'));
    // 'close' before the body was complete: the client went away.
    req.on('readable', onReadable).on('end', onEnd).on('error', onError).on('close', onError);
  });
}
