/**
 * The draft's worked examples (http-signature-07 §3.7, and -06 in compatibility mode): our code
 * rebuilds every signature base byte for byte and verifies every request and response signature
 * with the clock pinned as each vector says.
 */
import { importJWK, type CryptoKey, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import { isWimseError } from '../errors.js';
import { MemoryReplayStore } from '../memory-replay-store.js';
import type { WimseRequest } from '../request.js';
import { unverifiedWit } from '../test-support/http-sig.js';
import { parseRawRequest, vector } from '../test-support/vectors.js';
import { verifyRequestSignature, type HttpSignaturePolicy } from './request.js';
import { signHttpResponse, verifyResponseSignature } from './response.js';
import { signHttpRequest } from './sign.js';
import { signatureBase } from './signature-base.js';
import { findWimseSignature } from './signature-params.js';

interface HttpSigVector {
  id: string;
  keys: Record<string, JWK & { alg: string }>;
  request: { raw: string; signature_input: string; signature: string; expected_signature_base: string };
  response: { raw: string; signature_input: string; signature: string; expected_signature_base: string };
  clock: {
    suggested_verify_at: number;
    request_created: number;
    request_expires: number;
    response_created: number;
    response_expires: number;
  };
}

const CURRENT = ['httpsig-07-svca-to-svcb-ed25519', 'httpsig-07-svcb-to-svcc-es256'];
const utf8 = new TextEncoder();

function requestOf(v: HttpSigVector): WimseRequest & { headers: Record<string, string[]> } {
  const r = parseRawRequest(v.request.raw);
  return { method: r.method, path: r.path, headers: r.headers, ...(r.body === '' ? {} : { body: utf8.encode(r.body) }) };
}

function responseOf(v: HttpSigVector): { status: number; headers: Record<string, string[]>; body: Uint8Array } {
  const r = parseRawRequest(v.response.raw);
  return { status: Number(r.path), headers: r.headers, body: utf8.encode(r.body) };
}

function policy(v: HttpSigVector, compat06: boolean): HttpSignaturePolicy {
  const host = requestOf(v).headers.host![0]!;
  return {
    audience: { bases: [`https://${host}`], values: [] },
    clockTolerance: 0,
    maxLifetime: 600,
    contextTokenHeaders: [],
    replayStore: new MemoryReplayStore(),
    compat06,
    now: () => v.clock.suggested_verify_at * 1000,
  };
}

// The URL the client sent the vector request to (Host + target), for response binding.
function sentOf(v: HttpSigVector) {
  const req = requestOf(v);
  const headers = Object.fromEntries(Object.entries(req.headers).map(([k, vs]) => [k, vs[0]!]));
  return { method: req.method, url: `https://${headers.host}${req.path}`, headers };
}

async function verifyVectorResponse(v: HttpSigVector, compat06 = false) {
  const clock = { clockTolerance: 0, maxLifetime: 600, now: () => v.clock.suggested_verify_at * 1000 };
  return verifyResponseSignature(sentOf(v), responseOf(v), unverifiedWit, clock, { compat06 });
}

describe.each(CURRENT)('vector %s (http-signature-07)', (id) => {
  const v = vector<HttpSigVector>(id);

  it('rebuilds the request signature base byte for byte', () => {
    const req = requestOf(v);
    const presented = findWimseSignature(req.headers)!;
    expect(presented.label).toBe('sig1');
    expect(signatureBase(presented.components, presented.signatureParams, req)).toBe(v.request.expected_signature_base);
  });

  it('rebuilds the response signature base byte for byte', () => {
    const res = responseOf(v);
    const presented = findWimseSignature(res.headers)!;
    const base = signatureBase(presented.components, presented.signatureParams, res, requestOf(v));
    expect(base).toBe(v.response.expected_signature_base);
  });

  it('verifies the request signature with the WIT cnf key, clock pinned', async () => {
    const req = requestOf(v);
    const wit = await unverifiedWit(req.headers['workload-identity-token']![0]!);
    const { signature } = await verifyRequestSignature(req, findWimseSignature(req.headers)!, wit, policy(v, false));
    expect(signature).toMatchObject({
      signResponse: true,
      created: v.clock.request_created,
      expires: v.clock.request_expires,
      label: 'sig1',
      legacy: false,
    });
  });

  it('verifies the response signature and its wimse-req-nonce', async () => {
    const verified = await verifyVectorResponse(v);
    expect(verified).toMatchObject({ created: v.clock.response_created, expires: v.clock.response_expires });
    expect(verified!.workload).toMatch(/^wimse:\/\/example\.com\/svc[BC]$/);
  });

  it('rejects the request once its clock has passed expires', async () => {
    const req = requestOf(v);
    const wit = await unverifiedWit(req.headers['workload-identity-token']![0]!);
    const late = { ...policy(v, false), now: () => (v.clock.request_expires + 1) * 1000 };
    await expect((async () => verifyRequestSignature(req, findWimseSignature(req.headers)!, wit, late))()).rejects.toMatchObject({
      code: 'sig_expired',
    });
  });
});

// Ed25519 is deterministic: signing the first example with our signer reproduces the draft's bytes.
describe('signing the Ed25519 example reproduces the draft signatures', () => {
  const v = vector<HttpSigVector>('httpsig-07-svca-to-svcb-ed25519');
  const sigValue = (field: string) => field.slice(field.indexOf('='));

  it('request', async () => {
    const req = requestOf(v);
    const key = (await importJWK(v.keys.caller_svc_a!, 'Ed25519')) as CryptoKey;
    const added = await signHttpRequest({
      wit: req.headers['workload-identity-token']![0]!,
      key,
      alg: 'Ed25519',
      method: 'GET',
      url: 'https://svcb.example.com/gimme-ice-cream?flavor=vanilla',
      signResponse: true,
      now: v.clock.request_created * 1000,
      lifetime: v.clock.request_expires - v.clock.request_created,
      nonce: 'abcd1111',
    });
    expect(added['signature-input']).toBe(v.request.signature_input.replace(/^sig1=/, 'wimse='));
    expect(sigValue(added.signature!)).toBe(sigValue(v.request.signature));
  });

  it('response', async () => {
    const res = responseOf(v);
    const key = (await importJWK(v.keys.callee_svc_b!, 'Ed25519')) as CryptoKey;
    const added = await signHttpResponse({
      credentials: { wit: res.headers['workload-identity-token']![0]!, key, alg: 'Ed25519' },
      request: { method: 'GET', path: '/gimme-ice-cream?flavor=vanilla' },
      requestNonce: 'abcd1111',
      status: 404,
      headers: { 'Content-Type': 'text/plain' },
      body: 'No ice cream today.\n',
      now: v.clock.response_created * 1000,
      lifetime: v.clock.response_expires - v.clock.response_created,
      nonce: 'abcd2222',
    });
    expect(added['content-digest']).toBe(res.headers['content-digest']![0]);
    expect(added['signature-input']).toBe(v.response.signature_input.replace(/^sig1=/, 'wimse='));
    expect(sigValue(added.signature!)).toBe(sigValue(v.response.signature));
  });
});

describe('vector httpsig-06-legacy (compatibility mode only)', () => {
  const v = vector<HttpSigVector>('httpsig-06-legacy');

  it('rebuilds both signature bases byte for byte', () => {
    const req = requestOf(v);
    const reqSig = findWimseSignature(req.headers)!;
    expect(reqSig.label).toBe('wimse');
    expect(signatureBase(reqSig.components, reqSig.signatureParams, req)).toBe(v.request.expected_signature_base);
    const res = responseOf(v);
    const resSig = findWimseSignature(res.headers)!;
    expect(signatureBase(resSig.components, resSig.signatureParams, res, req)).toBe(v.response.expected_signature_base);
  });

  it('verifies the request with compat.httpSignature06', async () => {
    const req = requestOf(v);
    const wit = await unverifiedWit(req.headers['workload-identity-token']![0]!);
    const { signature } = await verifyRequestSignature(req, findWimseSignature(req.headers)!, wit, policy(v, true));
    expect(signature).toMatchObject({ legacy: true, nonce: 'abcd1111', label: 'wimse' });
  });

  it('rejects the request without compatibility mode (@path/@query not covered)', async () => {
    const req = requestOf(v);
    const wit = await unverifiedWit(req.headers['workload-identity-token']![0]!);
    const error = await (async () => verifyRequestSignature(req, findWimseSignature(req.headers)!, wit, policy(v, false)))().catch(
      (e: unknown) => e,
    );
    expect(isWimseError(error, 'sig_components')).toBe(true);
  });

  it('verifies the legacy response against the legacy request with compat.httpSignature06', async () => {
    const verified = await verifyVectorResponse(v, true);
    expect(verified?.workload).toBe('wimse://example.com/svcB');
  });

  it('rejects the legacy response without compatibility mode, naming the option', async () => {
    const error = await verifyVectorResponse(v, false).catch((e: unknown) => e);
    expect(isWimseError(error, 'sig_response')).toBe(true);
    expect((error as Error).message).toContain('compat.httpSignature06');
  });
});
