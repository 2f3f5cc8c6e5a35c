import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv } from '../src/config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'wimse-config-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('configuration from the environment', () => {
  it('keeps development mode and the stand-in platform off, and keys in memory, unless set', () => {
    const c = configFromEnv({});
    expect([c.devMode, c.standInPlatform, c.dataDir, c.keyFile, c.attestation]).toEqual([false, false, undefined, undefined, undefined]);
  });

  it('reads WIMSE_DEV_REGISTRATION, WIMSE_DATA_DIR, IDENTITY_KEY_FILE and IDENTITY_STAND_IN_PLATFORM', () => {
    const c = configFromEnv({
      WIMSE_DEV_REGISTRATION: '1',
      WIMSE_DATA_DIR: '/var/lib/wimse',
      IDENTITY_KEY_FILE: '/etc/wimse/key.pem',
      IDENTITY_STAND_IN_PLATFORM: 'true',
    });
    expect([c.devMode, c.dataDir, c.keyFile, c.standInPlatform]).toEqual([true, '/var/lib/wimse', '/etc/wimse/key.pem', true]);
  });

  it('refuses a flag that is neither 1 nor 0', () => {
    expect(() => configFromEnv({ WIMSE_DEV_REGISTRATION: 'yes' })).toThrow(/WIMSE_DEV_REGISTRATION/);
  });

  it('reads the attestation configuration file', async () => {
    const path = join(dir, 'attestation.json');
    const attestation = {
      platformIssuers: [{ issuer: 'https://k8s.test', discovery: true }],
      rules: [{ issuer: 'https://k8s.test', match: { sub: '(?<sa>.+)' }, workload: 'spiffe://example.org/{sa}' }],
    };
    await writeFile(path, JSON.stringify(attestation));
    expect(configFromEnv({ IDENTITY_ATTESTATION_CONFIG: path }).attestation).toEqual(attestation);
  });

  it('refuses an attestation file that is not JSON or lacks issuers and rules', async () => {
    const bad = join(dir, 'bad.json');
    await writeFile(bad, '{"platformIssuers": [');
    expect(() => configFromEnv({ IDENTITY_ATTESTATION_CONFIG: bad })).toThrow(/cannot read/);
    await writeFile(bad, '{"rules": []}');
    expect(() => configFromEnv({ IDENTITY_ATTESTATION_CONFIG: bad })).toThrow(/platformIssuers/);
  });
});
