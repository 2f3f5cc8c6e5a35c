// Core micro-benchmark (issues 2, 12): raw node:crypto ES256 verify vs. the verifier on WIT+WPT
// requests with a warm WIT cache (ideal: one verify) and a cold one (ideal: two verifies — WIT and
// WPT — and one import of cnf.jwk). Measured in one run, printed side by side, through the public
// `verify()` (always a promise) and through what the adapters call (`createWimseHandler().handle`,
// answered in the same tick when nothing had to wait).
import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { createVerifier } from '@wimse/core';
import { createWimseHandler } from '@wimse/core/adapter';
import { AUD, fmt, rate, setup } from './harness.mjs';

export default async function run() {
  const { issuerJwk, cnfJwk, signer } = await setup();
  const budget = 60_000;
  // Pre-sign every request: signing is the caller's cost, not what we measure.
  const requests = [];
  for (let i = 0; i < budget + 400; i++)
    requests.push({ method: 'GET', path: '/orders', headers: await signer.wptHeaders({ url: `${AUD}/orders` }) });

  // Raw node:crypto: one ES256 verification of a WPT signing input with a cached KeyObject.
  const key = createPublicKey({ key: cnfJwk, format: 'jwk' });
  const samples = requests.slice(0, 1000).map((r) => {
    const wpt = r.headers.authorization.slice(4);
    const dot = wpt.lastIndexOf('.');
    return { data: Buffer.from(wpt.slice(0, dot)), sig: Buffer.from(wpt.slice(dot + 1), 'base64url') };
  });
  const rawRate = () =>
    rate((i) => {
      const s = samples[i % samples.length];
      if (!nodeVerify('sha256', s.data, { key, dsaEncoding: 'ieee-p1363' }, s.sig)) throw new Error('raw verify failed');
    }, budget);

  // Raw node:crypto import of a public JWK (the cold path imports cnf.jwk once).
  const rawImport = () => rate(() => createPublicKey({ key: cnfJwk, format: 'jwk' }), budget);

  const optionsWith = (ttlSeconds) => ({
    trustDomains: { 'example.org': { keys: { keys: [issuerJwk] } } },
    audience: AUD,
    witCache: { ttlSeconds },
  });
  // Each phase gets a fresh verifier (and replay store), so the pre-signed requests can be reused.
  const phase = (ttlSeconds) => {
    const verifier = createVerifier(optionsWith(ttlSeconds));
    return rate((i) => verifier.verify(requests[i % requests.length]), budget);
  };
  const handlerPhase = (ttlSeconds) => {
    const handler = createWimseHandler(optionsWith(ttlSeconds));
    const ok = (outcome) => {
      if (!outcome.ok) throw new Error(`handler refused: ${outcome.error.code}`);
    };
    return rate((i) => {
      const outcome = handler.handle(requests[i % requests.length]);
      return outcome instanceof Promise ? outcome.then(ok) : ok(outcome);
    }, budget);
  };
  // Raw, import, cold and warm alternate over five rounds; each ratio is the median of its
  // per-round values, so a burst of load from elsewhere on the machine skews one round only.
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    const m = {
      raw: await rawRate(),
      imp: await rawImport(),
      cold: await phase(0),
      warm: await phase(300),
      hCold: await handlerPhase(0),
      hWarm: await handlerPhase(300),
    };
    m.warmRatio = m.warm / m.raw;
    m.coldRatio = m.cold * (2 / m.raw + 1 / m.imp);
    m.hWarmRatio = m.hWarm / m.raw;
    m.hColdRatio = m.hCold * (2 / m.raw + 1 / m.imp);
    rounds.push(m);
  }
  const median = (k) => rounds.map((m) => m[k]).sort((a, b) => a - b)[2];
  console.log('core (ES256, sequential, one process, medians of 5 alternating rounds)');
  console.log(`  raw node:crypto ES256 verify          ${fmt(median('raw'))}`);
  console.log(`  raw node:crypto JWK import            ${fmt(median('imp'))}`);
  console.log(`  verifier, WIT+WPT, cold WIT cache     ${fmt(median('cold'))}`);
  console.log(`  verifier, WIT+WPT, warm WIT cache     ${fmt(median('warm'))}`);
  console.log(`  adapter handle(), cold WIT cache      ${fmt(median('hCold'))}`);
  console.log(`  adapter handle(), warm WIT cache      ${fmt(median('hWarm'))}`);
  console.log(`  ratio warm / raw, verify()            ${median('warmRatio').toFixed(2).padStart(12)}`);
  console.log(`  ratio cold / (2 verifies + 1 import)  ${median('coldRatio').toFixed(2).padStart(12)}`);
  console.log(`  ratio warm / raw, handle()            ${median('hWarmRatio').toFixed(2).padStart(12)}   (goal >= 0.90)`);
  console.log(`  ratio cold / (2 + 1), handle()        ${median('hColdRatio').toFixed(2).padStart(12)}   (goal >= 0.70)`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
