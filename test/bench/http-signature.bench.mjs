// HTTP Message Signatures benchmark (issue 3): the WIMSE profile's signing and verification rates
// through the public API of the built core, ES256, measured in one run like the core bench.
import { exportJWK, generateKeyPair } from 'jose';
import { createVerifier, createWorkloadSigner, issueWit } from '@wimse/core';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
const AUD = 'https://api.example.org';
const BODY = new TextEncoder().encode('{"flavor":"vanilla","amount":1}');

/** Runs `fn` repeatedly for about SECONDS (or `budget` times); returns operations per second. */
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
  return { issuerJwk, signer: await createWorkloadSigner({ wit, privateKey: workload.privateKey }) };
}

export default async function run() {
  const { issuerJwk, signer } = await setup();
  const budget = 40_000;
  const get = { method: 'GET', url: `${AUD}/orders?id=7` };
  const post = { method: 'POST', url: `${AUD}/orders`, headers: { 'content-type': 'application/json' }, body: BODY };

  const signGet = await rate(() => signer.httpSigHeaders(get), budget);
  const signPost = await rate(() => signer.httpSigHeaders(post), budget);

  // Pre-sign every request (unique nonces): verification is what the next two lines measure.
  const requests = (o, n) => Promise.all(Array.from({ length: n }, async () => ({
    method: o.method,
    path: new URL(o.url).pathname + new URL(o.url).search,
    headers: { ...o.headers, ...(await signer.httpSigHeaders(o)) },
    ...(o.body === undefined ? {} : { body: o.body }),
  })));
  const verifier = () => createVerifier({ trustDomains: { 'example.org': { keys: { keys: [issuerJwk] } } }, audience: AUD, proofs: ['http-sig'] });
  const phase = async (o) => {
    const list = await requests(o, budget + 200);
    const v = verifier();
    return rate((i) => v.verify(list[i]), budget);
  };
  const verifyGet = await phase(get);
  const verifyPost = await phase(post);

  const fmt = (n) => `${Math.round(n).toLocaleString('en-US')}/s`.padStart(12);
  console.log('http-signature (http-signature-07, ES256, sequential, one process, warm WIT cache)');
  console.log(`  sign GET (no body)                    ${fmt(signGet)}`);
  console.log(`  sign POST + Content-Digest            ${fmt(signPost)}`);
  console.log(`  verify GET (no body)                  ${fmt(verifyGet)}`);
  console.log(`  verify POST + Content-Digest          ${fmt(verifyPost)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
