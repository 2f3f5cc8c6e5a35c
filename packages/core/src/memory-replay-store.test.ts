import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WimseError } from './errors.js';
import { MemoryReplayStore } from './memory-replay-store.js';
import { checkReplay, type ReplayKey } from './replay.js';

const ADMIN = 'spiffe://example.org/admin';
const MALLORY = 'spiffe://example.org/mallory';
const k = (id: string, workload = ADMIN, kind: ReplayKey['kind'] = 'wpt'): ReplayKey => ({ workload, kind, id });

/** What the store answered: `new`, `replay`, or the code and Retry-After of its refusal. */
function attempt(store: MemoryReplayStore, key: ReplayKey, expiresAt: number): string {
  try {
    return store.checkAndStore(key, expiresAt) ? 'new' : 'replay';
  } catch (e) {
    if (!(e instanceof WimseError)) throw e;
    return `${e.code} ${e.status} retry-after=${e.headers['retry-after']}`;
  }
}

function tally(results: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}

describe('a used proof stays used while it is live', () => {
  it('accepts a key once until it expires', () => {
    let now = 1000;
    const store = new MemoryReplayStore({ now: () => now });
    expect(store.checkAndStore(k('a'), 2000)).toBe(true);
    expect(store.checkAndStore(k('a'), 2000)).toBe(false);
    now = 1999;
    expect(store.checkAndStore(k('a'), 3000)).toBe(false);
    now = 2000;
    expect(store.checkAndStore(k('a'), 3000)).toBe(true);
  });

  it('keeps an entry to the end of the second its expiry falls in, never less', () => {
    let now = 0;
    const store = new MemoryReplayStore({ now: () => now });
    store.checkAndStore(k('a'), 1500);
    now = 1499;
    expect(store.checkAndStore(k('a'), 5000)).toBe(false);
    now = 1999;
    expect(store.checkAndStore(k('a'), 5000)).toBe(false);
  });

  it('a flood of 2× capacity from another workload never makes the admin proof acceptable again', () => {
    const store = new MemoryReplayStore({ maxEntries: 100, maxEntriesPerWorkload: 100, now: () => 0 });
    expect(attempt(store, k('admin-jti'), 60_000)).toBe('new');
    const flood = Array.from({ length: 200 }, (_, i) => attempt(store, k(`m${i}`, MALLORY), 60_000));
    // 99 fit beside the admin's entry; the rest are refused, none evicts anything.
    expect(tally(flood)).toEqual({ new: 99, 'replay_unavailable 503 retry-after=60': 101 });
    expect(attempt(store, k('admin-jti'), 60_000)).toBe('replay');
    expect(store.size).toBe(100);
  });

  it('a flood of 2× capacity spread over ten workloads never makes a used proof acceptable again', () => {
    const store = new MemoryReplayStore({ maxEntries: 100, maxEntriesPerWorkload: 100, now: () => 0 });
    expect(attempt(store, k('admin-jti'), 60_000)).toBe('new');
    for (let i = 0; i < 200; i++) attempt(store, k(`m${i}`, `${MALLORY}/${i % 10}`), 60_000);
    expect(attempt(store, k('admin-jti'), 60_000)).toBe('replay');
    // Every flood id that was accepted is still remembered too.
    for (let i = 0; i < 99; i++) expect(attempt(store, k(`m${i}`, `${MALLORY}/${i % 10}`), 60_000)).toBe('replay');
  });

  it('a replay is still recognised as one when the store is full', () => {
    const store = new MemoryReplayStore({ maxEntries: 2, now: () => 0 });
    store.checkAndStore(k('a'), 60_000);
    store.checkAndStore(k('b', MALLORY), 60_000);
    expect(attempt(store, k('a'), 60_000)).toBe('replay');
  });

  it('the clock going back forgets nothing', () => {
    let now = 10_000;
    const store = new MemoryReplayStore({ now: () => now });
    store.checkAndStore(k('a'), 20_000);
    now = 0;
    expect(store.checkAndStore(k('b'), 1_000)).toBe(true);
    now = 19_999;
    expect(store.checkAndStore(k('a'), 30_000)).toBe(false);
  });
});

