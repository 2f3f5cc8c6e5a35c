// HTTP Message Signatures benchmark (issue 3): the WIMSE profile's signing and verification rates
// through the public API of the built core, ES256, measured in one run like the core bench.
import { createVerifier } from '@wimse/core';
import { AUD, fmt, rate, setup } from './harness.mjs';

const BODY = new TextEncoder().encode('{"flavor":"vanilla","amount":1}');

export default async function run() {
  const { issuerJwk, signer } = await setup();
  const budget = 40_000;
  const get = { method: 'GET', url: `${AUD}/orders?id=7` };
  const post = { method: 'POST', url: `${AUD}/orders`, headers: { 'content-type': 'application/json' }, body: BODY };

  const signGet = await rate(() => signer.httpSigHeaders(get), budget);
  const signPost = await rate(() => signer.httpSigHeaders(post), budget);

  // Pre-sign every request (unique nonces): verification is what the next two lines measure.
  const requests = (o, n) =>
    Promise.all(
      Array.from({ length: n }, async () => ({
        method: o.method,
        path: new URL(o.url).pathname + new URL(o.url).search,
        headers: { ...o.headers, ...(await signer.httpSigHeaders(o)) },
        ...(o.body === undefined ? {} : { body: o.body }),
      })),
    );
  const verifier = () =>
    createVerifier({ trustDomains: { 'example.org': { keys: { keys: [issuerJwk] } } }, audience: AUD, proofs: ['http-sig'] });
  const phase = async (o) => {
    const list = await requests(o, budget + 200);
    const v = verifier();
    return rate((i) => v.verify(list[i]), budget);
  };
  const verifyGet = await phase(get);
  const verifyPost = await phase(post);
  console.log('http-signature (http-signature-07, ES256, sequential, one process, warm WIT cache)');
  console.log(`  sign GET (no body)                    ${fmt(signGet)}`);
  console.log(`  sign POST + Content-Digest            ${fmt(signPost)}`);
  console.log(`  verify GET (no body)                  ${fmt(verifyGet)}`);
  console.log(`  verify POST + Content-Digest          ${fmt(verifyPost)}`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
