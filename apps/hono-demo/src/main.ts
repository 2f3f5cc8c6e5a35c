/** `pnpm --dir apps/hono-demo start` */
import { getRequestListener, serve } from '@hono/node-server';
import { createApp } from './app.js';
import { configFromEnv, listenMtls } from '@wimse/demo-kit';

const config = configFromEnv(process.env, { workload: 'hono-demo', port: 3003 });
const app = createApp(config);
const server = serve({ fetch: app.fetch, port: config.port, hostname: '127.0.0.1' }, () => {
  console.log(`[hono-demo] ${config.audience} (spiffe://${config.trustDomain}/${config.workload})`);
});
// With WIMSE_MTLS_DIR: the same app over HTTPS with client certificates (c.env.incoming carries the TLS socket).
const tls = await listenMtls(getRequestListener(app.fetch), config);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void tls?.close();
    server.close(() => process.exit(0));
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}
