/**
 * Fails closed: a Redis that is down, hung, full or allowed to evict never makes the store accept
 * a value — each check is refused with replay_unavailable (503 + Retry-After) within the timeout,
 * the checks waiting on Redis stay bounded, and the store recovers by itself.
 */
import { createClient } from '@redis/client';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WimseError } from '@wimse/core';
import { redisReplayStore, type RedisReplayStore } from '../src/index.js';
import { startRedis, type RedisServer } from '../../../test/support/redis-server.mjs';
import { hasRedis, inAMinute, key, ranOn } from './setup.js';

const servers: RedisServer[] = [];
const stores: RedisReplayStore[] = [];
async function redisWith(args: string[] = []) {
  const r = await startRedis({ args });
  servers.push(r);
  ranOn('single node');
  return r;
}
function storeOn(url: string, o: Partial<Parameters<typeof redisReplayStore>[0]> = {}) {
  const s = redisReplayStore({ url, timeoutMs: 200, ...o });
  stores.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  await Promise.all(servers.splice(0).map((r) => r.close()));
});
afterAll(async () => {
  await Promise.all(servers.map((r) => r.close()));
});

/** The refusal of one check: its code, status, Retry-After and how long it took. */
async function refusal(p: Promise<boolean>) {
  const start = performance.now();
  const e = await p.then(
    (v) => v,
    (err: unknown) => err,
  );
  const ms = performance.now() - start;
  if (!(e instanceof WimseError)) throw new Error(`expected a WimseError, got ${String(e)}`);
  return { code: e.code, status: e.status, retryAfter: e.headers['retry-after'], ms, detail: e.message };
}

/**
 * `total` checks against a store whose Redis is down, `batch` at a time: half new values, half the
 * replay of the value `before` accepted. Counts the outcomes, the slowest refusal and the heap growth.
 */
async function checksDuringOutage(s: RedisReplayStore, total: number, batch: number) {
  const gc = collectGarbage();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const outcomes = new Map<string, number>();
  let slowest = 0;
  for (let i = 0; i < total; i += batch) {
    const results = await Promise.all(
      Array.from({ length: batch }, (_, j) => refusal(s.checkAndStore(key((i + j) % 2 === 0 ? `during${i + j}` : 'before'), inAMinute()))),
    );
    for (const r of results) {
      outcomes.set(`${r.status} ${r.code}`, (outcomes.get(`${r.status} ${r.code}`) ?? 0) + 1);
      slowest = Math.max(slowest, r.ms);
    }
  }
  gc();
  return { outcomes, slowest, growth: process.memoryUsage().heapUsed - heapBefore };
}

describe.runIf(hasRedis)('Redis unreachable', () => {
  it('refuses a check with 503 replay_unavailable and Retry-After when nothing listens', async () => {
    const s = storeOn('redis://127.0.0.1:1');
    const r = await refusal(s.checkAndStore(key('x'), inAMinute()));
    expect({ code: r.code, status: r.status, retryAfter: r.retryAfter }).toEqual({
      code: 'replay_unavailable',
      status: 503,
      retryAfter: '1',
    });
  });

  it('connect() rejects, naming the wait, when Redis is not reached', async () => {
    await expect(storeOn('redis://127.0.0.1:1').connect({ timeoutMs: 300 })).rejects.toThrow(/not reached within 300 ms/);
  });
});

describe.runIf(hasRedis)('Redis stopped mid-run, then back', () => {
  it('refuses every check during the outage, keeps memory flat, and refuses a replay after it (AOF)', async () => {
    const redis = await redisWith(['--appendonly', 'yes', '--appendfsync', 'always']);
    const s = storeOn(redis.url);
    await s.connect();
    expect(await s.checkAndStore(key('before'), inAMinute())).toBe(true);
    await redis.stop();
    // One at a time.
    const { outcomes, slowest, growth } = await checksDuringOutage(s, 2000, 1);
    console.log(
      `outage: 2000 checks, slowest refusal ${slowest.toFixed(1)} ms (timeout 200 ms), heapUsed growth ${(growth / 1024).toFixed(0)} KiB, in flight after: ${s.inFlight}`,
    );
    expect(outcomes).toEqual(new Map([['503 replay_unavailable', 2000]]));
    expect(s.inFlight).toBe(0);
    expect(growth).toBeLessThan(2 * 1024 * 1024);

    await redis.restart();
    await waitFor(async () => (await s.checkAndStore(key('after-restart'), inAMinute()).catch(() => undefined)) === true);
    expect(await s.checkAndStore(key('before'), inAMinute())).toBe(false);
  });
});

