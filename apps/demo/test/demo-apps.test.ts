/** The environment handling of the demo contract, shared by the four demo services (@wimse/demo-kit). */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RELAY_TARGETS, configFromEnv } from '../../demo-kit/src/config.js';
import { createCa, credentialsRoot, issueCertificate, writeSpiffeFiles } from '../src/pki.js';

describe('configFromEnv (the demo contract)', () => {
  it('defaults: example.org, the identity server JWKS, audience from the port, the four demo URLs', () => {
    const c = configFromEnv({}, { workload: 'express-demo', port: 3001 });
    expect(c).toMatchObject({
      workload: 'express-demo',
      port: 3001,
      trustDomain: 'example.org',
      audience: 'http://127.0.0.1:3001',
      identityUrl: 'http://127.0.0.1:3000',
    });
    expect(c.relayTargets).toEqual(DEFAULT_RELAY_TARGETS);
    expect(c.wimse).toMatchObject({ audience: 'http://127.0.0.1:3001', proofs: ['wpt', 'http-sig'] });
    expect(c.wimse.trustDomains['example.org']).toMatchObject({ keys: 'http://127.0.0.1:3000/.well-known/jwks.json', remote: {} });
    expect(c.wimse.witCache).toBeUndefined();
    // Signed responses with the service's own WIT, when a request asks (DESIGN demo contract).
    expect([typeof c.wimse.responseSigner, c.wimse.signResponses]).toEqual(['function', undefined]);
    expect(c.mtls).toBeUndefined();
    expect(c.wimse.mtls).toBeUndefined();
    // Txn-Tokens verified with the keys of the Txn-Token service's default address.
    expect(c.tts).toBe('http://127.0.0.1:3010');
    expect(c.wimse.transactionTokens).toEqual({
      trustDomain: 'example.org',
      keys: 'http://127.0.0.1:3010/.well-known/jwks.json',
      remote: {},
    });
  });

  it('honours every variable', () => {
    const c = configFromEnv(
      {
        PORT: '4001',
        WIMSE_TRUST_DOMAIN: 'corp.test',
        WIMSE_AUDIENCE: 'https://api.corp.test',
        WIMSE_IDENTITY_URL: 'http://id.corp.test/',
        WIMSE_JWKS: 'https://keys.corp.test/jwks.json',
        WIMSE_RELAY_TARGETS: 'http://a.test, http://b.test',
        WIMSE_WORKLOAD: 'orders',
        WIMSE_JWKS_MAX_AGE_MS: '0',
        WIMSE_JWKS_COOLDOWN_MS: '500',
        WIMSE_WIT_CACHE_SECONDS: '0',
        WIMSE_SIGN_RESPONSES: 'always',
        WIMSE_TTS_URL: 'https://tts.corp.test/',
      },
      { workload: 'express-demo', port: 3001 },
    );
    expect(c).toMatchObject({
      port: 4001,
      workload: 'orders',
      trustDomain: 'corp.test',
      audience: 'https://api.corp.test',
      identityUrl: 'http://id.corp.test',
    });
    expect(c.relayTargets).toEqual(['http://a.test', 'http://b.test']);
    expect(c.wimse.trustDomains['corp.test']).toMatchObject({
      keys: 'https://keys.corp.test/jwks.json',
      remote: { cacheMaxAgeMs: 0, cooldownMs: 500 },
    });
    expect(c.wimse.witCache).toEqual({ ttlSeconds: 0 });
    expect(c.wimse.signResponses).toBe('always');
    expect(c.tts).toBe('https://tts.corp.test');
    expect(c.wimse.transactionTokens).toEqual({
      trustDomain: 'corp.test',
      keys: 'https://tts.corp.test/.well-known/jwks.json',
      remote: { cacheMaxAgeMs: 0, cooldownMs: 500 },
    });
  });

  it('REDIS_URL: a Redis replay store shared by every instance of the audience; without it the per-process default', async () => {
    expect(configFromEnv({}, { workload: 'express-demo', port: 3001 }).wimse.replayStore).toBeUndefined();
    // Nothing listens on port 1: the store is made at once, and refuses proofs (503) until Redis answers.
    const c = configFromEnv(
      { REDIS_URL: 'redis://127.0.0.1:1', WIMSE_AUDIENCE: 'https://api.corp.test' },
      { workload: 'express-demo', port: 3001 },
    );
    const store = c.wimse.replayStore as unknown as { prefix: string; close(): Promise<void> };
    try {
      expect(store.constructor.name).toBe('RedisReplayStore');
      const digest = createHash('sha256').update('https://api.corp.test').digest('hex').slice(0, 16);
      expect(store.prefix).toBe(`wimse:replay:${digest}:`);
    } finally {
      await store.close();
    }
  });

  it('reads WIMSE_JWKS from a file path', () => {
    const path = new URL('../../../packages/core/src/__fixtures__/keys-wit-wpt-examples.json', import.meta.url);
    const keys = configFromEnv({ WIMSE_JWKS: path.pathname }, { workload: 'x', port: 1 }).wimse.trustDomains['example.org']!.keys;
    expect(typeof keys).toBe('object');
  });

  it.each([
    ['PORT', 'abc'],
    ['WIMSE_WIT_CACHE_SECONDS', '-1'],
    ['WIMSE_SIGN_RESPONSES', 'sometimes'],
  ])('refuses %s=%s with a message naming it', (name, value) => {
    expect(() => configFromEnv({ [name]: value }, { workload: 'x', port: 1 })).toThrow(name);
  });

  describe('mTLS (WIMSE_MTLS_DIR, WIMSE_MTLS_PORT)', () => {
    const folder = async () => {
      const root = await credentialsRoot();
      const ca = await createCa('example.org');
      await writeSpiffeFiles(join(root.dir, 'svc'), await issueCertificate(ca, 'spiffe://example.org/svc'), ca.pem);
      return { root, ca, dir: join(root.dir, 'svc') };
    };

    it("adds an HTTPS listener on PORT + 100, the mtls proof, its audience and the folder's bundle", async () => {
      const { root, ca, dir } = await folder();
      try {
        const c = configFromEnv({ PORT: '4001', WIMSE_MTLS_DIR: dir }, { workload: 'svc', port: 3001 });
        expect(c.mtls).toMatchObject({ dir, port: 4101, audience: 'https://127.0.0.1:4101' });
        expect(c.wimse).toMatchObject({
          proofs: ['wpt', 'http-sig', 'mtls'],
          audience: ['http://127.0.0.1:4001', 'https://127.0.0.1:4101'],
        });
        const bundle = c.wimse.mtls!.trustBundles['example.org'] as () => string;
        expect(bundle()).toBe(ca.pem);
        // listenMtls replaces it after a rotation; the verifier reads it on every check.
        c.mtls!.bundle.pem = 'rotated';
        expect(bundle()).toBe('rotated');
        expect(configFromEnv({ WIMSE_MTLS_DIR: dir, WIMSE_MTLS_PORT: '8443' }, { workload: 'svc', port: 3001 }).mtls?.port).toBe(8443);
      } finally {
        await root.remove();
      }
    });

    it('refuses a folder without bundle.pem, naming WIMSE_MTLS_DIR', () => {
      expect(() => configFromEnv({ WIMSE_MTLS_DIR: '/nonexistent/wimse' }, { workload: 'x', port: 1 })).toThrow(
        /WIMSE_MTLS_DIR: cannot read \/nonexistent\/wimse\/bundle.pem/,
      );
    });

    it('validates client certificate paths at the handshake unless WIMSE_MTLS_REJECT_UNAUTHORIZED=false', async () => {
      const { root, dir } = await folder();
      try {
        const mtls = (value?: string) =>
          configFromEnv(
            { WIMSE_MTLS_DIR: dir, ...(value === undefined ? {} : { WIMSE_MTLS_REJECT_UNAUTHORIZED: value }) },
            { workload: 'x', port: 1 },
          ).mtls;
        expect([mtls()?.rejectUnauthorized, mtls('true')?.rejectUnauthorized, mtls('false')?.rejectUnauthorized]).toEqual([
          true,
          true,
          false,
        ]);
        expect(() => mtls('no')).toThrow('WIMSE_MTLS_REJECT_UNAUTHORIZED');
      } finally {
        await root.remove();
      }
    });

    it('refuses a bad WIMSE_MTLS_PORT, naming it', async () => {
      const { root, dir } = await folder();
      try {
        expect(() => configFromEnv({ WIMSE_MTLS_DIR: dir, WIMSE_MTLS_PORT: 'x' }, { workload: 'x', port: 1 })).toThrow('WIMSE_MTLS_PORT');
      } finally {
        await root.remove();
      }
    });
  });
});
