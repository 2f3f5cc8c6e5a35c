import { execFile } from 'node:child_process';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { chmod, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createVerifier, createWorkloadSigner, type WimsePrincipal } from '@wimse/core';
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify, type JWK } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { createKeyRing as subpathCreateKeyRing } from '@wimse/identity-server/keyring';
import { createKeyRing, KeyRingError } from '../src/keyring.js';
import { createIdentityServer, type IdentityServerConfig } from '../src/server.js';

const ADMIN = 'keyring-admin';
const dirs: string[] = [];
const running: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((stop) => stop()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'wimse-keyring-'));
  dirs.push(d);
  return join(d, 'data'); // not yet existing: the ring creates it
}

async function start(extra: Partial<IdentityServerConfig>) {
  const lines: string[] = [];
  const s = await createIdentityServer({
    trustDomain: 'example.org',
    issuer: 'http://identity.test',
    workloads: ['client'],
    witLifetime: 600,
    adminToken: ADMIN,
    devMode: true,
    log: (l) => lines.push(l),
    ...extra,
  });
  await new Promise<void>((resolve) => s.server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(s.server.address() as AddressInfo).port}`;
  const stop = () => new Promise<void>((resolve) => s.server.close(() => resolve()));
  running.push(stop);
  return { ...s, base, lines, stop };
}

async function register(base: string) {
  const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
  const res = await fetch(`${base}/wit`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ workload: 'client', jwk: { ...(await exportJWK(publicKey)), alg: 'ES256' } }),
  });
  expect(res.status).toBe(201);
  const { wit, kid } = (await res.json()) as { wit: string; kid: string };
  return { wit, kid, privateJwk: { ...(await exportJWK(privateKey)), alg: 'ES256' } };
}

/** Verifies a WIT with the core verifier against `base`'s JWKS, as a service would. */
async function verifyWith(base: string, wit: string, privateJwk: JWK): Promise<WimsePrincipal> {
  const verifier = createVerifier({
    trustDomains: { 'example.org': { keys: `${base}/.well-known/jwks.json`, issuer: 'http://identity.test' } },
    audience: 'http://svc.test',
  });
  const signer = await createWorkloadSigner({ wit, privateKey: privateJwk });
  return verifier.verify({ method: 'GET', path: '/', headers: await signer.wptHeaders({ url: 'http://svc.test/' }) });
}

const admin = (base: string, method: string, path: string) => fetch(base + path, { method, headers: { authorization: `Bearer ${ADMIN}` } });
const jwksKids = async (base: string) =>
  ((await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: JWK[] }).keys.map((k) => k.kid);
const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as KeyRingError,
  );

describe('persistent issuer keys: restart', () => {
  it("keeps WITs issued before a restart valid against the restarted server's JWKS", async () => {
    const dataDir = await tempDir();
    const first = await start({ dataDir });
    const issued = await register(first.base);
    await first.stop();

    const second = await start({ dataDir });
    expect(second.keys.mode).toBe('persistent');
    expect(await jwksKids(second.base)).toEqual([issued.kid]);
    expect((await verifyWith(second.base, issued.wit, issued.privateJwk)).workload).toBe('spiffe://example.org/client');
    // And it signs with the same key.
    expect((await register(second.base)).kid).toBe(issued.kid);
  });

  it('keeps the rotation state (current, published, retired) across a restart', async () => {
    const dataDir = await tempDir();
    const first = await start({ dataDir });
    const k1 = first.keys.current().kid;
    const k2 = ((await (await admin(first.base, 'POST', '/admin/keys?activate=false')).json()) as { created: string }).created;
    const k3 = ((await (await admin(first.base, 'POST', '/admin/keys')).json()) as { created: string }).created;
    expect(await jwksKids(first.base)).toEqual([k3, k1, k2]);
    expect((await admin(first.base, 'POST', `/admin/keys/${k2}/activate`)).status).toBe(200);
    expect((await admin(first.base, 'DELETE', `/admin/keys/${k1}`)).status).toBe(200);
    const before = await register(first.base);
    expect(before.kid).toBe(k2);
    await first.stop();

    const second = await start({ dataDir });
    expect(second.keys.current().kid).toBe(k2);
    expect(await jwksKids(second.base)).toEqual([k2, k3]);
    expect((await verifyWith(second.base, before.wit, before.privateJwk)).workload).toBe('spiffe://example.org/client');
    // The retired key's private half is gone from disk; the state records it as retired.
    expect((await readdir(join(dataDir, 'keys'))).sort()).toEqual([`${k2}.jwk`, `${k3}.jwk`].sort());
    const state = JSON.parse(await readFile(join(dataDir, 'keyring.json'), 'utf8')) as { retired: { kid: string }[] };
    expect(state.retired.map((r) => r.kid)).toEqual([k1]);
  });

  it('says at start-up where the keys live', async () => {
    const memory = await start({});
    expect(memory.keys.mode).toBe('memory');
    expect(memory.lines.some((l) => l.includes('in memory only'))).toBe(true);
    const dataDir = await tempDir();
    const persistent = await start({ dataDir });
    expect(persistent.lines.some((l) => l.includes(dataDir))).toBe(true);
  });
});

describe('@wimse/identity-server/keyring subpath', () => {
  it('exports the same key ring other services (e.g. the Txn-Token service) reuse', () => {
    expect(subpathCreateKeyRing).toBe(createKeyRing);
  });
});

describe('persistent issuer keys: files', () => {
  it('creates the directory 0700 and the key and state files 0600, leaving no temporary files', async () => {
    const dataDir = await tempDir();
    const ring = await createKeyRing({ dataDir });
    await ring.rotate();
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dataDir, 'keys'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(dataDir, 'keyring.json'))).mode & 0o777).toBe(0o600);
    const files = await readdir(join(dataDir, 'keys'));
    expect(files).toHaveLength(2);
    for (const f of files) expect((await stat(join(dataDir, 'keys', f))).mode & 0o777).toBe(0o600);
    expect([...(await readdir(dataDir)), ...files].filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('stores a private key whose public half is the published key, named by its RFC 7638 thumbprint', async () => {
    const dataDir = await tempDir();
    const ring = await createKeyRing({ dataDir });
    const { kid } = ring.current();
    const stored = JSON.parse(await readFile(join(dataDir, 'keys', `${kid}.jwk`), 'utf8')) as JWK;
    expect(stored.d).toEqual(expect.any(String));
    const pub = createPublicKey({ key: stored as import('node:crypto').JsonWebKey, format: 'jwk' }).export({ format: 'jwk' });
    expect(await calculateJwkThumbprint(pub as JWK)).toBe(kid);
    expect(ring.jwks().keys[0]).not.toHaveProperty('d');
  });
});

describe('persistent issuer keys: refusals at start', () => {
  it('refuses a key file readable by other users', async () => {
    const dataDir = await tempDir();
    const { kid } = (await createKeyRing({ dataDir })).current();
    await chmod(join(dataDir, 'keys', `${kid}.jwk`), 0o644);
    const e = await refusal(createKeyRing({ dataDir }));
    expect(e).toBeInstanceOf(KeyRingError);
    expect(e?.code).toBe('key_file_mode');
    expect(e?.message).toMatch(/chmod 600/);
    // The server does not start either.
    await expect(
      createIdentityServer({ trustDomain: 'example.org', issuer: 'x', workloads: [], witLifetime: 60, dataDir }),
    ).rejects.toThrow(/readable by other users/);
  });

  it('the built server exits with a clear message instead of starting (needs `pnpm build`)', async () => {
    const dataDir = await tempDir();
    const { kid } = (await createKeyRing({ dataDir })).current();
    await chmod(join(dataDir, 'keys', `${kid}.jwk`), 0o644);
    const main = new URL('../dist/main.js', import.meta.url).pathname;
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [main], { env: { ...process.env, PORT: '0', WIMSE_DATA_DIR: dataDir } }, (_e, _out, err) =>
        resolve({ code: child.exitCode, stderr: err }),
      );
    });
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot start: .*readable by other users.*chmod 600/);
  });

  it('refuses a data directory writable by other users', async () => {
    const dataDir = await tempDir();
    await createKeyRing({ dataDir });
    await chmod(dataDir, 0o777);
    expect((await refusal(createKeyRing({ dataDir })))?.code).toBe('data_dir_mode');
  });

  it('refuses a state file that is not JSON', async () => {
    const dataDir = await tempDir();
    await createKeyRing({ dataDir });
    await writeFile(join(dataDir, 'keyring.json'), '{"version": 1, "keys": [', { mode: 0o600 });
    const e = await refusal(createKeyRing({ dataDir }));
    expect(e?.code).toBe('state_corrupt');
    expect(e?.message).toContain('keyring.json');
  });

  it('refuses a state whose kid is not a thumbprint (e.g. a path)', async () => {
    const dataDir = await tempDir();
    await createKeyRing({ dataDir });
    await writeFile(
      join(dataDir, 'keyring.json'),
      JSON.stringify({ version: 1, keys: [{ kid: '../../etc/passwd', alg: 'ES256' }], retired: [] }),
    );
    expect((await refusal(createKeyRing({ dataDir })))?.code).toBe('state_corrupt');
  });

  it('refuses a state naming a key whose file is missing', async () => {
    const dataDir = await tempDir();
    const { kid } = (await createKeyRing({ dataDir })).current();
    await rm(join(dataDir, 'keys', `${kid}.jwk`));
    expect((await refusal(createKeyRing({ dataDir })))?.code).toBe('state_corrupt');
  });

  it('refuses a key file that holds a different key than its name', async () => {
    const dataDir = await tempDir();
    const { kid } = (await createKeyRing({ dataDir })).current();
    const other = { ...(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' }) as JWK), alg: 'ES256' };
    await writeFile(join(dataDir, 'keys', `${kid}.jwk`), JSON.stringify(other), { mode: 0o600 });
    expect((await refusal(createKeyRing({ dataDir })))?.code).toBe('state_corrupt');
  });

  it('refuses keys without a state file instead of silently making a new trust anchor', async () => {
    const dataDir = await tempDir();
    await createKeyRing({ dataDir });
    await rm(join(dataDir, 'keyring.json'));
    expect((await refusal(createKeyRing({ dataDir })))?.code).toBe('state_corrupt');
  });
});

describe('persistent issuer keys: two instances on one directory', () => {
  it("a second server reads the same keys, and picks up the other's rotation on reload", async () => {
    const dataDir = await tempDir();
    const a = await start({ dataDir });
    const b = await start({ dataDir });
    expect(await jwksKids(b.base)).toEqual(await jwksKids(a.base));
    const fromA = await register(a.base);
    expect((await verifyWith(b.base, fromA.wit, fromA.privateJwk)).workload).toBe('spiffe://example.org/client');

    const { created } = (await (await admin(a.base, 'POST', '/admin/keys')).json()) as { created: string };
    await b.keys.reload();
    expect(await jwksKids(b.base)).toEqual([created, fromA.kid]);
    expect((await register(b.base)).kid).toBe(created);
  });

  it("keeps the other instance's rotation when this one changes the state", async () => {
    const dataDir = await tempDir();
    const a = await createKeyRing({ dataDir });
    const b = await createKeyRing({ dataDir });
    const fromA = await a.rotate(false);
    const fromB = await b.rotate(false); // b had not reloaded: it must not drop a's key
    const c = await createKeyRing({ dataDir });
    expect(c.jwks().keys.map((k) => k.kid)).toEqual([a.current().kid, fromA, fromB]);
  });
});

describe('operator-supplied issuer key', () => {
  async function keyFile(content: string, mode = 0o600): Promise<string> {
    const dir = await tempDir();
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { mode: 0o700 }));
    const path = join(dir, 'issuer-key');
    await writeFile(path, content, { mode });
    return path;
  }

  it("signs with a PKCS#8 PEM key; its WITs verify with that key's public half", async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const s = await start({ keyFile: await keyFile(privateKey.export({ format: 'pem', type: 'pkcs8' }) as string) });
    expect(s.keys.mode).toBe('static');
    const { wit } = await register(s.base);
    expect(decodeProtectedHeader(wit).alg).toBe('ES256');
    expect((await jwtVerify(wit, publicKey)).payload.sub).toBe('spiffe://example.org/client');
  });

  it('publishes the public-only keys of a JWK Set after the signing key', async () => {
    const signing = { ...(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK), alg: 'EdDSA' };
    const old = { ...(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }) as JWK), alg: 'ES256' };
    const ring = await createKeyRing({ keyFile: await keyFile(JSON.stringify({ keys: [signing, old] })) });
    expect(ring.current().alg).toBe('EdDSA');
    expect(ring.jwks().keys.map((k) => k.kid)).toEqual([await calculateJwkThumbprint(signing), await calculateJwkThumbprint(old)]);
  });

  it('refuses a world-readable key file', async () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    expect((await refusal(createKeyRing({ keyFile: await keyFile(pem, 0o644) })))?.code).toBe('key_file_mode');
  });

  it('refuses a public key as the signing key, and garbage', async () => {
    const pub = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    expect((await refusal(createKeyRing({ keyFile: await keyFile(JSON.stringify(pub)) })))?.code).toBe('key_file_invalid');
    expect(
      (await refusal(createKeyRing({ keyFile: await keyFile('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n') })))?.code,
    ).toBe('key_file_invalid');
    expect((await refusal(createKeyRing({ keyFile: await keyFile('not a key') })))?.code).toBe('key_file_invalid');
  });

  it('answers admin rotation with 409 keys_static', async () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    const s = await start({ keyFile: await keyFile(pem) });
    const res = await admin(s.base, 'POST', '/admin/keys');
    expect(res.status).toBe(409);
    expect(((await res.json()) as { code: string }).code).toBe('keys_static');
  });
});
