/** The store on a real single-node Redis: one atomic SET NX PXAT per check, namespaced and partitioned. */
import { createHash } from 'node:crypto';
import { createClient } from '@redis/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisReplayStore, type RedisReplayStore } from '../src/index.js';
import { startRedis, type RedisServer } from '../../../test/support/redis-server.mjs';
import { A, B, hasRedis, inAMinute, key, ranOn } from './setup.js';

describe.runIf(hasRedis)('single-node Redis', () => {
  let redis: RedisServer;
  const stores: RedisReplayStore[] = [];
  const store = (o: Parameters<typeof redisReplayStore>[0] = { url: redis.url }) => {
    const s = redisReplayStore(o);
    stores.push(s);
    return s;
  };
  beforeAll(async () => {
    redis = await startRedis();
    ranOn('single node');
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await redis?.close();
  });

  describe('a value is accepted once until it expires (wpt-02 §2 step 9, http-signature-07 §3)', () => {
    it('refuses the second check of the same value', async () => {
      const s = store();
      expect(await s.checkAndStore(key('once'), inAMinute())).toBe(true);
      expect(await s.checkAndStore(key('once'), inAMinute())).toBe(false);
    });

    it('stores the key with an absolute expiry at expiresAt (PXAT), as Redis reports it', async () => {
      const s = store({ url: redis.url, prefix: 'exp:' });
      const expiresAt = Date.now() + 90_000;
      await s.checkAndStore(key('timed'), expiresAt);
      const name = `exp:wpt:${createHash('sha256').update(`wpt\n${A}\ntimed`).digest('base64url')}`;
      expect(await redis.command('PEXPIRETIME', name)).toBe(String(expiresAt));
    });

    it('sends exactly one command per check, SET <prefix><kind>:<digest> 1 NX PXAT <expiresAt>, as Redis MONITOR sees it', async () => {
      const s = store({ url: redis.url, prefix: 'mon:' });
      await s.connect();
      const monitor = createClient({ url: redis.url });
      monitor.on('error', () => {});
      await monitor.connect();
      const seen: string[] = [];
      await monitor.monitor((line) => seen.push(String(line)));
      const expiresAt = Date.now() + 90_000;
      expect(await s.checkAndStore(key('m1'), expiresAt)).toBe(true);
      expect(await s.checkAndStore(key('m1'), expiresAt)).toBe(false);
      // A marker from another connection: once MONITOR shows it, it has shown the checks before it.
      await redis.command('ECHO', 'audit-marker');
      const deadline = Date.now() + 5000;
      while (!seen.some((l) => l.includes('audit-marker')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await monitor.destroy();
      // MONITOR lines: `<time> [<db> <client address>] "CMD" "arg" …`; the store's connection is the one that sent SET.
      const parsed = seen.map((l) => /^\S+ \[\d+ (\S+)\] (.*)$/.exec(l)!).map(([, from, command]) => ({ from, command: command! }));
      const storeConnection = parsed.find((p) => p.command.startsWith('"SET"'))?.from;
      const name = `mon:wpt:${createHash('sha256').update(`wpt\n${A}\nm1`).digest('base64url')}`;
      // SET options may come in any order (node-redis writes the expiration first).
      const set = `"SET" "${name}" "1" "PXAT" "${expiresAt}" "NX"`;
      expect(parsed.filter((p) => p.from === storeConnection).map((p) => p.command)).toEqual([set, set]);
    });

    it('accepts a value again once Redis has expired it', async () => {
      const s = store();
      expect(await s.checkAndStore(key('short'), Date.now() + 30)).toBe(true);
      await new Promise((r) => setTimeout(r, 80));
      expect(await s.checkAndStore(key('short'), inAMinute())).toBe(true);
    });

    it('accepts exactly one of 200 concurrent checks of one value (atomic SET NX)', async () => {
      const s = store();
      const results = await Promise.all(Array.from({ length: 200 }, () => s.checkAndStore(key('race'), inAMinute())));
      expect(results.filter(Boolean)).toHaveLength(1);
    });
  });

  describe('the partition by workload and kind (same as the in-memory store)', () => {
    it('keeps one id apart across workloads and kinds', async () => {
      const s = store();
      expect(await s.checkAndStore(key('n1', A, 'sig'), inAMinute())).toBe(true);
      expect(await s.checkAndStore(key('n1', B, 'sig'), inAMinute())).toBe(true);
      expect(await s.checkAndStore(key('n1', A, 'wpt'), inAMinute())).toBe(true);
      expect(await s.checkAndStore(key('n1', A, 'response'), inAMinute())).toBe(true);
      expect(await s.checkAndStore(key('n1', B, 'sig'), inAMinute())).toBe(false);
    });

    it('keeps keys of a fixed length whatever the id, with no id in clear', async () => {
      const s = store({ url: redis.url, prefix: 'long:' });
      const id = 'x'.repeat(8000);
      expect(await s.checkAndStore(key(id), inAMinute())).toBe(true);
      const keys = await redis.command('KEYS', 'long:*');
      expect(keys!.length).toBeLessThan(100);
      expect(keys).not.toContain('xxxx');
    });
  });

  describe('the key prefix', () => {
    it('defaults to wimse:replay:<first 16 hex of SHA-256 of the audience>:', async () => {
      const s = store({ url: redis.url, audience: 'https://orders.example.com' });
      const digest = createHash('sha256').update('https://orders.example.com').digest('hex').slice(0, 16);
      expect(s.prefix).toBe(`wimse:replay:${digest}:`);
      await s.checkAndStore(key('p1'), inAMinute());
      expect(
        await redis.command('EXISTS', `wimse:replay:${digest}:wpt:${createHash('sha256').update(`wpt\n${A}\np1`).digest('base64url')}`),
      ).toBe('1');
    });

    it('keeps two services on one Redis apart, and two instances of one service together', async () => {
      const orders1 = store({ url: redis.url, audience: 'https://orders.example.com' });
      const orders2 = store({ url: redis.url, audience: 'https://orders.example.com/' });
      const billing = store({ url: redis.url, audience: 'https://billing.example.com' });
      expect(await orders1.checkAndStore(key('shared'), inAMinute())).toBe(true);
      expect(await orders2.checkAndStore(key('shared'), inAMinute())).toBe(false);
      expect(await billing.checkAndStore(key('shared'), inAMinute())).toBe(true);
    });

    it('uses an explicit prefix as given', async () => {
      expect(store({ url: redis.url, prefix: 'svc:' }).prefix).toBe('svc:');
      expect(store({ url: redis.url }).prefix).toBe('wimse:replay:');
    });
  });

  describe('the client', () => {
    it('accepts a connected createClient() result and leaves it open on close()', async () => {
      const client = createClient({ url: redis.url });
      client.on('error', () => {});
      await client.connect();
      const s = redisReplayStore({ client, prefix: 'mine:' });
      expect(await s.checkAndStore(key('c1'), inAMinute())).toBe(true);
      expect(await s.checkAndStore(key('c1'), inAMinute())).toBe(false);
      await s.close();
      expect(await client.ping()).toBe('PONG');
      await client.close();
    });

    it('connects a client given unconnected', async () => {
      const client = createClient({ url: redis.url });
      client.on('error', () => {});
      const s = redisReplayStore({ client, prefix: 'lazy:' });
      await s.connect();
      expect(client.isReady).toBe(true);
      expect(await s.checkAndStore(key('c2'), inAMinute())).toBe(true);
      await client.close();
    });

    it('shares round trips between concurrent checks (pipelining): Redis reads 64 checks in a few reads', async () => {
      const s = store({ url: redis.url, maxInFlight: 64 });
      await s.connect();
      const reads = async () => Number(/total_reads_processed:(\d+)/.exec((await redis.command('INFO', 'stats'))!)![1]);
      const before = await reads();
      let most = 0;
      const all = Array.from({ length: 64 }, (_, i) => {
        const p = s.checkAndStore(key(`pipe${i}`), inAMinute());
        most = Math.max(most, s.inFlight);
        return p;
      });
      expect(await Promise.all(all)).toEqual(Array(64).fill(true));
      const during = (await reads()) - before;
      expect(most).toBe(64);
      // Without pipelining Redis would need at least 64 reads; the INFO connections add about three.
      expect(during).toBeLessThan(16);
    });
  });

  describe('options are checked when the store is made', () => {
    it('needs exactly one of url and client', () => {
      expect(() => redisReplayStore({})).toThrow(/exactly one of `url` or `client`/);
      expect(() => redisReplayStore({ url: redis.url, client: createClient() })).toThrow(/exactly one/);
    });

    it('refuses a URL that is not redis:// or rediss://', () => {
      expect(() => redisReplayStore({ url: 'http://127.0.0.1:6379' })).toThrow(/redis:\/\//);
    });

    it('refuses a timeout, in-flight bound or Retry-After that is not positive', () => {
      expect(() => redisReplayStore({ url: redis.url, timeoutMs: 0 })).toThrow(/timeoutMs/);
      expect(() => redisReplayStore({ url: redis.url, maxInFlight: -1 })).toThrow(/maxInFlight/);
      expect(() => redisReplayStore({ url: redis.url, retryAfterSeconds: Number.NaN })).toThrow(/retryAfterSeconds/);
    });
  });
});
