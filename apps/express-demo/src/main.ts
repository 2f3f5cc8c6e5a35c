/** `pnpm --dir apps/express-demo start` */
import { createApp } from './app.js';
import { configFromEnv } from '@wimse/demo-kit';

const config = configFromEnv(process.env, { workload: 'express-demo', port: 3001 });
const server = createApp(config).listen(config.port, '127.0.0.1', () => {
  console.log(`[express-demo] ${config.audience} (spiffe://${config.trustDomain}/${config.workload})`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
