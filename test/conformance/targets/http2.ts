/** The Hono and Fastify targets' routes served over cleartext HTTP/2 (h2c), for the body-limit suite. */
import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { wimsePlugin } from '@wimse/fastify';
import { wimse } from '@wimse/hono';
import { echoed, summary, type Running, type Target } from './contract.js';

export const honoH2Target: Target = {
  name: 'hono over HTTP/2',
  async start(options) {
    const app = new Hono().use(wimse(options));
    app.post('/echo', async (c) => c.json({ ...summary(c.get('wimse')), body: await c.req.text() }));
    const server = createAdaptorServer({ fetch: app.fetch, createServer }) as Http2Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  },
};

export const fastifyH2Target: Target = {
  name: 'fastify over HTTP/2',
  async start(options): Promise<Running> {
    const app = Fastify({ http2: true });
    await app.register(wimsePlugin, options);
    app.addContentTypeParser('application/octet-stream', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    app.post('/echo', async (request) => ({ ...summary(request.wimse), body: echoed(request.body) }));
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: new URL(address), close: () => app.close() };
  },
};
