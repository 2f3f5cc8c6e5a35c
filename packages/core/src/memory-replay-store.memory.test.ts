// Issue 9: one million live entries fit in 128 MB of heap. Not timed: it counts bytes after a full GC.
import { randomBytes } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { MemoryReplayStore } from './memory-replay-store.js';

// A full collection on demand without starting node with --expose-gc: the flag applies to
// contexts created after it is set, and that context's gc() collects the whole heap.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const ENTRIES = 1_000_000;
const LIMIT = 128 * 1024 * 1024;

describe('memory', () => {
  it('holds 1,000,000 live entries in at most 128 MB of heap, ids included', () => {
    const now = 1_700_000_000_000;
    const workloads = Array.from({ length: 16 }, (_, i) => `spiffe://example.org/ns/prod/sa/workload-${i}`);
    // 16 random bytes per id in base64url (22 characters), as the signer makes jtis and nonces.
    const pool = randomBytes(16 * 4096);
    gc();
    const before = process.memoryUsage().heapUsed;
    const store = new MemoryReplayStore({ maxEntries: ENTRIES, maxEntriesPerWorkload: ENTRIES, now: () => now });
    for (let i = 0; i < ENTRIES; i++) {
      const flat = pool.toString('base64url', (i & 4095) * 16, (i & 4095) * 16 + 16) + (i >>> 12).toString(36);
      // Half the ids built piece by piece, as a structured-field parser builds a signature nonce.
      let id = flat;
      if (i & 1) {
        id = '';
        for (let c = 0; c < flat.length; c++) id += flat[c];
      }
      store.checkAndStore({ workload: workloads[i & 15]!, kind: i & 1 ? 'sig' : 'wpt', id }, now + 1000 + (i % 600) * 1000);
    }
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    expect(store.size).toBe(ENTRIES);
    expect(grown).toBeLessThanOrEqual(LIMIT);
  });
});
