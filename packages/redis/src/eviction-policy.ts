/**
 * A replay store must never forget a live entry (wpt-02 §2 step 9, http-signature-07 §3: a value
 * seen before its expiry is refused). Redis forgets keys on its own when `maxmemory` is reached and
 * `maxmemory-policy` is anything but `noeviction` — every `volatile-*` policy included, since every
 * replay key carries an expiry. So the store refuses to run on such a Redis: with `noeviction` a
 * full Redis answers writes with an OOM error, which the store turns into a 503, never into a
 * forgotten entry.
 */

/** The only `maxmemory-policy` under which Redis never drops a live key. */
export const SAFE_EVICTION_POLICY = 'noeviction';

/** Reads `maxmemory_policy` from an `INFO memory` reply; `undefined` when absent. */
export function evictionPolicyOf(info: string): string | undefined {
  return /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
}

/** Why a node with this `INFO memory` reply must not hold replay entries, or `undefined` when it may. */
export function evictionProblem(info: string, node: string): string | undefined {
  const policy = evictionPolicyOf(info);
  if (policy === SAFE_EVICTION_POLICY) return undefined;
  return policy === undefined
    ? `${node}: INFO memory shows no maxmemory_policy, so the store cannot tell whether Redis may evict live replay entries`
    : `${node}: maxmemory-policy is ${policy}, so Redis may evict live replay entries and accept a replay; set maxmemory-policy noeviction`;
}
