import { describe, expect, it } from 'vitest';
import { WimseError } from './errors.js';
import { MemoryReplayStore, checkReplay, replayKeyString, type ReplayKey, type ReplayStore } from './replay.js';

const k = (id: string, workload = 'spiffe://example.org/a'): ReplayKey => ({ workload, kind: 'wpt', id });

describe('MemoryReplayStore', () => {
  it('accepts a key once until it expires', () => {
    let now = 1000;
    const store = new MemoryReplayStore({ now: () => now });
    expect(store.checkAndStore(k('a'), 2000)).toBe(true);
    expect(store.checkAndStore(k('a'), 2000)).toBe(false);
    now = 2000;
    expect(store.checkAndStore(k('a'), 3000)).toBe(true);
  });

  it('stays bounded under a flood of unique keys', () => {
    const store = new MemoryReplayStore({ maxEntries: 1000, now: () => 0 });
    for (let i = 0; i < 50_000; i++) store.checkAndStore(k(`k${i}`), 60_000);
    expect(store.size).toBe(1000);
    // The newest keys are still remembered.
    expect(store.checkAndStore(k('k49999'), 60_000)).toBe(false);
  });

  it('sweeps expired keys as new ones arrive', () => {
    let now = 0;
    const store = new MemoryReplayStore({ maxEntries: 100_000, now: () => now });
    for (let i = 0; i < 1000; i++) store.checkAndStore(k(`old${i}`), 10);
    now = 20;
    for (let i = 0; i < 100; i++) store.checkAndStore(k(`new${i}`), 100);
    expect(store.size).toBeLessThan(1000);
  });
});

describe('checkReplay', () => {
  it('maps a store that throws synchronously to 503', () => {
    const broken: ReplayStore = {
      checkAndStore: () => {
        throw new Error('down');
      },
    };
    expect(() => checkReplay(broken, k('x'), 0, 'wpt_replay')).toThrow(expect.objectContaining({ code: 'replay_unavailable', status: 503 }));
  });

  it('throws the replay code for a seen key', async () => {
    const store = new MemoryReplayStore();
    expect(checkReplay(store, k('x'), Date.now() + 1000, 'wpt_replay')).toBeUndefined();
    // A synchronous store answers synchronously.
    expect(() => checkReplay(store, k('x'), Date.now() + 1000, 'wpt_replay')).toThrow(expect.objectContaining({ code: 'wpt_replay', status: 401 }));
  });

  it('maps a failing shared store to 503, never to acceptance', async () => {
    const broken: ReplayStore = { checkAndStore: () => Promise.reject(new Error('connection refused')) };
    const e = await (async () => checkReplay(broken, k('x'), 0, 'sig_replay'))().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(WimseError);
    expect(e).toMatchObject({ code: 'replay_unavailable', status: 503 });
  });

  it('works with an async store', async () => {
    const seen = new Set<string>();
    const store: ReplayStore = { checkAndStore: async (key) => (seen.has(replayKeyString(key)) ? false : (seen.add(replayKeyString(key)), true)) };
    await checkReplay(store, k('y'), 0, 'sig_replay');
    await expect(async () => checkReplay(store, k('y'), 0, 'sig_replay')).rejects.toMatchObject({ code: 'sig_replay', status: 400 });
  });
});

describe('ReplayKey partition', () => {
  it('keeps the same id apart across workloads and kinds', () => {
    const store = new MemoryReplayStore({ now: () => 0 });
    expect(store.checkAndStore(k('n1', 'spiffe://example.org/a'), 60_000)).toBe(true);
    expect(store.checkAndStore(k('n1', 'spiffe://example.org/b'), 60_000)).toBe(true);
    expect(store.checkAndStore({ workload: 'spiffe://example.org/a', kind: 'sig', id: 'n1' }, 60_000)).toBe(true);
    expect(store.checkAndStore(k('n1', 'spiffe://example.org/a'), 60_000)).toBe(false);
  });

  it('passes a store refusal through with its own code and Retry-After', () => {
    const full: ReplayStore = {
      checkAndStore: () => {
        throw new WimseError('replay_quota_exceeded', 'quota', { retryAfter: 2.5 });
      },
    };
    expect(() => checkReplay(full, k('x'), 0, 'wpt_replay')).toThrow(expect.objectContaining({ code: 'replay_quota_exceeded', status: 429, headers: { 'retry-after': '3' } }));
  });
});
