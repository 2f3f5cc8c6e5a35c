/**
 * A service signs its responses (http-signature-07 §3.5) with credentials from the same sources
 * its outbound client uses — static, an identity server (`wimseFetch.signer`, shared with the
 * client: one WIT for both directions) and SPIFFE helper files (`fileWitSigner`, rotated in place) —
 * given to the one adapter core every adapter is built on (`createWimseHandler`).
 */
import { KeyObject } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bundle, createCa, issueCert } from '@wimse/test-support/certs';
import { AUDIENCE, TRUST_DOMAIN, createIssuer, createWorkload, type Issuer, type Workload } from '@wimse/test-support/factory';
import { createWimseHandler } from './adapter.js';
import { createWimseFetch, type PublicProofJwk } from './client.js';
import { createResponseVerifier } from './http-signature/index.js';
import { fileWitSigner, watchCredentialFiles } from './mtls/credential-files.js';
import type { ResponseSignerSource } from './response-signing.js';
import { createWorkloadSigner, type WorkloadSigner } from './signer.js';
import { issueWit } from './wit.js';

const SERVICE = `spiffe://${TRUST_DOMAIN}/orders`;
const trust = (issuer: Issuer) => ({ trustDomains: { [TRUST_DOMAIN]: { keys: { keys: [issuer.publicJwk] } } } });

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

/**
 * A client's signed request asking for a signed response, through the adapter core configured with
 * `responseSigner`; the response it signs, checked by the client's response verifier. Resolves to
 * the WIT the response carries and the workload the verifier names.
 */
async function signedAnswer(issuer: Issuer, responseSigner: ResponseSignerSource) {
  const handler = createWimseHandler({ ...trust(issuer), audience: AUDIENCE, responseSigner });
  const w = await createWorkload(issuer, { now: Date.now() });
  const client = await createWorkloadSigner({ wit: w.wit, privateKey: w.privateKey });
  const url = `${AUDIENCE}/orders?id=7`;
  const headers = await client.httpSigHeaders({ method: 'GET', url, signResponse: true });
  const outcome = await handler.handle({ method: 'GET', path: '/orders?id=7', headers });
  expect(outcome.ok).toBe(true);
  const body = new TextEncoder().encode('{"id":7}');
  const added = await outcome.responseSignature!.sign({ status: 200, headers: { 'content-type': 'application/json' }, body });
  const verified = await createResponseVerifier(trust(issuer)).verify(
    { method: 'GET', url, headers },
    { status: 200, headers: { 'content-type': 'application/json', ...added }, body },
    { responder: SERVICE },
  );
  return { wit: added['workload-identity-token'], workload: verified?.workload };
}

async function serviceSigner(issuer: Issuer): Promise<{ workload: Workload; signer: WorkloadSigner }> {
  const workload = await createWorkload(issuer, { now: Date.now(), sub: SERVICE });
  return { workload, signer: await createWorkloadSigner({ wit: workload.wit, privateKey: workload.privateKey }) };
}

describe('responseSigner: the sources the outbound client uses', () => {
  it('a static WorkloadSigner', async () => {
    const issuer = await createIssuer();
    const { signer } = await serviceSigner(issuer);
    expect(await signedAnswer(issuer, signer)).toEqual({ wit: signer.wit, workload: SERVICE });
  });

  it('an identity server, shared with the outbound client (wimseFetch.signer): one WIT for both directions, obtained once', async () => {
    const issuer = await createIssuer();
    const issued: string[] = [];
    // Stands for identityServerWitSource: a WIT for the key the client generated.
    const witSource = async (jwk: PublicProofJwk) => {
      const wit = await issueWit({ sub: SERVICE, cnfJwk: { ...jwk }, issuerKey: issuer.privateKey, alg: issuer.alg, kid: issuer.kid });
      issued.push(wit);
      return wit;
    };
    const sent: string[] = [];
    const wimseFetch = createWimseFetch({
      witSource,
      fetch: (async (_input: RequestInfo | URL, init?: RequestInit) => {
        sent.push(new Headers(init?.headers).get('workload-identity-token')!);
        return new Response('{}');
      }) as typeof fetch,
    });
    await wimseFetch('https://billing.example.org/charge');
    const answer = await signedAnswer(issuer, wimseFetch.signer);
    expect(answer).toEqual({ wit: sent[0], workload: SERVICE });
    expect(issued).toEqual([sent[0]]);
    // Renewed for the client, the responses follow: still one WIT, the new one.
    await wimseFetch.renew();
    expect((await signedAnswer(issuer, wimseFetch.signer)).wit).toBe(issued[1]);
    expect(issued).toHaveLength(2);
  });

  it('SPIFFE helper files (fileWitSigner): the WIT on disk, and the rotated one once its key has arrived', async () => {
    const issuer = await createIssuer();
    const dir = await mkdtemp(join(tmpdir(), 'wimse-response-signer-'));
    dirs.push(dir);
    const ca = await createCa('ca');
    const svid = await issueCert(ca, { uris: [SERVICE] });
    await writeFile(join(dir, 'svid_key.pem'), svid.keyPem);
    await writeFile(join(dir, 'svid.pem'), svid.chainPem);
    await writeFile(join(dir, 'bundle.pem'), bundle(ca));
    const pem = (w: Workload) => KeyObject.from(w.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
    const first = (await serviceSigner(issuer)).workload;
    await writeFile(join(dir, 'wit.jwt'), first.wit);
    await writeFile(join(dir, 'wit_key.pem'), pem(first));
    const files = await watchCredentialFiles({ dir, files: { wit: 'wit.jwt', witKey: 'wit_key.pem' } });
    try {
      const source = fileWitSigner(files);
      expect(await signedAnswer(issuer, source)).toEqual({ wit: first.wit, workload: SERVICE });
      const second = (await serviceSigner(issuer)).workload;
      await writeFile(join(dir, 'wit_key.pem'), pem(second));
      await writeFile(join(dir, 'wit.jwt'), second.wit);
      await files.reload();
      expect(await signedAnswer(issuer, source)).toEqual({ wit: second.wit, workload: SERVICE });
    } finally {
      files.close();
    }
  });
});