describe.runIf(hasRedis)('Redis stopped mid-run under a client given to the store', () => {
  it("refuses at once while it is down (nothing waits in the client's offline queue), keeps memory flat, recovers by itself, refuses a replay after it", async () => {
    const redis = await redisWith(['--appendonly', 'yes', '--appendfsync', 'always']);
    // The client's defaults: offline queue on, its own reconnection strategy.
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    const s = redisReplayStore({ client, timeoutMs: 200 });
    try {
      expect(await s.checkAndStore(key('before'), inAMinute())).toBe(true);
      await redis.stop();
      // 50 at a time, as concurrent requests would.
      const { outcomes, slowest, growth } = await checksDuringOutage(s, 1000, 50);
      console.log(
        `outage, given client: 1000 checks, slowest refusal ${slowest.toFixed(1)} ms (timeout 200 ms), heapUsed growth ${(growth / 1024).toFixed(0)} KiB`,
      );
      expect(outcomes).toEqual(new Map([['503 replay_unavailable', 1000]]));
      expect(s.inFlight).toBe(0);
      expect(growth).toBeLessThan(2 * 1024 * 1024);

      await redis.restart();
      await waitFor(async () => (await s.checkAndStore(key('after-restart'), inAMinute()).catch(() => undefined)) === true);
      expect(await s.checkAndStore(key('before'), inAMinute())).toBe(false);
      // None of the refused checks reached Redis later from a queue: a value refused during the outage is new now.
      expect(await s.checkAndStore(key('during0'), inAMinute())).toBe(true);
    } finally {
      client.destroy();
    }
  });
});

describe.runIf(hasRedis)('Redis hung (SIGSTOP)', () => {
  it('refuses each check once the timeout passes, then recovers without a restart', async () => {
    const redis = await redisWith();
    const s = storeOn(redis.url);
    await s.connect();
    expect(await s.checkAndStore(key('seen'), inAMinute())).toBe(true);
    redis.pause();
    try {
      const r = await refusal(s.checkAndStore(key('stuck'), inAMinute()));
      expect({ code: r.code, status: r.status }).toEqual({ code: 'replay_unavailable', status: 503 });
      expect(r.detail).toMatch(/did not answer within 200 ms|did not answer in time/);
      console.log(`hung Redis: refused after ${r.ms.toFixed(0)} ms (timeout 200 ms)`);
    } finally {
      redis.resume();
    }
    expect(await s.checkAndStore(key('seen'), inAMinute())).toBe(false);
    expect(await s.checkAndStore(key('fresh'), inAMinute())).toBe(true);
  });

  it('refuses within the default timeout, 250 ms, when none is configured', async () => {
    const redis = await redisWith();
    const s = redisReplayStore({ url: redis.url });
    stores.push(s);
    await s.connect();
    redis.pause();
    try {
      const r = await refusal(s.checkAndStore(key('default'), inAMinute()));
      expect({ code: r.code, status: r.status, retryAfter: r.retryAfter }).toEqual({
        code: 'replay_unavailable',
        status: 503,
        retryAfter: '1',
      });
      expect(r.detail).toMatch(/did not answer within 250 ms/);
      console.log(`hung Redis, default options: refused after ${r.ms.toFixed(0)} ms`);
    } finally {
      redis.resume();
    }
  });

  it('is not fooled by a busy process: a reply that arrived while the event loop was blocked past the timeout counts', async () => {
    const redis = await redisWith();
    const s = storeOn(redis.url);
    await s.connect();
    const check = s.checkAndStore(key('busy'), inAMinute());
    const until = performance.now() + 600;
    while (performance.now() < until); // the process is busy for three timeouts; Redis answers meanwhile
    expect(await check).toBe(true);
  });

  it('keeps at most maxInFlight checks waiting: a flood of 5000 is refused, none accepted', async () => {
    const redis = await redisWith();
    const s = storeOn(redis.url, { maxInFlight: 100, timeoutMs: 300 });
    await s.connect();
    redis.pause();
    let most = 0;
    try {
      const all = Array.from({ length: 5000 }, (_, i) => {
        const p = s.checkAndStore(key(`flood${i}`), inAMinute()).then(
          () => 'accepted',
          (e: unknown) => (e instanceof WimseError ? e.code : 'other'),
        );
        most = Math.max(most, s.inFlight);
        return p;
      });
      const codes = await Promise.all(all);
      expect(new Set(codes)).toEqual(new Set(['replay_unavailable']));
    } finally {
      redis.resume();
    }
    expect(most).toBe(100);
    expect(s.inFlight).toBe(0);
  });
});

