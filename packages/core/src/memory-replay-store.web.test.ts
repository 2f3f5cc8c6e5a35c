// Without node:crypto (Web-standard runtimes) long ids are kept as they are: still told apart.
import { describe, expect, it, vi } from 'vitest';

vi.mock('./node-crypto.js', () => ({ nodeCrypto: () => undefined, nodeSignatures: () => undefined }));

const { MemoryReplayStore } = await import('./memory-replay-store.js');

describe('long ids without node:crypto', () => {
  it('256-character ids are remembered and told apart by their last character', () => {
    const store = new MemoryReplayStore({ now: () => 0 });
    const key = (id: string) => ({ workload: 'spiffe://example.org/a', kind: 'sig' as const, id });
    const long = 'z'.repeat(255);
    expect(store.checkAndStore(key(`${long}a`), 60_000)).toBe(true);
    expect(store.checkAndStore(key(`${long}b`), 60_000)).toBe(true);
    expect(store.checkAndStore(key(`${long}a`), 60_000)).toBe(false);
  });
});
