/**
 * On @hono/node-server a signed body is read from the Node request itself (not through a fetch
 * Request): the app, later middleware and the next request on the same connection must still see
 * exactly what was sent. Served over real HTTP on 127.0.0.1.
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WimseAdapterOptions, WorkloadSigner } from '@wimse/core';
import { adapterFixture } from '@wimse/test-support/factory';
import { wimse, type WimseEnv } from './index.js';

const AUDIENCE = 'https://svc.example.org';
let options: WimseAdapterOptions;
let client: WorkloadSigner;
let base: string;
let close: () => Promise<void>;
const reported: unknown[] = [];
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

beforeAll(async () => {
  ({ options, client } = await adapterFixture(AUDIENCE));
  const app = new Hono<WimseEnv>();
  // Before wimse(): a middleware that reads the body first (a set-up mistake).
  app.post('/early', async (c, next) => {
    await c.req.text();
    return next();
  });
  const auth = wimse({ ...options, maxBodyBytes: 64, onInternalError: (e) => void reported.push(e) });
  // bodyLimit first (it may wrap the body before wimse() reads it), then this route's authentication.
  app.post('/limit-first', bodyLimit({ maxSize: 64 }), auth.route({}), async (c) => c.json({ body: await c.req.text() }));
  app.use(auth);
  app.post('/json', async (c) => c.json({ workload: c.get('wimse')?.workload, body: (await c.req.json()) as unknown }));
  app.post('/limited', bodyLimit({ maxSize: 64 }), async (c) => c.json({ body: await c.req.text() }));
  app.post('/stream', async (c) => c.json({ body: await new Response(c.req.raw.body).text() }));
  app.post('/early', (c) => c.text('unreachable'));
  const server = createAdaptorServer({ fetch: app.fetch });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise<void>((resolve) => server.close(() => resolve()));
});

afterAll(async () => {
  agent.destroy();
  await close();
});

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  socket: object;
}

// A signed POST of `chunks` (chunked without a Content-Length when there is more than one).
async function post(path: string, chunks: string[], type = 'application/json'): Promise<Reply> {
  const body = chunks.join('');
  const signed = await client.httpSigHeaders({ method: 'POST', url: AUDIENCE + path, headers: { 'content-type': type }, body });
  const length = chunks.length === 1 ? { 'content-length': String(Buffer.byteLength(body)) } : {};
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { method: 'POST', agent, headers: { 'content-type': type, ...length, ...signed } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => void (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, socket: res.socket }));
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('a signed body on @hono/node-server', () => {
  it('verifies and leaves c.req.json() the same bytes', async () => {
    const res = await post('/json', ['{"n":1}']);
    expect([res.status, JSON.parse(res.body)]).toEqual([200, { workload: 'spiffe://example.org/client', body: { n: 1 } }]);
  });

  it('hands a chunked body to a later bodyLimit and c.req.text()', async () => {
    const res = await post('/limited', ['plain text, ', 'signed'], 'text/plain');
    expect([res.status, JSON.parse(res.body)]).toEqual([200, { body: 'plain text, signed' }]);
  });

  it('reads it behind an earlier bodyLimit, chunked or with a length', async () => {
    const chunked = await post('/limit-first', ['plain ', 'text'], 'text/plain');
    const sized = await post('/limit-first', ['plain text'], 'text/plain');
    expect([chunked.status, JSON.parse(chunked.body), sized.status, JSON.parse(sized.body)]).toEqual([
      200,
      { body: 'plain text' },
      200,
      { body: 'plain text' },
    ]);
  });

  it('hands it to c.req.raw.body as a stream', async () => {
    const res = await post('/stream', ['{"a":', '"b"}']);
    expect([res.status, JSON.parse(res.body)]).toEqual([200, { body: '{"a":"b"}' }]);
  });

  it('serves the next requests on the same keep-alive connection', async () => {
    const replies: Reply[] = [];
    for (let i = 0; i < 3; i++) replies.push(await post('/json', [`{"i":${i}}`]));
    expect(replies.map((r) => [r.status, JSON.parse(r.body).body])).toEqual([
      [200, { i: 0 }],
      [200, { i: 1 }],
      [200, { i: 2 }],
    ]);
    expect(replies.every((r) => r.socket === replies[0]!.socket)).toBe(true);
  });

  it('refuses a chunked body over maxBodyBytes with 413 and closes the connection', async () => {
    const res = await post('/json', ['{"pad":"', 'x'.repeat(60), '"}']);
    expect([res.status, JSON.parse(res.body).code, res.headers.connection]).toEqual([413, 'body_too_large', 'close']);
  });

  it('reports a body read before wimse() as a set-up error (500), not a digest mismatch', async () => {
    reported.length = 0;
    const res = await post('/early', ['{"n":1}']);
    expect([res.status, JSON.parse(res.body).code]).toEqual([500, 'internal_error']);
    expect(String(reported[0])).toMatch(/body was read before wimse\(\)/);
  });
});
