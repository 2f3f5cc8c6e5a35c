/**
 * The body of a Node request for a Content-Digest check, read with {@link readBody}'s bound and then
 * handed back to the stream, so the app's own body parser (express.json(), Fastify's parsers…)
 * still reads it afterwards.
 */
import type { Readable } from 'node:stream';
import { readBody } from './body.js';

/** A Node request (`http.IncomingMessage`, `http2.Http2ServerRequest`). */
export interface NodeBodyStream extends Readable {
  /** True once the whole message was received. */
  readonly complete?: boolean;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
}

/**
 * Reads `req`'s body (at most `limit` bytes, else `body_too_large`) and puts it back with `unshift`,
 * so a parser mounted later sees it all. `undefined` when the stream was already consumed by someone
 * who kept no copy.
 *
 * @example
 * const body = await readAndRestoreBody(req, handler.maxBodyBytes)
 */
export async function readAndRestoreBody(req: NodeBodyStream, limit: number): Promise<Uint8Array | undefined> {
  if (req.readableEnded || !req.readable) return undefined;
  const length = req.headers['content-length'];
  const body = await readBody(untilComplete(req), limit, typeof length === 'string' ? length : undefined);
  // stream.unshift() is allowed until 'end' is emitted; the reader stopped before the stream's last
  // read, so 'end' is still pending and the app's parser gets the bytes and then the end.
  if (req.readableEnded) throw new Error('readAndRestoreBody: the request ended before its body could be handed back');
  if (body.byteLength > 0) req.unshift(body);
  return body;
}

// The chunks of `req`, ending as soon as the message is complete: not at 'end', after which the
// bytes could no longer be put back.
async function* untilComplete(req: NodeBodyStream): AsyncGenerator<Uint8Array> {
  for (;;) {
    for (let chunk: unknown; (chunk = req.read()) !== null; ) yield chunk as Uint8Array;
    if (received(req)) return;
    await nextEvent(req);
  }
}

// HTTP/1 sets `complete` when the parser saw the end; the HTTP/2 compat request only at 'end', so
// also ask the stream whether its end was pushed.
function received(req: NodeBodyStream): boolean {
  return req.complete === true || (req as { _readableState?: { ended?: boolean } })._readableState?.ended === true;
}

function nextEvent(req: NodeBodyStream): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error) => {
      req.off('readable', onReadable).off('end', onEnd).off('error', onError).off('close', onClose);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onReadable = () => done();
    const onEnd = () => done();
    const onError = (e: Error) => done(e);
    // 'close' before the message was complete: the client went away.
    const onClose = () => done(received(req) ? undefined : new Error('request closed before its body was complete'));
    req.on('readable', onReadable).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}
