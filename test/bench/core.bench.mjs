// Core micro-benchmark (issue 2): raw node:crypto ES256 verify vs. the verifier on WIT+WPT
// requests with a cold and a warm WIT cache. Measured in one run, printed side by side.
import { createVerify, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import { createVerifier, createWorkloadSigner, issueWit } from '@wimse/core';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const AUD = 'https://api.example.org';

/** Runs `fn` (sync or async) repeatedly for about SECONDS; returns operations per second. */
async function rate(fn, budget) {
  for (let i = 0; i < 200; i++) await fn(i); // warm-up
  const start = process.hrtime.bigint();
  let n = 0;
  const deadline = start + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < deadline && n < budget) await fn(200 + n++);
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function setup() {
  const issuer = await generateKeyPair('ES256');
  const issuerJwk = { ...(await exportJWK(issuer.publicKey)), kid: 'k1' };
  const workload = await generateKeyPair('ES256', { extractable: true });
  const cnfJwk = { ...(await exportJWK(workload.publicKey)), alg: 'ES256' };
  const wit = await issueWit({ sub: 'spiffe://example.org/client', cnfJwk, issuerKey: issuer.privateKey, alg: 'ES256', kid: 'k1' });
  const signer = await createWorkloadSigner({ wit, privateKey: workload.privateKey });
  return { issuerJwk, workload, cnfJwk, signer };
}

export default async function run() {
  const { issuerJwk, cnfJwk, signer } = await setup();
  const budget = 60_000;
  // Pre-sign every request: signing is the caller's cost, not what we measure.
  const requests = [];
  for (let i = 0; i < budget + 400; i++) requests.push({ method: 'GET', path: '/orders', headers: await signer.wptHeaders({ url: `${AUD}/orders` }) });

  // Raw node:crypto: one ES256 verification of a WPT signing input with a cached KeyObject.
  const key = createPublicKey({ key: cnfJwk, format: 'jwk' });
  const samples = requests.slice(0, 1000).map((r) => {
    const wpt = r.headers.authorization.slice(4);
    const dot = wpt.lastIndexOf('.');
    return { data: Buffer.from(wpt.slice(0, dot)), sig: Buffer.from(wpt.slice(dot + 1), 'base64url') };
  });
  const raw = await rate((i) => {
    const s = samples[i % samples.length];
    if (!nodeVerify('sha256', s.data, { key, dsaEncoding: 'ieee-p1363' }, s.sig)) throw new Error('raw verify failed');
  }, budget);

  const verifierWith = (ttlSeconds) =>
    createVerifier({ trustDomains: { 'example.org': { keys: { keys: [issuerJwk] } } }, audience: AUD, witCache: { ttlSeconds } });
  let next = 0;
  const phase = (verifier) => rate(async () => {
    await verifier.verify(requests[next++ % requests.length]);
  }, budget);
  next = 0;
  const cold = await phase(verifierWith(0));
  next = 0;
  const warm = await phase(verifierWith(300));

  const fmt = (n) => `${Math.round(n).toLocaleString('en-US')}/s`.padStart(12);
  console.log('core (ES256, sequential, one process)');
  console.log(`  raw node:crypto ES256 verify          ${fmt(raw)}`);
  console.log(`  verifier, WIT+WPT, cold WIT cache     ${fmt(cold)}`);
  console.log(`  verifier, WIT+WPT, warm WIT cache     ${fmt(warm)}`);
  console.log(`  ratio warm / raw                      ${(warm / raw).toFixed(2).padStart(12)}   (goal >= 0.80)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