describe('a full store refuses: 503 replay_unavailable with Retry-After', () => {
  it('Retry-After is the seconds until the earliest live entry expires, rounded up', () => {
    let now = 0;
    const store = new MemoryReplayStore({ maxEntries: 2, maxEntriesPerWorkload: 2, now: () => now });
    store.checkAndStore(k('a'), 10_000);
    store.checkAndStore(k('b'), 30_000);
    now = 2_500;
    // 10 000 - 2 500 = 7 500 ms: 8 s.
    expect(attempt(store, k('c', MALLORY), 30_000)).toBe('replay_unavailable 503 retry-after=8');
  });

  it('Retry-After is at least 1', () => {
    let now = 0;
    const store = new MemoryReplayStore({ maxEntries: 1, now: () => now });
    store.checkAndStore(k('a'), 1_000);
    now = 999;
    expect(attempt(store, k('c', MALLORY), 30_000)).toBe('replay_unavailable 503 retry-after=1');
  });

  it('takes new proofs again once the earliest entry has expired', () => {
    let now = 0;
    const store = new MemoryReplayStore({ maxEntries: 2, maxEntriesPerWorkload: 2, now: () => now });
    store.checkAndStore(k('a'), 10_000);
    store.checkAndStore(k('b'), 30_000);
    now = 10_000;
    expect(attempt(store, k('c'), 30_000)).toBe('new');
    expect(attempt(store, k('b'), 30_000)).toBe('replay');
  });

  it('reaches the caller through checkReplay with its status and Retry-After', () => {
    const store = new MemoryReplayStore({ maxEntries: 1, now: () => 0 });
    checkReplay(store, k('a'), 5_000, 'wpt_replay');
    expect(() => checkReplay(store, k('b', MALLORY), 5_000, 'wpt_replay')).toThrow(
      expect.objectContaining({ code: 'replay_unavailable', status: 503, headers: { 'retry-after': '5' } }),
    );
  });
});

describe('a workload over its share is refused: 429 replay_quota_exceeded', () => {
  it('a flooding workload is stopped at its share and the others keep their room', () => {
    const store = new MemoryReplayStore({ maxEntries: 100, maxEntriesPerWorkload: 25, now: () => 0 });
    expect(attempt(store, k('admin-jti'), 60_000)).toBe('new');
    const flood = Array.from({ length: 200 }, (_, i) => attempt(store, k(`m${i}`, MALLORY), 60_000));
    expect(tally(flood)).toEqual({ new: 25, 'replay_quota_exceeded 429 retry-after=60': 175 });
    expect(attempt(store, k('admin-jti'), 60_000)).toBe('replay');
    for (let i = 0; i < 24; i++) expect(attempt(store, k(`a${i}`), 60_000)).toBe('new');
  });

  it('counts every kind of proof of the workload together', () => {
    const store = new MemoryReplayStore({ maxEntries: 100, maxEntriesPerWorkload: 2, now: () => 0 });
    store.checkAndStore(k('n', MALLORY, 'wpt'), 60_000);
    store.checkAndStore(k('n', MALLORY, 'sig'), 60_000);
    expect(attempt(store, k('n', MALLORY, 'response'), 60_000)).toBe('replay_quota_exceeded 429 retry-after=60');
  });

  it("Retry-After is the seconds until the workload's own earliest entry expires", () => {
    let now = 0;
    const store = new MemoryReplayStore({ maxEntries: 100, maxEntriesPerWorkload: 2, now: () => now });
    store.checkAndStore(k('early'), 5_000); // another workload's, earlier
    store.checkAndStore(k('m1', MALLORY), 40_000);
    store.checkAndStore(k('m2', MALLORY, 'sig'), 20_000);
    now = 1_000;
    expect(attempt(store, k('m3', MALLORY), 60_000)).toBe('replay_quota_exceeded 429 retry-after=19');
  });

  it('the default share is a quarter of maxEntries', () => {
    const store = new MemoryReplayStore({ maxEntries: 100, now: () => 0 });
    const flood = Array.from({ length: 30 }, (_, i) => attempt(store, k(`m${i}`, MALLORY), 60_000));
    expect(tally(flood)).toEqual({ new: 25, 'replay_quota_exceeded 429 retry-after=60': 5 });
  });
});

describe('expired entries are reclaimed as time passes', () => {
  it('holds exactly the live entries after each second', () => {
    let now = 0;
    const store = new MemoryReplayStore({ maxEntries: 10_000, maxEntriesPerWorkload: 10_000, now: () => now });
    // 100 entries expiring at each of seconds 1..50, over 4 workloads and 2 kinds.
    for (let i = 0; i < 5000; i++)
      store.checkAndStore(k(`id${i}`, `${MALLORY}/${i % 4}`, i % 3 === 0 ? 'sig' : 'wpt'), (1 + (i % 50)) * 1000);
    expect(store.size).toBe(5000);
    for (let second = 1; second <= 50; second++) {
      now = second * 1000;
      store.checkAndStore(k(`tick${second}`), now + 500); // any call reclaims
      expect(store.size).toBe(5000 - second * 100 + 1);
      now += 1000; // the tick itself expires before the next check
    }
  });

  it('a full store has room again as soon as entries expire', () => {
    let now = 0;
    const store = new MemoryReplayStore({ maxEntries: 1000, maxEntriesPerWorkload: 1000, now: () => now });
    for (let i = 0; i < 1000; i++) store.checkAndStore(k(`old${i}`), 10_000);
    now = 10_000;
    const results = Array.from({ length: 1000 }, (_, i) => attempt(store, k(`new${i}`), 20_000));
    expect(tally(results)).toEqual({ new: 1000 });
  });

  it('a key that expired can be used again, its new expiry counts', () => {
    let now = 0;
    const store = new MemoryReplayStore({ now: () => now });
    store.checkAndStore(k('a'), 1_000);
    now = 1_000;
    expect(store.checkAndStore(k('a'), 5_000)).toBe(true);
    now = 4_999;
    expect(store.checkAndStore(k('a'), 9_000)).toBe(false);
    now = 5_000;
    expect(store.size).toBe(1);
    expect(store.checkAndStore(k('b'), 9_000)).toBe(true);
    expect(store.size).toBe(1);
  });
});

