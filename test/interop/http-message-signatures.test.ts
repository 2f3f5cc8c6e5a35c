/**
 * Interop with an independent RFC 9421 engine, the npm package `http-message-signatures`:
 * it verifies the WIMSE signatures we produce (requests and responses), and we verify the ones it
 * produces with WIMSE parameters. Its key callbacks use node:crypto, so nothing of ours is on
 * its side. It reads the real clock, so these tests sign with the real clock too.
 */
import { createHash, createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { httpbis, type Request as HmsRequest, type Response as HmsResponse, type SignatureParameters } from 'http-message-signatures';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createResponseVerifier,
  createVerifier,
  createWorkloadSigner,
  issueWit,
  signHttpResponse,
  type WimseAlgorithm,
  type WorkloadSigner,
} from '@wimse/core';

const AUD = 'https://svc.example.org';
const TD = 'example.org';
const TAG = 'wimse-workload-to-workload';
const BODY = '{"flavor":"vanilla","amount":1}';
const REQUEST_FIELDS = ['@method', '@path', '@query', 'workload-identity-token', 'content-type', 'content-digest'];

interface Party {
  sub: string;
  alg: WimseAlgorithm;
  wit: string;
  signer: WorkloadSigner;
  publicKey: KeyObject;
  privateKey: KeyObject;
}

let issuerJwk: JWK;
let issuerKey: CryptoKey;

// node:crypto for the engine's side: JWS alg → sign/verify arguments (ES256 is raw r||s).
const nodeAlg = (alg: WimseAlgorithm) => (alg === 'ES256' ? 'sha256' : null);
const dsa = (alg: WimseAlgorithm) => (alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {});

async function party(sub: string, alg: WimseAlgorithm): Promise<Party> {
  const pair = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(pair.publicKey);
  const wit = await issueWit({ sub, cnfJwk: { ...publicJwk, alg }, issuerKey, alg: 'ES256', kid: 'k1' });
  return {
    sub,
    alg,
    wit,
    signer: await createWorkloadSigner({ wit, privateKey: pair.privateKey }),
    publicKey: createPublicKey({ key: publicJwk as never, format: 'jwk' }),
    privateKey: createPrivateKey({ key: (await exportJWK(pair.privateKey)) as never, format: 'jwk' }),
  };
}

