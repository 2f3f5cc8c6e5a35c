/**
 * Hot rotation of SPIFFE-helper credential files under a running mTLS server and client: leaf
 * rotation, CA rotation with an overlapping bundle, an in-flight request across a swap, and the
 * WIT + key files of the outbound client.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request as httpsRequest, Agent, createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WimseError } from '../errors.js';
import { bundle, createCa, issueCert, type TestCert } from '@wimse/test-support/certs';
import { createIssuer, createWorkload, type Issuer } from '@wimse/test-support/factory';
import { createVerifier } from '../verifier.js';
import { fileWitSigner, watchCredentialFiles, type CredentialFiles, type CredentialSnapshot } from './credential-files.js';
import { createRotatingAgent, keepServerCredentials, serverTlsOptions, type RotatingAgent } from './tls-credentials.js';

const SERVER = 'spiffe://example.org/server';
const CLIENT = 'spiffe://example.org/client';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wimse-mtls-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function writeSvid(dir: string, cert: TestCert, caBundle: string): Promise<void> {
  // Key first, then certificate, then bundle: a reload in between sees a mismatched pair and waits.
  await writeFile(join(dir, 'svid_key.pem'), cert.keyPem);
  await writeFile(join(dir, 'svid.pem'), cert.chainPem);
  await writeFile(join(dir, 'bundle.pem'), caBundle);
}

function nextReload(files: CredentialFiles): Promise<CredentialSnapshot> {
  return new Promise((resolve) => {
    const off = files.onReload((s) => {
      off();
      resolve(s);
    });
  });
}

function peerChain(socket: TLSSocket): Uint8Array[] {
  const chain: Uint8Array[] = [];
  for (let c = socket.getPeerCertificate(true); c?.raw !== undefined && chain.length < 10; c = c.issuerCertificate) {
    if (chain.some((d) => Buffer.compare(d, c.raw) === 0)) break;
    chain.push(c.raw);
  }
  return chain;
}

interface Reply {
  status: number;
  /** Serial of the certificate the server presented on this connection. */
  serverSerial: string;
  body: { workload?: string; serial?: string; anchor?: string; code?: string };
}

