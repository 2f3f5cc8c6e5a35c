/** `pnpm --dir apps/fastify-demo start` */
import { createApp } from './app.js';
import { configFromEnv, listenMtls } from '@wimse/demo-kit';

const config = configFromEnv(process.env, { workload: 'fastify-demo', port: 3002 });
const app = await createApp(config);
await app.listen({ port: config.port, host: '127.0.0.1' });
console.log(`[fastify-demo] ${config.audience} (spiffe://${config.trustDomain}/${config.workload})`);
// With WIMSE_MTLS_DIR: the same routes over HTTPS with client certificates (`routing` is Fastify's request handler).
const tls = await listenMtls(app.routing, config);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void Promise.all([tls?.close(), app.close()]).then(() => process.exit(0)));
}
