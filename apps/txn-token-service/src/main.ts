/** Starts the Txn-Token Service: `pnpm --dir apps/txn-token-service start` (env: see README.md). */
import { serve } from '@hono/node-server';
import { KeyRingError, createKeyRing } from '@wimse/identity-server/keyring';
import { configFromEnv } from './config.js';
import { createTxnTokenService } from './service.js';

const log = (line: string) => console.log(`[tts] ${line}`);
let config: ReturnType<typeof configFromEnv>;
let keys: Awaited<ReturnType<typeof createKeyRing>>;
try {
  config = configFromEnv(process.env);
  keys = await createKeyRing(config.keyRing);
} catch (e) {
  // A refused key file, corrupt key state or bad variable: say why and stop, never fall back to fresh keys.
  if (!(e instanceof KeyRingError) && !(e instanceof Error && /must be/.test(e.message))) throw e;
  console.error(`[tts] cannot start: ${e.message}`);
  process.exit(1);
}
if (keys.mode === 'memory') log('signing keys in memory only: a restart invalidates every Txn-Token issued (set TTS_DATA_DIR)');
if (Object.keys(config.requesters).length === 0) log('no requesters configured (TTS_REQUESTERS): every request will be refused');
const app = createTxnTokenService({ ...config, keys, log });
const server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () => {
  log(`trust domain ${config.trustDomain}, signing key ${keys.current().kid}`);
  log(`listening on http://${config.host}:${config.port} (token endpoint /token, JWKS at /.well-known/jwks.json)`);
});
// Another instance on the same data directory rotated: SIGHUP picks up its state.
process.on('SIGHUP', () => {
  keys.reload().then(
    () => log(`reloaded signing keys, current ${keys.current().kid}`),
    (e: unknown) => console.error(`[tts] reload failed, keeping the previous keys: ${(e as Error).message}`),
  );
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
}
