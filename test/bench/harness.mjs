// Shared by the benchmarks: the timing loop, one ES256 trust domain with one workload, and formatting.
import { getHeapSpaceStatistics } from 'node:v8';
import { exportJWK, generateKeyPair } from 'jose';
import { createWorkloadSigner, issueWit } from '@wimse/core';

export const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
export const AUD = 'https://api.example.org';

/** Runs `fn` (sync or async) repeatedly for about SECONDS, at most `budget` times; returns operations per second. */
export async function rate(fn, budget) {
  for (let i = 0; i < 200; i++) await fn(i); // warm-up
  const start = process.hrtime.bigint();
  let n = 0;
  const deadline = start + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < deadline && n < budget) await fn(200 + n++);
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

/** An issuer (its public JWK) and a signer for spiffe://example.org/client, all ES256. */
export async function setup() {
  const issuer = await generateKeyPair('ES256');
  const issuerJwk = { ...(await exportJWK(issuer.publicKey)), kid: 'k1' };
  const workload = await generateKeyPair('ES256', { extractable: true });
  const cnfJwk = { ...(await exportJWK(workload.publicKey)), alg: 'ES256' };
  const wit = await issueWit({ sub: 'spiffe://example.org/client', cnfJwk, issuerKey: issuer.privateKey, alg: 'ES256', kid: 'k1' });
  return { issuerJwk, cnfJwk, signer: await createWorkloadSigner({ wit, privateKey: workload.privateKey }) };
}

export const fmt = (n) => `${Math.round(n).toLocaleString('en-US')}/s`.padStart(12);

const newSpaceUsed = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_used_size;

/**
 * Bytes a synchronous `fn` allocates per call: growth of V8's new space over `n` calls right after
 * a full GC (too few calls to fill it, so no scavenge runs in between). Needs `--expose-gc`;
 * `undefined` without it.
 */
export function allocatedPerCall(fn, n) {
  if (typeof globalThis.gc !== 'function') return undefined;
  globalThis.gc();
  const before = newSpaceUsed();
  for (let i = 0; i < n; i++) fn(i);
  return (newSpaceUsed() - before) / n;
}
