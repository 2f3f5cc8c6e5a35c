/** Starts the identity server: `pnpm --dir apps/identity-server start`. */
import { configFromEnv } from './config.js';
import { createIdentityServer } from './server.js';

const config = configFromEnv(process.env);
const { server, keys } = await createIdentityServer({ ...config, log: (line) => console.log(`[identity] ${line}`) });
server.listen(config.port, config.host, () => {
  console.log(`[identity] trust domain ${config.trustDomain}, issuer key ${keys.current().kid}`);
  console.log(`[identity] listening on http://${config.host}:${config.port} (JWKS at /.well-known/jwks.json)`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
