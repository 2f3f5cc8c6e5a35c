/**
 * A Redis (single node, Cluster, Valkey) replay store shared by every instance of a service: {@link redisReplayStore}.
 *
 * @packageDocumentation
 * @module @wimse/redis
 */
export {
  RedisReplayStore,
  defaultPrefix,
  keyName,
  redisReplayStore,
  type RedisConnection,
  type RedisInfoSource,
  type RedisReplayStoreOptions,
  type SetNxPxat,
} from './redis-replay-store.js';
export { SAFE_EVICTION_POLICY, evictionPolicyOf } from './eviction-policy.js';
