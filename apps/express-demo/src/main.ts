/** `pnpm --dir apps/express-demo start` */
import { createApp } from './app.js';
import { configFromEnv, listenMtls } from '@wimse/demo-kit';

const config = configFromEnv(process.env, { workload: 'express-demo', port: 3001 });
const app = createApp(config);
const server = app.listen(config.port, '127.0.0.1', () => {
  console.log(`[express-demo] ${config.audience} (spiffe://${config.trustDomain}/${config.workload})`);
});
// With WIMSE_MTLS_DIR: the same app over HTTPS with client certificates.
const tls = await listenMtls(app, config);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void tls?.close();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
