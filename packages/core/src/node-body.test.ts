/** readAndRestoreBody on real Node servers (HTTP/1.1 and HTTP/2): bounded read, then the app's parser reads the same bytes. */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, createServer as createH2Server, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WimseError } from './errors.js';
import { readAndRestoreBody } from './node-body.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;
const closers: (() => void)[] = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

/** What a later body parser sees: the rest of the stream. */
async function drain(req: IncomingMessage | Http2ServerRequest): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads with the limit, then like a parser; answers `read|parsed`, or the error's code. */
const readThenParse =
  (limit: number): Handler =>
  async (req, res) => {
    try {
      const body = await readAndRestoreBody(req, limit);
      res.end(`${Buffer.from(body ?? []).toString('utf8')}|${await drain(req)}`);
    } catch (e) {
      res.writeHead(e instanceof WimseError ? e.status : 500, e instanceof WimseError ? { ...e.headers } : {});
      res.end(e instanceof WimseError ? e.code : String(e));
    }
  };

async function serve(handler: Handler): Promise<number> {
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return (server.address() as AddressInfo).port;
}

function post(
  port: number,
  chunks: string[],
  headers: Record<string, string> = {},
): Promise<{ status: number; text: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, connection: res.headers.connection }));
    });
    req.on('error', reject);
    for (const c of chunks) req.write(c);
    req.end();
  });
}

describe('readAndRestoreBody over HTTP/1.1', () => {
  it('a Content-Length body: read, then read again by the parser', async () => {
    const port = await serve(readThenParse(100));
    expect(await post(port, ['{"n":1}'], { 'content-length': '7' })).toMatchObject({ status: 200, text: '{"n":1}|{"n":1}' });
  });

  it('a chunked body in several chunks: read, then read again by the parser', async () => {
    const port = await serve(readThenParse(100));
    expect(await post(port, ['ab', 'cd', 'ef'])).toMatchObject({ status: 200, text: 'abcdef|abcdef' });
  });

  it('no body at all', async () => {
    const port = await serve(readThenParse(100));
    expect(await post(port, [], { 'content-length': '0' })).toMatchObject({ status: 200, text: '|' });
  });

  it('a chunked body over the limit: 413 and Connection: close', async () => {
    const port = await serve(readThenParse(5));
    expect(await post(port, ['abc', 'def'])).toEqual({ status: 413, text: 'body_too_large', connection: 'close' });
  });

  it('a stream a parser already consumed: undefined (nothing to verify)', async () => {
    const port = await serve(async (req, res) => {
      await drain(req);
      res.end(String(await readAndRestoreBody(req, 100)));
    });
    expect(await post(port, ['abc'])).toMatchObject({ status: 200, text: 'undefined' });
  });

  it('a client that goes away mid-body: request_invalid', async () => {
    let outcome: Promise<unknown> | undefined;
    const port = await serve(async (req) => {
      outcome = readAndRestoreBody(req, 1000).catch((e: unknown) => e);
    });
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', headers: { 'content-length': '100' }, agent: false });
      req.on('error', () => resolve());
      req.write('partial', () => setTimeout(() => req.destroy(), 20));
    });
    while (outcome === undefined) await new Promise((r) => setTimeout(r, 5));
    expect(await outcome).toMatchObject({ code: 'request_invalid' });
  });
});

describe('readAndRestoreBody over HTTP/2 (compat API)', () => {
  it('a body in DATA frames without a length: read, then read again by the parser', async () => {
    const server = createH2Server((req: Http2ServerRequest, res: Http2ServerResponse) => {
      void (async () => {
        const body = await readAndRestoreBody(req, 100);
        res.end(`${Buffer.from(body ?? []).toString('utf8')}|${await drain(req)}`);
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(() => server.close());
    const session = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    closers.push(() => session.close());
    const stream = session.request({ ':method': 'POST', ':path': '/' });
    stream.write('ab');
    stream.end('cd');
    let text = '';
    for await (const c of stream) text += (c as Buffer).toString('utf8');
    expect(text).toBe('abcd|abcd');
  });
});
