/**
 * Environment → configuration. Every variable is optional; defaults match the demo contract.
 *
 * - `WIMSE_DATA_DIR`: keep issuer keys and rotation state there (else in memory only)
 * - `IDENTITY_KEY_FILE`: or sign with this operator-supplied key (PEM, JWK or JWK Set)
 * - `IDENTITY_ATTESTATION_CONFIG`: JSON file `{ "platformIssuers": [...], "rules": [...] }` for `POST /token`
 * - `WIMSE_DEV_REGISTRATION=1`: development mode, `POST /wit` by workload name alone
 * - `IDENTITY_STAND_IN_PLATFORM=1`: demo only, mount a stand-in Kubernetes service account issuer (server.ts)
 */
import { readFileSync } from 'node:fs';
import type { IdentityServerConfig } from './server.js';
import type { AttestationConfig } from './token-endpoint.js';

export const DEFAULT_WORKLOADS = ['express-demo', 'fastify-demo', 'hono-demo', 'nestjs-demo', 'admin', 'client'];

export function configFromEnv(env: NodeJS.ProcessEnv): IdentityServerConfig & { port: number; host: string } {
  const port = integer(env.PORT, 3000, 'PORT');
  const host = env.HOST ?? '127.0.0.1';
  return {
    port,
    host,
    trustDomain: env.WIMSE_TRUST_DOMAIN ?? 'example.org',
    issuer: env.IDENTITY_ISSUER ?? `http://${host}:${port}`,
    workloads: env.IDENTITY_WORKLOADS
      ? env.IDENTITY_WORKLOADS.split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : DEFAULT_WORKLOADS,
    witLifetime: integer(env.IDENTITY_WIT_LIFETIME, 3600, 'IDENTITY_WIT_LIFETIME'),
    adminToken: env.IDENTITY_ADMIN_TOKEN,
    devMode: flag(env.WIMSE_DEV_REGISTRATION, 'WIMSE_DEV_REGISTRATION'),
    standInPlatform: flag(env.IDENTITY_STAND_IN_PLATFORM, 'IDENTITY_STAND_IN_PLATFORM'),
    dataDir: env.WIMSE_DATA_DIR || undefined,
    keyFile: env.IDENTITY_KEY_FILE || undefined,
    attestation: env.IDENTITY_ATTESTATION_CONFIG ? attestationFile(env.IDENTITY_ATTESTATION_CONFIG) : undefined,
  };
}

function integer(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(value)}`);
  return n;
}

function flag(value: string | undefined, name: string): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new Error(`${name} must be 1 or 0, got ${JSON.stringify(value)}`);
}

function attestationFile(path: string): AttestationConfig {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`IDENTITY_ATTESTATION_CONFIG: cannot read ${path} as JSON (${(e as Error).message})`);
  }
  const c = value as Partial<AttestationConfig> | null;
  if (typeof c !== 'object' || c === null || !Array.isArray(c.platformIssuers) || !Array.isArray(c.rules)) {
    throw new Error(`IDENTITY_ATTESTATION_CONFIG: ${path} must hold {"platformIssuers": [...], "rules": [...]}`);
  }
  return c as AttestationConfig;
}