const engineKey = (p: Party) => ({
  sign: async (data: Buffer) => nodeSign(nodeAlg(p.alg), data, { key: p.privateKey, ...dsa(p.alg) }),
});
const engineVerifier = (p: Party) => ({
  verify: async (data: Buffer, signature: Buffer) => nodeVerify(nodeAlg(p.alg), data, { key: p.publicKey, ...dsa(p.alg) }, signature),
});
const digestOf = (body: string) => `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
const verifier = () => createVerifier({ trustDomains: { [TD]: { keys: { keys: [issuerJwk] } } }, audience: AUD });

function wimseParams(aud: string, extra: Record<string, unknown> = {}): SignatureParameters {
  const created = new Date();
  return {
    created,
    expires: new Date(created.getTime() + 60_000),
    nonce: `n-${Math.random().toString(36).slice(2)}`,
    tag: TAG,
    'wimse-aud': aud,
    ...extra,
  } as SignatureParameters;
}

beforeAll(async () => {
  const issuer = await generateKeyPair('ES256');
  issuerKey = issuer.privateKey;
  issuerJwk = { ...(await exportJWK(issuer.publicKey)), kid: 'k1' };
});

describe.each(['ES256', 'EdDSA'] as const)('http-message-signatures ↔ @wimse/core (%s)', (alg) => {
  let client: Party;
  let server: Party;
  beforeAll(async () => {
    client = await party(`spiffe://${TD}/client-${alg.toLowerCase()}`, alg);
    server = await party(`spiffe://${TD}/server-${alg.toLowerCase()}`, alg);
  });

  it('the engine verifies a request we signed (POST, query, body, wimse-sign-response)', async () => {
    const url = `${AUD}/inventory/cones?size=large`;
    const headers = { 'content-type': 'application/json' };
    const added = await client.signer.httpSigHeaders({ method: 'POST', url, headers, body: BODY, signResponse: true });
    expect(added['signature-input']).toMatch(
      /^wimse=\("@method" "@path" "@query" "workload-identity-token" "content-type" "content-digest"\);created=\d+;expires=\d+;nonce="[^"]+";tag="wimse-workload-to-workload";wimse-aud="https:\/\/svc\.example\.org\/inventory\/cones";wimse-sign-response$/,
    );
    expect(added['content-digest']).toBe(digestOf(BODY));
    const message: HmsRequest = { method: 'POST', url, headers: { ...headers, ...added } };
    const ok = await httpbis.verifyMessage(
      {
        keyLookup: async () => engineVerifier(client),
        requiredFields: REQUEST_FIELDS,
        requiredParams: ['created', 'expires', 'nonce', 'tag', 'wimse-aud'],
      },
      message,
    );
    expect(ok).toBe(true);
    // And the engine notices tampering, so the check above can fail.
    const tampered = await httpbis.verifyMessage(
      { keyLookup: async () => engineVerifier(client) },
      { ...message, url: `${AUD}/inventory/cones?size=small` },
    );
    expect(tampered).toBe(false);
  });

  it('we verify a request the engine signed with WIMSE parameters', async () => {
    const url = `${AUD}/inventory/cones?size=large`;
    const request: HmsRequest = {
      method: 'POST',
      url,
      headers: { 'workload-identity-token': client.wit, 'content-type': 'application/json', 'content-digest': digestOf(BODY) },
    };
    const signed = await httpbis.signMessage(
      {
        key: engineKey(client),
        name: 'sig1',
        fields: REQUEST_FIELDS,
        params: ['created', 'expires', 'nonce', 'tag', 'wimse-aud', 'wimse-sign-response'],
        paramValues: wimseParams(`${AUD}/inventory/cones`, { 'wimse-sign-response': true }),
      },
      request,
    );
    const headers = signed.headers as Record<string, string>;
    expect(headers['Signature-Input']).toContain('sig1=("@method" "@path" "@query"');
    const principal = await verifier().verify({
      method: 'POST',
      path: '/inventory/cones?size=large',
      headers: lower(headers),
      body: new TextEncoder().encode(BODY),
    });
    expect(principal).toMatchObject({ workload: client.sub, method: 'http-sig', signature: { signResponse: true, label: 'sig1' } });
  });

  it('we reject an engine-signed request that carries keyid, as the profile demands', async () => {
    const url = `${AUD}/orders`;
    const signed = await httpbis.signMessage(
      {
        key: { ...engineKey(client), id: 'client-key' },
        name: 'sig1',
        fields: ['@method', '@path', '@query', 'workload-identity-token'],
        params: ['created', 'expires', 'nonce', 'tag', 'wimse-aud', 'keyid'],
        paramValues: wimseParams(url),
      },
      { method: 'GET', url, headers: { 'workload-identity-token': client.wit } },
    );
    await expect(
      verifier().verify({ method: 'GET', path: '/orders', headers: lower(signed.headers as Record<string, string>) }),
    ).rejects.toMatchObject({ code: 'sig_params', status: 400 });
  });

  it('the engine verifies a response we signed, bound to the request with ;req components', async () => {
    const url = `${AUD}/orders?id=7`;
    const sentHeaders = await client.signer.httpSigHeaders({ method: 'GET', url, signResponse: true });
    const nonce = /nonce="([^"]+)"/.exec(sentHeaders['signature-input']!)![1]!;
    const added = await signHttpResponse({
      credentials: server.signer,
      request: { method: 'GET', path: '/orders?id=7' },
      requestNonce: nonce,
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: BODY,
    });
    const response: HmsResponse = { status: 200, headers: { 'content-type': 'application/json', ...added } };
    const request: HmsRequest = { method: 'GET', url, headers: sentHeaders };
    expect(await httpbis.verifyMessage({ keyLookup: async () => engineVerifier(server) }, response, request)).toBe(true);
    expect(
      await httpbis.verifyMessage({ keyLookup: async () => engineVerifier(server) }, response, { ...request, url: `${AUD}/orders?id=8` }),
    ).toBe(false);
  });

  it('we verify a response the engine signed with wimse-req-nonce', async () => {
    const url = `${AUD}/orders?id=7`;
    const sentHeaders = await client.signer.httpSigHeaders({ method: 'GET', url, signResponse: true });
    const nonce = /nonce="([^"]+)"/.exec(sentHeaders['signature-input']!)![1]!;
    const response: HmsResponse = {
      status: 404,
      headers: { 'workload-identity-token': server.wit, 'content-type': 'text/plain', 'content-digest': digestOf('No ice cream today.\n') },
    };
    const signed = await httpbis.signMessage(
      {
        key: engineKey(server),
        name: 'sig1',
        fields: ['@status', 'workload-identity-token', 'content-type', 'content-digest', '"@method";req', '"@path";req', '"@query";req'],
        params: ['created', 'expires', 'nonce', 'tag', 'wimse-req-nonce'],
        paramValues: { ...wimseParams(''), 'wimse-req-nonce': nonce },
      },
      response,
      { method: 'GET', url, headers: sentHeaders },
    );
    const headers = lower(signed.headers as Record<string, string>);
    expect(headers['signature-input']).toContain('"@method";req "@path";req "@query";req');
    const responses = createResponseVerifier({ trustDomains: { [TD]: { keys: { keys: [issuerJwk] } } } });
    const verified = await responses.verify(
      { method: 'GET', url, headers: sentHeaders },
      { status: 404, headers, body: new TextEncoder().encode('No ice cream today.\n') },
    );
    expect(verified?.workload).toBe(server.sub);
  });
});

function lower(headers: Record<string, string | string[]>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : v]));
}
