/** `pnpm --dir apps/hono-demo start` */
import { serve } from '@hono/node-server';
import { createApp } from './app.js';
import { configFromEnv } from '@wimse/demo-kit';

const config = configFromEnv(process.env, { workload: 'hono-demo', port: 3003 });
const server = serve({ fetch: createApp(config).fetch, port: config.port, hostname: '127.0.0.1' }, () => {
  console.log(`[hono-demo] ${config.audience} (spiffe://${config.trustDomain}/${config.workload})`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}
