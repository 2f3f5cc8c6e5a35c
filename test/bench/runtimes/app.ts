/**
 * The fetch handler runtimes.bench.mjs runs on Node, Bun, Deno and workerd: `GET /?kind=<kind>&n=N`
 * verifies one ES256 WPT N times and answers when done (timed from outside: workerd's clock stands
 * still while a request computes).
 */
import { decodeProtectedHeader, exportJWK, generateKeyPair, importJWK, type CryptoKey } from 'jose';
import { createVerifier, createWorkloadSigner, issueWit } from '@wimse/core';
// The per-request hot spot itself (not exported): the same proof key with and without its Node form.
import { importProofKey } from '../../../packages/core/src/proof-key.js';
import { verifyProofJws } from '../../../packages/core/src/proof-jws.js';

const AUD = 'https://api.example.org';
type Op = () => Promise<unknown>;
let prepared: Promise<Record<string, Op>> | undefined;

async function prepare(): Promise<Record<string, Op>> {
  const issuer = await generateKeyPair('ES256');
  const issuerJwk = { ...(await exportJWK(issuer.publicKey)), kid: 'k1' };
  const workload = await generateKeyPair('ES256', { extractable: true });
  const cnfJwk = { ...(await exportJWK(workload.publicKey)), alg: 'ES256' };
  const wit = await issueWit({ sub: 'spiffe://example.org/client', cnfJwk, issuerKey: issuer.privateKey, alg: 'ES256', kid: 'k1' });
  const signer = await createWorkloadSigner({ wit, privateKey: workload.privateKey });
  const headers = await signer.wptHeaders({ url: `${AUD}/orders` });
  const request = { method: 'GET', path: '/orders', headers };
  // The same WPT every time: a store that keeps nothing leaves replay bookkeeping out of the measure.
  const verifier = createVerifier({
    trustDomains: { 'example.org': { keys: { keys: [issuerJwk] } } },
    audience: AUD,
    replayStore: { checkAndStore: () => true },
  });
  const wpt = headers.authorization!.slice('WPT '.length);
  const header = decodeProtectedHeader(wpt) as Record<string, unknown>;
  const key = await importProofKey(cnfJwk, 'ES256');
  // On Node the proof key has a `KeyObject` only (proof-key.ts): the Web Crypto form is imported here.
  const webKey = { jwk: key.jwk, alg: key.alg, key: (await importJWK(cnfJwk, 'ES256')) as CryptoKey };
  return {
    // The core verifier, WIT cached: every WPT check, on the signature path core picks here.
    verifier: () => verifier.verify(request),
    // The proof signature on the path core picks here (node:crypto where node-crypto.ts allows it).
    proof: () => verifyProofJws(wpt, key, header),
    // The proof signature on Web Crypto (jose), the path without node:crypto.
    web: () => verifyProofJws(wpt, webKey, header),
  };
}

export default {
  async fetch(request: Request): Promise<Response> {
    const params = new URL(request.url).searchParams;
    const op = (await (prepared ??= prepare()))[params.get('kind') ?? ''];
    if (op === undefined) return new Response('unknown kind', { status: 400 });
    for (let i = Number(params.get('n') ?? 0); i > 0; i--) await op();
    return new Response('ok');
  },
};
