/** The signer's output shape (http-signature-07 §3): which headers, which components, which parameters. */
import { parseDictionary, type InnerList } from 'structured-headers';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWorkloadSigner, type WorkloadSigner } from '../signer.js';
import { NOW, createIssuer, createWorkload } from '@wimse/test-support/factory';

let signer: WorkloadSigner;
const now = NOW / 1000;

beforeAll(async () => {
  const w = await createWorkload(await createIssuer());
  signer = await createWorkloadSigner({ wit: w.wit, privateKey: w.privateKey });
});

function member(headers: Record<string, string>): InnerList {
  const dict = parseDictionary(headers['signature-input']!);
  expect([...dict.keys()]).toEqual(['wimse']);
  return dict.get('wimse') as InnerList;
}
const covered = (m: InnerList) => m[0].map(([name]) => name);

describe('httpSigHeaders', () => {
  it('GET: WIT, Signature-Input and Signature only; @query is covered even without a query', async () => {
    const h = await signer.httpSigHeaders({ method: 'get', url: 'https://svc.example.org/a/b', now: NOW });
    expect(Object.keys(h).sort()).toEqual(['signature', 'signature-input', 'workload-identity-token']);
    expect(h['workload-identity-token']).toBe(signer.wit);
    const m = member(h);
    expect(covered(m)).toEqual(['@method', '@path', '@query', 'workload-identity-token']);
    expect(Object.fromEntries(m[1])).toMatchObject({
      created: now,
      expires: now + 60,
      tag: 'wimse-workload-to-workload',
      'wimse-aud': 'https://svc.example.org/a/b',
    });
    expect(m[1].has('wimse-sign-response')).toBe(false);
    expect(m[1].has('keyid') || m[1].has('alg')).toBe(false);
    expect(parseDictionary(h.signature!).get('wimse')![0]).toBeInstanceOf(ArrayBuffer);
  });

  it('POST with body: Content-Digest added and covered, with the profile headers present', async () => {
    const h = await signer.httpSigHeaders({
      method: 'POST',
      url: 'https://svc.example.org/a?x=1#frag',
      headers: { 'Content-Type': 'application/json', 'Txn-Token': 't', Authorization: 'Bearer b', Accept: '*/*' },
      body: '{}',
      signResponse: true,
      lifetime: 30,
      now: NOW,
    });
    expect(h['content-digest']).toBe('sha-256=:RBNvo1WzZ4oRRq0W9+hknpT7T8If536DEMBg9hyq/4o=:');
    const m = member(h);
    expect(covered(m)).toEqual([
      '@method',
      '@path',
      '@query',
      'workload-identity-token',
      'content-type',
      'content-digest',
      'authorization',
      'txn-token',
    ]);
    expect(Object.fromEntries(m[1])).toMatchObject({
      expires: now + 30,
      'wimse-aud': 'https://svc.example.org/a',
      'wimse-sign-response': true,
    });
  });

  it('every signature has a fresh nonce', async () => {
    const a = member(await signer.httpSigHeaders({ method: 'GET', url: 'https://svc.example.org/' }));
    const b = member(await signer.httpSigHeaders({ method: 'GET', url: 'https://svc.example.org/' }));
    expect(a[1].get('nonce')).not.toBe(b[1].get('nonce'));
    expect(String(a[1].get('nonce')).length).toBeGreaterThanOrEqual(22);
  });
});
