/** A raw HTTP/1.1 client: unlike fetch, it can send a field twice and oversized header blocks. */
import { request } from 'node:http';
import { request as httpsRequest, type RequestOptions as HttpsOptions } from 'node:https';

export type Fields = Record<string, string | string[]>;

export interface RawRequest {
  method: string;
  path: string;
  headers?: Fields;
  body?: string;
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
    if (body !== undefined) headers['content-length'] = String(body.length);
    const options = { host: base.hostname, port: base.port, method: r.method, path: r.path, headers, agent: false as const };
    const onResponse = (res: import('node:http').IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    };
    const req = base.protocol === 'https:' ? httpsRequest({ ...tls, ...options }, onResponse) : request(options, onResponse);
    req.on('error', reject);
    req.end(body);
  });
}
