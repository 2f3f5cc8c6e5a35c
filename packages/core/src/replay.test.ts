import { describe, expect, it } from 'vitest';
import { WimseError } from './errors.js';
import { MemoryReplayStore } from './memory-replay-store.js';
import { checkReplay, replayKeyString, type ReplayKey, type ReplayStore } from './replay.js';

const k = (id: string, workload = 'spiffe://example.org/a'): ReplayKey => ({ workload, kind: 'wpt', id });

describe('checkReplay', () => {
  it('maps a store that throws synchronously to 503', () => {
    const broken: ReplayStore = {
      checkAndStore: () => {
        throw new Error('down');
      },
    };
    expect(() => checkReplay(broken, k('x'), 0, 'wpt_replay')).toThrow(
      expect.objectContaining({ code: 'replay_unavailable', status: 503 }),
    );
  });

  it('throws the replay code for a seen key', async () => {
    const store = new MemoryReplayStore();
    expect(checkReplay(store, k('x'), Date.now() + 1000, 'wpt_replay')).toBeUndefined();
    // A synchronous store answers synchronously.
    expect(() => checkReplay(store, k('x'), Date.now() + 1000, 'wpt_replay')).toThrow(
      expect.objectContaining({ code: 'wpt_replay', status: 401 }),
    );
  });

  it('maps a failing shared store to 503, never to acceptance', async () => {
    const broken: ReplayStore = { checkAndStore: () => Promise.reject(new Error('connection refused')) };
    const e = await (async () => checkReplay(broken, k('x'), 0, 'sig_replay'))().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(WimseError);
    expect(e).toMatchObject({ code: 'replay_unavailable', status: 503 });
  });

  it('works with an async store', async () => {
    const seen = new Set<string>();
    const store: ReplayStore = {
      checkAndStore: async (key) => (seen.has(replayKeyString(key)) ? false : (seen.add(replayKeyString(key)), true)),
    };
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
    expect(() => checkReplay(full, k('x'), 0, 'wpt_replay')).toThrow(
      expect.objectContaining({ code: 'replay_quota_exceeded', status: 429, headers: { 'retry-after': '3' } }),
    );
  });
});
