/** A raw HTTP/1.1 client: unlike fetch, it can send a field twice and oversized header blocks. */
import { request } from 'node:http';

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

export function send(base: URL, r: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const body = r.body === undefined ? undefined : Buffer.from(r.body);
    const headers: Fields = { ...r.headers };
    if (body !== undefined) headers['content-length'] = String(body.length);
    const req = request({ host: base.hostname, port: base.port, method: r.method, path: r.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
