/**
 * Replay protection shared across instances: two instances of the Express demo, one service (the
 * same audience, as behind a load balancer), one Redis. A proof accepted by instance 1 is refused
 * by instance 2 (wpt-02 §2 step 9 for a WPT `jti`, http-signature-07 §3 for a signature `nonce`).
 */
import { call, problemOf, row, workloadFetch, type Row } from './scenario.js';
import { sharedRedis } from './shared-redis.js';
import { freePorts, startInstance, type Stack } from './stack.js';

/** How to see these rows, printed when no Redis is at hand. */
export const SHARED_REPLAY_HINT =
  'Shared replay protection across instances: not shown; set REDIS_URL=redis://… or install redis-server (apt-get install redis-server) to see two instances on one Redis.';

/** The rows, or undefined when `env` has neither REDIS_URL nor redis-server on its PATH (see {@link SHARED_REPLAY_HINT}). */
export async function runSharedReplay(
  stack: Stack,
  log?: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Row[] | undefined> {
  const redis = await sharedRedis(env);
  if (redis === undefined) return undefined;
  const stops: (() => Promise<void>)[] = [redis.stop];
  const rows: Row[] = [];
  try {
    const ports = await freePorts();
    const bases = [ports.express, ports.fastify].map((p) => `http://127.0.0.1:${p}`) as [string, string];
    // Both instances are the one service reached at the first address.
    const env = (port: number) => ({
      PORT: String(port),
      WIMSE_TRUST_DOMAIN: stack.trustDomain,
      WIMSE_IDENTITY_URL: stack.identityUrl,
      WIMSE_PLATFORM_URL: stack.platformUrl,
      WIMSE_TTS_URL: stack.ttsUrl,
      WIMSE_AUDIENCE: bases[0],
      REDIS_URL: redis.url,
    });
    for (const [i, port] of [ports.express, ports.fastify].entries())
      stops.unshift(await startInstance('express-demo', env(port), bases[i]!, log));

    const signer = await workloadFetch(stack, 'client').signer();
    const service = `express ×2 (${redis.source})`;
    const url = `${bases[0]}/whoami`;
    await row(rows, service, 'accepted by instance 1, replayed to instance 2', 'WPT', '200, then 401 wpt_replay', async () => {
      const headers = await signer.wptHeaders({ url });
      return pairOutcome(await call(fetch(url, { headers })), await call(fetch(`${bases[1]}/whoami`, { headers })));
    });
    await row(rows, service, 'accepted by instance 2, replayed to instance 1', 'HTTP-Sig', '200, then 400 sig_replay', async () => {
      const headers = await signer.httpSigHeaders({ method: 'GET', url, headers: {} });
      return pairOutcome(await call(fetch(`${bases[1]}/whoami`, { headers })), await call(fetch(url, { headers })));
    });
  } finally {
    for (const stop of stops) await stop();
  }
  return rows;
}

function pairOutcome(first: Awaited<ReturnType<typeof call>>, second: Awaited<ReturnType<typeof call>>): string {
  return `${problemOf(first.status, first.body)}, then ${problemOf(second.status, second.body)}`;
}