describe.runIf(hasRedis)('Redis hung (SIGSTOP) under a client given to the store', () => {
  it('keeps at most maxInFlight commands unanswered in the client, however long Redis hangs, and recovers when it answers', async () => {
    const redis = await redisWith();
    // The client's defaults: no queue limit, no command timeout of its own.
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    // node-redis's command queue (written and unwritten commands), read through its internal accessor.
    const queued = () => (client as unknown as { _getQueue(): { pendingCount: number } })._getQueue().pendingCount;
    const s = redisReplayStore({ client, timeoutMs: 100, maxInFlight: 100 });
    try {
      await s.connect();
      redis.pause();
      const codes = new Set<string>();
      let most = 0;
      // Ten waves of 200 checks, each wave outliving the timeout: 2000 checks over a hang of a second or more.
      for (let wave = 0; wave < 10; wave++) {
        const outcomes = await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            s.checkAndStore(key(`hang${wave}-${i}`), inAMinute()).then(
              () => 'accepted',
              (e: unknown) => (e instanceof WimseError ? e.code : 'other'),
            ),
          ),
        );
        for (const c of outcomes) codes.add(c);
        most = Math.max(most, queued());
      }
      console.log(`hung Redis, given client: 2000 checks refused, at most ${most} commands queued in the client (maxInFlight 100)`);
      expect(codes).toEqual(new Set(['replay_unavailable']));
      expect(most).toBeLessThanOrEqual(100);
    } finally {
      redis.resume();
    }
    await waitFor(async () => (await s.checkAndStore(key('after-hang'), inAMinute()).catch(() => undefined)) === true);
    expect(queued()).toBe(0);
    client.destroy();
  });
});

describe.runIf(hasRedis)('Redis full (maxmemory with noeviction)', () => {
  it('refuses new values with 503 once Redis is full, never accepts a replay, and loses none of the values it holds', async () => {
    const redis = await redisWith(['--maxmemory', '2mb', '--maxmemory-policy', 'noeviction']);
    const s = storeOn(redis.url, { timeoutMs: 2000 });
    const accepted: string[] = [];
    let refused: Awaited<ReturnType<typeof refusal>> | undefined;
    for (let i = 0; i < 200_000 && refused === undefined; i++) {
      const id = `fill${i}`.padEnd(200, '.');
      try {
        if (await s.checkAndStore(key(id), inAMinute())) accepted.push(id);
      } catch {
        refused = await refusal(s.checkAndStore(key(`${id}+`), inAMinute()));
      }
    }
    expect(refused).toMatchObject({ code: 'replay_unavailable', status: 503, retryAfter: '1' });
    expect(refused!.detail).toMatch(/Redis is full/);
    expect(accepted.length).toBeGreaterThan(100);
    // While full, Redis refuses every write, a replay's SET NX included: refused, never accepted.
    const whileFull = await replaysOf(s, accepted);
    expect(whileFull.filter((v) => v === true)).toEqual([]);
    // Given room again, every value is still there: nothing was evicted.
    await redis.command('CONFIG', 'SET', 'maxmemory', '0');
    expect(new Set(await replaysOf(s, accepted))).toEqual(new Set([false]));
    console.log(`full Redis: ${accepted.length} values held at 2 MB, then 503; none lost`);
  });
});

