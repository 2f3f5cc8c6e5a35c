/** `pnpm --dir apps/fastify-demo start` */
import { createApp } from './app.js';
import { configFromEnv } from '@wimse/demo-kit';

const config = configFromEnv(process.env, { workload: 'fastify-demo', port: 3002 });
const app = await createApp(config);
await app.listen({ port: config.port, host: '127.0.0.1' });
console.log(`[fastify-demo] ${config.audience} (spiffe://${config.trustDomain}/${config.workload})`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void app.close().then(() => process.exit(0)));
}
