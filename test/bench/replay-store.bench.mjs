// The default replay store (issue 9): heap bytes per live entry and checks per second.
// Bytes need `--expose-gc` (the `pnpm bench` script passes it); without it only checks/s are printed.
import { MemoryReplayStore } from '@wimse/core';
import { allocatedPerCall, fmt, rate } from './harness.mjs';

const ENTRIES = Number(process.env.BENCH_REPLAY_ENTRIES ?? 1_000_000);
const HEAP_GOAL = 128 * 1024 * 1024;
// jtis and nonces as the signer makes them: base64url of 16 random bytes (22 characters), as one
// flat string (what JSON.parse gives the verifier for a WPT jti).
const randomId = () => Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url');
// A structured-field parser builds a nonce one character at a time.
const pieceByPiece = (id) => {
  let s = '';
  for (const c of id) s += c;
  return s;
};
const ids = (n) => Array.from({ length: n }, randomId);
const WORKLOADS = Array.from({ length: 16 }, (_, i) => `spiffe://example.org/ns/bench/sa/workload-${i}`);

export default async function run() {
  const now = 1_700_000_000_000;
  let bytes;
  if (typeof globalThis.gc === 'function') {
    // ENTRIES live entries over 16 workloads and 600 expiry seconds, half of them built piece by
    // piece; each id is made here and held only by the store, so the heap growth counts the ids too.
    globalThis.gc();
    const before = process.memoryUsage().heapUsed;
    const store = new MemoryReplayStore({ maxEntries: ENTRIES, maxEntriesPerWorkload: ENTRIES, now: () => now });
    for (let i = 0; i < ENTRIES; i++) {
      const id = i & 1 ? randomId() : pieceByPiece(randomId());
      store.checkAndStore({ workload: WORKLOADS[i & 15], kind: i & 1 ? 'wpt' : 'sig', id }, now + 1000 + (i % 600) * 1000);
    }
    globalThis.gc();
    bytes = (process.memoryUsage().heapUsed - before) / store.size;
    if (store.size !== ENTRIES) throw new Error('store refused during the memory run');
  }

  // Checks/s: fresh ids on a store with room, as on the verifier's hot path; time moves on, so the
  // wheel reclaims as it goes.
  const keys = ids(200_000);
  let clock = now;
  const store = new MemoryReplayStore({ now: () => clock });
  const checks = await rate((i) => {
    if (i % keys.length === 0) clock += 61_000; // every key has expired: ids can be reused
    if (!store.checkAndStore({ workload: WORKLOADS[i & 15], kind: 'sig', id: keys[i % keys.length] }, clock + 60_000))
      throw new Error('fresh id seen');
  }, 2_000_000);
  // The hit path (issue 12: allocation-free): checks of ids the store holds, all refused as replays.
  const held = keys.slice(0, 1000);
  const heldUntil = clock + 60_000;
  for (const id of held) store.checkAndStore({ workload: WORKLOADS[0], kind: 'wpt', id }, heldUntil);
  const replayKeys = held.map((id) => ({ workload: WORKLOADS[0], kind: 'wpt', id }));
  const replayed = (i) => {
    if (store.checkAndStore(replayKeys[i % replayKeys.length], heldUntil)) throw new Error('a held id was accepted');
  };
  for (let i = 0; i < 5000; i++) replayed(i); // optimised before it is measured
  const hitBytes = allocatedPerCall(replayed, 1000);
  console.log('replay store (MemoryReplayStore, 22-character ids, 16 workloads)');
  if (bytes === undefined) console.log('  heap per live entry                   (run node with --expose-gc)');
  else {
    console.log(`  heap per live entry (id included)     ${`${bytes.toFixed(1)} B`.padStart(12)}`);
    console.log(
      `  1,000,000 live entries                ${`${((bytes * 1e6) / 1024 / 1024).toFixed(1)} MB`.padStart(12)}   (goal <= ${HEAP_GOAL / 1024 / 1024} MB)`,
    );
  }
  console.log(`  checkAndStore, fresh ids              ${fmt(checks)}`);
  if (hitBytes !== undefined)
    console.log(`  allocated per check of a replayed id  ${`${hitBytes.toFixed(0)} B`.padStart(12)}   (goal: none)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
