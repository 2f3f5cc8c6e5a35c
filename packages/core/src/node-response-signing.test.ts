/**
 * signNodeResponse at the Node `ServerResponse`, with the ways apps and frameworks write to it.
 * The signature here is a recording stand-in: what matters is which status, fields and bytes it is
 * given, and that what goes on the wire is exactly those plus the fields it returns.
 */
import { createServer, request, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { problemResponse } from './adapter.js';
import { WimseError } from './errors.js';
import { signNodeResponse } from './node-response-signing.js';
import type { OutgoingResponse, ResponseSignature } from './response-signing.js';

interface Recorded {
  seen: OutgoingResponse[];
  signature: ResponseSignature;
}

function recording(o: { maxBodyBytes?: number; fail?: unknown } = {}): Recorded {
  const seen: OutgoingResponse[] = [];
  const signature: ResponseSignature = {
    asked: true,
    maxBodyBytes: o.maxBodyBytes ?? 1024,
    tooLarge: () => new WimseError('response_too_large_to_sign'),
    read: () => Promise.reject(new Error('not used by the Node response path')),
    async sign(response) {
      seen.push({ ...response, headers: { ...response.headers } });
      if (o.fail !== undefined) throw o.fail;
      await new Promise((resolve) => setTimeout(resolve, 5)); // signing takes a moment, as a real key does
      return { signature: `sig1=:${Buffer.from(response.body ?? []).toString('base64')}:`, 'signature-input': 'sig1=()' };
    },
  };
  return { seen, signature };
}

let close: (() => void) | undefined;
afterEach(() => close?.());

async function serve(
  handler: (res: ServerResponse) => void,
  r: Recorded,
  twice = false,
): Promise<{ status: number; message: string; headers: IncomingHttpHeaders; body: string }> {
  const server = createServer((_req, res) => {
    signNodeResponse(res, r.signature, (e) => problemResponse(e));
    if (twice) signNodeResponse(res, r.signature, (e) => problemResponse(e));
    handler(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => server.close();
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res
        .on('data', (c: Buffer) => chunks.push(c))
        .on('end', () =>
          resolve({ status: res.statusCode!, message: res.statusMessage!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
    })
      .on('error', reject)
      .end();
  });
}

describe('holds back status, fields and bytes until end, then signs them', () => {
  it('res.setHeader + write with callbacks + end(chunk)', async () => {
    const r = recording();
    const callbacks: string[] = [];
    const res = await serve((res) => {
      res.setHeader('content-type', 'text/plain');
      res.write('ab', () => callbacks.push('write'));
      res.write(Buffer.from('cd'), 'utf8', () => callbacks.push('write2'));
      res.end('ef', () => callbacks.push('end'));
    }, r);
    expect([res.status, res.body, res.headers['content-type'], res.headers.signature]).toEqual([
      200,
      'abcdef',
      'text/plain',
      `sig1=:${Buffer.from('abcdef').toString('base64')}:`,
    ]);
    expect(r.seen).toHaveLength(1);
    expect(r.seen[0]!.headers['content-type']).toBe('text/plain');
    expect(callbacks.sort()).toEqual(['end', 'write', 'write2']);
  });

  it('writeHead(status, message, raw header array) as Fastify and Nest write it', async () => {
    const r = recording();
    const res = await serve(
      (res) => void res.writeHead(409, 'Conflict Here', ['content-type', 'application/problem+json', 'x-a', '1']).end('{"code":"x"}'),
      r,
    );
    expect([res.status, res.message, res.headers['x-a'], res.headers['content-type'], res.body]).toEqual([
      409,
      'Conflict Here',
      '1',
      'application/problem+json',
      '{"code":"x"}',
    ]);
    expect(r.seen[0]!.status).toBe(409);
    expect(res.headers.signature).toBeDefined();
  });

  it('writeHead(status, header object) then flushHeaders: still nothing before the signature', async () => {
    const r = recording();
    const res = await serve((res) => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.flushHeaders();
      res.end('{}');
    }, r);
    expect([res.status, res.headers['signature-input']]).toEqual([201, 'sig1=()']);
  });

  it('signs once when installed twice', async () => {
    const r = recording();
    await serve((res) => void res.end('x'), r, true);
    expect(r.seen).toHaveLength(1);
  });
});

describe('refuses, unsigned, what it cannot sign', () => {
  it('a body beyond the limit, even while the app keeps writing', async () => {
    const r = recording({ maxBodyBytes: 8 });
    const res = await serve((res) => {
      for (let i = 0; i < 10; i++) res.write('0123456789');
      res.writeHead(200);
      res.end('more');
    }, r);
    expect([res.status, JSON.parse(res.body).code, res.headers.signature]).toEqual([501, 'response_too_large_to_sign', undefined]);
    expect(res.body).not.toContain('0123');
    expect(r.seen).toHaveLength(0);
  });

  it("a signer that fails: 500 response_signing_failed, none of the app's fields", async () => {
    const r = recording({ fail: new Error('key gone') });
    const res = await serve((res) => {
      res.setHeader('x-app', 'secret-ish');
      res.end('hello');
    }, r);
    expect([res.status, JSON.parse(res.body).code, res.headers['x-app'], res.headers.signature]).toEqual([
      500,
      'response_signing_failed',
      undefined,
      undefined,
    ]);
  });

  it("a signer's own WimseError is sent as it is", async () => {
    const r = recording({ fail: new WimseError('response_too_large_to_sign') });
    const res = await serve((res) => void res.end('hello'), r);
    expect([res.status, JSON.parse(res.body).code]).toEqual([501, 'response_too_large_to_sign']);
  });
});
