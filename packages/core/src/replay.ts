/**
 * Replay protection for one-time values: WPT `jti` (wpt-02 §2 step 9, RECOMMENDED), HTTP
 * signature `nonce` (http-signature-07 §3) and response nonces seen by the client.
 *
 * Keys are partitioned by the workload that made the proof and by the kind of proof, so one
 * workload's values never collide with (or crowd out) another's. http-signature-07 §3 asks to
 * reject a nonce seen "regardless of sender"; a captured signature can only be replayed with the
 * WIT it was bound to, so the partition by workload loses nothing an attacker could use.
 */
import { replayChannel, storeName, type WimseReplayMessage } from './diagnostics.js';
import { WimseError } from './errors.js';
import type { OperatorLog } from './logger.js';

/** The kinds of one-time value remembered. */
export type ReplayKind = 'wpt' | 'sig' | 'response';

/** One one-time value, partitioned by who made it and what it is. */
export interface ReplayKey {
  /** The workload identifier whose proof carried the value (WIT `sub`). */
  readonly workload: string;
  /** Which proof the value belongs to. */
  readonly kind: ReplayKind;
  /** The value itself: WPT `jti` or signature `nonce`. */
  readonly id: string;
}

/**
 * Where seen one-time values are remembered. Implement it over Redis or another shared store to
 * stop replays across instances (the drafts note a per-instance cache cannot).
 */
export interface ReplayStore {
  /**
   * Records `key` until `expiresAt` (ms since the epoch). Resolves `true` when the key was new,
   * `false` when it was already recorded and has not expired (a replay).
   *
   * A store that cannot record a live key must refuse, never forget one: throw (or reject with)
   * a `WimseError` `replay_unavailable` or `replay_quota_exceeded`. Any other error also counts
   * as `replay_unavailable` (503).
   */
  checkAndStore(key: ReplayKey, expiresAt: number): boolean | Promise<boolean>;
}

/**
 * One string for a {@link ReplayKey}, for stores keyed by strings: kind and workload cannot hold a
 * line feed (a workload identifier is a URI), so the id, last, needs no escaping.
 */
export function replayKeyString(key: ReplayKey): string {
  return `${key.kind}\n${key.workload}\n${key.id}`;
}

/**
 * Records a one-time value or throws `replayCode` when it was seen before. A failing store is a
 * server problem (503), never a reason to accept the request; a store's own refusal
 * (`WimseError`, e.g. a quota) passes through as it is. Failures go to `wimse:replay` and `log`.
 */
export function checkReplay(
  store: ReplayStore,
  key: ReplayKey,
  expiresAt: number,
  replayCode: 'wpt_replay' | 'sig_replay' | 'sig_response_replay',
  log?: OperatorLog,
): void | Promise<void> {
  let result: boolean | Promise<boolean>;
  try {
    result = store.checkAndStore(key, expiresAt);
  } catch (cause) {
    return storeFailed(store, key, cause, log);
  }
  // A synchronous store (the in-memory default) answers without a microtask (or a closure) on the hot path.
  if (typeof result === 'boolean') return settle(result, replayCode);
  return Promise.resolve(result).then(
    (fresh) => settle(fresh, replayCode),
    (cause: unknown) => storeFailed(store, key, cause, log),
  );
}

function settle(fresh: boolean, replayCode: 'wpt_replay' | 'sig_replay' | 'sig_response_replay'): void {
  if (fresh !== true) throw new WimseError(replayCode, 'This proof was already used');
}

function storeFailed(store: ReplayStore, key: ReplayKey, cause: unknown, log: OperatorLog | undefined): never {
  const error = cause instanceof WimseError ? cause : new WimseError('replay_unavailable', 'Replay store failed', { cause, retryAfter: 1 });
  if (error.code === 'replay_unavailable' || error.code === 'replay_quota_exceeded') report(store, key, error.code, cause, log);
  throw error;
}

// Who is told of a store failure: `wimse:replay` subscribers and the operator log. Never the id.
function report(store: ReplayStore, key: ReplayKey, code: WimseReplayMessage['code'], cause: unknown, log: OperatorLog | undefined): void {
  if (!replayChannel.hasSubscribers && log === undefined) return;
  const message: WimseReplayMessage = {
    store: storeName(store),
    code,
    kind: key.kind,
    workload: key.workload,
    error: cause instanceof Error ? cause.message : String(cause),
  };
  if (replayChannel.hasSubscribers) replayChannel.publish(message);
  log?.replay(message);
}
