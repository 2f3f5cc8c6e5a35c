// Core micro-benchmark (issue 2): raw node:crypto ES256 verify vs. the verifier on WIT+WPT
// requests with a cold and a warm WIT cache. Measured in one run, printed side by side.
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { createVerifier } from '@wimse/core';
import { AUD, fmt, rate, setup } from './harness.mjs';

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
  const rawRate = () => rate((i) => {
    const s = samples[i % samples.length];
    if (!nodeVerify('sha256', s.data, { key, dsaEncoding: 'ieee-p1363' }, s.sig)) throw new Error('raw verify failed');
  }, budget);

  const verifierWith = (ttlSeconds) =>
    createVerifier({ trustDomains: { 'example.org': { keys: { keys: [issuerJwk] } } }, audience: AUD, witCache: { ttlSeconds } });
  // Each phase gets a fresh verifier (and replay store), so the pre-signed requests can be reused.
  const phase = (verifier) => rate((i) => verifier.verify(requests[i % requests.length]), budget);
  const cold = await phase(verifierWith(0));
  // Raw and warm alternate over five rounds and the median round is reported, so a burst of
  // load from elsewhere on the machine skews one round rather than the ratio.
  const rounds = [];
  for (let r = 0; r < 5; r++) rounds.push({ raw: await rawRate(), warm: await phase(verifierWith(300)) });
  rounds.sort((a, b) => a.warm / a.raw - b.warm / b.raw);
  const { raw, warm } = rounds[2];
  console.log('core (ES256, sequential, one process, median of 5 alternating rounds)');
  console.log(`  raw node:crypto ES256 verify          ${fmt(raw)}`);
  console.log(`  verifier, WIT+WPT, cold WIT cache     ${fmt(cold)}`);
  console.log(`  verifier, WIT+WPT, warm WIT cache     ${fmt(warm)}`);
  console.log(`  ratio warm / raw                      ${(warm / raw).toFixed(2).padStart(12)}   (goal >= 0.80)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
