/** The contract's routes as a Hono app: served by @hono/node-server (hono.ts) and by Bun, Deno and workerd (runtimes/). */
import { Hono } from 'hono';
import { requireScope, requireWorkload, wimse } from '@wimse/hono';
import type { WimseAdapterOptions } from '@wimse/core';
import { ADMIN, HEALTH, TRADE_SCOPE, summary } from './routes.js';

export function honoApp(options: WimseAdapterOptions): Hono {
  const app = new Hono();
  // One wimse(): its route rules first (handlers registered before the mount answer first), then the mount.
  const auth = wimse(options);
  app.get('/health', auth.route({ public: true }), (c) => c.json(HEALTH));
  app.get('/optional', auth.route({ optional: true }), (c) => c.json(summary(c.get('wimse'))));
  const api = new Hono().use(auth);
  api.get('/whoami', (c) => c.json(summary(c.get('wimse'))));
  api.get('/hooked/whoami', (c) => c.json(summary(c.get('wimse'))));
  api.post('/echo', async (c) => {
    const json = c.req.header('content-type')?.startsWith('application/json') === true;
    // Like the other frameworks' parsers: JSON that does not parse is the client's 400, not a 500.
    const body: unknown = json ? await c.req.json().catch(() => undefined) : await c.req.text();
    return body === undefined ? c.json({ error: 'body is not JSON' }, 400) : c.json({ ...summary(c.get('wimse')), body });
  });
  api.get('/admin', requireWorkload(ADMIN), (c) => c.json(summary(c.get('wimse'))));
  // Behind the global mount, route rules narrow; requireWorkload/requireScope say the same.
  api.get('/trade', auth.route({ scope: TRADE_SCOPE }), (c) => c.json(summary(c.get('wimse'))));
  api.get('/trade/admin', requireWorkload(ADMIN), requireScope(TRADE_SCOPE), (c) => c.json(summary(c.get('wimse'))));
  // N chunks of 1 KiB (at most 1024), as a Web stream (kibChunks in contract.ts is Node-only).
  api.get('/stream', (c) => {
    let left = Math.min(Number(c.req.query('kib')) || 0, 1024);
    const chunk = new TextEncoder().encode('x'.repeat(1024));
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (left-- > 0) controller.enqueue(chunk);
        else controller.close();
      },
    });
    return c.body(stream, 200, { 'content-type': 'text/plain' });
  });
  app.route('/', api);
  return app;
}
