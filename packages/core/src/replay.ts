/**
 * Replay protection for one-time values: WPT `jti` (wpt-02 §2 step 9, RECOMMENDED) and HTTP
 * signature `nonce` (http-signature-07 §3: SHOULD reject a nonce already seen, regardless of sender).
 */
import { WimseError } from './errors.js';
import { ExpiringMap } from './expiring-map.js';

/**
 * Where seen one-time values are remembered. Implement it over Redis or another shared store to
 * stop replays across instances (the drafts note a per-instance cache cannot).
 */
export interface ReplayStore {
  /**
   * Records `key` until `expiresAt` (ms since the epoch). Resolves `true` when the key was new,
   * `false` when it was already recorded and has not expired (a replay).
   */
  checkAndStore(key: string, expiresAt: number): boolean | Promise<boolean>;
}

export interface MemoryReplayStoreOptions {
  /** Most keys held at once. Default 100 000. When full, the oldest key is dropped. */
  maxEntries?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/**
 * The default, per-process replay store. Memory stays bounded under a flood of unique keys:
 * expired keys are swept as new ones arrive, and the oldest are dropped beyond `maxEntries`.
 *
 * @example
 * const verifier = createVerifier({ ..., replayStore: new MemoryReplayStore({ maxEntries: 500_000 }) })
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #seen: ExpiringMap<string, true>;
  readonly #now: () => number;

  constructor(options: MemoryReplayStoreOptions = {}) {
    this.#seen = new ExpiringMap(options.maxEntries ?? 100_000);
    this.#now = options.now ?? Date.now;
  }

  /** Keys currently held. */
  get size(): number {
    return this.#seen.size;
  }

  checkAndStore(key: string, expiresAt: number): boolean {
    const now = this.#now();
    if (this.#seen.get(key, now) !== undefined) return false;
    this.#seen.set(key, true, expiresAt, now);
    return true;
  }
}

/**
 * Records a one-time value or throws `replayCode` when it was seen before. A failing store is a
 * server problem (503), never a reason to accept the request.
 */
export function checkReplay(
  store: ReplayStore,
  key: string,
  expiresAt: number,
  replayCode: 'wpt_replay' | 'sig_replay',
): void | Promise<void> {
  const settle = (fresh: boolean): void => {
    if (!fresh) throw new WimseError(replayCode, 'This proof was already used');
  };
  const failed = (cause: unknown): never => {
    throw new WimseError('replay_unavailable', 'Replay store failed', { cause });
  };
  let result: boolean | Promise<boolean>;
  try {
    result = store.checkAndStore(key, expiresAt);
  } catch (cause) {
    return failed(cause);
  }
  // A synchronous store (the in-memory default) answers without a microtask on the hot path.
  return typeof result === 'boolean' ? settle(result) : Promise.resolve(result).then(settle, failed);
}
