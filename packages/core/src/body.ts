/**
 * The request body an HTTP signature may cover (http-signature-07 §3, RFC 9530 Content-Digest),
 * read with a bound: a body over the limit is refused with 413 (RFC 9110 §15.5.14) having read at
 * most `limit` bytes of it, whatever its framing (Content-Length, chunked, HTTP/2 DATA frames).
 * Web-standard only: adapters pass a fetch `ReadableStream` or any `AsyncIterable` of bytes
 * (a Node `Readable` is one).
 */
import { WimseError } from './errors.js';

/** Bytes to read: a fetch body stream, or an async iterable of chunks such as a Node `Readable`. */
export type BodySource = ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>;

/**
 * The 413 for a body over `limit`. With `unread` (part of the body is still on the wire) the
 * response asks to close the connection: the rest must not be parsed as a next request and is not
 * worth reading (RFC 9112 §9.6, RFC 9110 §15.5.14).
 */
export function bodyTooLarge(limit: number, unread: boolean): WimseError {
  return new WimseError('body_too_large', `Body larger than ${limit} bytes`, unread ? { closeConnection: true } : undefined);
}

/**
 * Reads the whole body, refusing more than `limit` bytes: a declared `contentLength` over the limit
 * is refused before reading anything, and a longer stream as soon as the limit is passed, without
 * reading further. The source is then left as it is (neither cancelled nor destroyed), so a server
 * can still send the 413 before it closes the connection.
 *
 * @throws WimseError `body_too_large` (413), or `request_invalid` when the stream fails (client gone).
 * @example
 * const body = await readBody(request.body, handler.maxBodyBytes, request.headers.get('content-length'))
 */
export async function readBody(source: BodySource, limit: number, contentLength?: string | null): Promise<Uint8Array<ArrayBuffer>> {
  // RFC 9112 §6.3: a valid Content-Length is the exact body length; anything else was refused by the server's parser.
  if (contentLength != null && /^\d+$/.test(contentLength.trim()) && Number(contentLength) > limit) throw bodyTooLarge(limit, true);
  const next = pull(source);
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    let chunk: Uint8Array | undefined;
    try {
      chunk = await next.read();
    } catch (e) {
      throw new WimseError('request_invalid', 'Request body could not be read', { cause: e });
    }
    if (chunk === undefined) break;
    if (!(chunk instanceof Uint8Array)) throw new TypeError('readBody: the body stream must yield bytes, not text');
    size += chunk.byteLength;
    if (size > limit) {
      next.stop();
      throw bodyTooLarge(limit, true);
    }
    chunks.push(chunk);
  }
  return concat(chunks, size);
}

/**
 * The rule for bytes someone else already read (a framework's raw-body option): over `limit`
 * is refused alike, so every adapter answers the same whoever read the body.
 */
export function boundedBody(body: Uint8Array | undefined, limit: number): Uint8Array | undefined {
  if (body !== undefined && body.byteLength > limit) throw bodyTooLarge(limit, false);
  return body;
}

/**
 * Reads a body this side is about to send (a response to be signed over the bytes sent), refusing
 * past `limit` with `tooLarge()` and ending the source: unlike a request, nothing is owed to the
 * peer on that stream. Text chunks count as their UTF-8 bytes; a failing source rejects as it is.
 */
export async function readOutgoingBody(
  source: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array | string>,
  limit: number,
  tooLarge: () => Error,
): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const over = (chunk: Uint8Array | string): boolean => {
    const bytes = typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
    chunks.push(bytes);
    return (size += bytes.byteLength) > limit;
  };
  if (isReadableStream(source as BodySource)) {
    const reader = (source as ReadableStream<Uint8Array>).getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      if (over(r.value)) {
        await reader.cancel();
        throw tooLarge();
      }
    }
  } else {
    // Leaving for await early calls return(), which ends (destroys) a Node Readable.
    for await (const chunk of source as AsyncIterable<Uint8Array | string>) if (over(chunk)) throw tooLarge();
  }
  return concat(chunks, size);
}

interface Puller {
  read(): Promise<Uint8Array | undefined>;
  /** Stop without cancelling: cancelling a Node-backed stream would destroy the socket before the 413 is sent. */
  stop(): void;
}

function pull(source: BodySource): Puller {
  if (isReadableStream(source)) {
    const reader = source.getReader();
    return {
      read: async () => {
        const { done, value } = await reader.read();
        return done ? undefined : value;
      },
      stop: () => reader.releaseLock(),
    };
  }
  // Not for await: leaving such a loop early would call return(), which destroys a Node Readable.
  const iterator = source[Symbol.asyncIterator]();
  return {
    read: async () => {
      const { done, value } = await iterator.next();
      return done === true ? undefined : value;
    },
    stop: () => {},
  };
}

function isReadableStream(source: BodySource): source is ReadableStream<Uint8Array> {
  return typeof (source as ReadableStream<Uint8Array>).getReader === 'function';
}

// Always a copy: the caller owns it, never a view over a shared socket read buffer.
function concat(chunks: readonly Uint8Array[], size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
