/**
 * Replay protection shared across instances (issue 10): for each of the six targets, two
 * instances of one service on one real Redis — a proof accepted by one is refused by the other,
 * both ways, for WPT `jti` (wpt-02 §2 step 9) and signature `nonce` (http-signature-07 §3); the
 * same on a Redis Cluster; and Redis stopped under traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WimseAdapterOptions } from '@wimse/core';
import { redisReplayStore, type RedisReplayStore } from '@wimse/redis';
import { recordRedisRun, redisForTests, startRedis, startRedisCluster, type RedisServer } from '../support/redis-server.mjs';
import { createCluster } from '@redis/client';
import { AUDIENCE, adapterOptions, createFixtures, wptHeaders, type Fixtures } from './fixtures.js';
import { send, type RawRequest, type RawResponse } from './http.js';
import type { Running, Target } from './targets/contract.js';
import { express4Target, express5Target } from './targets/express.js';
import { fastifyTarget } from './targets/fastify.js';
import { honoTarget } from './targets/hono.js';
import { nestExpressTarget, nestFastifyTarget } from './targets/nestjs.js';

const version = await redisForTests();
const targets: Target[] = [express4Target, express5Target, fastifyTarget, honoTarget, nestExpressTarget, nestFastifyTarget];

let fixtures: Fixtures;
const closers: (() => Promise<void>)[] = [];
beforeAll(async () => {
  fixtures = await createFixtures();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

const wpt = async (): Promise<RawRequest> => ({ method: 'GET', path: '/whoami', headers: await wptHeaders(fixtures.client, '/whoami') });
const signed = async (): Promise<RawRequest> => ({
  method: 'GET',
  path: '/whoami',
  headers: await fixtures.client.signer.httpSigHeaders({ method: 'GET', url: `${AUDIENCE}/whoami`, headers: {} }),
});
const outcome = (r: RawResponse) => `${r.status} ${r.status === 200 ? 'ok' : (JSON.parse(r.text) as { code: string }).code}`;

/** Two instances of `target`, each with its own store (its own Redis connection), on one Redis. */
async function pair(target: Target, store: () => RedisReplayStore): Promise<[Running, Running]> {
  const start = async () => {
    const replayStore = store();
    await replayStore.connect();
    const options: WimseAdapterOptions = { ...adapterOptions(fixtures), replayStore };
    const running = await target.start(options);
    closers.push(async () => {
      await running.close();
      await replayStore.close();
    });
    return running;
  };
  return [await start(), await start()];
}

/** The four replay checks across a pair: A→B and B→A, WPT and signature. */
function crossInstanceCases(instances: () => [Running, Running]) {
  it.each([
    ['a WPT accepted by instance 1 is refused by instance 2', 0, wpt, '401 wpt_replay'],
    ['a WPT accepted by instance 2 is refused by instance 1', 1, wpt, '401 wpt_replay'],
    ['a signature nonce accepted by instance 1 is refused by instance 2', 0, signed, '400 sig_replay'],
    ['a signature nonce accepted by instance 2 is refused by instance 1', 1, signed, '400 sig_replay'],
  ] as const)('%s', async (_name, first, build, replayed) => {
    const [one, two] = first === 0 ? instances() : [...instances()].reverse();
    const request = await build();
    expect(outcome(await send(one!.url, request))).toBe('200 ok');
    expect(outcome(await send(two!.url, request))).toBe(replayed);
  });
}

describe.runIf(version !== undefined)('two instances on one Redis', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
    closers.push(() => redis.close());
    recordRedisRun(version!, 'single node');
  });

  describe.each(targets)('$name', (target) => {
    let instances: [Running, Running];
    beforeAll(async () => {
      instances = await pair(target, () => redisReplayStore({ url: redis.url, audience: AUDIENCE }));
    });
    crossInstanceCases(() => instances);
  });
});

describe.runIf(version !== undefined)('two instances on one Redis Cluster', () => {
  let rootNodes: { url: string }[];
  beforeAll(async () => {
    const cluster = await startRedisCluster();
    closers.push(() => cluster.close());
    rootNodes = cluster.rootNodes;
    recordRedisRun(version!, 'cluster');
  });

  describe.each([express5Target, fastifyTarget])('$name', (target) => {
    let instances: [Running, Running];
    beforeAll(async () => {
      instances = await pair(target, () => {
        const client = createCluster({ rootNodes });
        client.on('error', () => {});
        closers.push(async () => client.destroy());
        return redisReplayStore({ client, audience: AUDIENCE });
      });
    });
    crossInstanceCases(() => instances);
  });
});

describe.runIf(version !== undefined)('Redis stopped under traffic (Express 5, two instances)', () => {
  let redis: RedisServer;
  let one: Running;
  let two: Running;
  beforeAll(async () => {
    // AOF on every write, so what was accepted before the outage survives the restart.
    redis = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
    closers.push(() => redis.close());
    recordRedisRun(version!, 'single node');
    [one, two] = await pair(express5Target, () => redisReplayStore({ url: redis.url, audience: AUDIENCE, timeoutMs: 250 }));
  });

  it('answers every proof 503 replay_unavailable with Retry-After during the outage, memory flat; recovers without a restart; refuses a replay after it', async () => {
    const accepted = await wpt();
    expect(outcome(await send(one.url, accepted))).toBe('200 ok');
    await redis.stop();

    // 2000 fresh proofs (half WPT, half signatures) to both instances, 20 at a time, plus the replay.
    const proofs = await Promise.all(Array.from({ length: 2000 }, (_, i) => (i % 2 === 0 ? wpt() : signed())));
    const gc = collectGarbage();
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const answers = new Map<string, number>();
    const latencies: number[] = [];
    for (let i = 0; i < proofs.length; i += 20) {
      await Promise.all(
        proofs.slice(i, i + 20).map(async (request, j) => {
          const started = performance.now();
          const res = await send((i + j) % 2 === 0 ? one.url : two.url, request);
          latencies.push(performance.now() - started);
          const key = `${outcome(res)} retry-after=${String(res.headers['retry-after'])}`;
          answers.set(key, (answers.get(key) ?? 0) + 1);
        }),
      );
    }
    gc();
    const growth = process.memoryUsage().heapUsed - heapBefore;
    const replayDuring = await send(two.url, accepted);
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
    console.log(
      `Redis down: 2000 requests → ${JSON.stringify(Object.fromEntries(answers))}; latency p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms (store timeout 250 ms, 20 in parallel); heapUsed growth ${(growth / 1024).toFixed(0)} KiB`,
    );
    expect(answers).toEqual(new Map([['503 replay_unavailable retry-after=1', 2000]]));
    expect(outcome(replayDuring)).toBe('503 replay_unavailable');
    expect(growth).toBeLessThan(4 * 1024 * 1024);

    await redis.restart();
    // Recovers by itself: the same servers, no restart. Each instance has its own client, which
    // reconnects on its own backoff (at most 500 ms apart), so each is waited for.
    const deadline = Date.now() + 10_000;
    for (const [instance, proof] of [
      [one, wpt],
      [two, signed],
    ] as const) {
      while (outcome(await send(instance.url, await proof())) !== '200 ok') {
        if (Date.now() > deadline) throw new Error('no recovery within 10 s of Redis coming back');
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    expect(outcome(await send(two.url, accepted))).toBe('401 wpt_replay');
  });
});

/** V8's gc(), so heap measurements compare live objects only. */
function collectGarbage(): () => void {
  const v8 = process.getBuiltinModule('node:v8') as typeof import('node:v8');
  const vm = process.getBuiltinModule('node:vm') as typeof import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
