/**
 * The default, per-process {@link ReplayStore}. A replay cache may forget a one-time value only
 * once the proof carrying it has expired (wpt-02 §2 step 9; http-signature-07 §3): forgetting a
 * live one lets a captured proof through again. So when full, this store refuses new proofs
 * (fail closed) instead of evicting live entries:
 * - the workload that made the proof is over its share: 429 `replay_quota_exceeded`, so one
 *   flooding workload is stopped before it can crowd out the others;
 * - the store as a whole is full: 503 `replay_unavailable`.
 * Both carry `Retry-After`: the seconds until the earliest entry concerned expires.
 *
 * Layout, for memory (about 100 bytes per entry with 22-character ids, see `pnpm bench`): one
 * partition per (workload, kind) holding `Map<id, expiry second>` (the workload string is not
 * repeated per entry and the value stays a small integer), plus a time wheel: per expiry second,
 * the ids due then, so expired entries are reclaimed in amortised O(1) as time passes.
 */
import { WimseError } from './errors.js';
import { nodeCrypto } from './node-crypto.js';
import type { ReplayKey, ReplayKind, ReplayStore } from './replay.js';

export interface MemoryReplayStoreOptions {
  /**
   * Most live entries held at once (all workloads). Default 1 000 000 (about 100 MB of heap).
   * Size it by rate: `maxEntries ≥ peak proofs/s × (proof lifetime + clockTolerance)`, with the
   * longest lifetime accepted (`maxWptLifetime`, `maxSignatureLifetime`). When full of live
   * entries, new proofs are refused with 503 until the earliest expires.
   */
  maxEntries?: number;
  /**
   * Most live entries of one workload (all kinds). Default a quarter of `maxEntries`. A workload
   * beyond it is refused with 429 `replay_quota_exceeded`; others are unaffected.
   */
  maxEntriesPerWorkload?: number;
  /** Clock in ms, for tests. */
  now?: () => number;
}

/** Ids longer than this are remembered by their SHA-256 (where `node:crypto` exists), to bound bytes per entry. */
const LONG_ID = 64;
const SLOTS: ReadonlyMap<ReplayKind, number> = new Map([
  ['wpt', 0],
  ['sig', 1],
  ['response', 2],
]);
/** Slot offset of the digest partitions: a digest must never be mistaken for an id that is spelled the same. */
const DIGEST = 3;

interface Workload {
  readonly name: string;
  /** Live entries over all partitions. */
  count: number;
  /** By slot: kind, plus {@link DIGEST} for ids stored as digests. */
  readonly partitions: (Partition | undefined)[];
}

interface Partition {
  readonly owner: Workload;
  readonly slot: number;
  /** Id → expiry second, relative to the store's base second. */
  readonly ids: Map<string, number>;
  /** Expiry second → the ids due then (this partition's share of the time wheel). */
  readonly due: Map<number, string[]>;
}

