/** A raw HTTP/1.1 client: unlike fetch, it can send a field twice, oversized header blocks and chunked bodies. */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { connect } from 'node:http2';
import { request as httpsRequest, type RequestOptions as HttpsOptions } from 'node:https';

export type Fields = Record<string, string | string[]>;

export interface RawRequest {
  method: string;
  path: string;
  headers?: Fields;
  body?: string;
  /** Send the body with `Transfer-Encoding: chunked` (in several chunks) instead of a Content-Length. */
  chunked?: boolean;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** Sends `r` to `base`; an `https:` base uses TLS with `tls` (CA, client certificate, local address). */
export function send(base: URL, r: RawRequest, tls: HttpsOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? undefined : Buffer.from(r.body);
    const headers: Fields = { ...r.headers };
    if (body !== undefined && r.chunked !== true) headers['content-length'] = String(body.length);
    const options = { host: base.hostname, port: base.port, method: r.method, path: r.path, headers, agent: false as const };
    let answered = false;
    const onResponse = (res: IncomingMessage) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req = base.protocol === 'https:' ? httpsRequest({ ...tls, ...options }, onResponse) : request(options, onResponse);
    // A server may answer (e.g. 413) and close before reading the whole body: writing then fails, but the answer stands.
    req.on('error', (e) => void (answered ? undefined : reject(e)));
    if (body === undefined || r.chunked !== true) return void req.end(body);
    const third = Math.ceil(body.length / 3);
    for (let i = 0; i < body.length; i += third) req.write(body.subarray(i, i + third));
    req.end();
  });
}

/** What {@link flood} saw: the answer, and how many body bytes the server's socket took before it. */
export interface FloodResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Body bytes handed to the socket (and acknowledged by a drain) before the answer or the close. */
  bytesAccepted: number;
}

/**
 * Streams up to `total` bytes as a chunked body, writing only as fast as the server reads (waiting
 * for 'drain'), and stops at the first answer or when the connection closes.
 */
export function flood(base: URL, r: Omit<RawRequest, 'body' | 'chunked'>, total: number, chunkSize = 64 * 1024): Promise<FloodResult> {
  return new Promise((resolve, reject) => {
    const req: ClientRequest = request({
      host: base.hostname,
      port: base.port,
      method: r.method,
      path: r.path,
      headers: { ...r.headers },
      agent: false,
    });
    const chunk = Buffer.alloc(chunkSize, 0x61);
    let accepted = 0;
    let stopped = false;
    req.on('response', (res) => {
      stopped = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
          bytesAccepted: accepted,
        });
        req.destroy();
      });
      res.on('error', reject);
    });
    req.on('error', (e) => {
      if (!stopped) reject(new Error(`connection failed before any answer after ${accepted} bytes`, { cause: e }));
    });
    req.on('close', () => {
      stopped = true;
    });
    const pump = () => {
      while (!stopped && accepted < total) {
        accepted += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!stopped) req.end();
    };
    req.flushHeaders();
    pump();
  });
}

/**
 * HTTP/2 (h2c): sends `chunks` as DATA frames (no Content-Length), or up to `total` bytes of filler
 * as fast as flow control allows, and stops at the first answer.
 */
export function sendH2(
  base: URL,
  r: Omit<RawRequest, 'body' | 'chunked'>,
  body: { chunks: string[] } | { total: number },
): Promise<FloodResult> {
  return new Promise((resolve, reject) => {
    const session = connect(base.origin);
    session.on('error', reject);
    const stream = session.request({ ':method': r.method, ':path': r.path, ...r.headers });
    let accepted = 0;
    let stopped = false;
    stream.on('response', (headers) => {
      stopped = true;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const { ':status': status, ...rest } = headers;
        resolve({
          status: Number(status),
          headers: rest as FloodResult['headers'],
          text: Buffer.concat(chunks).toString('utf8'),
          bytesAccepted: accepted,
        });
        session.destroy();
      });
    });
    // The server may reset the stream once it answered: the answer stands.
    stream.on('error', (e) => void (stopped ? undefined : reject(e)));
    if ('chunks' in body) {
      for (const c of body.chunks) stream.write(c);
      return void stream.end();
    }
    const filler = Buffer.alloc(64 * 1024, 0x61);
    const pump = () => {
      while (!stopped && accepted < body.total) {
        accepted += filler.length;
        if (!stream.write(filler)) return void stream.once('drain', pump);
      }
      if (!stopped) stream.end();
    };
    pump();
  });
}
