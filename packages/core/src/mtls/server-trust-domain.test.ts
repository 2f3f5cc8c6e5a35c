/**
 * mutual-tls-02 §3.2.1: a TLS client MUST validate the trust domain portion of the server's
 * identifier, also when no specific server workload is configured.
 */
import { request as httpsRequest, createServer, type Agent, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle, createCa, issueCert, type TestCert } from '@wimse/test-support/certs';
import type { CredentialFiles, CredentialSnapshot } from './credential-files.js';
import { createRotatingAgent, type RotatingAgentOptions } from './tls-credentials.js';

let ca: TestCert;
let client: CredentialSnapshot;
const servers: Server[] = [];

beforeAll(async () => {
  ca = await createCa('shared CA');
  const cert = await issueCert(ca, { uris: ['spiffe://example.org/client'] });
  client = { cert: cert.chainPem, key: cert.keyPem, bundle: bundle(ca), version: 1 };
});
afterAll(async () => {
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

const fixed = (s: CredentialSnapshot): CredentialFiles => ({
  current: s,
  onReload: () => () => undefined,
  reload: async () => false,
  close: () => undefined,
});

/** An HTTPS server on 127.0.0.1 presenting a certificate of the shared CA with these SANs. */
async function serverWith(o: { uris?: string[]; ips?: string[] }): Promise<number> {
  const cert = await issueCert(ca, { ips: ['127.0.0.1'], ...o });
  const server = createServer({ cert: cert.chainPem, key: cert.keyPem }, (_req, res) => res.end('ok'));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function get(agent: Agent, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

async function call(port: number, options: RotatingAgentOptions = {}, snapshot = client): Promise<number> {
  const a = createRotatingAgent(fixed(snapshot), { agent: { keepAlive: false }, ...options });
  try {
    return await get(a.agent, port);
  } finally {
    a.close();
  }
}

describe('mutual-tls-02 §3.2.1: the server must be in the expected trust domain, even with no serverWorkload', () => {
  it('accepts a server of our own trust domain', async () => {
    expect(await call(await serverWith({ uris: ['spiffe://example.org/server'] }))).toBe(200);
  });
  it('refuses a server of another trust domain whose certificate chains to the same CA', async () => {
    await expect(call(await serverWith({ uris: ['spiffe://other.example/server'] }))).rejects.toThrow(
      /not in the expected trust domain example\.org/,
    );
  });
  it('refuses a server certificate with no workload identifier', async () => {
    await expect(call(await serverWith({}))).rejects.toThrow(/mtls_san/);
  });
  it('refuses a server whose IP SAN is not the address called (no serverWorkload stands in for it)', async () => {
    await expect(call(await serverWith({ uris: ['spiffe://example.org/server'], ips: ['10.9.9.9'] }))).rejects.toThrow(/IP/);
  });
  it('serverTrustDomain names a federated trust domain', async () => {
    expect(await call(await serverWith({ uris: ['spiffe://other.example/server'] }), { serverTrustDomain: 'other.example' })).toBe(200);
  });
  it('a serverWorkload string implies its trust domain', async () => {
    expect(
      await call(await serverWith({ uris: ['spiffe://other.example/server'] }), { serverWorkload: 'spiffe://other.example/server' }),
    ).toBe(200);
  });
  it('a serverWorkload predicate does not lift the trust-domain check', async () => {
    await expect(call(await serverWith({ uris: ['spiffe://other.example/server'] }), { serverWorkload: () => true })).rejects.toThrow(
      /not in the expected trust domain/,
    );
  });
  it('a client whose own certificate names no trust domain must configure one', async () => {
    const anonymous = await issueCert(ca, {});
    expect(() => createRotatingAgent(fixed({ ...client, cert: anonymous.chainPem, key: anonymous.keyPem }))).toThrow(
      /serverTrustDomain: required/,
    );
    expect(() => createRotatingAgent(fixed(client), { serverTrustDomain: 'Not A Domain' })).toThrow(TypeError);
  });
});
