/** Shared by the Redis tests: real redis-server processes, and keys to check. */
import type { ReplayKey } from '@wimse/core';
import { recordRedisRun, redisForTests } from '../../../test/support/redis-server.mjs';

/** The redis-server version, or undefined (the tests skip) — WIMSE_REQUIRE_REDIS=1 makes that a failure. */
export const redisVersion = await redisForTests();
export const hasRedis = redisVersion !== undefined;

/** Records, for the test summary, that this mode ran on a real Redis. */
export function ranOn(mode: 'single node' | 'cluster'): void {
  if (redisVersion !== undefined) recordRedisRun(redisVersion, mode);
}

export const A = 'spiffe://example.org/a';
export const B = 'spiffe://example.org/b';
export const key = (id: string, workload = A, kind: ReplayKey['kind'] = 'wpt'): ReplayKey => ({ workload, kind, id });
export const inAMinute = () => Date.now() + 60_000;