/**
 * The default, per-process replay store: never forgets a live entry; refuses when full.
 *
 * @example
 * // 2 000 proofs/s at most, WPTs of up to 300 s, 30 s clock tolerance: 2 000 × 330 = 660 000.
 * const verifier = createVerifier({ ..., replayStore: new MemoryReplayStore({ maxEntries: 660_000 }) })
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #maxEntries: number;
  readonly #maxPerWorkload: number;
  readonly #now: () => number;
  /** Seconds are stored relative to this one, so they stay small integers. */
  readonly #base: number;
  readonly #workloads = new Map<string, Workload>();
  /** The time wheel: expiry second → partitions with ids due then. */
  readonly #wheel = new Map<number, Partition[]>();
  /** Min-heap of the seconds in {@link #wheel}. */
  readonly #seconds: number[] = [];
  #size = 0;

  constructor(options: MemoryReplayStoreOptions = {}) {
    this.#maxEntries = positiveInteger('maxEntries', options.maxEntries, 1_000_000);
    this.#maxPerWorkload = positiveInteger('maxEntriesPerWorkload', options.maxEntriesPerWorkload, Math.ceil(this.#maxEntries / 4));
    this.#now = options.now ?? Date.now;
    this.#base = Math.floor(this.#now() / 1000);
  }

  /** Live entries currently held. */
  get size(): number {
    return this.#size;
  }

  checkAndStore(key: ReplayKey, expiresAt: number): boolean {
    if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) throw new TypeError('expiresAt must be a finite number of ms');
    // Reading a character also flattens the string: V8 keeps one built piece by piece (a
    // structured-field parser's nonce) as a chain of pieces, ~350 bytes for 22 characters, ~40 flat.
    if (typeof key.id !== 'string' || Number.isNaN(key.id.charCodeAt(0))) throw new TypeError('id must be a non-empty string');
    const kind = SLOTS.get(key.kind);
    if (kind === undefined) throw new TypeError(`unknown replay kind ${JSON.stringify(key.kind)}`);
    const now = this.#now();
    this.#reclaim(now);
    const long = key.id.length > LONG_ID ? digest(key.id) : undefined;
    const slot = kind + (long === undefined ? 0 : DIGEST);
    const id = long ?? key.id;
    const workload = this.#workloads.get(key.workload);
    const partition = workload?.partitions[slot];
    // Live entries only: #reclaim has just removed every entry due by now.
    if (partition?.ids.has(id) === true) return false;
    // Rounded up to the second: an entry may outlive its proof by < 1 s, never the reverse.
    const second = Math.ceil(expiresAt / 1000) - this.#base;
    if ((second + this.#base) * 1000 <= now) return true; // already expired: nothing to remember
    if (workload !== undefined && workload.count >= this.#maxPerWorkload) {
      throw new WimseError('replay_quota_exceeded', 'This workload has too many live proofs; retry later', {
        retryAfter: this.#retryAfter(earliest(workload), now),
      });
    }
    if (this.#size >= this.#maxEntries) {
      throw new WimseError('replay_unavailable', 'Replay store full of live proofs; retry later', {
        retryAfter: this.#retryAfter(this.#seconds[0], now),
      });
    }
    this.#add(workload ?? this.#newWorkload(key.workload), slot, id, second);
    return true;
  }

  #newWorkload(name: string): Workload {
    const w: Workload = { name, count: 0, partitions: [] };
    this.#workloads.set(name, w);
    return w;
  }

  #add(workload: Workload, slot: number, id: string, second: number): void {
    let p = workload.partitions[slot];
    if (p === undefined) {
      p = { owner: workload, slot, ids: new Map(), due: new Map() };
      workload.partitions[slot] = p;
    }
    p.ids.set(id, second);
    const bucket = p.due.get(second);
    if (bucket !== undefined) bucket.push(id);
    else {
      p.due.set(second, [id]);
      const partitions = this.#wheel.get(second);
      if (partitions !== undefined) partitions.push(p);
      else {
        this.#wheel.set(second, [p]);
        heapPush(this.#seconds, second);
      }
    }
    workload.count++;
    this.#size++;
  }

  // Each entry is visited once, when its second has passed: amortised O(1) per stored entry.
  #reclaim(now: number): void {
    const seconds = this.#seconds;
    while (seconds.length > 0 && (seconds[0]! + this.#base) * 1000 <= now) {
      const second = heapPop(seconds);
      for (const p of this.#wheel.get(second)!) {
        for (const id of p.due.get(second)!) {
          p.ids.delete(id);
          p.owner.count--;
          this.#size--;
        }
        p.due.delete(second);
        if (p.ids.size === 0) {
          p.owner.partitions[p.slot] = undefined;
          if (p.owner.count === 0) this.#workloads.delete(p.owner.name);
        }
      }
      this.#wheel.delete(second);
    }
  }

  #retryAfter(second: number | undefined, now: number): number {
    return second === undefined ? 1 : Math.max(1, Math.ceil(((second + this.#base) * 1000 - now) / 1000));
  }
}

// The earliest expiry second of a workload's entries (only on refusal: at most one per live second).
function earliest(w: Workload): number | undefined {
  let min: number | undefined;
  for (const p of w.partitions) for (const s of p?.due.keys() ?? []) if (min === undefined || s < min) min = s;
  return min;
}

function digest(id: string): string | undefined {
  return nodeCrypto()?.createHash('sha256').update(id, 'utf8').digest('binary');
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer`);
  return value;
}

function heapPush(heap: number[], value: number): void {
  let i = heap.push(value) - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (heap[parent]! <= value) break;
    heap[i] = heap[parent]!;
    i = parent;
  }
  heap[i] = value;
}

function heapPop(heap: number[]): number {
  const top = heap[0]!;
  const last = heap.pop()!;
  if (heap.length > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const c = l + 1 < heap.length && heap[l + 1]! < heap[l]! ? l + 1 : l;
      if (heap[c]! >= last) break;
      heap[i] = heap[c]!;
      i = c;
    }
    heap[i] = last;
  }
  return top;
}