describe.runIf(hasRedis)('Redis allowed to evict (maxmemory-policy is not noeviction)', () => {
  it.each(['allkeys-lru', 'volatile-ttl'])('refuses every check on a Redis with %s, and connect() says why', async (policy) => {
    const redis = await redisWith(['--maxmemory-policy', policy]);
    const s = storeOn(redis.url);
    await expect(s.connect()).rejects.toThrow(new RegExp(`maxmemory-policy is ${policy}`));
    const r = await refusal(s.checkAndStore(key('x'), inAMinute()));
    expect({ code: r.code, status: r.status }).toEqual({ code: 'replay_unavailable', status: 503 });
    expect(r.detail).toMatch(/may evict/);
    expect(await redis.command('DBSIZE')).toBe('0');
  });

  it('notices a policy changed at run time when the connection comes back', async () => {
    const redis = await redisWith();
    const s = storeOn(redis.url);
    await s.connect();
    expect(await s.checkAndStore(key('ok'), inAMinute())).toBe(true);
    await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'allkeys-lru');
    await redis.command('CLIENT', 'KILL', 'TYPE', 'normal');
    await waitFor(
      async () =>
        (await refusal(s.checkAndStore(key('later'), inAMinute())).catch(() => undefined))?.detail?.includes('may evict') === true,
    );
    expect(await redis.command('EXISTS', 'later')).toBe('0');
    // Fixed: accepted again, without a restart.
    await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    await waitFor(async () => (await s.checkAndStore(key('fixed'), inAMinute()).catch(() => undefined)) === true);
  });

  it('notices a policy changed at run time on a live connection within evictionRecheckMs', async () => {
    const redis = await redisWith();
    const s = storeOn(redis.url, { evictionRecheckMs: 100 });
    await s.connect();
    expect(await s.checkAndStore(key('ok'), inAMinute())).toBe(true);
    await redis.command('CONFIG', 'SET', 'maxmemory-policy', 'volatile-lru');
    await waitFor(
      async () =>
        (await refusal(s.checkAndStore(key('later'), inAMinute())).catch(() => undefined))?.detail?.includes('volatile-lru') === true,
    );
  });

  it('skips the check with requireNoEviction: false (where INFO is not allowed)', async () => {
    const redis = await redisWith(['--maxmemory-policy', 'allkeys-lru']);
    const s = storeOn(redis.url, { requireNoEviction: false });
    expect(await s.checkAndStore(key('trusted'), inAMinute())).toBe(true);
  });

  it('checks a client given to it too', async () => {
    const redis = await redisWith(['--maxmemory-policy', 'allkeys-random']);
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    try {
      await expect(redisReplayStore({ client }).connect()).rejects.toThrow(/allkeys-random/);
    } finally {
      await client.close();
    }
  });
});

/** Checks each of `ids` again, 500 at a time: `true` accepted, `false` replay, or the refusal's code. */
async function replaysOf(s: RedisReplayStore, ids: string[]): Promise<(boolean | string)[]> {
  const out: (boolean | string)[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    out.push(
      ...(await Promise.all(
        ids
          .slice(i, i + 500)
          .map((id) => s.checkAndStore(key(id), inAMinute()).catch((e: unknown) => (e instanceof WimseError ? e.code : 'other'))),
      )),
    );
  }
  return out;
}

/** Polls `ok` every 50 ms, for at most 10 s. */
async function waitFor(ok: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** V8's gc(), so heap measurements compare live objects only. */
function collectGarbage(): () => void {
  const v8 = process.getBuiltinModule?.('node:v8') as typeof import('node:v8');
  const vm = process.getBuiltinModule?.('node:vm') as typeof import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
