import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { Readable } from 'node:stream';
import { createAdaptorServer } from '@hono/node-server';
import { Hono } from 'hono';
import { requireWorkload, wimse } from '@wimse/hono';
import { ADMIN, HEALTH, kibChunks, listen, summary, type Target } from './contract.js';

export const honoTarget: Target = {
  name: 'hono',
  start(options, tls) {
    const app = new Hono();
    // Handlers registered before wimse() answer first: public.
    app.get('/health', (c) => c.json(HEALTH));
    app.get('/optional', wimse({ ...options, optional: true }), (c) => c.json(summary(c.get('wimse'))));
    const api = new Hono().use(wimse(options));
    api.get('/whoami', (c) => c.json(summary(c.get('wimse'))));
    api.get('/hooked/whoami', (c) => c.json(summary(c.get('wimse'))));
    // Like the other frameworks' parsers: JSON that does not parse is the client's 400, not a 500.
    api.post('/echo', async (c) => {
      const json = c.req.header('content-type')?.startsWith('application/json') === true;
      const body: unknown = json ? await c.req.json().catch(() => undefined) : await c.req.text();
      return body === undefined ? c.json({ error: 'body is not JSON' }, 400) : c.json({ ...summary(c.get('wimse')), body });
    });
    api.get('/admin', requireWorkload(ADMIN), (c) => c.json(summary(c.get('wimse'))));
    api.get('/stream', (c) => c.body(Readable.toWeb(Readable.from(kibChunks(c.req.query('kib')))) as ReadableStream, 200, { 'content-type': 'text/plain' }));
    app.route('/', api);
    const https = tls === undefined ? {} : { createServer: createHttpsServer, serverOptions: tls };
    return listen(createAdaptorServer({ fetch: app.fetch, ...https }) as Server);
  },
};