function get(agent: Agent, port: number, path = '/'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      const serverSerial = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      res.on('end', () => resolve({ status: res.statusCode ?? 0, serverSerial, body: JSON.parse(text) as Reply['body'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('rotation of svid.pem / svid_key.pem / bundle.pem under a running server and client', () => {
  let ca1: TestCert;
  let serverDir: string;
  let clientDir: string;
  let serverFiles: CredentialFiles;
  let clientFiles: CredentialFiles;
  let server: Server;
  let port: number;
  let client: RotatingAgent;
  let release: () => void = () => undefined;
  let slowArrived: () => void = () => undefined;

  beforeAll(async () => {
    ca1 = await createCa('example.org CA 1');
    serverDir = await tempDir();
    clientDir = await tempDir();
    await writeSvid(serverDir, await issueCert(ca1, { uris: [SERVER], ips: ['127.0.0.1'] }), bundle(ca1));
    await writeSvid(clientDir, await issueCert(ca1, { uris: [CLIENT] }), bundle(ca1));
    serverFiles = await watchCredentialFiles({ dir: serverDir });
    clientFiles = await watchCredentialFiles({ dir: clientDir });
    const verifier = createVerifier({
      trustDomains: {
        'example.org': {
          keys: {
            kty: 'EC',
            crv: 'P-256',
            x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
            y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
          },
        },
      },
      audience: 'https://127.0.0.1',
      proofs: ['mtls'],
      mtls: { trustBundles: { 'example.org': () => serverFiles.current.bundle } },
    });
    server = createServer({ ...serverTlsOptions(serverFiles.current), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const reply = async () => {
        if (req.url === '/slow') {
          slowArrived();
          await new Promise<void>((r) => (release = r));
        }
        try {
          const p = await verifier.verify({
            method: req.method ?? 'GET',
            path: req.url ?? '/',
            headers: req.headersDistinct,
            peerCertificates: peerChain(req.socket as TLSSocket),
          });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({ workload: p.workload, serial: p.certificate?.serialNumber, anchor: p.certificate?.trustAnchor.subject }),
          );
        } catch (e) {
          const err = e as WimseError;
          res.writeHead(err.status, { 'content-type': 'application/problem+json' });
          res.end(JSON.stringify(err.problem));
        }
      };
      void reply();
    });
    keepServerCredentials(server, serverFiles);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    client = createRotatingAgent(clientFiles, { serverWorkload: SERVER });
  });

  afterAll(async () => {
    client?.close();
    serverFiles?.close();
    clientFiles?.close();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  it('keeps requests succeeding across a leaf rotation and a CA rotation, without dropping one in flight', async () => {
    const first = await get(client.agent, port);
    expect(first).toMatchObject({ status: 200, body: { workload: CLIENT, anchor: 'CN=example.org CA 1' } });

    // A request in flight on the old agent's connection…
    const arrived = new Promise<void>((r) => (slowArrived = r));
    const slow = get(client.agent, port, '/slow');
    await arrived;

    // …while the client's leaf rotates (same CA).
    const rotated = nextReload(clientFiles);
    await writeSvid(clientDir, await issueCert(ca1, { uris: [CLIENT] }), bundle(ca1));
    await rotated;
    const second = await get(client.agent, port);
    expect(second).toMatchObject({ status: 200, body: { workload: CLIENT } });
    expect(second.body.serial).not.toBe(first.body.serial);
    // …and while the server's own certificate rotates too (setSecureContext).
    const serverRotated = nextReload(serverFiles);
    const newServerCert = await issueCert(ca1, { uris: [SERVER], ips: ['127.0.0.1'] });
    await writeSvid(serverDir, newServerCert, bundle(ca1));
    await serverRotated;
    const fresh = createRotatingAgent(clientFiles, { serverWorkload: SERVER });
    const third = await get(fresh.agent, port); // a new connection sees the new server certificate
    fresh.close();
    expect(third).toMatchObject({
      status: 200,
      serverSerial: newServerCert.cert.serialNumber.toUpperCase(),
      body: { workload: CLIENT, serial: second.body.serial },
    });
    expect(first.serverSerial).not.toBe(third.serverSerial);
    release();
    expect(await slow).toMatchObject({ status: 200, body: { workload: CLIENT, serial: first.body.serial } });

    // CA rotation: both sides trust CA 1 + CA 2, then move to CA 2 certificates, then drop CA 1.
    const ca2 = await createCa('example.org CA 2');
    const overlap = bundle(ca1, ca2);
    const reloads1 = [nextReload(serverFiles), nextReload(clientFiles)];
    await writeFile(join(serverDir, 'bundle.pem'), overlap);
    await writeFile(join(clientDir, 'bundle.pem'), overlap);
    await Promise.all(reloads1);
    expect(await get(client.agent, port)).toMatchObject({ status: 200, body: { anchor: 'CN=example.org CA 1' } });

    const reloads2 = [nextReload(serverFiles), nextReload(clientFiles)];
    const oldClientCert = clientFiles.current;
    await writeSvid(serverDir, await issueCert(ca2, { uris: [SERVER], ips: ['127.0.0.1'] }), overlap);
    await writeSvid(clientDir, await issueCert(ca2, { uris: [CLIENT] }), overlap);
    await Promise.all(reloads2);
    expect(await get(client.agent, port)).toMatchObject({ status: 200, body: { workload: CLIENT, anchor: 'CN=example.org CA 2' } });

    const reloads3 = [nextReload(serverFiles), nextReload(clientFiles)];
    await writeFile(join(serverDir, 'bundle.pem'), bundle(ca2));
    await writeFile(join(clientDir, 'bundle.pem'), bundle(ca2));
    await Promise.all(reloads3);
    expect(await get(client.agent, port)).toMatchObject({ status: 200, body: { workload: CLIENT, anchor: 'CN=example.org CA 2' } });

    // A client still holding a CA 1 certificate is now refused during the handshake (a TLS alert).
    const stale = new Agent({ cert: oldClientCert.cert, key: oldClientCert.key, ca: bundle(ca2), checkServerIdentity: () => undefined });
    await expect(get(stale, port)).rejects.toMatchObject({ code: expect.stringMatching(/ALERT_UNKNOWN_CA|ECONNRESET/) });
    stale.destroy();
  });

  it('refuses a server whose workload is not the expected one (mutual-tls-02 §3.2.1)', async () => {
    const wrong = createRotatingAgent(clientFiles, { serverWorkload: 'spiffe://example.org/other' });
    await expect(get(wrong.agent, port)).rejects.toThrow(/not the expected one/);
    wrong.close();
  });

  it('keeps the previous snapshot while a new certificate and key do not match', async () => {
    const before = clientFiles.current;
    const next = await issueCert(await createCa('unrelated'), { uris: [CLIENT] });
    await writeFile(join(clientDir, 'svid.pem'), next.chainPem); // key not yet replaced
    await expect(clientFiles.reload()).rejects.toThrow();
    expect(clientFiles.current).toBe(before);
    expect(await get(client.agent, port)).toMatchObject({ status: 200 });
    await writeFile(join(clientDir, 'svid.pem'), before.cert);
  });
});

describe('the outbound client’s WIT and key files reload the same way', () => {
  let issuer: Issuer;
  beforeAll(async () => {
    issuer = await createIssuer();
  });

  it('signs with the newest WIT, and never with a WIT whose key has not arrived yet', async () => {
    const dir = await tempDir();
    const ca = await createCa('ca');
    await writeSvid(dir, await issueCert(ca, { uris: [CLIENT] }), bundle(ca));
    const pem = async (w: { privateKey: CryptoKey }) => {
      const { KeyObject } = await import('node:crypto');
      return KeyObject.from(w.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
    };
    const first = await createWorkload(issuer, { sub: CLIENT, now: Date.now() });
    await writeFile(join(dir, 'wit.jwt'), first.wit);
    await writeFile(join(dir, 'wit_key.pem'), await pem(first));
    const files = await watchCredentialFiles({ dir, files: { wit: 'wit.jwt', witKey: 'wit_key.pem' } });
    const signer = fileWitSigner(files);
    expect((await signer()).wit).toBe(first.wit);

    const second = await createWorkload(issuer, { sub: CLIENT, now: Date.now() });
    await writeFile(join(dir, 'wit.jwt'), second.wit); // WIT ahead of its key: not swapped in
    await expect(files.reload()).rejects.toThrow(/cnf\.jwk/);
    expect((await signer()).wit).toBe(first.wit);

    const rotated = nextReload(files);
    await writeFile(join(dir, 'wit_key.pem'), await pem(second));
    await rotated;
    const s = await signer();
    expect(s.wit).toBe(second.wit);
    const verifier = createVerifier({
      trustDomains: { 'example.org': { keys: { keys: [issuer.publicJwk] } } },
      audience: 'https://api.example.org',
    });
    const headers = await s.wptHeaders({ url: 'https://api.example.org/orders' });
    await expect(verifier.verify({ method: 'GET', path: '/orders', headers })).resolves.toMatchObject({ workload: CLIENT, method: 'wpt' });
    files.close();
  });

  it('rejects a first load that is incomplete', async () => {
    const dir = await tempDir();
    await expect(watchCredentialFiles({ dir })).rejects.toThrow(/ENOENT/);
  });
});

describe('the rotating agent lets OpenSSL validate the server’s certificate path', () => {
  it('refuses a server certificate below an intermediate its root’s pathLenConstraint forbids, even when asked not to check', async () => {
    const root = await createCa('example.org root', { pathLength: 0 });
    const inter = await createCa('example.org intermediate', { parent: root });
    const serverCert = await issueCert(inter, { uris: [SERVER], ips: ['127.0.0.1'] });
    const clientDir = await tempDir();
    await writeSvid(clientDir, await issueCert(root, { uris: [CLIENT] }), bundle(root));
    const files = await watchCredentialFiles({ dir: clientDir });
    const server = createServer({ cert: serverCert.chainPem, key: serverCert.keyPem }, (_req, res) => res.end('{}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // `rejectUnauthorized` is not in the option type; a caller who forces it in is overridden.
    const agents = [
      createRotatingAgent(files, { serverWorkload: SERVER }),
      createRotatingAgent(files, { serverWorkload: SERVER, agent: { rejectUnauthorized: false } as object }),
    ];
    try {
      // OpenSSL's X509_V_ERR_PATH_LENGTH_EXCEEDED, as Node names it.
      for (const a of agents) await expect(get(a.agent, port)).rejects.toMatchObject({ code: 'PATH_LENGTH_EXCEEDED' });
    } finally {
      for (const a of agents) a.close();
      files.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
