/**
 * A Map whose entries expire and whose size is bounded. Oldest entries go first when full;
 * expired entries are swept from the front, where the oldest sit.
 */
export class ExpiringMap<K, V> {
  readonly #entries = new Map<K, { value: V; expiresAt: number }>();
  readonly #maxEntries: number;

  constructor(maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('maxEntries must be a positive integer');
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The value, or `undefined` when absent or expired at `now` (ms). */
  get(key: K, now: number): V | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.value;
  }

  /** Stores `value` until `expiresAt` (ms). */
  set(key: K, value: V, expiresAt: number, now: number): void {
    this.#entries.delete(key);
    this.#sweep(now);
    while (this.#entries.size >= this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
    this.#entries.set(key, { value, expiresAt });
  }

  delete(key: K): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }

  // Bounded work per call keeps set() O(1) amortised.
  #sweep(now: number): void {
    let budget = 16;
    for (const [key, e] of this.#entries) {
      if (budget-- === 0 || e.expiresAt > now) break;
      this.#entries.delete(key);
    }
  }
}