describe('degenerate input', () => {
  it('an expiry already past is remembered by nobody and counts for no one', () => {
    const store = new MemoryReplayStore({ maxEntries: 1, now: () => 10_000 });
    expect(store.checkAndStore(k('a'), 9_000)).toBe(true);
    expect(store.size).toBe(0);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, '60000' as unknown as number])(
    'expiresAt %s is a programming error (503 via checkReplay)',
    (expiresAt) => {
      const store = new MemoryReplayStore({ now: () => 0 });
      expect(() => store.checkAndStore(k('a'), expiresAt)).toThrow(TypeError);
      expect(() => checkReplay(store, k('a'), expiresAt, 'wpt_replay')).toThrow(
        expect.objectContaining({ code: 'replay_unavailable', status: 503 }),
      );
    },
  );

  it('an empty id is a programming error (503 via checkReplay)', () => {
    const store = new MemoryReplayStore({ now: () => 0 });
    expect(() => store.checkAndStore(k(''), 60_000)).toThrow(TypeError);
    expect(() => checkReplay(store, k(''), 60_000, 'sig_replay')).toThrow(
      expect.objectContaining({ code: 'replay_unavailable', status: 503 }),
    );
  });

  it.each(['constructor', 'jti'])('kind %s is a programming error (503 via checkReplay)', (kind) => {
    const store = new MemoryReplayStore({ now: () => 0 });
    const key = { workload: ADMIN, kind, id: 'a' } as unknown as ReplayKey;
    expect(() => store.checkAndStore(key, 60_000)).toThrow(TypeError);
    expect(() => checkReplay(store, key, 60_000, 'wpt_replay')).toThrow(
      expect.objectContaining({ code: 'replay_unavailable', status: 503 }),
    );
  });

  it('256-character ids are told apart by their last character', () => {
    const store = new MemoryReplayStore({ now: () => 0 });
    const long = 'x'.repeat(255);
    expect(store.checkAndStore(k(`${long}a`), 60_000)).toBe(true);
    expect(store.checkAndStore(k(`${long}b`), 60_000)).toBe(true);
    expect(store.checkAndStore(k(`${long}a`), 60_000)).toBe(false);
  });

  it('a short id spelled like the SHA-256 of a long one is a different id', () => {
    const store = new MemoryReplayStore({ now: () => 0 });
    const long = 'y'.repeat(200);
    const spelledLikeDigest = createHash('sha256').update(long).digest('binary');
    expect(store.checkAndStore(k(long), 60_000)).toBe(true);
    expect(store.checkAndStore(k(spelledLikeDigest), 60_000)).toBe(true);
    expect(store.checkAndStore(k(long), 60_000)).toBe(false);
  });

  it('the same id from two workloads or two kinds is two entries', () => {
    const store = new MemoryReplayStore({ now: () => 0 });
    expect(store.checkAndStore(k('n1', ADMIN), 60_000)).toBe(true);
    expect(store.checkAndStore(k('n1', MALLORY), 60_000)).toBe(true);
    expect(store.checkAndStore(k('n1', ADMIN, 'sig'), 60_000)).toBe(true);
    expect(store.checkAndStore(k('n1', ADMIN), 60_000)).toBe(false);
  });

  it.each([0, -1, 1.5, Number.NaN])('maxEntries %s is refused at construction', (maxEntries) => {
    expect(() => new MemoryReplayStore({ maxEntries })).toThrow(/maxEntries must be a positive integer/);
  });

  it.each([0, 2.5])('maxEntriesPerWorkload %s is refused at construction', (maxEntriesPerWorkload) => {
    expect(() => new MemoryReplayStore({ maxEntriesPerWorkload })).toThrow(/maxEntriesPerWorkload must be a positive integer/);
  });
});
