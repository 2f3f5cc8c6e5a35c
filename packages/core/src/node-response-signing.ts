/**
 * Node only. Signs whatever is sent on a `ServerResponse` (http-signature-07 §3.5): the status,
 * header fields and body bytes written to it are held back until `end`, then signed with the
 * request's {@link ResponseSignature} and sent in one piece. Works under Express, Fastify and
 * NestJS alike, because each of them ends in `writeHead`/`write`/`end` on the Node response.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { headersFor, type WimseErrorResponse } from './adapter.js';
import { WimseError } from './errors.js';
import type { ResponseSignature } from './response-signing.js';

type Callback = (error?: Error | null) => void;

// A response is signed once, by the first to hold it (a guard or middleware that runs twice must not add a second signature).
const held = new WeakSet<ServerResponse>();
type Encoding = BufferEncoding | null | undefined;

/**
 * Holds back what is written to `res` and signs it on `end`. When it cannot be signed (a body
 * beyond `signature.maxBodyBytes`, failing credentials), `refuse(error)` is sent instead, unsigned:
 * §3.5 forbids an unsigned success, and an error it cannot sign is the most it can send.
 *
 * @example
 * if (outcome.responseSignature) signNodeResponse(res, outcome.responseSignature, (e) => handler.reject(e, view).response)
 */
export function signNodeResponse(
  res: ServerResponse,
  signature: ResponseSignature,
  refuse: (error: WimseError) => WimseErrorResponse,
): void {
  if (held.has(res)) return;
  held.add(res);
  const original = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders };
  const chunks: Buffer[] = [];
  let size = 0;
  let done = false;

  const restore = () => Object.assign(res, original);
  const sendError = (error: WimseError) => {
    restore();
    const r = refuse(error);
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    res.statusCode = r.status;
    for (const [name, value] of Object.entries(headersFor(r, res.req?.httpVersionMajor))) res.setHeader(name, value);
    res.end(r.body);
    // The app may still be writing (a stream); its further writes go nowhere.
    Object.assign(res, { writeHead: () => res, write: swallow, end: swallowEnd, flushHeaders: () => {} });
  };
  const collect = (chunk: unknown, encoding: Encoding) => {
    if (done || chunk === undefined || chunk === null) return;
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : Buffer.from(chunk as Uint8Array);
    size += buffer.length;
    if (size > signature.maxBodyBytes) {
      done = true;
      chunks.length = 0;
      return sendError(signature.tooLarge());
    }
    chunks.push(buffer);
  };
  const finish = async (callback: Callback | undefined) => {
    const body = Buffer.concat(chunks);
    let added: Record<string, string>;
    try {
      added = await signature.sign({ status: res.statusCode, headers: res.getHeaders(), body });
    } catch (e) {
      sendError(e instanceof WimseError ? e : new WimseError('response_signing_failed', 'The response could not be signed', { cause: e }));
      return callback?.();
    }
    restore();
    for (const [name, value] of Object.entries(added)) res.setHeader(name, value);
    res.end(body, callback);
  };

  // Nothing reaches the wire before the signature: headers given to writeHead are kept on `res`.
  res.writeHead = function writeHead(this: ServerResponse, status: number, ...rest: unknown[]) {
    res.statusCode = status;
    if (typeof rest[0] === 'string') res.statusMessage = rest.shift() as string;
    const headers = rest[0] as OutgoingHttpHeaders | readonly string[] | undefined;
    if (Array.isArray(headers)) {
      for (let i = 0; i + 1 < headers.length; i += 2) res.appendHeader(String(headers[i]), String(headers[i + 1]));
    } else if (headers !== undefined && headers !== null) {
      for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) if (value !== undefined) res.setHeader(name, value);
    }
    return res;
  } as ServerResponse['writeHead'];
  res.flushHeaders = () => {};
  res.write = function write(chunk: unknown, encoding?: Encoding | Callback, callback?: Callback) {
    if (typeof encoding === 'function') [callback, encoding] = [encoding, undefined];
    collect(chunk, encoding);
    if (callback !== undefined) process.nextTick(callback);
    return true;
  } as ServerResponse['write'];
  res.end = function end(chunk?: unknown, encoding?: Encoding | Callback, callback?: Callback) {
    if (typeof chunk === 'function') [callback, chunk] = [chunk as Callback, undefined];
    if (typeof encoding === 'function') [callback, encoding] = [encoding, undefined];
    collect(chunk, encoding);
    if (done) {
      if (callback !== undefined) process.nextTick(callback);
      return res;
    }
    done = true;
    finish(callback).catch((e: unknown) => res.destroy(e instanceof Error ? e : new Error(String(e))));
    return res;
  } as ServerResponse['end'];
}

function swallow(this: unknown, _chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
  const cb = typeof encoding === 'function' ? encoding : callback;
  if (typeof cb === 'function') process.nextTick(cb as Callback);
  return true;
}

function swallowEnd(this: ServerResponse, ...args: unknown[]): ServerResponse {
  const cb = args.find((a) => typeof a === 'function');
  if (cb !== undefined) process.nextTick(cb as Callback);
  return this;
}
