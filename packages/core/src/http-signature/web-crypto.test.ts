/**
 * Without node:crypto (Workers, Deno, Bun without the Node seam) the whole profile runs on Web
 * Crypto: the draft examples still verify, and a signed POST round-trips through createVerifier.
 */
import { describe, expect, it, vi } from 'vitest';

vi.mock('../node-crypto.js', () => ({ nodeCrypto: () => undefined, nodeSignatures: () => undefined }));

const { vector, parseRawRequest } = await import('../test-support/vectors.js');
const { unverifiedWit } = await import('../test-support/http-sig.js');
const { AUDIENCE, NOW, createIssuer, createWorkload, verifierFor } = await import('@wimse/test-support/factory');
const { createWorkloadSigner } = await import('../signer.js');
const { MemoryReplayStore } = await import('../memory-replay-store.js');
const { verifyRequestSignature } = await import('./request.js');
const { findWimseSignature } = await import('./signature-params.js');

describe('Web Crypto only', () => {
  it.each(['httpsig-07-svca-to-svcb-ed25519', 'httpsig-07-svcb-to-svcc-es256'])('%s request verifies', async (id) => {
    const v = vector(id);
    const r = parseRawRequest(v.request.raw);
    const request = {
      method: r.method,
      path: r.path,
      headers: r.headers,
      ...(r.body === '' ? {} : { body: new TextEncoder().encode(r.body) }),
    };
    const wit = await unverifiedWit(r.headers['workload-identity-token']![0]!);
    expect(wit.proofKey.nodeKey).toBeUndefined();
    const policy = {
      audience: { bases: [`https://${r.headers.host![0]}`], values: [] },
      clockTolerance: 0,
      maxLifetime: 600,
      contextTokenHeaders: [],
      replayStore: new MemoryReplayStore(),
      compat06: false,
      now: () => v.clock.suggested_verify_at * 1000,
    };
    await expect(verifyRequestSignature(request, findWimseSignature(request.headers)!, wit, policy)).resolves.toMatchObject({
      signature: { nonce: expect.any(String) },
    });
  });

  it('a signed POST round-trips, and a tampered one fails', async () => {
    const issuer = await createIssuer();
    const w = await createWorkload(issuer);
    const signer = await createWorkloadSigner({ wit: w.wit, privateKey: w.privateKey });
    const body = '{"a":1}';
    const headers = await signer.httpSigHeaders({ method: 'POST', url: `${AUDIENCE}/orders`, body, now: NOW });
    const request = { method: 'POST', path: '/orders', headers, body: new TextEncoder().encode(body) };
    await expect(verifierFor(issuer).verify(request)).resolves.toMatchObject({ method: 'http-sig' });
    await expect(verifierFor(issuer).verify({ ...request, method: 'PUT' })).rejects.toMatchObject({ code: 'sig_invalid' });
  });
});
