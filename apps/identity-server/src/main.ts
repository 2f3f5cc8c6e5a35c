/** Starts the identity server: `pnpm --dir apps/identity-server start`. */
import { configFromEnv } from './config.js';
import { KeyRingError } from './keyring.js';
import { createIdentityServer, type IdentityServer } from './server.js';

const config = configFromEnv(process.env);
let started: IdentityServer;
try {
  started = await createIdentityServer({ ...config, log: (line) => console.log(`[identity] ${line}`) });
} catch (e) {
  // A refused key file or corrupt state: say why and stop, never fall back to fresh keys.
  if (!(e instanceof KeyRingError)) throw e;
  console.error(`[identity] cannot start: ${e.message}`);
  process.exit(1);
}
const { server, keys } = started;
server.listen(config.port, config.host, () => {
  console.log(`[identity] trust domain ${config.trustDomain}, issuer key ${keys.current().kid}`);
  console.log(`[identity] listening on http://${config.host}:${config.port} (JWKS at /.well-known/jwks.json)`);
});
// Another instance on the same data directory rotated: SIGHUP picks up its state.
process.on('SIGHUP', () => {
  keys.reload().then(
    () => console.log(`[identity] reloaded issuer keys, current ${keys.current().kid}`),
    (e: unknown) => console.error(`[identity] reload failed, keeping the previous keys: ${(e as Error).message}`),
  );
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
