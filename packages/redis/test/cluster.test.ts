/**
 * The store on a real 3-master Redis Cluster (redis-cli --cluster create): each check is one SET on
 * the shard owning its key's slot, so it is atomic without hash tags, and keys spread over all shards.
 */
import { createCluster } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WimseError } from '@wimse/core';
import { redisReplayStore } from '../src/index.js';
import { startRedisCluster, type RedisClusterServers } from '../../../test/support/redis-server.mjs';
import { hasRedis, inAMinute, key, ranOn } from './setup.js';

describe.runIf(hasRedis)('Redis Cluster (3 masters)', () => {
  let cluster: RedisClusterServers;
  const clients: { destroy(): void }[] = [];
  const connected = async () => {
    const c = createCluster({ rootNodes: cluster.rootNodes });
    c.on('error', () => {});
    clients.push(c);
    return c.connect();
  };
  beforeAll(async () => {
    cluster = await startRedisCluster();
    ranOn('cluster');
  });
  afterAll(async () => {
    for (const c of clients) c.destroy();
    await cluster?.close();
  });

  it('accepts each value once, with the keys spread over every master', async () => {
    const s = redisReplayStore({ client: await connected(), prefix: 'spread:' });
    await s.connect();
    const ids = Array.from({ length: 300 }, (_, i) => `v${i}`);
    expect(new Set(await Promise.all(ids.map((id) => s.checkAndStore(key(id), inAMinute()))))).toEqual(new Set([true]));
    expect(new Set(await Promise.all(ids.map((id) => s.checkAndStore(key(id), inAMinute()))))).toEqual(new Set([false]));
    const perMaster = await Promise.all(cluster.nodes.map(async (n) => Number(await n.command('DBSIZE'))));
    expect(perMaster.every((n) => n > 0)).toBe(true);
    expect(perMaster.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(300);
  });

  it('accepts exactly one of 100 concurrent checks of one value', async () => {
    const s = redisReplayStore({ client: await connected(), prefix: 'race:' });
    await s.connect();
    const results = await Promise.all(Array.from({ length: 100 }, () => s.checkAndStore(key('once'), inAMinute())));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('shares replay protection between two instances, each with its own cluster client', async () => {
    const one = redisReplayStore({ client: await connected(), audience: 'https://orders.example.com' });
    const two = redisReplayStore({ client: await connected(), audience: 'https://orders.example.com' });
    expect(await one.checkAndStore(key('a→b'), inAMinute())).toBe(true);
    expect(await two.checkAndStore(key('a→b'), inAMinute())).toBe(false);
    expect(await two.checkAndStore(key('b→a'), inAMinute())).toBe(true);
    expect(await one.checkAndStore(key('b→a'), inAMinute())).toBe(false);
  });

  it('refuses every check when one master may evict, naming it', async () => {
    const evicting = cluster.nodes[1]!;
    await evicting.command('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      const s = redisReplayStore({ client: await connected(), prefix: 'evict:' });
      await expect(s.connect()).rejects.toThrow(new RegExp(`127\\.0\\.0\\.1:${evicting.port}: maxmemory-policy is allkeys-lru`));
      await expect(s.checkAndStore(key('x'), inAMinute())).rejects.toMatchObject({ code: 'replay_unavailable', status: 503 });
    } finally {
      await evicting.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    }
  });

  it('never accepts a replay while a master is down (last: it stops a node)', async () => {
    const s = redisReplayStore({ client: await connected(), prefix: 'down:', timeoutMs: 300 });
    await s.connect();
    const ids = Array.from({ length: 60 }, (_, i) => `d${i}`);
    await Promise.all(ids.map((id) => s.checkAndStore(key(id), inAMinute())));
    await cluster.nodes[2]!.stop();
    const outcomes = await Promise.all(
      ids.map((id) => s.checkAndStore(key(id), inAMinute()).catch((e: unknown) => (e instanceof WimseError ? e.code : 'other'))),
    );
    expect(outcomes).not.toContain(true);
    expect(new Set(outcomes)).toEqual(new Set([false, 'replay_unavailable']));
  });
});
